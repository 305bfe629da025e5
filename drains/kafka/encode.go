package kafka

import "github.com/sluice-logs/sluice"

// appendJSON appends m as the JSON value of a record (format=json): the
// shared layout of sluice.AppendJSON.
func appendJSON(dst []byte, m *sluice.Message) []byte { return sluice.AppendJSON(dst, m) }

package ndjson

import "github.com/sluice-logs/sluice"

// AppendLine appends m as one NDJSON line: the JSON object of
// sluice.AppendJSON (every field present, the schema the HTTP and Kafka
// drains write) and a newline. ParseLine reads it back: app, msg, time,
// source, proc, host and severity round-trip. It does not allocate when
// dst has room.
func AppendLine(dst []byte, m *sluice.Message) []byte {
	return append(sluice.AppendJSON(dst, m), '\n')
}

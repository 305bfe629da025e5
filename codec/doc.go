// Package codec is the home of Sluice's wire formats: one package per
// format below it, the encoder and the decoder side by side, each with
// golden cases in testdata/<format>/<case>/{input,expected} at the root of
// the repository.
//
//   - octet: RFC 6587 octet-counted framing ("LEN SP FRAME"), written by
//     the HTTP (logplex-1) and syslog drains and read by syslog ingest and
//     logplex-1 bodies.
//   - syslog: RFC 5424 (strict) and RFC 3164 messages in the dialects
//     senders write (rsyslog's templates, syslog-ng, Python, Go, Docker,
//     network devices), read into sluice.Message by syslog ingest and
//     by logplex-1 bodies.
//   - ndjson: one JSON object per line, read by HTTP ingest (POST /logs
//     with application/x-ndjson) and written by the drains' format=ndjson
//     (the object itself is sluice.AppendJSON).
//
// The message-level formats that every part of the router shares (the
// tail line, the RFC 5424 line, the JSON object) are in the root package
// sluice (format.go, json.go).
package codec

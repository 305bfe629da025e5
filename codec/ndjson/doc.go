// Package ndjson is the NDJSON wire format: one JSON object per line, the
// body of POST /logs with Content-Type application/x-ndjson (or
// application/json) and of the HTTP drain's format=ndjson.
//
// Decoding: ParseLine reads one line into a Line, checking UTF-8 and the
// whole JSON grammar as encoding/json does (nesting up to MaxDepth) and
// unescaping the known fields (app, msg, time, source, proc, host,
// severity) in place, without allocating. It only reads the format: which
// fields a message needs, whether the token may write the app, and how a
// time or severity is interpreted are the ingest's (ingest/httpin), with
// ParseSeverity for the severity names. An Error carries the
// metrics.Reason that the ingest counts the rejected line under.
//
// Encoding: AppendLine writes a message as sluice.AppendJSON's object and a
// newline; the object itself lives in the root package, shared by every
// drain that writes JSON.
//
// Golden cases are in testdata/ndjson/<case>/{input,expected} at the
// repository root (golden_test.go says what expected holds).
//
// Concurrency: the package has no state; a Line and the line it aliases
// belong to one goroutine.
package ndjson

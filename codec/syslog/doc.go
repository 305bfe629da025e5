// Package syslog owns the syslog message formats: it reads RFC 5424
// (strictly) and RFC 3164 in the dialects senders actually write into a
// sluice.Message. Syslog ingest (ingest/syslog) and the HTTP ingest of
// application/logplex-1 bodies (ingest/httpin) both parse with it; the
// framing around a message is codec/octet's (octet counting) or the
// transport's (LF/NUL lines, datagrams).
//
// Parse is a pure function, safe for concurrent use. A Parser parses
// exactly like Parse and remembers the minute of the last timestamp, which
// the next messages of a stream share; it belongs to one goroutine (one per
// connection or request). Parse has a zero-allocation fast path for
// well-formed RFC 5424 messages and falls back to
// github.com/influxdata/go-syslog/v3 for everything else, so both always
// agree on what is valid (FuzzParse checks it, and that a Parser's memory
// changes nothing).
package syslog

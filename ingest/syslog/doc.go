// Package syslog owns syslog ingest: the RFC 6587 framing of TCP streams
// (octet counting and LF-terminated, detected per connection), the parsing
// of RFC 5424 and RFC 3164 messages into sluice.Message, and the TCP and UDP
// listeners that publish what they parse to the router.
//
// Parse and NextOctetFrame are pure functions, safe for concurrent use; the
// HTTP ingest reuses them for application/logplex-1 bodies. A Parser parses
// exactly like Parse and remembers the minute of the last timestamp, which
// the next messages of a stream share; it belongs to one goroutine (one per
// connection or request). Parse has a zero-allocation fast path for
// well-formed RFC 5424 messages and falls back to
// github.com/influxdata/go-syslog/v3 for everything else, so both always
// agree on what is valid (FuzzParse checks it, and that a Parser's memory
// changes nothing).
//
// Concurrency: a TCPServer runs one goroutine per connection, owned by Serve,
// which waits for all of them before it returns. Each connection reads into
// its own reusable buffer, parses the complete frames of one read into one
// batch whose strings alias that buffer, and publishes the batch before it
// reads again; a Publish that blocks (backpressure) simply stops the reading
// of that socket. A UDPServer reads datagrams in the goroutine that calls
// Serve. Shutdown stops accepting, lets every connection publish the frames
// it already holds, and waits for the goroutines.
package syslog

// Package syslog owns syslog ingest: the RFC 6587 framing of TCP streams
// (octet counting and LF-terminated, detected per connection) and the TCP
// and UDP listeners that publish what they read to the router. Messages are
// parsed by codec/syslog (one Parser per connection), octet-counted frames
// are read with codec/octet.
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

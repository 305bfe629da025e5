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
// Serve. Shutdown stops accepting, lets every connection read what its
// socket already holds without waiting for more (a non-blocking read on
// unix: what a client wrote before Shutdown is published, an idle or
// trickling client holds nothing up) and publish the complete frames, and
// waits for the goroutines. Both servers are ingest.Listeners and pass
// ingest/sourcetest.
package syslog

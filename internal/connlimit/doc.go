// Package connlimit bounds the connections a listener holds open, in all and
// per client address, for the HTTP port and the syslog TCP and TLS
// listeners. A connection over a limit is closed inside Accept, before any
// goroutine, buffer or TLS handshake is spent on it, and counted by the
// callback the listener was made with (reasons too_many_connections and
// too_many_connections_per_ip).
//
// A client address is an IPv4 address, or an IPv6 /64 (what one host
// usually holds). Connections count from Accept until their first Close.
//
// Concurrency: Accept may be called from one goroutine at a time (as every
// server does); Close of the accepted connections and Open may be called
// from any goroutine. One mutex guards the counts; it is held for a map
// update per Accept and per Close.
package connlimit

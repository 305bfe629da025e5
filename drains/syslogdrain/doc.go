// Package syslogdrain owns the syslog drains: DRAIN_<NAME> URLs with the
// schemes syslog:// (TCP, RFC 6587 octet counting), syslog+tls:// (TLS,
// RFC 5425) and udpsyslog:// (UDP, RFC 5426: one message per datagram),
// the drains Logplex had and that rsyslog, syslog-ng and Papertrail-style
// services receive. One file per transport: tcp.go, tls.go, udp.go.
//
// Frames are strict RFC 5424 with the app in APP-NAME (format=rfc5424, the
// default) or Heroku's syslog drain layout (format=logplex,
// sluice.AppendLogplexSyslog, with drain_token= or the app's name as
// HOSTNAME). Over TCP and TLS every message is one octet-counted frame, so
// a message with LF inside stays one message. Over UDP a datagram longer
// than max_datagram= (default 2048 bytes, what RFC 5426 receivers must
// accept) is cut to that size; Truncated counts them.
//
// Delivery: Send writes the batch on one connection, dialing first when
// there is none (or when the receiver has closed the one it had). A failed
// dial, handshake or write closes the connection and returns a retryable
// error: the drains.Worker retries the batch with its exponential backoff
// and jitter, which is the reconnect backoff. Syslog has no
// acknowledgements, so "delivered" means written to the kernel; a batch
// whose write fails is sent again whole on a new connection (at least
// once). A TLS handshake that fails certificate validation is also
// reported into the app's stream, once a minute per app, as Logplex did:
// "Error L14 (certificate validation): error=… uri=…" (Config.Notify).
// TLS verifies the receiver's certificate against the system roots unless
// insecure=1, which New warns about.
//
// Concurrency: as drains.Drain says, Send, Check and Close are called by one
// goroutine (the Worker's); the Drain owns its connection and buffers
// without locks. Truncated may be called from any goroutine.
package syslogdrain

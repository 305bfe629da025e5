// Package load is the load generator's engine: a pool of realistic,
// pre-generated RFC 5424 messages (about 150 bytes, with structured data,
// spread over M apps) laid out once as contiguous framed bytes, and senders
// that replay the pool over syslog TCP (octet-counted or LF frames, N
// connections, large writes straight from the pool, no copy) or over HTTP
// as application/logplex-1 batches (K concurrent clients).
//
// Generation happens before the clock starts, so the sender, not message
// formatting, sets the pace; the pool is read-only afterwards.
//
// Concurrency: a Pool is immutable after NewPool and safe for concurrent
// use. SendTCP and SendHTTP start one goroutine per connection or client
// and wait for all of them before they return.
package load

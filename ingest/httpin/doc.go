// Package httpin owns HTTP ingest: the fasthttp handler for POST /logs. It
// reads one request body (optionally gzip-compressed), decodes it by
// Content-Type into a batch of sluice.Message, authenticates it against the
// per-app tokens and hands the batch to the router with one TryPublish.
//
// Formats:
//
//   - application/logplex-1: octet-counted RFC 5424 frames, as Logplex and
//     log-shuttle send them (framing by package codec/octet, parsing by codec/syslog).
//     A Logplex-Msg-Count header must match the number of frames.
//   - application/x-ndjson: one JSON object per line with at least "app" and
//     "msg"; optional "time" (RFC 3339), "source", "proc", "host" and
//     "severity" (a syslog name or number 0-7).
//   - text/plain: one message per line; the app comes from ?app= (or the
//     token), the source and proc from ?source= and ?proc=.
//
// Answers: 204 when every message was accepted; 400 listing the first
// problems by line or frame number when some were not (the well-formed ones
// are accepted unless the whole body is untrustworthy: a Msg-Count mismatch
// or a bad gzip stream); 401, 403, 405, 413, 415; 429 with Retry-After when
// a policy=block drain has no room (nothing accepted); 503 after shutdown.
//
// Metrics: sluice_ingest_messages_total{transport="http"} counts accepted
// messages. sluice_ingest_rejected_total{transport="http",reason} counts each
// rejected line or frame once, and each request refused as a whole (401,
// 403, 413, 415, empty body, bad gzip, Msg-Count mismatch, 429, 503) once;
// "truncated" counts messages that were cut to MaxMessageBytes but kept.
//
// Memory: messages alias the request body (or the pooled decompression
// buffer) and are handed to the router before the handler returns; the
// router copies what it keeps (see sluice.Message). Per-request state (the
// message slice, the decompression buffer, the gzip reader) comes from
// sync.Pools, so a well-formed request allocates nothing per message (an
// NDJSON "time" with a numeric offset rather than Z costs one allocation).
// Everything a request holds is reserved first in the memory budget's body
// pool (Config.Bodies, MAX_INFLIGHT_BODY_BYTES; package internal/budget):
// the body as read and the pooled buffers, then in a few large steps its
// decompression (a gzip body over 1 MiB is measured first, with a
// decompression that keeps nothing, so that it is reserved whole or refused
// before any allocation) and its messages (152 bytes each, one per line at
// most; logplex-1 frames without LF grow the reservation as they come). A
// request the pool cannot take now gets 503 with Retry-After (reason
// memory_budget) and publishes nothing; one that needs more than the whole
// pool, 413 (too_large).
//
// Source: a Handler is an ingest.Mounted source (Name "http", Route
// "/logs"): the daemon's HTTP server routes to it. Shutdown refuses new
// requests with 503 and waits for the ones in flight, which have published
// what they answered 2xx for.
//
// Concurrency: a Handler's configuration is immutable after New and its
// ServeHTTP is safe for concurrent use by any number of fasthttp worker
// goroutines; a small gate (one mutex) counts the requests in flight for
// Shutdown. It starts no goroutines.
package httpin

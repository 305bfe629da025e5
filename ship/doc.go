// Package ship owns shipping log lines from the app side to a Sluice router:
// the bounded buffer, batching, encoding, retries and the in-band loss
// reports shared by `sluice ship` (the sidecar) and `sluice agent` (the node
// agent).
//
// A Shipper takes messages with Add, batches them (up to Config.BatchLines
// lines, or whatever is buffered once the oldest line has waited
// Config.BatchWait), and hands each batch to a Transport: HTTP POST /logs as
// application/logplex-1 (gzip when the body is large enough for it to pay)
// or octet-counted RFC 5424 over syslog:// (TCP) or syslog+tls://.
//
// Ordering: batches are sent one at a time, in order, each retried until it
// is delivered or given up before the next is sent. Two requests in flight
// on two connections may be published by the router in either order, and
// the router has no sequence numbers to put them back; a sidecar that
// reorders an app's lines is worse than one that is a little slower, so the
// Shipper keeps one request in flight (log-shuttle's concurrent outlets do
// reorder). Every Add returns a sequence number; Acked reports the highest
// sequence up to which every line is done (delivered, dropped and reported,
// or given up and reported), in order, so the agent can persist file
// positions that never run ahead of delivery.
//
// Memory: the lines buffered and the batch in flight together stay within
// Config.BufferLines and Config.BufferBytes. When full, PolicyDrop drops the
// oldest lines not yet in a batch and reports them in-band, "Error L12: N
// messages dropped since T.", at the head of the next delivered batch;
// PolicyBlock makes Add wait (the producer stops reading its input). A batch
// given up after Config.MaxAttempts is reported the same way as L13.
//
// Retries: full-jitter exponential backoff (a random wait in [0, min(cap,
// base·2^attempt)]); 429 and 503 with Retry-After wait that long and do not
// count as attempts (the router asks to slow down, nothing failed); 408, 5xx
// and network errors are retried; other 4xx are permanent (given up at
// once, reported as L13).
//
// Concurrency: Add, Acked and Stats are safe for concurrent use. One
// goroutine, started by New and waited for by Close, owns batching and
// sending; Config.OnAck is called from it, in sequence order.
package ship

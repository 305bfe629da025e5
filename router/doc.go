// Package router is the fan-out at the centre of Sluice: it takes batches
// from ingest (it implements sluice.Publisher), appends them to the app's
// ring (buffer.Store) and hands them to every drain worker that wants the
// app.
//
// Concurrency: Publish, TryPublish and Offer are safe for concurrent use.
// Order is kept per app within one caller (one connection, one request),
// because each step (ring append, each drain's enqueue) keeps the order of
// the batch.
//
// Backpressure: a drain with policy=block makes Publish wait for room in
// its queue, which stops the calling connection from reading; TryPublish
// refuses instead. Offer, for senders that cannot be pushed back (UDP),
// never waits: a full policy=block drain drops what it has no room for,
// counted as udp_no_backpressure, and nothing else is held back. Drains
// with policy=drop never make anyone wait.
//
// Rate limit (LimitRate, APP_RATE_LIMIT): a token bucket per app (GCRA: one
// atomic word per app in a sync.Map; one lookup and one CAS per run of
// one app in a batch, no lock, no allocation) drops an app's excess before
// the rings and drains see it. Its drops are counted when the batch is
// accepted; a batch TryPublish refuses gets its tokens back. One goroutine,
// owned by the Router and stopped by Close, writes the L15 lines every
// second (through the rings and drains, never waiting) and forgets the
// buckets of apps quiet for a minute.
package router

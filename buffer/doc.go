// Package buffer owns the per-app rings that hold each app's recent lines
// (what `sluice logs` reads) and the tail subscriptions that follow an app's
// new lines as they arrive.
//
// Storage. An app's ring keeps each line once, as a record in a stream of
// fixed-size chunks: a 26-byte header (timestamp in microseconds, the
// line's length and the previous record's, source and proc lengths for
// filtering, the line's bus position) followed by the line in the tail-line format without its
// timestamp ("SOURCE[PROC]: MESSAGE\n"). Header and bytes side by side
// mean an Append writes one place per line (with thousands of apps, each
// Append to a ring is a cache miss on it); the ring struct keeps its first
// and last chunk, its app name and the sizes of its oldest and newest
// records, so an Append touches the struct and one chunk. There is no heap
// object per line; the timestamp is formatted when a line is read, and the
// line goes through sluice.AppendDisplay then (one message, one line, no
// control characters), which gives exactly the bytes of sluice.AppendLine.
// The ring keeps the message's bytes as received: ingest pays nothing for
// the escaping, and the bounds below count stored bytes (a line read may be
// longer than stored by its escapes). Chunks freed at the head of
// a full ring are reused at its tail, so a steady Append allocates nothing.
//
// Bounds. A ring holds at most Config.Lines lines and Config.BytesPerApp
// bytes of tail lines (as Last returns them); the oldest lines go first. All
// rings together hold at most Config.MemoryLimit bytes of memory (chunks,
// index and a fixed per-app overhead): when Append goes over it, the oldest
// lines of the least recently written apps are evicted, and concurrent
// Appends that find the rings over the limit wait for that reclaim rather
// than go on (the rings exceed the limit only by the appends in flight
// when it is crossed; sluice_buffer_bytes_peak shows the most they held). An app whose ring
// this empties keeps the ring (its memory still counted) until the next
// reclaim; if it is still empty then and no tail follows it, it is
// forgotten. Apps that go on writing under memory pressure thus cost no
// allocations. Every evicted line is counted by reason in
// sluice_buffer_evicted_total.
//
// Concurrency. Store methods are safe for concurrent use. Each app's ring
// has its own mutex, so appends to different apps do not contend; a short
// global read lock guards the app index. Lock order: the app index, then a
// ring, then the store's free chunk list (a leaf lock: each store owns its
// list of free chunks; there is no package-level state). Append never blocks on a subscriber and does no work per subscriber:
// a Subscription is a cursor into its app's ring; Append closes one channel
// to wake every subscriber that waits, and each subscriber copies its unread
// lines out of the ring under the ring's lock (at most readChunk bytes at a
// time, into a buffer from a pool shared by all subscriptions, given back
// once formatted: a subscriber stalled on its client holds none) and
// filters and formats them after releasing it. A subscriber that
// falls behind its bounds gets an L11 line and ends (see Subscription). A
// Subscription is read by one goroutine (Next); Close may be called from any
// goroutine, at any time. Every line has a Cursor (the ring's epoch, the
// line's number) by which reads and subscriptions resume.
//
// Bus cursors. In cluster mode each line carries its position on the bus
// (sluice.BusPos, zero otherwise), and its cursor is that position,
// written "bPARTITION.OFFSET" (the "EPOCH:SEQ" form stays for lines
// without one). Every member that holds the line agrees on it, so a
// client resumes on the partition's new owner after a move: a resume after
// a bus cursor begins after the newest held line of that partition at or
// before its offset (an app's lines come from one partition in offset
// order), and a reader skips lines at or before it that arrive later (an
// owner still catching up). The position costs 8 bytes per line in every mode
// (about 6% of a ring's memory with 100-byte lines).
package buffer

// Package budget owns sluiced's process-wide memory budget: the arithmetic
// that splits it into fixed reservations at startup (Plan), and the pools
// that bytes held on behalf of clients are drawn from while serving (Pool,
// Lease).
//
// The budget is MEMORY_LIMIT × 1.5 + 64 MiB (Total), the issue-10 target
// for sluiced's peak resident memory under any mix of abuse. A Plan lists
// what is reserved out of it — the rings' MEMORY_LIMIT, the request-body
// pool, the tails, each drain's queue_bytes, the UDP receive buffer — and
// Check refuses a configuration whose reservations do not fit, with the
// arithmetic in the error. What is left is the Go runtime's headroom
// (garbage not yet collected, stacks); sluiced sets the runtime's soft
// limit (debug.SetMemoryLimit) to the budget, less the kernel's share.
//
// A Pool is one reservation that is drawn from dynamically (the request
// bodies). A request takes a Lease and grows it as it reads, decompresses
// and parses; a Grow that would take the pool over its limit fails, and
// the caller answers 503 with Retry-After instead of allocating. Release
// gives back everything the Lease took.
//
// Concurrency. Pool methods are safe for concurrent use (one atomic
// counter; a failed Grow takes nothing). A Lease belongs to one request
// and is used by one goroutine.
package budget

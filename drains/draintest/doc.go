// Package draintest is the conformance suite every drains.Drain passes, the
// way testing/slogtest is for slog handlers: Send delivers and does not keep
// the batch, order is kept per app across batches, Close returns promptly
// and twice, Send with a cancelled context returns promptly with an error,
// and a drains.Worker around the drain flushes everything at Stop with the
// accounting invariant holding.
//
// Run calls t.Run for each case, sequentially; the Harness functions are
// called from the test goroutine only. Every case tags its messages with a
// unique prefix, so one destination may serve all cases and earlier runs.
package draintest

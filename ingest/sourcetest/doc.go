// Package sourcetest is the conformance suite every ingest.Source passes,
// beside drains/draintest: a source started serves (a message sent is
// published), bad input is refused and counted in
// sluice_ingest_rejected_total under the source's Name, Shutdown returns
// within its deadline with an idle or a trickling client connected, and
// nothing accepted is lost on stop (every message acknowledged or written
// before Shutdown reaches the Publisher).
//
// The suite starts the source itself: a Listener with Listen and Serve, a
// Mounted source behind a fasthttp server of the suite's on loopback that
// routes Route() to it, as the daemon does. Run calls t.Run for each case,
// sequentially, each with a new source; the Harness functions are called
// from the test goroutine only.
package sourcetest

// Package eventually is the one poller the tests use to wait for a
// condition with a deadline, instead of sleeping.
//
// Tests call True (or Within) with a description; the condition is polled
// every few milliseconds and the test fails with the description when the
// deadline passes first. The deadline is generous because CI machines are
// shared and slow: a test waits only as long as the condition takes.
package eventually

import (
	"testing"
	"time"
)

// Deadline is how long True waits.
const Deadline = 20 * time.Second

// True polls cond every 2ms until it holds, failing t with what when
// Deadline passes first.
func True(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, Deadline, what, cond)
}

// Within is True with its own deadline.
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

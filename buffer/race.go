//go:build race

package buffer

// raceEnabled is true under the race detector. grouper.prefetch reads ring
// hints without their locks on purpose, which the detector would report, so
// it is off there; and sync.Pool drops items at random, so the tests do not
// count allocations there.
const raceEnabled = true

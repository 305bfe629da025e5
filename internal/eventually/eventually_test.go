package eventually

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestTrueWaitsForTheCondition(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 5 {
			n.Add(1)
			time.Sleep(time.Millisecond) // the condition's producer, not synchronisation
		}
	}()
	True(t, "five increments", func() bool { return n.Load() == 5 })
}

// fakeT records a Fatalf instead of ending the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	panic(f)
}

func TestWithinFailsAtTheDeadline(t *testing.T) {
	ft := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != ft {
				panic(r)
			}
		}()
		Within(ft, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !ft.failed {
		t.Fatal("Within returned on a condition that never held")
	}
}

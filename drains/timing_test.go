package drains_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

// TestWorkerTimingSynctest checks the Worker's clocks exactly, in a
// synctest bubble where time moves only when every goroutine waits: a
// partial batch leaves at its flush age, not a moment before, and a
// failed send is retried no sooner than the Retry-After it carried.
func TestWorkerTimingSynctest(t *testing.T) {
	t.Run("flush age", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := &memDrain{}
			w := drains.NewWorker(drains.WorkerConfig{Name: "timing", Drain: d,
				Options: drains.Options{Batch: 100, Flush: 750 * time.Millisecond}})
			w.Start()
			if err := w.Enqueue(context.Background(), msgs("a", 0, 3)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(750*time.Millisecond - time.Nanosecond)
			synctest.Wait()
			if n := len(d.read()); n != 0 {
				t.Fatalf("%d messages sent before the flush age", n)
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			if n := len(d.read()); n != 3 {
				t.Fatalf("%d messages sent at the flush age, want 3", n)
			}
			w.Stop(context.Background())
		})
	})
	t.Run("retry after", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var sent []time.Time
			d := &memDrain{fail: func(attempt int, _ []sluice.Message) error {
				sent = append(sent, time.Now())
				if attempt == 1 {
					return &drains.RetryAfter{After: 3 * time.Second, Err: errors.New("busy")}
				}
				return nil
			}}
			w := drains.NewWorker(drains.WorkerConfig{Name: "timing", Drain: d,
				Options:    drains.Options{Batch: 1},
				MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			w.Start()
			if err := w.Enqueue(context.Background(), msgs("a", 0, 1)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3*time.Second - time.Nanosecond)
			synctest.Wait()
			if n := len(d.read()); n != 0 {
				t.Fatalf("delivered before Retry-After passed")
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			if n := len(d.read()); n != 1 {
				t.Fatalf("%d delivered once Retry-After passed, want 1", n)
			}
			d.mu.Lock() // sent is written under d.mu by Send
			gap := sent[1].Sub(sent[0])
			d.mu.Unlock()
			if gap != 3*time.Second {
				t.Fatalf("retried after %s, want exactly 3s", gap)
			}
			w.Stop(context.Background())
		})
	})
}

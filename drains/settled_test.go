package drains_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// Settled is a low watermark: a message retried at the front of a batch
// holds it back even while later messages of the batch are delivered, and
// messages still queued behind a gated Send are never settled.
func TestWorkerSettledIsALowWatermark(t *testing.T) {
	release := make(chan struct{})
	d := &memDrain{fail: func(attempt int, batch []sluice.Message) error {
		if attempt == 1 {
			return &drains.BatchError{Failed: map[int]error{0: errors.New("try again")}}
		}
		select {
		case <-release:
			return nil
		default:
			return errors.New("not yet")
		}
	}}
	w, _ := newWorker(t, d, drains.Options{Batch: 4, Flush: time.Millisecond, Queue: 100, QueueBytes: 1 << 20}, nil)
	w.Start()
	defer stop(t, w)
	if err := w.Enqueue(context.Background(), msgs("a", 0, 6)); err != nil {
		t.Fatal(err)
	}
	if got := w.Received(); got != 6 {
		t.Fatalf("Received %d, want 6", got)
	}
	// First send: 1-3 delivered, 0 retried until release.
	eventually.True(t, "the first send", func() bool { return len(d.read()) == 3 })
	if s := w.Settled(); s != 0 {
		t.Fatalf("Settled %d with message 0 retrying, want 0", s)
	}
	close(release)
	eventually.True(t, "everything settles", func() bool { return w.Settled() == 6 })

	// Drops settle too: a message too large for the queue.
	big := msgs("a", 6, 1)
	big[0].Text = string(make([]byte, 2<<20))
	if err := w.Enqueue(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if w.Received() != 7 || w.Settled() != 7 {
		t.Fatalf("after a too_large drop: received %d settled %d, want 7 7", w.Received(), w.Settled())
	}
}

package router

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/sluice-logs/sluice/drains"
)

func batchOf(n, apps int) []sluice.Message {
	b := make([]sluice.Message, n)
	base := time.Date(2026, 11, 25, 20, 29, 46, 0, time.UTC)
	for i := range b {
		b[i] = sluice.Message{Time: base.Add(time.Duration(i) * time.Microsecond), App: fmt.Sprintf("app-%05d", i%apps),
			Source: "app", Proc: "web.1", Text: fmt.Sprintf("GET /api/v1/items/%d 200 12ms bytes=5123", i),
			Facility: 1, Severity: 6}
	}
	return b
}

func TestPublishAndClose(t *testing.T) {
	store := buffer.New(buffer.Config{}, nil)
	defer store.Close()
	r := New(store, nil)
	tests := []struct {
		name    string
		publish func([]sluice.Message) error
	}{
		{"Publish", func(b []sluice.Message) error { return r.Publish(context.Background(), b) }},
		{"TryPublish", r.TryPublish},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.Stats().Lines
			if err := tt.publish(batchOf(10, 2)); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if got := store.Stats().Lines - before; got != 10 {
				t.Fatalf("%d lines in the rings, want 10", got)
			}
			if err := tt.publish(nil); err != nil {
				t.Fatalf("publish of an empty batch: %v", err)
			}
		})
	}
	r.Close()
	for _, tt := range tests {
		if err := tt.publish(batchOf(1, 1)); !errors.Is(err, sluice.ErrClosed) {
			t.Fatalf("%s after Close = %v, want ErrClosed", tt.name, err)
		}
	}
}

// BenchmarkPublish measures Publish from parallel callers (connections)
// against the ring append it wraps, to show what the router's lock and
// fan-out add per batch. One op is one batch of 400 messages over 100 apps.
func BenchmarkPublish(b *testing.B) {
	batch := batchOf(400, 100)
	b.Run("store.Append", func(b *testing.B) {
		store := buffer.New(buffer.Config{}, nil)
		defer store.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				store.Append(batch)
			}
		})
	})
	b.Run("router.Publish", func(b *testing.B) {
		store := buffer.New(buffer.Config{}, nil)
		defer store.Close()
		r := New(store, nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := r.Publish(context.Background(), batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// nopDrain accepts every batch.
type nopDrain struct{}

func (nopDrain) Send(context.Context, []sluice.Message) error { return nil }
func (nopDrain) Check(context.Context) error                  { return nil }
func (nopDrain) Close(context.Context) error                  { return nil }

// blockingWorker is a policy=block worker that is never started, so its
// queue only fills: room never comes back.
func blockingWorker(t *testing.T, name string, queue int) *drains.Worker {
	t.Helper()
	w := drains.NewWorker(drains.WorkerConfig{Name: name, Drain: nopDrain{},
		Options: drains.Options{Policy: drains.PolicyBlock, Queue: queue, Batch: 1}})
	t.Cleanup(func() { w.Stop(context.Background()) })
	return w
}

// TestTryPublishTwoBlockingDrains checks that TryPublish is all or
// nothing across two policy=block drains: a batch is in both drains and
// the ring, or in none of them, and TryPublish never waits.
func TestTryPublishTwoBlockingDrains(t *testing.T) {
	t.Run("second full", func(t *testing.T) {
		store := buffer.New(buffer.Config{}, nil)
		defer store.Close()
		a, b := blockingWorker(t, "a", 100), blockingWorker(t, "b", 5)
		r := New(store, []*drains.Worker{a, b})
		if err := r.TryPublish(batchOf(5, 1)); err != nil {
			t.Fatalf("first batch: %v", err)
		}
		start := time.Now()
		if err := r.TryPublish(batchOf(1, 1)); !errors.Is(err, sluice.ErrBackpressure) {
			t.Fatalf("TryPublish with the second drain full = %v, want ErrBackpressure", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("TryPublish waited %s", d)
		}
		if got := a.Status().Received; got != 5 {
			t.Fatalf("first drain received %d, want 5 (nothing of the refused batch)", got)
		}
		if got := store.Stats().Lines; got != 5 {
			t.Fatalf("%d lines in the rings, want 5", got)
		}
	})
	t.Run("second stopping", func(t *testing.T) {
		store := buffer.New(buffer.Config{}, nil)
		defer store.Close()
		a, b := blockingWorker(t, "a", 100), blockingWorker(t, "b", 100)
		r := New(store, []*drains.Worker{a, b})
		b.Stop(context.Background())
		if err := r.TryPublish(batchOf(3, 1)); !errors.Is(err, sluice.ErrClosed) {
			t.Fatalf("TryPublish with the second drain stopped = %v, want ErrClosed", err)
		}
		if got := a.Status().Received; got != 0 {
			t.Fatalf("first drain received %d, want 0", got)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		// Many callers race for the last room in both drains: every
		// batch must land in both or in neither.
		store := buffer.New(buffer.Config{}, nil)
		defer store.Close()
		a, b := blockingWorker(t, "a", 60), blockingWorker(t, "b", 60)
		r := New(store, []*drains.Worker{a, b})
		var wg sync.WaitGroup
		var ok atomic.Int64
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := batchOf(3, 2)
				for i := 0; i < 20; i++ {
					switch err := r.TryPublish(batch); {
					case err == nil:
						ok.Add(1)
					case !errors.Is(err, sluice.ErrBackpressure):
						t.Errorf("TryPublish: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		want := uint64(3 * ok.Load())
		if want != 60 {
			t.Fatalf("%d messages accepted, want 60 (both queues exactly full)", want)
		}
		for _, w := range []*drains.Worker{a, b} {
			if got := w.Status().Received; got != want {
				t.Fatalf("drain %s received %d, want %d", w.Name(), got, want)
			}
		}
		if got := uint64(store.Stats().Lines); got != want {
			t.Fatalf("%d lines in the rings, want %d", got, want)
		}
	})
}

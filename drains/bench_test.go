package drains_test

import (
	"context"
	"testing"

	"github.com/sluice-logs/sluice"

	"github.com/sluice-logs/sluice/drains"
)

// BenchmarkWorkerEnqueueOverflow measures policy=drop's overflow path:
// the queue is full and the drain never returns, so every message
// enqueued drops the oldest one (counted, and recorded per app for L10).
func BenchmarkWorkerEnqueueOverflow(b *testing.B) {
	release := make(chan struct{})
	w := drains.NewWorker(drains.WorkerConfig{Name: "bench", Drain: stuck{release},
		Options: drains.Options{Queue: 1000, QueueBytes: 1 << 30, Batch: 10}})
	w.Start()
	defer w.Stop(context.Background())
	defer close(release)
	batch := msgs("web", 0, 100)
	for range 20 { // fill the queue
		if err := w.Enqueue(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.Enqueue(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}

// stuck is a drain whose Send waits until release is closed or ctx ends.
type stuck struct{ release chan struct{} }

func (s stuck) Send(ctx context.Context, _ []sluice.Message) error {
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (stuck) Check(context.Context) error { return nil }
func (stuck) Close(context.Context) error { return nil }

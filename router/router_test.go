package router

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/buffer"
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

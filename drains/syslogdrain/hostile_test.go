package syslogdrain_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/draintest"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// worker runs d under a drains.Worker with opts.
func worker(t *testing.T, d drains.Drain, opts drains.Options) *drains.Worker {
	t.Helper()
	w := drains.NewWorker(drains.WorkerConfig{
		Name: "test", URL: "syslog://test", Drain: d, Options: opts,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Metrics:    drains.NewMetrics(prometheus.NewRegistry()),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
	})
	w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		w.Stop(ctx)
	})
	return w
}

// padded returns n messages of tag whose texts are padded to size bytes, so
// that a few MiB fill the kernel's socket buffers.
func padded(tag string, apps []string, n, size int) []sluice.Message {
	ms := draintest.Messages(tag, apps, n)
	for i := range ms {
		ms[i].Text += " " + strings.Repeat("x", size)
	}
	return ms
}

// distinct returns the first occurrence of every text tagged tag, in
// arrival order (a batch whose write failed is sent again whole: at least
// once).
func distinct(ms []sluice.Message, tag string) []sluice.Message {
	seen := make(map[string]bool, len(ms))
	var out []sluice.Message
	for _, m := range ms {
		if strings.HasPrefix(m.Text, tag+" ") && !seen[m.Text] {
			seen[m.Text] = true
			out = append(out, m)
		}
	}
	return out
}

// TestReceiverStopsReading: a receiver that stops reading fills the
// socket buffers. With policy=drop the Worker drops (counted, queue_full)
// and never blocks the sender; with policy=block it pushes back
// (ErrBackpressure) and, once the receiver reads again, delivers every
// message exactly once, in order.
func TestReceiverStopsReading(t *testing.T) {
	t.Run("drop", func(t *testing.T) {
		r := newReceiver(t, "tcp", nil)
		resume := r.pause()
		defer resume()
		d, _ := newDrain(t, "syslog://"+r.addr(), nil, nil)
		w := worker(t, d, drains.Options{Policy: drains.PolicyDrop, Queue: 200, QueueBytes: 8 << 20,
			Batch: 50, BatchBytes: 4 << 20, Flush: 5 * time.Millisecond, Timeout: 300 * time.Millisecond})
		apps := []string{"web"}
		const n, size = 4000, 2048 // 8 MiB: more than both socket buffers hold
		msgs := padded("stall", apps, n, size)
		start := time.Now()
		for i := 0; i < n; i += 100 {
			if err := w.Enqueue(context.Background(), msgs[i:i+100]); err != nil {
				t.Fatal(err)
			}
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("policy=drop Enqueue of %d messages took %s: the stalled receiver pushed back", n, el)
		}
		eventually.True(t, "queue_full drops", func() bool { return w.Status().Dropped[drains.ReasonQueueFull] > 0 })
		if s := w.Status(); !s.Balanced() {
			t.Fatalf("accounting broken: %+v", s)
		}
		resume()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rep := w.Stop(ctx)
		var dropped uint64
		for _, v := range rep.Dropped {
			dropped += v
		}
		if rep.Received != n || rep.Delivered+dropped != n {
			t.Fatalf("report %+v: want received %d = delivered + dropped", rep, n)
		}
		eventually.True(t, "the receiver to read what was delivered", func() bool {
			return uint64(len(distinct(r.read(nil, nil), "stall"))) >= rep.Delivered
		})
	})
	t.Run("block", func(t *testing.T) {
		r := newReceiver(t, "tcp", nil)
		resume := r.pause()
		defer resume()
		d, _ := newDrain(t, "syslog://"+r.addr(), nil, nil)
		// The Send timeout outlasts the stall: the write waits, nothing is
		// sent twice.
		w := worker(t, d, drains.Options{Policy: drains.PolicyBlock, Queue: 200, QueueBytes: 8 << 20,
			Batch: 50, BatchBytes: 4 << 20, Flush: 5 * time.Millisecond, Timeout: time.Minute})
		apps := []string{"web", "api"}
		const size, most = 2048, 10000 // 20 MiB at most
		all := padded("block", apps, most, size)
		var sent []sluice.Message
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; ; i++ {
			if time.Now().After(deadline) || i >= most {
				t.Fatalf("no backpressure from a receiver that stopped reading after %d messages", i)
			}
			m := all[i : i+1]
			err := w.TryEnqueue(m)
			if errors.Is(err, sluice.ErrBackpressure) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, m...)
		}
		if s := w.Status(); s.DroppedTotal() != 0 || !s.Balanced() {
			t.Fatalf("policy=block dropped or broke the accounting: %+v", s)
		}
		resume()
		got := draintest.WaitFor(t, r.read, "block", len(sent))
		draintest.CheckOrder(t, stripPad(got), "block", apps, len(sent))
		if s := w.Status(); s.Delivered != uint64(len(sent)) || s.DroppedTotal() != 0 {
			t.Fatalf("status %+v: want %d delivered, none dropped", s, len(sent))
		}
	})
}

// stripPad removes padded's padding so CheckOrder sees "<tag> <app> <seq>".
func stripPad(ms []sluice.Message) []sluice.Message {
	for i := range ms {
		if j := strings.LastIndexByte(ms[i].Text, ' '); j > 0 && strings.HasPrefix(ms[i].Text[j+1:], "xxx") {
			ms[i].Text = ms[i].Text[:j]
		}
	}
	return ms
}

// TestReceiverClosesMidBatch: the receiver reads some frames of a batch
// larger than the socket buffers and closes the connection (dropping what
// it had not read). The write fails, the drain reconnects and the Worker
// sends the batch again: with policy=block every message arrives, and the
// accounting balances.
func TestReceiverClosesMidBatch(t *testing.T) {
	r := newReceiver(t, "tcp", nil)
	r.mu.Lock()
	r.closeN = 150
	r.mu.Unlock()
	d, _ := newDrain(t, "syslog://"+r.addr(), nil, nil)
	const n, size = 6000, 1024 // 6 MiB in one batch: more than the kernel buffers hold
	w := worker(t, d, drains.Options{Policy: drains.PolicyBlock, Queue: n, QueueBytes: 64 << 20,
		Batch: n, BatchBytes: 32 << 20, Flush: time.Hour, Timeout: 20 * time.Second})
	apps := []string{"web", "api", "db"}
	msgs := padded("mid", apps, n, size)
	if err := w.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	// The first connection is closed after 150 frames; let later ones live.
	eventually.True(t, "the receiver to close the first connection", func() bool { return r.connections() >= 1 && len(r.read(nil, nil)) >= 150 })
	r.mu.Lock()
	r.closeN = 0
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually.True(t, "the batch delivered", func() bool { return w.Status().Delivered == n })
	rep := w.Stop(ctx)
	if rep.Received != n || rep.Delivered != n || rep.Undelivered != 0 {
		t.Fatalf("report %+v (status %+v, %d connections, %d frames read): want all %d delivered",
			rep, w.Status(), r.connections(), len(r.read(nil, nil)), n)
	}
	var got []sluice.Message
	eventually.True(t, "every message at the receiver", func() bool {
		got = distinct(r.read(nil, nil), "mid")
		return len(got) == n
	})
	if r.connections() < 2 {
		t.Fatalf("%d connections: the drain did not reconnect", r.connections())
	}
	if rep.Dropped[drains.ReasonQueueFull]+rep.Dropped[drains.ReasonPermanent] != 0 {
		t.Fatalf("dropped: %+v", rep.Dropped)
	}
	draintest.CheckOrder(t, stripPad(got), "mid", apps, n)
}

// TestLFStaysInsideFrame: a message with LF, CR, NUL and text that looks
// like an octet count and a header reaches the receiver as one message,
// byte for byte.
func TestLFStaysInsideFrame(t *testing.T) {
	r := newReceiver(t, "tcp", nil)
	d, _ := newDrain(t, "syslog://"+r.addr(), nil, nil)
	texts := []string{
		"lf tail\n",
		"lf inside\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected",
		"lf crlf\r\n42 <13>1 2026-12-02T00:00:00Z h app - - - forged frame",
		"lf nul \x00 bel \a esc \x1b[31m",
		"lf 99999999 ",
	}
	var batch []sluice.Message
	for _, s := range texts {
		m := draintest.Messages("x", []string{"web"}, 1)[0]
		m.Text = s
		batch = append(batch, m)
	}
	if err := send(t, d, batch); err != nil {
		t.Fatal(err)
	}
	var got []sluice.Message
	eventually.True(t, "5 messages", func() bool { got = r.read(nil, nil); return len(got) >= len(texts) })
	if len(got) != len(texts) {
		t.Fatalf("%d messages, want %d", len(got), len(texts))
	}
	for i, m := range got {
		if m.Text != texts[i] || m.App != "web" {
			t.Errorf("message %d: app %q text %q, want web %q", i, m.App, m.Text, texts[i])
		}
	}
}

// TestUDPTruncates: a message longer than max_datagram is cut (on a UTF-8
// boundary) and counted; shorter ones go whole, one per datagram.
func TestUDPTruncates(t *testing.T) {
	r := newReceiver(t, "udp", nil)
	d, _ := newDrain(t, "udpsyslog://"+r.addr()+"?max_datagram=512", nil, nil)
	ms := draintest.Messages("udp", []string{"web"}, 3)
	ms[1].Text += " " + strings.Repeat("é", 600) // 1200 bytes of 2-byte runes
	if err := send(t, d, ms); err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	eventually.True(t, "3 datagrams", func() bool { raw = r.frames(); return len(raw) >= 3 })
	if len(raw[1]) > 512 || len(raw[1]) < 510 {
		t.Errorf("long datagram is %d bytes, want cut to 511-512", len(raw[1]))
	}
	got := r.read(nil, nil)
	if got[0].Text != ms[0].Text || got[2].Text != ms[2].Text || !strings.HasPrefix(ms[1].Text, got[1].Text) {
		t.Errorf("datagrams %q", raw)
	}
	if d.Truncated() != 1 {
		t.Errorf("Truncated() = %d, want 1", d.Truncated())
	}
}

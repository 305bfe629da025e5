package drains_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/draintest"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// memDrain records what it is sent. fail, when set, decides each Send's
// outcome from the attempt number (1-based); gate, when set, holds every
// Send until a value arrives or ctx ends.
type memDrain struct {
	mu      sync.Mutex
	got     []sluice.Message
	batches [][]sluice.Message // the batches as sent (cloned), attempts included
	calls   int
	entered chan struct{} // receives once per Send, if set
	gate    chan struct{}
	fail    func(attempt int, batch []sluice.Message) error
	closed  int
}

func (d *memDrain) Send(ctx context.Context, batch []sluice.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.entered != nil {
		select {
		case d.entered <- struct{}{}:
		default:
		}
	}
	if d.gate != nil {
		select {
		case <-d.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed > 0 {
		return drains.ErrClosed
	}
	d.calls++
	cp := make([]sluice.Message, len(batch))
	for i := range batch {
		cp[i] = batch[i].Clone()
	}
	d.batches = append(d.batches, cp)
	var err error
	if d.fail != nil {
		err = d.fail(d.calls, batch)
	}
	var be *drains.BatchError
	switch {
	case err == nil:
		d.got = append(d.got, cp...)
	case errors.As(err, &be):
		for i := range cp {
			if _, failed := be.Failed[i]; !failed {
				d.got = append(d.got, cp[i])
			}
		}
	}
	return err
}

func (d *memDrain) Check(context.Context) error { return nil }

func (d *memDrain) Close(context.Context) error {
	d.mu.Lock()
	d.closed++
	d.mu.Unlock()
	return nil
}

func (d *memDrain) read() []sluice.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sluice.Message(nil), d.got...)
}

func msgs(app string, from, n int) []sluice.Message {
	out := make([]sluice.Message, n)
	for i := range out {
		out[i] = sluice.Message{Time: time.Now(), App: app, Source: "app", Proc: "web.1",
			Text: fmt.Sprintf("%s %d", app, from+i), Facility: 1, Severity: 6}
	}
	return out
}

func newWorker(t *testing.T, d drains.Drain, o drains.Options, notify func(sluice.Message)) (*drains.Worker, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	w := drains.NewWorker(drains.WorkerConfig{
		Name: "test", URL: "mem://", Kind: "mem", Drain: d, Options: o,
		Metrics: drains.NewMetrics(reg), Notify: notify,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	return w, reg
}

func stop(t *testing.T, w *drains.Worker) drains.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := w.Stop(ctx)
	checkBalanced(t, w)
	return r
}

func checkBalanced(t *testing.T, w *drains.Worker) drains.Status {
	t.Helper()
	s := w.Status()
	if !s.Balanced() {
		t.Fatalf("accounting broken: received %d != delivered %d + dropped %v + queued %d",
			s.Received, s.Delivered, s.Dropped, s.QueueMessages)
	}
	return s
}

func texts(ms []sluice.Message) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString("|")
		}
		b.WriteString(m.Text)
	}
	return b.String()
}

func TestWorkerBatchesBySizeAndStopFlushes(t *testing.T) {
	d := &memDrain{}
	w, _ := newWorker(t, d, drains.Options{Batch: 3, Flush: time.Hour}, nil)
	w.Start()
	for i := 0; i < 10; i++ {
		if err := w.Enqueue(context.Background(), msgs("web", i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	eventually.True(t, "three full batches", func() bool { return len(d.read()) == 9 })
	r := stop(t, w)
	if r.Delivered != 10 || r.Received != 10 || r.Undelivered != 0 {
		t.Fatalf("report %+v", r)
	}
	for i, b := range d.batches {
		if len(b) > 3 {
			t.Fatalf("batch %d has %d messages, want at most 3", i, len(b))
		}
	}
	if got, want := texts(d.read()), texts(msgs("web", 0, 10)); got != want {
		t.Fatalf("delivered %s, want %s", got, want)
	}
	if d.closed != 1 {
		t.Fatalf("drain closed %d times, want 1", d.closed)
	}
	if r2 := w.Stop(context.Background()); r2.Delivered != r.Delivered {
		t.Fatalf("second Stop report %+v differs from %+v", r2, r)
	}
	if err := w.Enqueue(context.Background(), msgs("web", 10, 1)); !errors.Is(err, sluice.ErrClosed) {
		t.Fatalf("Enqueue after Stop: %v, want ErrClosed", err)
	}
}

func TestWorkerFlushesByAgeAndBytes(t *testing.T) {
	t.Run("age", func(t *testing.T) {
		d := &memDrain{}
		w, _ := newWorker(t, d, drains.Options{Batch: 100, Flush: 20 * time.Millisecond}, nil)
		w.Start()
		defer stop(t, w)
		if err := w.Enqueue(context.Background(), msgs("web", 0, 2)); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "age flush", func() bool { return len(d.read()) == 2 })
	})
	t.Run("bytes", func(t *testing.T) {
		d := &memDrain{}
		// each message is about 20 bytes: 100 bytes hold 4 or 5.
		w, _ := newWorker(t, d, drains.Options{Batch: 1000, BatchBytes: 100, Flush: time.Hour}, nil)
		w.Start()
		defer stop(t, w)
		if err := w.Enqueue(context.Background(), msgs("web", 0, 20)); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "byte flushes", func() bool { return len(d.read()) >= 10 })
		for _, b := range d.batches {
			var n int
			for i := range b {
				n += b[i].Size()
			}
			if n > 100 {
				t.Fatalf("batch of %d bytes, want at most 100", n)
			}
		}
	})
}

func TestWorkerFilterByApp(t *testing.T) {
	d := &memDrain{}
	w, _ := newWorker(t, d, drains.Options{Apps: []string{"api"}}, nil)
	if w.Wants("web") || !w.Wants("api") {
		t.Fatal("Wants ignores apps=")
	}
	w.Start()
	batch := append(msgs("web", 0, 3), msgs("api", 0, 2)...)
	if n, _ := w.Need(batch); n != 2 {
		t.Fatalf("Need = %d, want 2", n)
	}
	if err := w.Enqueue(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	r := stop(t, w)
	if r.Received != 2 || r.Delivered != 2 || texts(d.read()) != "api 0|api 1" {
		t.Fatalf("report %+v, delivered %s", r, texts(d.read()))
	}
}

func TestWorkerFailures(t *testing.T) {
	tests := []struct {
		name          string
		fail          func(attempt int, batch []sluice.Message) error
		wantDelivered string
		wantPermanent uint64
		wantRetries   bool
	}{
		{
			name: "batch error retries only the retryable failures",
			fail: func(attempt int, _ []sluice.Message) error {
				if attempt == 1 {
					return &drains.BatchError{Failed: map[int]error{
						1: errors.New("429 from a shard"),
						2: fmt.Errorf("%w: mapping", drains.ErrPermanent),
					}}
				}
				return nil
			},
			wantDelivered: "web 0|web 3|web 4|web 1",
			wantPermanent: 1,
			wantRetries:   true,
		},
		{
			name: "whole batch permanent",
			fail: func(int, []sluice.Message) error {
				return fmt.Errorf("%w: 400 bad request", drains.ErrPermanent)
			},
			wantPermanent: 5,
		},
		{
			name: "retryable then ok",
			fail: func(attempt int, _ []sluice.Message) error {
				if attempt < 3 {
					return errors.New("connection refused")
				}
				return nil
			},
			wantDelivered: "web 0|web 1|web 2|web 3|web 4",
			wantRetries:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &memDrain{fail: tc.fail}
			w, _ := newWorker(t, d, drains.Options{Batch: 5, Flush: time.Hour}, nil)
			w.Start()
			if err := w.Enqueue(context.Background(), msgs("web", 0, 5)); err != nil {
				t.Fatal(err)
			}
			r := stop(t, w)
			if got := texts(d.read()); got != tc.wantDelivered {
				t.Fatalf("delivered %q, want %q", got, tc.wantDelivered)
			}
			s := w.Status()
			if s.Dropped[drains.ReasonPermanent] != tc.wantPermanent || r.Dropped[drains.ReasonPermanent] != tc.wantPermanent {
				t.Fatalf("permanent drops %d, want %d", s.Dropped[drains.ReasonPermanent], tc.wantPermanent)
			}
			if (s.Retries > 0) != tc.wantRetries {
				t.Fatalf("retries %d, want retries: %v", s.Retries, tc.wantRetries)
			}
			if tc.wantPermanent > 0 && s.LastError == "" {
				t.Fatal("no last error after a permanent failure")
			}
		})
	}
}

func TestWorkerRetryAfterIsHonoured(t *testing.T) {
	const after = 200 * time.Millisecond
	var first, second time.Time
	d := &memDrain{fail: func(attempt int, _ []sluice.Message) error {
		if attempt == 1 {
			first = time.Now()
			return &drains.RetryAfter{After: after, Err: errors.New("429")}
		}
		second = time.Now()
		return nil
	}}
	w, _ := newWorker(t, d, drains.Options{Batch: 1}, nil)
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("web", 0, 1)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "delivery after Retry-After", func() bool { return len(d.read()) == 1 })
	stop(t, w)
	if gap := second.Sub(first); gap < after {
		t.Fatalf("retried after %s, want at least %s", gap, after)
	}
}

// TestWorkerDropOldestReportsL10 fills the queue of a stuck drain: the
// oldest queued messages go, and the next delivered batch starts with an
// L10 line for the app, which Notify sees too.
func TestWorkerDropOldestReportsL10(t *testing.T) {
	d := &memDrain{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	var mu sync.Mutex
	var notified []sluice.Message
	w, reg := newWorker(t, d, drains.Options{Queue: 5, Batch: 1, Flush: time.Millisecond}, func(m sluice.Message) {
		mu.Lock()
		notified = append(notified, m)
		mu.Unlock()
	})
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("web", 0, 1)); err != nil {
		t.Fatal(err)
	}
	<-d.entered // web 0 is in flight, held by the gate
	for i := 1; i <= 10; i++ {
		if err := w.Enqueue(context.Background(), msgs("web", i, 1)); err != nil {
			t.Fatal(err)
		}
		checkBalanced(t, w)
	}
	s := checkBalanced(t, w)
	if s.QueueMessages != 5 || s.Dropped[drains.ReasonQueueFull] != 6 {
		t.Fatalf("status %+v: want 5 queued (1 in flight), 6 dropped", s)
	}
	close(d.gate)
	r := stop(t, w)
	if r.Delivered != 5 || r.Received != 11 {
		t.Fatalf("report %+v", r)
	}
	got := d.read()
	if len(got) != 6 || got[0].Text != "web 0" || !strings.HasPrefix(got[1].Text, "Error L10 (output buffer overflow): 6 messages dropped since ") {
		t.Fatalf("delivered %s: want web 0, then the L10 line, then web 7..10", texts(got))
	}
	if l10 := got[1]; l10.App != "web" || l10.Source != "sluice" || l10.Proc != "drain.test" {
		t.Fatalf("L10 message %+v", l10)
	}
	if texts(got[2:]) != "web 7|web 8|web 9|web 10" {
		t.Fatalf("kept %s, want the newest four", texts(got[2:]))
	}
	mu.Lock()
	if len(notified) != 1 || notified[0].Text != got[1].Text {
		t.Fatalf("Notify saw %v, want the L10 line", notified)
	}
	mu.Unlock()

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "sluice_drain_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == drains.ReasonQueueFull {
					found = m.GetCounter().GetValue() == 6
				}
			}
		}
	}
	if !found {
		t.Fatal("sluice_drain_dropped_total{reason=queue_full} is not 6")
	}
}

func TestWorkerTooLarge(t *testing.T) {
	d := &memDrain{}
	w, _ := newWorker(t, d, drains.Options{QueueBytes: 1024, BatchBytes: 1024, Flush: time.Millisecond}, nil)
	w.Start()
	big := msgs("web", 0, 1)
	big[0].Text = strings.Repeat("x", 2000)
	if err := w.Enqueue(context.Background(), append(big, msgs("web", 1, 1)...)); err != nil {
		t.Fatal(err)
	}
	r := stop(t, w)
	if r.Dropped[drains.ReasonTooLarge] != 1 || r.Delivered != 1 {
		t.Fatalf("report %+v", r)
	}
	if got := d.read(); len(got) != 2 || !strings.Contains(got[0].Text, "L10") {
		t.Fatalf("delivered %s, want the L10 line then web 1", texts(got))
	}
}

func TestWorkerBlockLosesNothing(t *testing.T) {
	d := &memDrain{gate: make(chan struct{})}
	w, _ := newWorker(t, d, drains.Options{Policy: drains.PolicyBlock, Queue: 4, Batch: 2, Flush: time.Millisecond}, nil)
	w.Start()
	const n = 40
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := w.Enqueue(ctx, msgs("web", i, 1)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	eventually.True(t, "a full queue", func() bool { return w.Status().QueueMessages == 4 })
	if w.HasRoom(1, 10) {
		t.Fatal("HasRoom is true with a full queue")
	}
	select {
	case err := <-done:
		t.Fatalf("producer finished (%v) although the queue is full", err)
	default:
	}
	checkBalanced(t, w)
	close(d.gate)
	if err := <-done; err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	r := stop(t, w)
	if r.Delivered != n || r.Received != n {
		t.Fatalf("report %+v, want %d delivered", r, n)
	}
	if got, want := texts(d.read()), texts(msgs("web", 0, n)); got != want {
		t.Fatalf("delivered %s, want %s", got, want)
	}
}

func TestWorkerBlockedEnqueueEndsWithCtx(t *testing.T) {
	d := &memDrain{gate: make(chan struct{})}
	w, _ := newWorker(t, d, drains.Options{Policy: drains.PolicyBlock, Queue: 2, Batch: 1, Flush: time.Millisecond}, nil)
	w.Start()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Enqueue(ctx, msgs("web", 0, 5)) }()
	eventually.True(t, "a full queue", func() bool { return w.Status().QueueMessages == 2 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Enqueue = %v, want context.Canceled", err)
	}
	if s := checkBalanced(t, w); s.Received != 2 {
		t.Fatalf("received %d, want the 2 accepted", s.Received)
	}
	close(d.gate)
	if r := stop(t, w); r.Delivered != 2 {
		t.Fatalf("report %+v", r)
	}
}

func TestWorkerStopGivesUpAtDeadline(t *testing.T) {
	d := &memDrain{fail: func(int, []sluice.Message) error { return errors.New("503") }}
	w, _ := newWorker(t, d, drains.Options{Batch: 2, Flush: time.Millisecond}, nil)
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("web", 0, 7)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "a retrying drain", func() bool { return w.Status().Retries >= 2 })
	if st := w.Status().State; st != drains.StateRetrying && st != drains.StateDown {
		t.Fatalf("state %q while failing", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := w.Stop(ctx)
	s := checkBalanced(t, w)
	if r.Undelivered != 7 || s.Dropped[drains.ReasonShutdown] != 7 || s.State != drains.StateStopped {
		t.Fatalf("report %+v, status %+v: want 7 undelivered", r, s)
	}
}

func TestWorkerStopWithoutStart(t *testing.T) {
	d := &memDrain{}
	w, _ := newWorker(t, d, drains.Options{}, nil)
	if err := w.Enqueue(context.Background(), msgs("web", 0, 3)); err != nil {
		t.Fatal(err)
	}
	if r := stop(t, w); r.Undelivered != 3 || d.closed != 1 {
		t.Fatalf("report %+v, closed %d", r, d.closed)
	}
}

// TestWorkerConcurrentProducers races producers of several apps against a
// slow drain with policy=drop, reading Status all the while.
func TestWorkerConcurrentProducers(t *testing.T) {
	d := &memDrain{fail: func(attempt int, _ []sluice.Message) error {
		if attempt%3 == 0 {
			return errors.New("flaky")
		}
		return nil
	}}
	w, _ := newWorker(t, d, drains.Options{Queue: 50, Batch: 10, Flush: time.Millisecond}, nil)
	w.Start()
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := fmt.Sprintf("app%d", p)
			for i := 0; i < 500; i += 5 {
				if err := w.Enqueue(context.Background(), msgs(app, i, 5)); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
			}
		}()
	}
	stopCheck := make(chan struct{})
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		for {
			select {
			case <-stopCheck:
				return
			default:
			}
			if s := w.Status(); !s.Balanced() {
				t.Errorf("accounting broken: %+v", s)
				return
			}
		}
	}()
	wg.Wait()
	close(stopCheck)
	<-checked
	r := stop(t, w)
	if r.Received != 2000 {
		t.Fatalf("received %d, want 2000", r.Received)
	}
	// Per-app order survives drops and retries.
	last := map[string]int{}
	for _, m := range d.read() {
		if m.Source == "sluice" {
			continue
		}
		var app string
		var i int
		if _, err := fmt.Sscanf(m.Text, "%s %d", &app, &i); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[app]; ok && i <= prev {
			t.Fatalf("%s: %d delivered after %d", app, i, prev)
		}
		last[app] = i
	}
}

// TestConformanceMemory runs the conformance suite against the in-memory
// drain: it checks the suite itself.
func TestConformanceMemory(t *testing.T) {
	var mu sync.Mutex
	var all []*memDrain
	draintest.Run(t, draintest.Harness{
		New: func(t *testing.T) drains.Drain {
			d := &memDrain{}
			mu.Lock()
			all = append(all, d)
			mu.Unlock()
			return d
		},
		Read: func(t *testing.T, ctx context.Context) []sluice.Message {
			mu.Lock()
			defer mu.Unlock()
			var out []sluice.Message
			for _, d := range all {
				out = append(out, d.read()...)
			}
			return out
		},
	})
}

func BenchmarkWorkerEnqueue(b *testing.B) {
	w := drains.NewWorker(drains.WorkerConfig{Name: "bench", Drain: discard{}, Options: drains.Options{Queue: 100000, QueueBytes: 1 << 30}})
	w.Start()
	defer w.Stop(context.Background())
	batch := msgs("web", 0, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.Enqueue(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}

type discard struct{}

func (discard) Send(context.Context, []sluice.Message) error { return nil }
func (discard) Check(context.Context) error                  { return nil }
func (discard) Close(context.Context) error                  { return nil }

func TestWorkerTryEnqueue(t *testing.T) {
	d := &memDrain{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	w, _ := newWorker(t, d, drains.Options{Policy: drains.PolicyBlock, Queue: 5, Batch: 2, Flush: time.Millisecond}, nil)
	w.Start()
	if err := w.TryEnqueue(msgs("web", 0, 2)); err != nil {
		t.Fatal(err)
	}
	<-d.entered // 2 in flight
	if err := w.TryEnqueue(msgs("web", 2, 4)); !errors.Is(err, sluice.ErrBackpressure) {
		t.Fatalf("TryEnqueue of 4 with room for 3: %v, want ErrBackpressure", err)
	}
	if s := checkBalanced(t, w); s.Received != 2 {
		t.Fatalf("received %d: a refused batch must take nothing", s.Received)
	}
	if err := w.TryEnqueue(append(msgs("other", 0, 3), msgs("web", 2, 0)...)); err != nil {
		t.Fatal(err)
	}
	close(d.gate)
	if r := stop(t, w); r.Delivered != 5 {
		t.Fatalf("report %+v", r)
	}
}

// TestWorkerLogsDrainOnce checks that every line the Worker logs names the
// drain exactly once (its owner passes a logger without the key).
func TestWorkerLogsDrainOnce(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	d := &memDrain{fail: func(attempt int, _ []sluice.Message) error {
		if attempt == 1 {
			return errors.New("refused")
		}
		return nil
	}}
	w := drains.NewWorker(drains.WorkerConfig{Name: "once", Drain: d, Logger: logger,
		Options: drains.Options{Batch: 1}, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("a", 0, 1)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "delivery after one failure", func() bool { return len(d.read()) == 1 })
	stop(t, w)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("want the failure and the recovery logged, got %q", lines)
	}
	for _, l := range lines {
		if n := strings.Count(l, "drain=once"); n != 1 {
			t.Errorf("drain=once %d times in %q", n, l)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the Worker's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

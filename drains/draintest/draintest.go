package draintest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

// Harness connects the suite to one drain implementation.
type Harness struct {
	// New returns a drain pointed at a real, healthy destination. The
	// suite closes it (sometimes twice); New may also register cleanups.
	New func(t *testing.T) drains.Drain
	// Read returns everything the destination received so far (App and
	// Text at least), in destination order per app. It may return
	// messages of earlier cases and runs: the suite filters by tag.
	Read func(t *testing.T, ctx context.Context) []sluice.Message
}

// Timeouts of the suite. They bound waits on slow destinations (Kafka,
// Elasticsearch); nothing is asserted about speed.
const (
	readTimeout   = 30 * time.Second
	promptTimeout = 15 * time.Second
	pollEvery     = 50 * time.Millisecond
)

// Run runs the conformance cases against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Read == nil {
		t.Fatal("draintest: Harness.New and Harness.Read are required")
	}
	run := newTag()
	t.Run("SendDelivers", func(t *testing.T) { testSendDelivers(t, h, run+"a") })
	t.Run("SendDoesNotKeepBatch", func(t *testing.T) { testNoRetain(t, h, run+"b") })
	t.Run("OrderPerApp", func(t *testing.T) { testOrder(t, h, run+"c") })
	t.Run("CloseReturnsPromptlyTwiceAndIsFinal", func(t *testing.T) { testClose(t, h, run+"d") })
	t.Run("SendCancelledContext", func(t *testing.T) { testCancelled(t, h, run+"e") })
	t.Run("WorkerStopFlushes", func(t *testing.T) { testWorker(t, h, run+"f") })
}

func newTag() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "dt" + hex.EncodeToString(b[:])
}

// base is the timestamp of the suite's messages: whole microseconds, UTC.
var base = time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC)

// Messages returns n messages of tag, spread round-robin over apps; the
// text of message i is "<tag> <app> <seq>" where seq counts per app.
// Exported for drain tests that need the same shape.
func Messages(tag string, apps []string, n int) []sluice.Message {
	out := make([]sluice.Message, n)
	seq := make(map[string]int, len(apps))
	for i := range out {
		app := apps[i%len(apps)]
		out[i] = sluice.Message{
			Time:     base.Add(time.Duration(i) * time.Microsecond),
			App:      app,
			Source:   "app",
			Proc:     "web.1",
			Host:     "draintest",
			Text:     fmt.Sprintf("%s %s %d", tag, app, seq[app]),
			Facility: sluice.DefaultFacility,
			Severity: sluice.DefaultSeverity,
		}
		seq[app]++
	}
	return out
}

func appsOf(tag string, n int) []string {
	apps := make([]string, n)
	for i := range apps {
		apps[i] = fmt.Sprintf("%s-app%d", tag, i)
	}
	return apps
}

// WaitFor polls read until at least want messages whose Text starts with
// tag have arrived, and returns them (in read order). It fails t after a
// deadline.
func WaitFor(t *testing.T, read func(t *testing.T, ctx context.Context) []sluice.Message, tag string, want int) []sluice.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var got []sluice.Message
	for {
		got = got[:0]
		for _, m := range read(t, ctx) {
			if strings.HasPrefix(m.Text, tag+" ") {
				got = append(got, m)
			}
		}
		if len(got) >= want {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("destination has %d of %d messages tagged %s after %s", len(got), want, tag, readTimeout)
		case <-tick.C:
		}
	}
}

// CheckOrder checks that got holds exactly the messages of Messages(tag,
// apps, n), in order per app.
func CheckOrder(t *testing.T, got []sluice.Message, tag string, apps []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("destination has %d messages tagged %s, want %d", len(got), tag, n)
	}
	next := make(map[string]int, len(apps))
	for _, a := range apps {
		next[a] = 0
	}
	for _, m := range got {
		f := strings.Fields(m.Text)
		if len(f) != 3 || f[1] != m.App {
			t.Fatalf("message text %q of app %q: want %q", m.Text, m.App, tag+" "+m.App+" <seq>")
		}
		want, ok := next[m.App]
		if !ok {
			t.Fatalf("message of unexpected app %q: %q", m.App, m.Text)
		}
		if seq, err := strconv.Atoi(f[2]); err != nil || seq != want {
			t.Fatalf("app %s: got %q, want sequence number %d next (order per app broken)", m.App, m.Text, want)
		}
		next[m.App] = want + 1
	}
}

func closeDrain(t *testing.T, d drains.Drain) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), promptTimeout)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func send(t *testing.T, d drains.Drain, batch []sluice.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), promptTimeout)
	defer cancel()
	if err := d.Send(ctx, batch); err != nil {
		t.Fatalf("Send of %d messages to a healthy destination: %v", len(batch), err)
	}
}

func testSendDelivers(t *testing.T, h Harness, tag string) {
	d := h.New(t)
	defer closeDrain(t, d)
	apps := appsOf(tag, 1)
	msgs := Messages(tag, apps, 3)
	send(t, d, msgs)
	got := WaitFor(t, h.Read, tag, len(msgs))
	CheckOrder(t, got, tag, apps, len(msgs))
}

// testNoRetain overwrites the batch's bytes as soon as Send returns: a
// drain that kept (a view of) the messages would deliver the garbage.
func testNoRetain(t *testing.T, h Harness, tag string) {
	d := h.New(t)
	defer closeDrain(t, d)
	apps := appsOf(tag, 2)
	msgs := Messages(tag, apps, 6)
	var bufs [][]byte
	for i := range msgs {
		b := []byte(msgs[i].Text)
		bufs = append(bufs, b)
		msgs[i].Text = unsafe.String(&b[0], len(b))
	}
	send(t, d, msgs)
	for _, b := range bufs {
		for i := range b {
			b[i] = 'X'
		}
	}
	got := WaitFor(t, h.Read, tag, len(msgs))
	CheckOrder(t, got, tag, apps, len(msgs))
}

func testOrder(t *testing.T, h Harness, tag string) {
	d := h.New(t)
	defer closeDrain(t, d)
	apps := appsOf(tag, 3)
	const n, per = 60, 7 // batches of 7 cut every app's run at different places
	msgs := Messages(tag, apps, n)
	for i := 0; i < n; i += per {
		send(t, d, msgs[i:min(i+per, n)])
	}
	got := WaitFor(t, h.Read, tag, n)
	CheckOrder(t, got, tag, apps, n)
}

func testClose(t *testing.T, h Harness, tag string) {
	d := h.New(t)
	send(t, d, Messages(tag, appsOf(tag, 1), 1))
	for i := 1; i <= 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), promptTimeout)
		done := make(chan error, 1)
		go func() { done <- d.Close(ctx) }()
		select {
		case err := <-done:
			if err != nil && i == 1 {
				t.Errorf("first Close: %v", err)
			}
		case <-time.After(promptTimeout + 5*time.Second):
			t.Fatalf("Close #%d did not return after its context ended", i)
		}
		cancel()
	}
	// A closed drain is closed for good: retrying cannot help.
	ctx, cancel := context.WithTimeout(context.Background(), promptTimeout)
	defer cancel()
	if err := d.Send(ctx, Messages(tag, appsOf(tag, 1), 1)); !drains.IsPermanent(err) {
		t.Errorf("Send after Close = %v, want a permanent error (drains.ErrClosed)", err)
	}
}

func testCancelled(t *testing.T, h Harness, tag string) {
	d := h.New(t)
	defer closeDrain(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- d.Send(ctx, Messages(tag, appsOf(tag, 1), 2)) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Send with a cancelled context returned nil, want an error")
		}
	case <-time.After(promptTimeout):
		t.Fatal("Send with a cancelled context did not return")
	}
}

func testWorker(t *testing.T, h Harness, tag string) {
	d := h.New(t)
	apps := appsOf(tag, 3)
	const n = 60
	w := drains.NewWorker(drains.WorkerConfig{
		Name:  "draintest",
		URL:   "draintest://",
		Drain: d,
		Options: drains.Options{
			Queue: 1000, QueueBytes: 1 << 20, Batch: 7, BatchBytes: 1 << 20,
			Flush:   time.Hour, // only size and Stop flush
			Timeout: promptTimeout,
		},
		Metrics:    drains.NewMetrics(prometheus.NewRegistry()),
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
	})
	w.Start()
	msgs := Messages(tag, apps, n)
	for i := 0; i < n; i += 5 {
		if err := w.Enqueue(context.Background(), msgs[i:min(i+5, n)]); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if s := w.Status(); !s.Balanced() {
			t.Fatalf("accounting broken while running: %+v", s)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	r := w.Stop(ctx)
	if r.Received != n || r.Delivered != n || r.Undelivered != 0 {
		t.Fatalf("Stop report %+v: want %d received and delivered, 0 undelivered", r, n)
	}
	s := w.Status()
	if !s.Balanced() || s.QueueMessages != 0 || s.DroppedTotal() != 0 {
		t.Fatalf("status after Stop %+v: want balanced, empty, nothing dropped", s)
	}
	got := WaitFor(t, h.Read, tag, n)
	CheckOrder(t, got, tag, apps, n)
}

package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/internal/eventually"
	"github.com/sluice-logs/sluice/metrics"
)

// Harness connects the suite to one source implementation.
type Harness struct {
	// New returns the source under test, built around deps (the suite's
	// Publisher and Metrics), listening on 127.0.0.1:0 if it listens.
	New func(t *testing.T, deps ingest.Deps) ingest.Source
	// Send sends msgs (App and Text set) to the source the way its clients
	// do, and returns once they are accepted: acknowledged (HTTP 2xx) or
	// written to the socket (TCP, UDP). A stream source's Send may reuse
	// one connection per addr: the suite sends a first message and waits
	// for it before it counts on a connection being accepted (a
	// connection still in the listen backlog at Shutdown is refused, not
	// read). addr is the Listener's Addr, or
	// the base URL (http://host:port) of the server the source is mounted
	// on.
	Send func(t *testing.T, addr string, msgs []sluice.Message)
	// SendBad sends input the source must refuse, and returns the reason
	// label it must count it under.
	SendBad func(t *testing.T, addr string) (reason string)
	// Dial opens a client connection to addr (TLS where the source speaks
	// it). Nil for a datagram source: the idle and trickling cases skip.
	Dial func(t *testing.T, addr string) net.Conn
	// Partial is the start of a valid message as a client writes it on a
	// Dialed connection (a syslog frame, an HTTP request's first bytes);
	// the trickling client sends it one byte at a time.
	Partial []byte
}

// Timeouts of the suite: ShutdownDeadline is the context given to
// Shutdown; a Shutdown that has not returned within it plus slack fails.
const (
	ShutdownDeadline = 5 * time.Second
	slack            = 5 * time.Second
	noLossMessages   = 64
)

// Run runs the conformance cases against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Send == nil || h.SendBad == nil {
		t.Fatal("sourcetest: Harness.New, Send and SendBad are required")
	}
	t.Run("ServePublishes", func(t *testing.T) { testServe(t, h) })
	t.Run("BadInputCounted", func(t *testing.T) { testBad(t, h) })
	t.Run("ShutdownWithIdleClient", func(t *testing.T) { testShutdownClient(t, h, false) })
	t.Run("ShutdownWithTricklingClient", func(t *testing.T) { testShutdownClient(t, h, true) })
	t.Run("NothingAcceptedLostOnStop", func(t *testing.T) { testNoLoss(t, h) })
	t.Run("ShutdownBeforeStartAndTwice", func(t *testing.T) { testShutdownTwice(t, h) })
}

// Recorder is a sluice.Publisher that keeps clones of what it is given.
type Recorder struct {
	mu   sync.Mutex
	msgs []sluice.Message
}

func (r *Recorder) Publish(_ context.Context, batch []sluice.Message) error {
	return r.TryPublish(batch)
}

func (r *Recorder) TryPublish(batch []sluice.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range batch {
		r.msgs = append(r.msgs, batch[i].Clone())
	}
	return nil
}

// Messages returns what was published so far.
func (r *Recorder) Messages() []sluice.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sluice.Message(nil), r.msgs...)
}

var _ sluice.Publisher = (*Recorder)(nil)

// running is a started source.
type running struct {
	src  ingest.Source
	pub  *Recorder
	m    *metrics.Ingest
	addr string
	stop func(t *testing.T, ctx context.Context) error // Shutdown, then wait for Serve
}

// start builds a source with h.New and starts it the way the daemon does.
func start(t *testing.T, h Harness) *running {
	t.Helper()
	r := &running{pub: &Recorder{}, m: metrics.NewIngest(nil)}
	r.src = h.New(t, ingest.Deps{Publisher: r.pub, Metrics: r.m})
	switch src := r.src.(type) {
	case ingest.Listener:
		if err := src.Listen(); err != nil {
			t.Fatalf("Listen: %v", err)
		}
		r.addr = src.Addr().String()
		served := make(chan error, 1)
		go func() { served <- src.Serve() }()
		var once sync.Once
		r.stop = func(t *testing.T, ctx context.Context) error {
			var err error
			once.Do(func() {
				err = src.Shutdown(ctx)
				select {
				case serr := <-served:
					if !errors.Is(serr, ingest.ErrClosed) {
						t.Errorf("Serve returned %v after Shutdown, want ingest.ErrClosed", serr)
					}
				case <-time.After(slack):
					t.Errorf("Serve has not returned %s after Shutdown", slack)
				}
			})
			return err
		}
	case ingest.Mounted:
		r.addr, r.stop = mount(t, src)
	default:
		t.Fatalf("source %s is neither an ingest.Listener nor an ingest.Mounted", r.src.Name())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownDeadline)
		defer cancel()
		_ = r.stop(t, ctx)
	})
	return r
}

// mount serves src on a fasthttp server on loopback, routed by path as the
// daemon does.
func mount(t *testing.T, src ingest.Mounted) (string, func(*testing.T, context.Context) error) {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) != src.Route() {
				ctx.Error("not found", fasthttp.StatusNotFound)
				return
			}
			src.ServeHTTP(ctx)
		},
		ReadTimeout: 2 * ShutdownDeadline,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var once sync.Once
	return "http://" + ln.Addr().String(), func(t *testing.T, ctx context.Context) error {
		var err error
		once.Do(func() {
			err = src.Shutdown(ctx)
			// The server is the suite's scaffolding, as the daemon's is
			// the daemon's: stop it without judging it.
			sctx, cancel := context.WithTimeout(context.Background(), slack)
			defer cancel()
			_ = srv.ShutdownWithContext(sctx)
			_ = ln.Close()
			if serr := <-served; serr != nil {
				t.Logf("the suite's HTTP server: %v", serr) // scaffolding, not judged
			}
		})
		return err
	}
}

// messages returns n messages of app whose texts are "<tag> <i>".
func messages(app, tag string, n int) []sluice.Message {
	out := make([]sluice.Message, n)
	for i := range out {
		out[i] = sluice.Message{App: app, Text: fmt.Sprintf("%s %d", tag, i)}
	}
	return out
}

// waitTexts waits until the publisher has every text of want and checks
// their order and app.
func waitTexts(t *testing.T, pub *Recorder, want []sluice.Message) {
	t.Helper()
	eventually.True(t, fmt.Sprintf("%d messages published", len(want)), func() bool {
		return len(pub.Messages()) >= len(want)
	})
	checkTexts(t, pub.Messages(), want)
}

func checkTexts(t *testing.T, got, want []sluice.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("published %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].App != want[i].App || got[i].Text != want[i].Text {
			t.Fatalf("message %d is %s %q, want %s %q (lost, changed or out of order)",
				i, got[i].App, got[i].Text, want[i].App, want[i].Text)
		}
	}
}

func testServe(t *testing.T, h Harness) {
	r := start(t, h)
	want := messages("web", "serve", 3)
	h.Send(t, r.addr, want)
	waitTexts(t, r.pub, want)
	eventually.True(t, "sluice_ingest_messages_total counts 3", func() bool {
		return value(r.m.Messages.WithLabelValues(r.src.Name())) == 3
	})
}

func testBad(t *testing.T, h Harness) {
	r := start(t, h)
	reason := h.SendBad(t, r.addr)
	eventually.True(t, "the bad input counted with reason "+reason, func() bool {
		return value(r.m.Rejected.WithLabelValues(r.src.Name(), reason)) >= 1
	})
	// The source still serves.
	want := messages("web", "after-bad", 2)
	h.Send(t, r.addr, want)
	eventually.True(t, "the good messages after the bad input", func() bool {
		n := 0
		for _, m := range r.pub.Messages() {
			if strings.HasPrefix(m.Text, "after-bad ") {
				n++
			}
		}
		return n == len(want)
	})
}

// testShutdownClient stops the source with a client connected that sends
// nothing, or the start of a message one byte at a time.
func testShutdownClient(t *testing.T, h Harness, trickle bool) {
	if h.Dial == nil {
		t.Skip("a datagram source has no connections")
	}
	r := start(t, h)
	// A message first, so the connection is known to be served.
	want := messages("web", "before", 1)
	h.Send(t, r.addr, want)
	waitTexts(t, r.pub, want)

	c := h.Dial(t, r.addr)
	defer c.Close()
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(done); wg.Wait() }()
	if trickle {
		if len(h.Partial) < 2 {
			t.Fatal("sourcetest: Harness.Partial needs at least 2 bytes")
		}
		wrote := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i, b := range h.Partial[:len(h.Partial)-1] { // never complete
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				if i == 1 {
					close(wrote)
				}
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		}()
		select {
		case <-wrote:
		case <-time.After(slack):
			t.Fatal("the trickling client could not write")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownDeadline)
	defer cancel()
	began := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop(t, ctx) }()
	select {
	case err := <-stopped:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		if took := time.Since(began); took > ShutdownDeadline+slack {
			t.Fatalf("Shutdown took %s with a deadline of %s", took, ShutdownDeadline)
		}
	case <-time.After(ShutdownDeadline + slack):
		t.Fatalf("Shutdown has not returned %s after its deadline", slack)
	}
	checkTexts(t, r.pub.Messages(), want)
}

// testNoLoss sends messages and stops the source at once: everything the
// client had written or had acknowledged is published.
func testNoLoss(t *testing.T, h Harness) {
	r := start(t, h)
	// A first message, waited for: the source is serving (and a stream
	// source has accepted the client's connection) before the test begins.
	want := messages("web", "warmup", 1)
	h.Send(t, r.addr, want)
	waitTexts(t, r.pub, want)
	for i := range 4 { // several sends: several connections or requests
		batch := messages("web", fmt.Sprintf("noloss%d", i), noLossMessages/4)
		h.Send(t, r.addr, batch)
		want = append(want, batch...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*ShutdownDeadline)
	defer cancel()
	if err := r.stop(t, ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got := r.pub.Messages()
	// Order is kept per connection or request, not across them.
	byText := make(map[string]int, len(got))
	for _, m := range got {
		byText[m.Text]++
	}
	for _, m := range want {
		if byText[m.Text] != 1 {
			t.Fatalf("after Shutdown, %q was published %d times, want once (%d of %d published)",
				m.Text, byText[m.Text], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("published %d messages, want %d", len(got), len(want))
	}
}

func testShutdownTwice(t *testing.T, h Harness) {
	src := h.New(t, ingest.Deps{Publisher: &Recorder{}, Metrics: metrics.NewIngest(nil)})
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownDeadline)
	defer cancel()
	if err := src.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown of a source never started: %v", err)
	}
	if err := src.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if l, ok := src.(ingest.Listener); ok {
		if err := l.Serve(); err == nil {
			t.Fatal("Serve after Shutdown returned nil")
		}
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/metrics"
)

// recorder is a sluice.Publisher that keeps copies of what it gets. When
// gate is set, Publish waits for it to be closed (or for ctx).
type recorder struct {
	mu      sync.Mutex
	msgs    []sluice.Message
	batches int
	entered chan struct{} // gets a value each time Publish starts waiting on gate
	gate    chan struct{}
}

func (r *recorder) Publish(ctx context.Context, batch []sluice.Message) error {
	if r.gate != nil {
		select {
		case r.entered <- struct{}{}:
		default:
		}
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	for _, m := range batch {
		r.msgs = append(r.msgs, m.Clone())
	}
	return nil
}

func (r *recorder) TryPublish(batch []sluice.Message) error {
	return r.Publish(context.Background(), batch)
}

func (r *recorder) messages() []sluice.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sluice.Message(nil), r.msgs...)
}

func (r *recorder) texts() []string {
	var out []string
	for _, m := range r.messages() {
		out = append(out, m.Text)
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

type server interface {
	Listen() error
	Addr() net.Addr
	Serve() error
	Shutdown(ctx context.Context) error
}

// start listens and serves, and shuts the server down when the test ends.
func start(t *testing.T, s server) net.Addr {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s.Addr()
}

func testConfig(pub sluice.Publisher) (Config, *metrics.Ingest) {
	m := metrics.NewIngest(nil)
	return Config{Addr: "127.0.0.1:0", MaxMessageBytes: 64 << 10, Publisher: pub, Metrics: m}, m
}

func rejected(m *metrics.Ingest, transport, reason string) int {
	return int(value(m.Rejected.WithLabelValues(transport, reason)))
}

func msg(app, text string) string { return "<13>1 - host " + app + " - - - " + text }

func octetFrame(s string) string { return strconv.Itoa(len(s)) + " " + s }

func TestTCPFraming(t *testing.T) {
	big := strings.Repeat("b", 20000) // over go-syslog's 8192-byte frame limit
	cut := strings.Repeat("c", 3000)
	tests := []struct {
		name    string
		max     int
		writes  []string
		want    []string
		rejects map[string]int
	}{
		{
			name:   "octet counting",
			writes: []string{octetFrame(msg("app", "one")) + octetFrame(msg("app", "two")) + octetFrame(msg("app", "three"))},
			want:   []string{"one", "two", "three"},
		},
		{
			name:   "octet counting with LF and CRLF after frames, split writes",
			writes: []string{octetFrame(msg("app", "one")) + "\n" + octetFrame(msg("app", "t"))[:5], octetFrame(msg("app", "t"))[5:] + "\r\n", octetFrame(msg("app", "line\nbreak"))},
			want:   []string{"one", "t", "line\nbreak"},
		},
		{
			name:   "lf framing, last line without LF",
			writes: []string{msg("app", "one") + "\n" + msg("app", "two") + "\r\n\n" + msg("app", "th"), "ree"},
			want:   []string{"one", "two", "three"},
		},
		{
			name:   "frames over 8192 bytes",
			writes: []string{octetFrame(msg("app", big)) + octetFrame(msg("app", "after"))},
			want:   []string{big, "after"},
		},
		{
			name:   "lines over 8192 bytes",
			writes: []string{msg("app", big) + "\n" + msg("app", "after") + "\n"},
			want:   []string{big, "after"},
		},
		{
			name:    "octet truncation keeps sync",
			max:     1024,
			writes:  []string{octetFrame(msg("app", cut)) + octetFrame(msg("app", "after"))},
			want:    []string{cut[:1024], "after"},
			rejects: map[string]int{"truncated": 1},
		},
		{
			name:    "lf truncation keeps sync",
			max:     1024,
			writes:  []string{msg("app", cut) + "\n" + msg("app", "after") + "\n"},
			want:    []string{cut[:1024], "after"},
			rejects: map[string]int{"truncated": 1},
		},
		{
			name:    "truncation at a rune boundary",
			max:     5,
			writes:  []string{octetFrame(msg("app", "abcdé")) + octetFrame(msg("app", "ok"))},
			want:    []string{"abcd", "ok"},
			rejects: map[string]int{"truncated": 1},
		},
		{
			name:    "bad octet count then good messages",
			writes:  []string{octetFrame(msg("app", "one")) + "12x garbage\n" + octetFrame(msg("app", "two")) + "99999999999 x\n" + msg("app", "three") + "\n"},
			want:    []string{"one", "two", "three"},
			rejects: map[string]int{"bad_octet_count": 2},
		},
		{
			name:    "invalid utf8 is read as latin-1",
			writes:  []string{msg("app", "bad \xff") + "\n" + msg("app", "good") + "\n"},
			want:    []string{"bad ÿ", "good"},
			rejects: map[string]int{"latin1_converted": 1, "invalid_utf8": 0},
		},
		{
			name:    "binary garbage",
			writes:  []string{"\x00\x01\xfe\xff garbage \x7f\n<<>>\n" + msg("app", "good") + "\n"},
			want:    []string{"good"},
			rejects: map[string]int{"malformed": 2},
		},
		{
			name:    "invalid app name",
			writes:  []string{msg("a/b", "x") + "\n" + msg("app", "good") + "\n"},
			want:    []string{"good"},
			rejects: map[string]int{"malformed": 1},
		},
		{
			name:    "eof inside an octet frame",
			writes:  []string{octetFrame(msg("app", "one")) + "100 <13>1"},
			want:    []string{"one"},
			rejects: map[string]int{"malformed": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			cfg, m := testConfig(rec)
			if tt.max > 0 {
				cfg.MaxMessageBytes = tt.max
			}
			addr := start(t, NewTCP(cfg))
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.writes {
				if _, err := c.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			c.(*net.TCPConn).CloseWrite()
			// The server closes its side once it has read everything.
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatal(err)
			}
			c.Close()
			waitFor(t, "connection closed", func() bool { return value(m.Connections) == 0 })
			got := rec.texts()
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("texts %q, want %q", got, tt.want)
			}
			for r, n := range tt.rejects {
				if got := rejected(m, metrics.SyslogTCP, r); got != n {
					t.Fatalf("rejected %s = %d, want %d", r, got, n)
				}
			}
			for _, reason := range reasons {
				r := reason.String()
				if _, ok := tt.rejects[r]; !ok && rejected(m, metrics.SyslogTCP, r) != 0 {
					t.Fatalf("unexpected rejection %s", r)
				}
			}
			if got := int(value(m.Messages.WithLabelValues(metrics.SyslogTCP))); got != len(tt.want) {
				t.Fatalf("messages counted %d, want %d", got, len(tt.want))
			}
		})
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	rec := &recorder{}
	cfg, m := testConfig(rec)
	cfg.IdleTimeout = 50 * time.Millisecond
	addr := start(t, NewTCP(cfg))
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg("app", "hello") + "\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read from an idle connection: %v, want EOF (closed by the server)", err)
	}
	waitFor(t, "idle_timeout counted", func() bool { return rejected(m, metrics.SyslogTCP, "idle_timeout") == 1 })
	if got := rec.texts(); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("texts %q, want [hello]", got)
	}
}

func TestTCPTokens(t *testing.T) {
	toks, err := auth.Parse("t.abc=web,t.def=web:router", "t.admin")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cfg, m := testConfig(rec)
	cfg.Tokens = toks
	addr := start(t, NewTCP(cfg))
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		msg("t.abc", "1"), msg("t.abc", "2"), msg("t.nope", "3"), msg("t.def", "4"),
		msg("t.admin", "5"), msg("-", "6"), msg("t.abc", "7"),
	} {
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	waitFor(t, "all messages", func() bool {
		return len(rec.messages())+rejected(m, metrics.SyslogTCP, "unknown_token") == 7
	})
	var got []string
	for _, m := range rec.messages() {
		got = append(got, m.App+"/"+m.Source+"/"+m.Text)
	}
	want := []string{"web/app/1", "web/app/2", "web/router/4", "web/app/7"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := rejected(m, metrics.SyslogTCP, "unknown_token"); n != 3 {
		t.Fatalf("unknown_token = %d, want 3", n)
	}
}

func TestTCPOrderAcrossConnections(t *testing.T) {
	const conns, perConn = 4, 3000
	rec := &recorder{}
	cfg, _ := testConfig(rec)
	addr := start(t, NewTCP(cfg))
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			var b []byte
			for j := range perConn {
				line := msg("app"+strconv.Itoa(i), strconv.Itoa(j))
				if i%2 == 0 {
					b = append(b, octetFrame(line)...)
				} else {
					b = append(b, line+"\n"...)
				}
				if len(b) > 4000 || j == perConn-1 {
					if _, err := c.Write(b); err != nil {
						errs <- err
						return
					}
					b = b[:0]
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "all messages", func() bool { return len(rec.messages()) == conns*perConn })
	next := map[string]int{}
	for _, m := range rec.messages() {
		if want := strconv.Itoa(next[m.App]); m.Text != want {
			t.Fatalf("%s: message %q, want %q: order lost", m.App, m.Text, want)
		}
		next[m.App]++
	}
}

func TestTCPShutdownFinishesBufferedFrames(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	cfg, _ := testConfig(rec)
	s := NewTCP(cfg)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(octetFrame(msg("app", "a")) + octetFrame(msg("app", "b")) + octetFrame(msg("app", "c")))); err != nil {
		t.Fatal(err)
	}
	<-rec.entered // the connection is publishing and blocked
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a connection was still publishing", err)
	case err := <-served:
		t.Fatalf("Serve returned %v while a connection was still publishing", err)
	default:
	}
	close(rec.gate)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if got := rec.texts(); len(got) == 0 || fmt.Sprint(got) != fmt.Sprint([]string{"a", "b", "c"}[:len(got)]) {
		t.Fatalf("published %q, want a prefix of [a b c]", got)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection after Shutdown: %v, want EOF", err)
	}
}

func TestTCPShutdownDeadline(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 1)} // never opened
	cfg, m := testConfig(rec)
	s := NewTCP(cfg)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg("app", "stuck") + "\n")); err != nil {
		t.Fatal(err)
	}
	<-rec.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if n := value(m.Connections); n != 0 {
		t.Fatalf("%v connections open after Serve returned", n)
	}
}

func TestUDP(t *testing.T) {
	rec := &recorder{}
	cfg, m := testConfig(rec)
	cfg.MaxMessageBytes = 256
	long := strings.Repeat("l", 400)
	addr := start(t, NewUDP(cfg))
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	datagrams := []string{
		msg("app", "one"),
		msg("app", "two") + "\n",
		msg("app", "bad \xff"),
		"\x00\x01garbage",
		msg("app", long),
		"<13>Mar  1 08:00:00 web1 app[7]: three",
	}
	var received atomic.Int32
	for _, d := range datagrams {
		if _, err := c.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
		// One at a time: loopback UDP may drop a burst under load.
		before := received.Load()
		waitFor(t, "datagram handled", func() bool {
			n := int32(len(rec.messages()) + rejected(m, metrics.SyslogUDP, "invalid_utf8") + rejected(m, metrics.SyslogUDP, "malformed"))
			received.Store(n)
			return n > before
		})
	}
	want := []string{"one", "two", "bad ÿ", long[:256], "three"}
	if got := rec.texts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("texts %q, want %q", got, want)
	}
	for r, n := range map[string]int{"latin1_converted": 1, "malformed": 1, "truncated": 1} {
		if got := rejected(m, metrics.SyslogUDP, r); got != n {
			t.Fatalf("rejected %s = %d, want %d", r, got, n)
		}
	}
	if got := rec.messages()[4]; got.Proc != "7" || got.Host != "web1" {
		t.Fatalf("rfc3164 datagram parsed as %+v", got)
	}
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		panic(err)
	}
	if c := pb.GetCounter(); c != nil {
		return c.GetValue()
	}
	return pb.GetGauge().GetValue()
}

// A client flooding garbage (bad counts, binary junk, huge announced
// frames) must not cost a well-behaved client any message.
func TestTCPGarbageFloodIsolated(t *testing.T) {
	rec := &recorder{}
	cfg, m := testConfig(rec)
	cfg.MaxMessageBytes = 4096
	addr := start(t, NewTCP(cfg))
	bad, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	good, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	flooded := make(chan error, 1)
	go func() {
		// An octet frame first, so the connection counts octets; then a
		// bad count, lines longer than a frame may be, markup, controls.
		junk := []byte("3 abc12x\x00\xff\n99999 " + strings.Repeat("\xfe", 15000) + "\n<<garbage>>\n\x01\x02\x03\n")
		for range 100 {
			if _, err := bad.Write(junk); err != nil {
				flooded <- err
				return
			}
		}
		flooded <- nil
	}()
	const n = 2000
	var b []byte
	for i := range n {
		b = append(b, octetFrame(msg("good", strconv.Itoa(i)))...)
	}
	if _, err := good.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := <-flooded; err != nil {
		t.Fatal(err)
	}
	// Junk lines that read as text are kept under the default app; the
	// good client's messages must all arrive, in order.
	goodOnes := func() []sluice.Message {
		var out []sluice.Message
		for _, m := range rec.messages() {
			if m.App == "good" {
				out = append(out, m)
			}
		}
		return out
	}
	waitFor(t, "good messages", func() bool { return len(goodOnes()) == n })
	for i, msg := range goodOnes() {
		if msg.App != "good" || msg.Text != strconv.Itoa(i) {
			t.Fatalf("message %d is %s %q", i, msg.App, msg.Text)
		}
	}
	waitFor(t, "garbage counted", func() bool {
		return rejected(m, metrics.SyslogTCP, "bad_octet_count") > 0 && rejected(m, metrics.SyslogTCP, "truncated") > 0
	})
}

// TestTCPTrickleIsNotIdle: a connection that sends a byte at a time, never
// idle for long but never finishing its frame, is closed within the idle
// timeout of starting the frame and counted as frame_timeout; a
// connection that keeps completing frames at the same pace is not.
func TestTCPTrickleIsNotIdle(t *testing.T) {
	rec := &recorder{}
	cfg, m := testConfig(rec)
	cfg.IdleTimeout = 300 * time.Millisecond
	addr := start(t, NewTCP(cfg))
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, c) // returns when the server closes
	}()
	tick := time.NewTicker(50 * time.Millisecond) // well within the idle timeout
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	frame := msg("app", strings.Repeat("x", 1000))
loop:
	for i := 0; ; i++ {
		select {
		case <-closed:
			break loop
		case <-deadline:
			t.Fatal("a trickling connection was not closed")
		case <-tick.C:
			_, _ = c.Write([]byte{frame[i%len(frame)]})
		}
	}
	if got := rejected(m, metrics.SyslogTCP, "frame_timeout"); got != 1 {
		t.Fatalf("frame_timeout = %d, want 1", got)
	}

	// Small frames at the same pace are a slow sender, not an attack.
	c2, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for i := range 10 {
		<-tick.C
		if _, err := c2.Write([]byte(msg("slow", strconv.Itoa(i)) + "\n")); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	waitFor(t, "the slow sender's frames", func() bool {
		n := 0
		for _, m := range rec.messages() {
			if m.App == "slow" {
				n++
			}
		}
		return n == 10
	})
}

// TestTCPResyncAfterBadCount (issue 10 row 6): an octet count smaller or
// larger than its frame, with no LF after, costs only the frames it
// overlaps; the reader resyncs at the next "LEN SP <PRI>", not at an LF
// that never comes.
func TestTCPResyncAfterBadCount(t *testing.T) {
	good := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(octetFrame(msg("app", "m"+strconv.Itoa(i))))
		}
		return b.String()
	}
	bad := msg("app", "broken")
	tests := []struct {
		name   string
		stream string
		lost   int // good frames the bad one may take with it
	}{
		{"count too small", good(0, 10) + strconv.Itoa(len(bad)-7) + " " + bad + good(10, 100), 0},
		{"count too large", good(0, 10) + strconv.Itoa(len(bad)+40) + " " + bad + good(10, 100), 0},
		{"count too large by one", good(0, 10) + strconv.Itoa(len(bad)+1) + " " + bad + good(10, 100), 0},
		{"count too large, into a header", good(0, 10) + strconv.Itoa(len(bad)+2) + " " + bad + good(10, 100), 0},
		{"count too small, no good frame before", strconv.Itoa(len(bad)-3) + " " + bad + good(0, 100), 0},
		{"count too large, text ending in digits", good(0, 10) + strconv.Itoa(len(bad)+len("7")+30) + " " + msg("app", "broken7") + good(10, 100), 0},
		{"count too large, no good frame before", strconv.Itoa(len(bad)+25) + " " + bad + good(0, 100), 0},
		{"garbage count", good(0, 10) + "12x3 " + bad + good(10, 100), 0},
		{"LF and NUL on one connection", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			cfg, m := testConfig(rec)
			addr := start(t, NewTCP(cfg))
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			stream := tt.stream
			if stream == "" {
				var b strings.Builder
				for i := range 100 {
					b.WriteString(msg("app", "m"+strconv.Itoa(i)))
					b.WriteByte("\n\x00"[i%2])
				}
				stream = b.String()
			}
			if _, err := c.Write([]byte(stream)); err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, c)
			c.Close()
			waitFor(t, "connection closed", func() bool { return value(m.Connections) == 0 })
			seen := map[string]bool{}
			for _, msg := range rec.messages() {
				seen[msg.Text] = true
			}
			missing := 0
			for i := range 100 {
				if !seen["m"+strconv.Itoa(i)] {
					missing++
				}
			}
			if missing > tt.lost {
				t.Fatalf("%d of 100 good frames lost, want at most %d (got %q)", missing, tt.lost, rec.texts())
			}
			if n := rejected(m, metrics.SyslogTCP, "bad_octet_count"); tt.stream != "" && n != 1 {
				t.Fatalf("bad_octet_count = %d, want 1: the one skipped (or cut) range", n)
			}
		})
	}
}

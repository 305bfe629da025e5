package tail

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/valyala/fasthttp"
)

var t0 = time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC)

func msg(app, proc, text string) sluice.Message {
	return sluice.Message{Time: t0, App: app, Source: "app", Proc: proc, Text: text}
}

func line(m sluice.Message) string { return string(sluice.AppendLine(nil, &m)) }

type env struct {
	store *buffer.Store
	reg   *prometheus.Registry
	h     *Handler
	url   string
	http  *http.Client
}

// start runs a real fasthttp server on loopback with the handler behind
// the daemon's route for /apps/{app}/logs. Its ReadTimeout is short, so a
// tail that outlives it shows that hijacked connections drop fasthttp's
// deadlines.
func start(t *testing.T, cfg buffer.Config, tokens *auth.Tokens) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	e := &env{store: buffer.New(cfg, reg), reg: reg}
	e.h = New(Config{Store: e.store, Tokens: tokens, WriteTimeout: 5 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		ReadTimeout: 300 * time.Millisecond,
		Handler: func(ctx *fasthttp.RequestCtx) {
			app, _ := strings.CutPrefix(string(ctx.Path()), "/apps/")
			app, ok := strings.CutSuffix(app, "/logs")
			if !ok {
				ctx.Error("not found", fasthttp.StatusNotFound)
				return
			}
			e.h.ServeHTTP(ctx, app)
		},
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(smallSendBuffers{ln}) }()
	e.url = "http://" + ln.Addr().String()
	e.http = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(func() {
		e.h.Shutdown()
		if err := srv.Shutdown(); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		<-served
		e.http.CloseIdleConnections()
	})
	return e
}

// smallSendBuffers keeps the kernel from buffering megabytes for a client
// that does not read, so that a stalled tail stalls soon.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

func (e *env) get(t *testing.T, path string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// tail opens a tail=1 stream and returns a line reader over it.
func (e *env) tail(t *testing.T, path string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, err := e.http.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/plain; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Fatalf("%s: %q, want %q", k, got, want)
		}
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("transfer encoding %v", resp.TransferEncoding)
	}
	return resp, bufio.NewReader(resp.Body)
}

func (e *env) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestLastLines(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	ms := []sluice.Message{
		msg("web", "web.1", "one"), msg("web", "webby", "two"), msg("web", "web", "three"),
		msg("web", "worker.1", "four"), msg("web", "web.2", "five"), msg("other", "web.1", "other"),
		{Time: t0, App: "web", Source: "router", Proc: "web.1", Text: "six"},
	}
	e.store.Append(ms)
	join := func(idx ...int) string {
		var b strings.Builder
		for _, i := range idx {
			b.WriteString(line(ms[i]))
		}
		return b.String()
	}
	cases := []struct {
		name, path string
		status     int
		body       string
	}{
		{"default num", "/apps/web/logs", 200, join(0, 1, 2, 3, 4, 6)},
		{"num", "/apps/web/logs?num=2", 200, join(4, 6)},
		{"num 0", "/apps/web/logs?num=0", 200, ""},
		{"ps web", "/apps/web/logs?ps=web", 200, join(0, 2, 4, 6)},
		{"ps web num 2", "/apps/web/logs?ps=web&num=2", 200, join(4, 6)},
		{"ps web.1", "/apps/web/logs?ps=web.1", 200, join(0, 6)},
		{"source", "/apps/web/logs?source=router", 200, join(6)},
		{"source and ps", "/apps/web/logs?source=app&ps=web", 200, join(0, 2, 4)},
		{"tail=0", "/apps/web/logs?tail=0&num=1", 200, join(6)},
		{"unknown app", "/apps/nobody/logs", 200, ""},
		{"num negative", "/apps/web/logs?num=-1", 400, ""},
		{"num not a number", "/apps/web/logs?num=ten", 400, ""},
		{"num empty", "/apps/web/logs?num=", 400, ""},
		{"num plus", "/apps/web/logs?num=+5", 400, ""},
		{"num too large for int", "/apps/web/logs?num=99999999999999999999", 400, ""},
		{"tail bad", "/apps/web/logs?tail=maybe", 400, ""},
		{"ps with space", "/apps/web/logs?ps=a%20b", 400, ""},
		{"source bad", "/apps/web/logs?source=a/b", 400, ""},
		{"app bad", "/apps/a%5Bb/logs", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := e.get(t, tc.path)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%s)", status, tc.status, body)
			}
			if status != 200 {
				return
			}
			if body != tc.body {
				t.Fatalf("body\n%q\nwant\n%q", body, tc.body)
			}
			if ct := hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

func TestRingBounds(t *testing.T) {
	text := strings.Repeat("x", 100)
	lineLen := len(line(msg("a", "web.1", text)))
	cases := []struct {
		name  string
		cfg   buffer.Config
		write []string // apps written in order, 300 lines each
		check func(t *testing.T, e *env)
	}{
		{"by lines", buffer.Config{Lines: 50}, []string{"a"}, func(t *testing.T, e *env) {
			_, _, body := e.get(t, "/apps/a/logs?num=1000")
			if n := strings.Count(body, "\n"); n != 50 {
				t.Fatalf("%d lines, want 50", n)
			}
			if !strings.HasSuffix(body, "x 299\n") || !strings.Contains(body, "x 250\n") || strings.Contains(body, "x 249\n") {
				t.Fatalf("not the newest 50 lines")
			}
		}},
		{"by bytes", buffer.Config{BytesPerApp: 4096}, []string{"a"}, func(t *testing.T, e *env) {
			_, _, body := e.get(t, "/apps/a/logs?num=1000")
			if len(body) > 4096 || len(body) < 4096-lineLen-4 {
				t.Fatalf("%d bytes, want just under 4096", len(body))
			}
			if !strings.HasSuffix(body, "x 299\n") {
				t.Fatalf("not the newest lines")
			}
		}},
		{"by memory, least recently written first", buffer.Config{BytesPerApp: 32 << 10, MemoryLimit: 110 << 10},
			[]string{"a", "b", "c", "d"}, func(t *testing.T, e *env) {
				counts := map[string]int{}
				for _, app := range []string{"a", "b", "c", "d"} {
					_, _, body := e.get(t, "/apps/"+app+"/logs?num=100000")
					counts[app] = strings.Count(body, "\n")
				}
				if counts["d"] == 0 || counts["a"] >= counts["d"] || counts["b"] != counts["d"] || counts["c"] != counts["d"] {
					t.Fatalf("lines per app %v: want a evicted first, b, c and d whole", counts)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, tc.cfg, nil)
			for _, app := range tc.write {
				for i := 0; i < 300; i++ {
					e.store.Append([]sluice.Message{msg(app, "web.1", fmt.Sprint(text, " ", i))})
				}
			}
			tc.check(t, e)
		})
	}
}

func TestTailStreamsNewLines(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	e.store.Append([]sluice.Message{msg("a", "web.1", "old 1"), msg("a", "web.1", "old 2")})
	_, r := e.tail(t, "/apps/a/logs?tail=1&num=1&ps=web")
	got, err := r.ReadString('\n')
	if err != nil || !strings.HasSuffix(got, "]: old 2\n") {
		t.Fatalf("backlog %q, %v", got, err)
	}
	// Outlive the server's ReadTimeout while idle: the tail must stay.
	<-time.After(600 * time.Millisecond)
	e.store.Append([]sluice.Message{msg("a", "worker.1", "skip"), msg("a", "web.2", "new 1")})
	e.store.Append([]sluice.Message{msg("a", "web", "new 2")})
	for _, want := range []string{"new 1", "new 2"} {
		got, err := r.ReadString('\n')
		if err != nil || !strings.HasSuffix(got, "]: "+want+"\n") {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
}

func TestTailUnknownAppWaitsForIt(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	_, r := e.tail(t, "/apps/later/logs?tail=1")
	waitFor(t, "a session", func() bool { return e.metric(t, "sluice_tail_sessions") == 1 })
	e.store.Append([]sluice.Message{msg("later", "", "hello")})
	got, err := r.ReadString('\n')
	if err != nil || !strings.HasSuffix(got, "app: hello\n") {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestTailNoGapNoDuplicate starts tails while writers append numbered
// lines: each tail's backlog plus stream must be exactly 0..N-1 in order.
func TestTailNoGapNoDuplicate(t *testing.T) {
	const total = 6000
	e := start(t, buffer.Config{Lines: 100000, BytesPerApp: 1 << 30, TailBuffer: 100000}, nil)
	var wg sync.WaitGroup
	half := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i += 3 {
			if i == total/2 {
				close(half)
			}
			e.store.Append([]sluice.Message{msg("a", "", fmt.Sprint(i)), msg("a", "", fmt.Sprint(i+1)), msg("a", "", fmt.Sprint(i+2))})
		}
	}()
	<-half
	for k := 0; k < 2; k++ {
		_, r := e.tail(t, "/apps/a/logs?tail=1&num=100000")
		for i := 0; i < total; i++ {
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("tail %d line %d: %v", k, i, err)
			}
			if want := fmt.Sprintf("app: %d\n", i); !strings.HasSuffix(got, want) {
				t.Fatalf("tail %d line %d is %q", k, i, got)
			}
		}
	}
	wg.Wait()
}

func TestSlowTailGetsL11AndDoesNotSlowAppend(t *testing.T) {
	e := start(t, buffer.Config{TailBuffer: 16, Lines: 100}, nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /apps/a/logs?tail=1&num=0 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a session", func() bool { return e.metric(t, "sluice_tail_sessions") == 1 })
	// The client reads nothing: the socket buffers fill, the session's
	// write blocks, its queue overflows. Append goes on regardless.
	text := strings.Repeat("y", 500)
	const lines = 5000
	for i := 0; i < lines; i++ {
		e.store.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint(text, " ", i))})
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The session was behind: once it can write again it sends the L11
	// line that counts what it missed, and ends the response cleanly.
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the tail: %v", err)
	}
	ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if last := ls[len(ls)-1]; !strings.Contains(last, " sluice[tail]: Error L11 (Tail buffer overflow): ") {
		t.Fatalf("last line %q, want the L11 line", last)
	}
	if n := e.metric(t, "sluice_tail_behind_total"); n != 1 {
		t.Fatalf("sluice_tail_behind_total %v", n)
	}
	waitFor(t, "the session to end", func() bool { return e.metric(t, "sluice_tail_sessions") == 0 })
}

func TestClientDisconnectEndsSession(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	resp, _ := e.tail(t, "/apps/a/logs?tail=1")
	waitFor(t, "a session", func() bool { return e.metric(t, "sluice_tail_sessions") == 1 })
	resp.Body.Close()
	e.http.CloseIdleConnections()
	waitFor(t, "the session to end", func() bool { return e.metric(t, "sluice_tail_sessions") == 0 })
	if st := e.store.Stats(); st.Apps != 0 {
		t.Fatalf("app kept after its only tail left: %+v", st)
	}
}

func TestShutdownEndsTails(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	e.store.Append([]sluice.Message{msg("a", "", "before")})
	var bodies []*bufio.Reader
	for i := 0; i < 3; i++ {
		_, r := e.tail(t, "/apps/a/logs?tail=1")
		if l, err := r.ReadString('\n'); err != nil || !strings.HasSuffix(l, "app: before\n") {
			t.Fatalf("first line %q, %v", l, err)
		}
		bodies = append(bodies, r)
	}
	waitFor(t, "sessions", func() bool { return e.metric(t, "sluice_tail_sessions") == 3 })
	e.h.Shutdown()
	for _, r := range bodies {
		// A clean end of the chunked body, not a broken connection.
		b, err := io.ReadAll(r)
		if err != nil || len(b) != 0 {
			t.Fatalf("rest of the body %q, %v", b, err)
		}
	}
	if n := e.metric(t, "sluice_tail_sessions"); n != 0 {
		t.Fatalf("%v sessions after Shutdown", n)
	}
	if status, h, _ := e.get(t, "/apps/a/logs?tail=1"); status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("tail after Shutdown: status %d, Retry-After %q", status, h.Get("Retry-After"))
	}
	if status, _, body := e.get(t, "/apps/a/logs"); status != 200 || body == "" {
		t.Fatalf("plain read after Shutdown: %d %q", status, body)
	}
}

func TestTokens(t *testing.T) {
	tokens, err := auth.Parse("t.web=web,t.api=api:router", "t.admin")
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, buffer.Config{}, tokens)
	e.store.Append([]sluice.Message{msg("web", "", "secret")})
	basic := func(user, pass string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	cases := []struct {
		name, auth string
		status     int
	}{
		{"none", "", 401},
		{"unknown bearer", "Bearer t.nope", 401},
		{"malformed", "Bearer", 401},
		{"other app", "Bearer t.api", 403},
		{"bearer", "Bearer t.web", 200},
		{"basic password", basic("", "t.web"), 200},
		{"basic other app", basic("x", "t.api"), 403},
		{"admin", "Bearer t.admin", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			status, h, body := e.get(t, "/apps/web/logs", hdr...)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			switch status {
			case 401:
				if len(h.Values("WWW-Authenticate")) == 0 {
					t.Fatal("401 without WWW-Authenticate")
				}
				fallthrough
			case 403:
				if strings.Contains(body, "secret") {
					t.Fatal("denied response leaks lines")
				}
			case 200:
				if !strings.Contains(body, "secret") {
					t.Fatalf("body %q", body)
				}
			}
		})
	}
}

// TestConcurrentWritersAndTails runs writers and tails together (for the
// race detector) and checks that each tail sees each writer's lines in
// order.
func TestConcurrentWritersAndTails(t *testing.T) {
	const writers, perWriter = 3, 2000
	e := start(t, buffer.Config{Lines: writers * perWriter, TailBuffer: writers * perWriter}, nil)
	var readers []*bufio.Reader
	for i := 0; i < 2; i++ {
		_, r := e.tail(t, "/apps/a/logs?tail=1&num=0")
		readers = append(readers, r)
	}
	waitFor(t, "sessions", func() bool { return e.metric(t, "sluice_tail_sessions") == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter && ctx.Err() == nil; i += 4 {
				batch := make([]sluice.Message, 4)
				for j := range batch {
					batch[j] = msg("a", fmt.Sprint("w.", w), fmt.Sprint(i+j))
				}
				e.store.Append(batch)
			}
		}()
	}
	for k, r := range readers {
		next := make([]int, writers)
		for n := 0; n < writers*perWriter; n++ {
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("tail %d: %v", k, err)
			}
			var w, i int
			if _, err := fmt.Sscanf(got[strings.Index(got, " app[")+1:], "app[w.%d]: %d\n", &w, &i); err != nil {
				t.Fatalf("line %q: %v", got, err)
			}
			if i != next[w] {
				t.Fatalf("tail %d: writer %d line %d, want %d", k, w, i, next[w])
			}
			next[w]++
		}
	}
	wg.Wait()
}

// TestCursorsAndEvents: plain reads carry the cursor in a header, event
// streams carry one per line, and after= (or Last-Event-ID) resumes.
func TestCursorsAndEvents(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	for i := 0; i < 5; i++ {
		e.store.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint("l", i))})
	}
	status, hdr, body := e.get(t, "/apps/a/logs?num=2")
	cur := hdr.Get(CursorHeader)
	if status != 200 || !strings.HasSuffix(body, "l4\n") || !strings.HasSuffix(cur, ":5") {
		t.Fatalf("status %d cursor %q body %q", status, cur, body)
	}
	epoch, _, _ := strings.Cut(cur, ":")
	for i := 5; i < 8; i++ {
		e.store.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint("l", i))})
	}
	cases := []struct {
		name, path string
		header     []string
		status     int
		body       string
	}{
		{"after", "/apps/a/logs?after=" + epoch + ":5", nil, 200, line(msg("a", "web.1", "l5")) + line(msg("a", "web.1", "l6")) + line(msg("a", "web.1", "l7"))},
		{"after num", "/apps/a/logs?num=1&after=" + epoch + ":5", nil, 200, line(msg("a", "web.1", "l5"))},
		{"last-event-id", "/apps/a/logs", []string{"Last-Event-ID", epoch + ":7"}, 200, line(msg("a", "web.1", "l7"))},
		{"events", "/apps/a/logs?num=1", []string{"Accept", "text/event-stream"}, 200,
			"id: " + epoch + ":8\ndata: " + line(msg("a", "web.1", "l7")) + "\n"},
		{"bad cursor", "/apps/a/logs?after=nope", nil, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.get(t, tc.path, tc.header...)
			if status != tc.status || (status == 200 && body != tc.body) {
				t.Fatalf("status %d body %q, want %d %q", status, body, tc.status, tc.body)
			}
		})
	}

	// A tail as events: where it starts, then each line with its id.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/apps/a/logs?tail=1&num=1", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	e.store.Append([]sluice.Message{msg("a", "web.1", "new\nline")})
	want := "id: " + epoch + ":7\n\n" +
		"id: " + epoch + ":8\ndata: " + line(msg("a", "web.1", "l7")) + "\n" +
		"id: " + epoch + ":9\ndata: " + line(msg("a", "web.1", "new\nline")) + "\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
		t.Fatalf("events %q, %v\nwant %q", got, err, want)
	}
}

// TestHostileLinesStayOneLine sends messages that try to forge lines or
// drive the reader's terminal through every read path.
func TestHostileLinesStayOneLine(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	_, r := e.tail(t, "/apps/a/logs?tail=1")
	hostile := []string{
		"first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected",
		"\x1b]52;c;ZWNobyBwd25lZA==\a",             // OSC 52: write the clipboard
		"\x1b]0;owned\x1b\\",                       // OSC 0: window title
		"\x1b[2J\x1b[H\x1b[31mred\r\u009b1mc1 csi", // CSI clear, home, colour; CR; C1 CSI
		"rtl \u202eevil\u202c",
	}
	for _, h := range hostile {
		e.store.Append([]sluice.Message{msg("a", "web.1", h)})
	}
	_, _, body := e.get(t, "/apps/a/logs")
	var tailed strings.Builder
	for range hostile {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		tailed.WriteString(l)
	}
	for how, out := range map[string]string{"read": body, "tail": tailed.String()} {
		ls := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(ls) != len(hostile) {
			t.Fatalf("%s: %d lines for %d messages:\n%s", how, len(ls), len(hostile), out)
		}
		for i, l := range ls {
			if want := strings.TrimSuffix(string(sluice.AppendDisplay(nil, hostile[i])), "\n"); !strings.HasSuffix(l, ": "+want) {
				t.Fatalf("%s: line %q, want it to end %q", how, l, want)
			}
			for _, c := range []byte(l) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("%s: raw control %#x in %q", how, c, l)
				}
			}
			if strings.Contains(l, "\u009b") || strings.Contains(l, "\u202e") {
				t.Fatalf("%s: raw C1/bidi in %q", how, l)
			}
		}
	}
	if !strings.Contains(body, `first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected`) ||
		!strings.Contains(body, `\x1b]52;c;`) {
		t.Fatalf("escapes not as expected:\n%s", body)
	}
}

// TestTailCapsAnswer429 checks the caps on open tails over HTTP.
func TestTailCapsAnswer429(t *testing.T) {
	e := start(t, buffer.Config{MaxTails: 3, MaxTailsPerApp: 2}, nil)
	e.tail(t, "/apps/a/logs?tail=1")
	e.tail(t, "/apps/a/logs?tail=1")
	waitFor(t, "two sessions", func() bool { return e.metric(t, "sluice_tail_sessions") == 2 })
	status, hdr, body := e.get(t, "/apps/a/logs?tail=1")
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(body, "MAX_TAILS_PER_APP") {
		t.Fatalf("third tail of a: %d %q %q", status, hdr.Get("Retry-After"), body)
	}
	e.tail(t, "/apps/b/logs?tail=1")
	waitFor(t, "three sessions", func() bool { return e.metric(t, "sluice_tail_sessions") == 3 })
	if status, _, body := e.get(t, "/apps/c/logs?tail=1"); status != http.StatusTooManyRequests || !strings.Contains(body, "(MAX_TAILS)") {
		t.Fatalf("fourth tail: %d %q", status, body)
	}
	// Reads that are not tails are not capped.
	if status, _, _ := e.get(t, "/apps/c/logs"); status != 200 {
		t.Fatalf("plain read: %d", status)
	}
}

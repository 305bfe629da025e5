package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

var t0 = time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC)

// logLine is line i of app web, as the router formats it.
func logLine(i int) string {
	m := sluice.Message{Time: t0.Add(time.Duration(i) * time.Second), Source: "app", Proc: "web.1", Text: fmt.Sprintf("line %d", i)}
	return string(sluice.AppendLine(nil, &m))
}

// l11Line is the router's in-band tail overflow notice.
func l11Line() string {
	m := sluice.Message{Time: t0, Source: "sluice", Proc: "tail", Text: sluice.DropNotice("L11", "Tail buffer overflow", 3, t0)}
	return string(sluice.AppendLine(nil, &m))
}

func lines(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, logLine(i))
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// request is what the fake router saw of one request.
type request struct {
	path  string
	query url.Values
	auth  string
}

// fakeRouter speaks GET /apps/{app}/logs like sluiced: text/plain, chunked
// streaming for tail=1. The n-th request is served by handlers[n] (the last
// one serves the rest).
type fakeRouter struct {
	srv      *httptest.Server
	handlers []http.HandlerFunc
	mu       sync.Mutex
	reqs     []request
}

func newFakeRouter(t testing.TB, handlers ...http.HandlerFunc) *fakeRouter {
	t.Helper()
	f := &fakeRouter{handlers: handlers}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, request{path: r.URL.EscapedPath(), query: r.URL.Query(), auth: r.Header.Get("Authorization")})
	f.mu.Unlock()
	f.handlers[min(n, len(f.handlers)-1)](w, r)
}

func (f *fakeRouter) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// How a served stream ends.
type ending int

const (
	endClean ending = iota // the response ends (router shutdown)
	endAbort               // the connection breaks mid-stream
	endHold                // the stream stays open until the client leaves
)

// serve answers 200 with lines, then ends as told.
func serve(ls []string, end ending) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		for _, l := range ls {
			io.WriteString(w, l)
		}
		w.(http.Flusher).Flush()
		switch end {
		case endAbort:
			panic(http.ErrAbortHandler)
		case endHold:
			<-r.Context().Done()
		}
	}
}

// refuse answers code with body as the reason.
func refuse(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body+"\n")
	}
}

// running is one run of the program in a goroutine.
type running struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// start runs the program with args against url; stdout is a buffer unless
// out is given.
func start(t *testing.T, url string, args []string, vars map[string]string, out io.Writer) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	all := map[string]string{"SLUICE_URL": url}
	for k, v := range vars {
		all[k] = v
	}
	if out == nil {
		out = r.stdout
	}
	go func() { r.done <- run(ctx, args, out, r.stderr, env(all)) }()
	t.Cleanup(func() {
		cancel()
		r.wait(t)
	})
	return r
}

// wait returns the exit status, failing the test if run does not return.
func (r *running) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code // later calls see it too
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("run did not return; stderr: %s", r.stderr.String())
		return -1
	}
}

func (r *running) hasOutput(s string) func() bool {
	return func() bool { return strings.Contains(r.stdout.String(), s) }
}

func (r *running) hasStderr(s string) func() bool {
	return func() bool { return strings.Contains(r.stderr.String(), s) }
}

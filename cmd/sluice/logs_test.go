package main

import (
	"bytes"
	"github.com/sluice-logs/sluice/internal/eventually"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestLogsRequest(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		vars      map[string]string
		wantPath  string
		wantQuery url.Values
		wantAuth  string
	}{
		{"defaults", []string{"logs", "-a", "web"}, nil,
			"/apps/web/logs", url.Values{"num": {"100"}}, ""},
		{"every flag", []string{"logs", "--app", "web", "--num", "7", "--source", "router", "--ps", "web.1", "--no-color"}, nil,
			"/apps/web/logs", url.Values{"num": {"7"}, "source": {"router"}, "ps": {"web.1"}}, ""},
		{"token", []string{"logs", "-a", "api", "-n", "0"}, map[string]string{"SLUICE_TOKEN": "t.abc"},
			"/apps/api/logs", url.Values{"num": {"0"}}, "Bearer t.abc"},
		{"app name escaped", []string{"logs", "-a", "a:b"}, nil,
			"/apps/a:b/logs", url.Values{"num": {"100"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := lines(1, 3)
			f := newFakeRouter(t, serve(body, endClean))
			r := start(t, f.srv.URL, tt.args, tt.vars, nil)
			if code := r.wait(t); code != exitOK {
				t.Fatalf("exit %d, want 0; stderr: %s", code, r.stderr.String())
			}
			if got, want := r.stdout.String(), strings.Join(body, ""); got != want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
			}
			if r.stderr.String() != "" {
				t.Fatalf("stderr: %s", r.stderr.String())
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			if reqs[0].path != tt.wantPath {
				t.Fatalf("path %q, want %q", reqs[0].path, tt.wantPath)
			}
			if reqs[0].query.Encode() != tt.wantQuery.Encode() {
				t.Fatalf("query %q, want %q", reqs[0].query.Encode(), tt.wantQuery.Encode())
			}
			if reqs[0].auth != tt.wantAuth {
				t.Fatalf("Authorization %q, want %q", reqs[0].auth, tt.wantAuth)
			}
		})
	}
}

// TestLogsBasePath keeps a path prefix of SLUICE_URL (a router behind a
// reverse proxy).
func TestLogsBasePath(t *testing.T) {
	f := newFakeRouter(t, serve(lines(1, 1), endClean))
	r := start(t, f.srv.URL+"/sluice/", []string{"logs", "-a", "web", "-t=false"}, nil, nil)
	if code := r.wait(t); code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, r.stderr.String())
	}
	if got := f.requests()[0].path; got != "/sluice/apps/web/logs" {
		t.Fatalf("path %q, want /sluice/apps/web/logs", got)
	}
}

func TestLogsHTTPErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		tail    bool
		vars    map[string]string
		want    []string // substrings of stderr
	}{
		{"401 without token", refuse(401, "missing token", "WWW-Authenticate", `Bearer realm="sluice"`), false, nil,
			[]string{"401 Unauthorized: missing token", `set SLUICE_TOKEN to a token that may read app "web"`}},
		{"401 with token", refuse(401, "unknown token"), false, map[string]string{"SLUICE_TOKEN": "t.bad"},
			[]string{"401 Unauthorized: unknown token", "does not accept the token in SLUICE_TOKEN"}},
		{"403", refuse(403, `token may not read app "web"`), true, map[string]string{"SLUICE_TOKEN": "t.other"},
			[]string{`403 Forbidden: token may not read app "web"`, `cannot read app "web"`}},
		{"400", refuse(400, "num: want a non-negative integer"), false, nil,
			[]string{"400 Bad Request: num: want a non-negative integer"}},
		{"500 on first connect of a tail", refuse(500, "boom"), true, nil,
			[]string{"500 Internal Server Error: boom"}},
		{"404 HTML page of a proxy", refuse(404, "<html><body>Not Found</body></html>", "Content-Type", "text/html"), false, nil,
			[]string{"the router answered 404 Not Found\nsluice: is http://127.0.0.1:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRouter(t, tt.handler)
			args := []string{"logs", "-a", "web"}
			if tt.tail {
				args = append(args, "--tail")
			}
			r := start(t, f.srv.URL, args, tt.vars, nil)
			if code := r.wait(t); code != exitError {
				t.Fatalf("exit %d, want 1; stderr: %s", code, r.stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr.String(), w) {
					t.Fatalf("stderr %q does not contain %q", r.stderr.String(), w)
				}
			}
			if r.stdout.String() != "" {
				t.Fatalf("stdout: %q", r.stdout.String())
			}
			if tt.vars["SLUICE_TOKEN"] != "" && strings.Contains(r.stderr.String(), tt.vars["SLUICE_TOKEN"]) {
				t.Fatalf("stderr shows the token: %s", r.stderr.String())
			}
		})
	}
}

func TestUseColor(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	// /dev/null is a character device, as a terminal is.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	file, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	tests := []struct {
		name    string
		out     any
		noColor bool
		vars    map[string]string
		want    bool
	}{
		{"buffer", &bytes.Buffer{}, false, nil, false},
		{"pipe", pw, false, nil, false},
		{"regular file", file, false, nil, false},
		{"character device", devNull, false, nil, true},
		{"--no-color", devNull, true, nil, false},
		{"NO_COLOR", devNull, false, map[string]string{"NO_COLOR": "1"}, false},
		{"TERM=dumb", devNull, false, map[string]string{"TERM": "dumb"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.out.(interface{ Write([]byte) (int, error) })
			if got := useColor(w, tt.noColor, env(tt.vars)); got != tt.want {
				t.Fatalf("useColor = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAppendColored(t *testing.T) {
	web1 := logLine(1)
	web2 := strings.Replace(logLine(2), "app[web.1]", "app[web.2]", 1)
	worker := strings.Replace(logLine(3), "app[web.1]", "app[worker.1]", 1)
	router := strings.Replace(logLine(4), "app[web.1]", "router", 1)
	notice := l11Line()
	odd := "not a tail line\n"

	colorOf := func(line string) string {
		out := string(appendColored(nil, []byte(line)))
		sp := strings.IndexByte(out, ' ')
		end := strings.IndexByte(out, 'm')
		if sp < 0 || end < sp || !strings.HasPrefix(out[sp+1:], "\x1b[") {
			return ""
		}
		return out[sp+1 : end+1]
	}
	tests := []struct {
		name string
		line string
		want string
	}{
		{"app[web.1]", web1, web1[:33] + colorOf(web1) + "app[web.1]:" + colorReset + " line 1\n"},
		{"router without proc", router, router[:33] + colorOf(router) + "router:" + colorReset + " line 4\n"},
		{"notice in red", notice, notice[:33] + colorNotice + "sluice[tail]:" + colorReset + notice[33+len("sluice[tail]:"):]},
		{"not a tail line", odd, odd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendColored(nil, []byte(tt.line))); got != tt.want {
				t.Fatalf("appendColored(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
	if colorOf(web1) == "" || colorOf(web1) != colorOf(web2) {
		t.Fatalf("web.1 and web.2 have colours %q and %q, want the same", colorOf(web1), colorOf(web2))
	}
	if colorOf(web1) == colorOf(worker) {
		t.Fatalf("web and worker share colour %q; pick palette keys that differ", colorOf(web1))
	}
}

// TestLogsNoColorWhenPiped checks the whole path: stdout that is not a
// terminal gets the router's bytes unchanged.
func TestLogsNoColorWhenPiped(t *testing.T) {
	body := append(lines(1, 2), l11Line())
	f := newFakeRouter(t, serve(body, endClean))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var got bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		got.ReadFrom(pr)
	}()
	r := start(t, f.srv.URL, []string{"logs", "-a", "web"}, nil, pw)
	code := r.wait(t)
	pw.Close()
	<-copied
	if code != exitOK {
		t.Fatalf("exit %d; stderr: %s", code, r.stderr.String())
	}
	if got.String() != strings.Join(body, "") {
		t.Fatalf("stdout %q, want the router's lines unchanged", got.String())
	}
}

func TestTailReconnect(t *testing.T) {
	first := lines(1, 5)
	tests := []struct {
		name       string
		handlers   []http.HandlerFunc
		want       []string
		wantStderr []string
	}{
		{"connection breaks, router keeps its ring",
			[]http.HandlerFunc{serve(first, endAbort), serve(lines(1, 9), endHold)},
			lines(1, 9), nil},
		{"router ends the stream (shutdown)",
			[]http.HandlerFunc{serve(first, endClean), serve(lines(1, 9), endHold)},
			lines(1, 9), []string{"connection lost (the router ended the stream)"}},
		{"backlog starts inside what was printed",
			[]http.HandlerFunc{serve(first, endAbort), serve(lines(4, 7), endHold)},
			lines(1, 7), nil},
		{"router lost its ring (restart)",
			[]http.HandlerFunc{serve(first, endAbort), serve(lines(10, 11), endHold)},
			append(lines(1, 5), lines(10, 11)...), nil},
		{"gap longer than the backlog",
			[]http.HandlerFunc{serve(first, endAbort), serve(lines(100, 100+resyncLines-1), endHold)},
			append(lines(1, 5), lines(100, 100+resyncLines-1)...), []string{"some lines may be missing"}},
		{"in-band notice printed before the loss",
			[]http.HandlerFunc{serve(append(lines(1, 2), append([]string{l11Line()}, lines(3, 5)...)...), endAbort), serve(lines(1, 6), endHold)},
			append(lines(1, 2), append([]string{l11Line()}, lines(3, 6)...)...), nil},
		{"router busy, then back",
			[]http.HandlerFunc{serve(first, endAbort), refuse(503, "shutting down", "Retry-After", "0"), serve(lines(2, 6), endHold)},
			lines(1, 6), nil},
		{"connection breaks twice",
			[]http.HandlerFunc{serve(first, endAbort), serve(lines(3, 7), endAbort), serve(lines(6, 8), endHold)},
			lines(1, 8), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeRouter(t, tt.handlers...)
			r := start(t, f.srv.URL, []string{"logs", "-a", "web", "-t", "-p", "web"}, nil, nil)
			last := tt.want[len(tt.want)-1]
			eventually.True(t, "the last line", r.hasOutput(last))
			eventually.True(t, "the reconnect notice", r.hasStderr("sluice: reconnected"))
			r.cancel()
			if code := r.wait(t); code != exitOK {
				t.Fatalf("exit %d after cancel, want 0", code)
			}
			if got, want := r.stdout.String(), strings.Join(tt.want, ""); got != want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
			}
			for _, w := range append(tt.wantStderr, "sluice: connection lost (", "); reconnecting…\n") {
				if !strings.Contains(r.stderr.String(), w) {
					t.Fatalf("stderr %q does not contain %q", r.stderr.String(), w)
				}
			}
			reqs := f.requests()
			if got := reqs[0].query.Encode(); got != "num=100&ps=web&tail=1" {
				t.Fatalf("first query %q", got)
			}
			for _, req := range reqs[1:] {
				if got := req.query.Encode(); got != "num=1000&ps=web&tail=1" {
					t.Fatalf("reconnect query %q, want num=1000&ps=web&tail=1", got)
				}
			}
		})
	}
}

// TestTailRouterRestart stops the router (connections refused for a
// while) and starts a new one on the same address.
func TestTailRouterRestart(t *testing.T) {
	srv := httptest.NewServer(serve(lines(1, 3), endHold))
	addr := srv.Listener.Addr().String()
	r := start(t, srv.URL, []string{"logs", "-a", "web", "--tail"}, nil, nil)
	eventually.True(t, "the first lines", r.hasOutput(logLine(3)))

	srv.CloseClientConnections()
	srv.Close()
	eventually.True(t, "the loss notice", r.hasStderr("connection lost"))

	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv2 := httptest.NewUnstartedServer(serve(lines(4, 5), endHold))
	srv2.Listener.Close()
	srv2.Listener = l
	srv2.Start()
	defer srv2.Close()

	eventually.True(t, "lines of the new router", r.hasOutput(logLine(5)))
	r.cancel()
	if code := r.wait(t); code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if got, want := r.stdout.String(), strings.Join(lines(1, 5), ""); got != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(r.stderr.String(), "sluice: reconnected") {
		t.Fatalf("stderr %q lacks the reconnect notice", r.stderr.String())
	}
}

// TestTailReconnectRefused: a refusal that retrying cannot fix ends the
// tail with status 1.
func TestTailReconnectRefused(t *testing.T) {
	f := newFakeRouter(t, serve(lines(1, 2), endAbort), refuse(403, "token revoked"))
	r := start(t, f.srv.URL, []string{"logs", "-a", "web", "--tail"}, map[string]string{"SLUICE_TOKEN": "t.abc"}, nil)
	if code := r.wait(t); code != exitError {
		t.Fatalf("exit %d, want 1; stderr: %s", code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "403 Forbidden: token revoked") {
		t.Fatalf("stderr %q", r.stderr.String())
	}
}

func TestBrokenPipeExits0(t *testing.T) {
	for _, tail := range []bool{false, true} {
		name := map[bool]string{false: "recent lines", true: "tail"}[tail]
		t.Run(name, func(t *testing.T) {
			end := endClean
			args := []string{"logs", "-a", "web"}
			if tail {
				end = endHold
				args = append(args, "--tail")
			}
			f := newFakeRouter(t, serve(lines(1, 100), end))
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			pr.Close() // the reader (head) is gone
			defer pw.Close()
			r := start(t, f.srv.URL, args, nil, pw)
			if code := r.wait(t); code != exitOK {
				t.Fatalf("exit %d, want 0", code)
			}
			if r.stderr.String() != "" {
				t.Fatalf("stderr %q, want nothing", r.stderr.String())
			}
		})
	}
}

func TestCancelExits0(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) (url string, ready func(r *running) bool)
	}{
		{"while streaming", func(t *testing.T) (string, func(*running) bool) {
			f := newFakeRouter(t, serve(lines(1, 1), endHold))
			return f.srv.URL, func(r *running) bool { return r.hasOutput(logLine(1))() }
		}},
		{"while reconnecting", func(t *testing.T) (string, func(*running) bool) {
			f := newFakeRouter(t, serve(lines(1, 1), endAbort), refuse(503, "down"))
			return f.srv.URL, func(r *running) bool { return len(f.requests()) >= 2 }
		}},
		{"while waiting for a response", func(t *testing.T) (string, func(*running) bool) {
			got := make(chan struct{}, 1)
			f := newFakeRouter(t, func(w http.ResponseWriter, r *http.Request) {
				got <- struct{}{}
				<-r.Context().Done()
			})
			return f.srv.URL, func(*running) bool {
				select {
				case <-got:
					return true
				default:
					return false
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, ready := tt.setup(t)
			r := start(t, url, []string{"logs", "-a", "web", "--tail"}, nil, nil)
			eventually.True(t, "the tail to be under way", func() bool { return ready(r) })
			r.cancel()
			if code := r.wait(t); code != exitOK {
				t.Fatalf("exit %d, want 0; stderr: %s", code, r.stderr.String())
			}
		})
	}
}

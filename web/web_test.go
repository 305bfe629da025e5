package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// server is a Handler on a real fasthttp server on loopback.
type server struct {
	h     *Handler
	store *buffer.Store
	base  string
	addr  string
}

func startServer(t *testing.T, tokens string, cfg Config, bcfg buffer.Config) *server {
	t.Helper()
	tok, err := auth.Parse(tokens, "adm.secret")
	if err != nil {
		t.Fatal(err)
	}
	if tokens == "" {
		tok = nil
	}
	store := buffer.New(bcfg, nil)
	cfg.Store, cfg.Tokens = store, tok
	h := New(cfg)
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h.ServeHTTP, MaxRequestBodySize: 64 << 10}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		h.Shutdown()
		_ = srv.Shutdown()
		<-done
		store.Close()
	})
	return &server{h: h, store: store, base: "http://" + ln.Addr().String(), addr: ln.Addr().String()}
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func (s *server) send(app string, texts ...string) {
	batch := make([]sluice.Message, len(texts))
	for i, x := range texts {
		batch[i] = sluice.Message{App: app, Time: t0.Add(time.Duration(i) * time.Millisecond), Source: "app", Proc: "web.1", Text: x}
	}
	s.store.Append(batch)
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, u string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func (s *server) signIn(t *testing.T, token string) (*http.Response, string) {
	t.Helper()
	return do(t, "POST", s.base+"/web/signin", map[string]string{"Origin": s.base}, "token="+url.QueryEscape(token))
}

func sessionCookie(t *testing.T, res *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", cookieName, res.Header["Set-Cookie"])
	return nil
}

func TestSecurityHeaders(t *testing.T) {
	s := startServer(t, "t.web=web", Config{}, buffer.Config{})
	cases := []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/web/", "text/html; charset=utf-8", 200},
		{"/web/static/app.js", "text/javascript; charset=utf-8", 200},
		{"/web/static/style.css", "text/css; charset=utf-8", 200},
		{"/web/static/../handler.go", "", 404},
		{"/web/static/%2e%2e/doc.go", "", 404},
		{"/web/apps", "", 401},
		{"/web/stream?app=web", "", 401},
		{"/web/nope", "", 404},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			res, body := do(t, "GET", s.base+tc.path, nil, "")
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.ctype)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != csp {
				t.Errorf("CSP %q", got)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
			if tc.status == 401 && strings.Contains(body, "web.1") {
				t.Errorf("app data before sign-in: %q", body)
			}
		})
	}
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'", "style-src 'self'"} {
		if !strings.Contains(csp, want) || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP lacks %q or allows inline: %s", want, csp)
		}
	}
}

// The page's HTML has no inline script or style for the CSP to refuse.
func TestPageHasNothingInline(t *testing.T) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "style=", "<style", "onclick", "onload", "javascript:", "http://", "https://"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	js, _ := static.ReadFile("static/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}

func TestSignIn(t *testing.T) {
	s := startServer(t, "t.web=web,t.api=api", Config{}, buffer.Config{})
	s.send("web", "hello web")
	s.send("api", "hello api")
	s.send("other", "hello other")
	cases := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		apps   string
	}{
		{"app token", map[string]string{"Origin": s.base}, "token=t.web", 200, `[{"name":"web","lines":1}]`},
		{"admin token", map[string]string{"Origin": s.base}, "token=adm.secret", 200, `[{"name":"api","lines":1},{"name":"other","lines":1},{"name":"web","lines":1}]`},
		{"wrong token", map[string]string{"Origin": s.base}, "token=t.wex", 401, ""},
		{"prefix of a token", map[string]string{"Origin": s.base}, "token=t.we", 401, ""},
		{"empty token", map[string]string{"Origin": s.base}, "token=", 401, ""},
		{"huge token", map[string]string{"Origin": s.base}, "token=" + strings.Repeat("x", 10_000), 401, ""},
		{"no origin", nil, "token=t.web", 403, ""},
		{"other origin", map[string]string{"Origin": "http://evil.example"}, "token=t.web", 403, ""},
		{"cross-site fetch", map[string]string{"Origin": s.base, "Sec-Fetch-Site": "cross-site"}, "token=t.web", 403, ""},
		{"token in the query", map[string]string{"Origin": s.base}, "", 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := s.base + "/web/signin"
			if tc.body == "" {
				u += "?token=t.web" // a token in a URL is not read
			}
			res, body := do(t, "POST", u, tc.hdr, tc.body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				if len(res.Cookies()) != 0 || strings.Contains(body, "hello") || strings.Contains(body, `"name"`) {
					t.Fatalf("a refused sign-in gave something away: %v %q", res.Cookies(), body)
				}
				return
			}
			if !strings.Contains(body, `"apps":`+tc.apps) {
				t.Fatalf("body %s, want apps %s", body, tc.apps)
			}
			c := sessionCookie(t, res)
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/web/" || c.MaxAge <= 0 {
				t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/web/, Max-Age", c)
			}
			if strings.Contains(c.Value, "t.web") || strings.Contains(c.Value, "adm") {
				t.Fatal("the cookie carries the token")
			}
		})
	}
	// Every refusal of a token looks the same, whatever the guess.
	_, a := s.signIn(t, "t.wex")
	_, b := s.signIn(t, "zzzzzzzzzzzzzzzzzzzz")
	if a != b {
		t.Fatalf("refusals differ: %q vs %q", a, b)
	}
}

func TestSessionCookie(t *testing.T) {
	s := startServer(t, "t.web=web,t.api=api", Config{}, buffer.Config{})
	s.send("web", "hello web")
	s.send("api", "hello api")
	res, _ := s.signIn(t, "t.web")
	c := sessionCookie(t, res)
	hdr := func(v string) map[string]string { return map[string]string{"Cookie": cookieName + "=" + v} }
	tampered := []byte(c.Value)
	tampered[10] ^= 1
	cases := []struct {
		name, path, cookie string
		status             int
	}{
		{"apps", "/web/apps", c.Value, 200},
		{"no cookie", "/web/apps", "", 401},
		{"tampered", "/web/apps", string(tampered), 401},
		{"truncated", "/web/apps", c.Value[:20], 401},
		{"markup", "/web/apps", "<script>", 401},
		{"other app", "/web/stream?app=api", c.Value, 403},
		{"bad app name", "/web/stream?app=%0a", c.Value, 400},
		{"bad num", "/web/stream?app=web&num=-1", c.Value, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := do(t, "GET", s.base+tc.path, hdr(tc.cookie), "")
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if strings.Contains(body, "hello api") {
				t.Fatal("saw another app's lines")
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		v := s.h.cookies.encode(auth.Sum("t.web"), time.Now().Add(-13*time.Hour))
		if _, ok := s.h.cookies.decode([]byte(v), time.Now()); ok {
			t.Fatal("an expired cookie was accepted")
		}
	})
	t.Run("tokens changed", func(t *testing.T) {
		tok, _ := auth.Parse("t.web=web2", "")
		other := newCookieCodec(tok, time.Hour)
		if _, ok := other.decode([]byte(c.Value), time.Now()); ok {
			t.Fatal("a cookie outlived a change of TOKENS")
		}
	})
	t.Run("sign out", func(t *testing.T) {
		res, _ := do(t, "POST", s.base+"/web/signout", map[string]string{"Origin": s.base}, "")
		if res.StatusCode != 204 || sessionCookie(t, res).MaxAge >= 0 {
			t.Fatalf("sign-out: %d %v", res.StatusCode, res.Header["Set-Cookie"])
		}
		res, _ = do(t, "POST", s.base+"/web/signout", map[string]string{"Origin": "http://evil.example"}, "")
		if res.StatusCode != 403 {
			t.Fatalf("cross-origin sign-out: %d", res.StatusCode)
		}
	})
}

// sse is a raw event-stream client.
type sse struct {
	c  net.Conn
	br *bufio.Reader
}

// openStream opens /web/stream?app=APP&num=100 plus extra (such as
// "&after=C"), with Last-Event-ID when lastID is set.
func openStream(t *testing.T, s *server, app, cookie string, extra ...string) (*sse, int) {
	t.Helper()
	return openStreamID(t, s, app, cookie, "", extra...)
}

func openStreamID(t *testing.T, s *server, app, cookie, lastID string, extra ...string) (*sse, int) {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hdr := ""
	if lastID != "" {
		hdr = "Last-Event-ID: " + lastID + "\r\n"
	}
	fmt.Fprintf(c, "GET /web/stream?app=%s&num=100%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n%sCookie: %s=%s\r\n\r\n",
		app, strings.Join(extra, ""), s.addr, hdr, cookieName, cookie)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		return nil, res.StatusCode
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	return &sse{c: c, br: br}, 200
}

// event is one server-sent event as an EventSource sees it.
type event struct {
	typ, id string
	data    []string
}

// event reads the next event (skipping comments and retry).
func (e *sse) event(t *testing.T) event {
	t.Helper()
	_ = e.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	ev := event{typ: "message"}
	got := false
	for {
		l, err := e.br.ReadString('\n')
		if err != nil {
			t.Fatalf("read event: %v", err)
		}
		l = strings.TrimSuffix(l, "\n")
		if strings.ContainsRune(l, '\r') {
			t.Fatalf("a raw CR in the stream: %q", l)
		}
		switch {
		case l == "":
			if got {
				return ev
			}
		case strings.HasPrefix(l, ":"), strings.HasPrefix(l, "retry:"):
		case strings.HasPrefix(l, "event: "):
			ev.typ, got = l[len("event: "):], true
		case strings.HasPrefix(l, "id: "):
			ev.id, got = l[len("id: "):], true
		case l == "data":
			got = true
		case strings.HasPrefix(l, "data: "):
			ev.data, got = append(ev.data, l[len("data: "):]), true
		default:
			t.Fatalf("unexpected field %q", l)
		}
	}
}

// start reads the start event and returns its cursor.
func (e *sse) start(t *testing.T) string {
	t.Helper()
	ev := e.event(t)
	if ev.typ != "start" || ev.id == "" || len(ev.data) != 1 || ev.data[0] != ev.id {
		t.Fatalf("first event %+v, want start with the position as id and data", ev)
	}
	return ev.id
}

// lines reads n message events, one line each, and returns their texts
// (after "source[proc]: ") and the last id.
func (e *sse) lines(t *testing.T, n int) ([]string, string) {
	t.Helper()
	var texts []string
	id := ""
	for range n {
		ev := e.event(t)
		if ev.typ != "message" || len(ev.data) != 1 || ev.id == "" {
			t.Fatalf("event %+v, want one line with an id", ev)
		}
		if id != "" && ev.id <= id && len(ev.id) == len(id) {
			t.Fatalf("id %s after %s", ev.id, id)
		}
		_, text, _ := strings.Cut(ev.data[0], "]: ")
		texts, id = append(texts, text), ev.id
	}
	return texts, id
}

func TestStream(t *testing.T) {
	s := startServer(t, "", Config{}, buffer.Config{})
	s.send("web", "one", "two")
	e, st := openStream(t, s, "web", "")
	if st != 200 {
		t.Fatalf("status %d", st)
	}
	e.start(t)
	if got, _ := e.lines(t, 2); strings.Join(got, "|") != "one|two" {
		t.Fatalf("backlog %q", got)
	}
	hostile := []string{
		"<script>alert(1)</script>",
		"a\rid: 99\r\revent: backlog\r\rdata: forged",
		"a\nid: 99\n\nevent: start\ndata: forged",
		"\x1b[31mred\x1b[0m \x00 \u2028",
	}
	s.send("web", hostile...)
	got, _ := e.lines(t, len(hostile))
	for i, h := range hostile {
		want := string(sluice.AppendDisplay(nil, h)) // the router escapes every read path
		if got[i] != want {
			t.Errorf("line %d: %q, want %q", i, got[i], want)
		}
	}
}

func TestStreamEmptyBacklog(t *testing.T) {
	s := startServer(t, "", Config{Heartbeat: 50 * time.Millisecond}, buffer.Config{})
	e, _ := openStream(t, s, "quiet", "")
	e.start(t)
	s.send("quiet", "first")
	if got, _ := e.lines(t, 1); got[0] != "first" {
		t.Fatalf("line %q", got)
	}
}

// TestStreamResume: a stream resumed from the id of the last event it got
// (Last-Event-ID, as an EventSource reconnects, or after=, as the page opens
// a new one) goes on with the next line: nothing repeated, nothing lost.
func TestStreamResume(t *testing.T) {
	s := startServer(t, "", Config{}, buffer.Config{})
	s.send("web", "one", "two")
	e, _ := openStream(t, s, "web", "")
	e.start(t)
	_, last := e.lines(t, 2)
	e.c.Close()
	s.send("web", "three", "four")
	for _, tc := range []struct {
		name   string
		lastID string
		extra  string
	}{
		{"Last-Event-ID", last, ""},
		{"after=", "", "&after=" + url.QueryEscape(last)},
		{"Last-Event-ID over a stale after=", last, "&after=" + url.QueryEscape(strings.Split(last, ":")[0]+":0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, st := openStreamID(t, s, "web", "", tc.lastID, tc.extra)
			if st != 200 {
				t.Fatalf("status %d", st)
			}
			if at := e.start(t); at != last {
				t.Fatalf("start at %s, want %s", at, last)
			}
			got, _ := e.lines(t, 2)
			if strings.Join(got, "|") != "three|four" {
				t.Fatalf("resumed with %q, want three|four", got)
			}
		})
	}
	t.Run("the start position when no line came", func(t *testing.T) {
		e, _ := openStream(t, s, "fresh", "")
		at := e.start(t)
		e.c.Close()
		s.send("fresh", "a", "b")
		e2, _ := openStreamID(t, s, "fresh", "", at)
		e2.start(t)
		if got, _ := e2.lines(t, 2); strings.Join(got, "|") != "a|b" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("a cursor the ring no longer holds", func(t *testing.T) {
		s := startServer(t, "", Config{}, buffer.Config{Lines: 10})
		s.send("web", "old")
		e, _ := openStream(t, s, "web", "")
		e.start(t)
		_, old := e.lines(t, 1)
		e.c.Close()
		texts := make([]string, 30)
		for i := range texts {
			texts[i] = fmt.Sprint("line ", i)
		}
		s.send("web", texts...)
		e2, _ := openStreamID(t, s, "web", "", old)
		e2.start(t)
		ev := e2.event(t)
		if len(ev.data) != 1 || !strings.Contains(ev.data[0], "Error L11") || !strings.Contains(ev.data[0], " 20 messages") {
			t.Fatalf("first event %+v, want the L11 line for the 20 lines missed", ev)
		}
		if got, _ := e2.lines(t, 10); got[0] != "line 20" || got[9] != "line 29" {
			t.Fatalf("then %q", got)
		}
	})
	t.Run("a malformed cursor is 400", func(t *testing.T) {
		for _, bad := range []string{"x", "0:1", "1:-1", strings.Repeat("9", 50) + ":1"} {
			if _, st := openStreamID(t, s, "web", "", bad); st != 400 {
				t.Errorf("Last-Event-ID %q: status %d, want 400", bad, st)
			}
			if _, st := openStream(t, s, "web", "", "&after="+url.QueryEscape(bad)); st != 400 {
				t.Errorf("after=%q: status %d, want 400", bad, st)
			}
		}
	})
}

// A browser that falls behind is treated as `sluice logs --tail`: it gets
// the L11 line and its stream ends; resuming from the L11 line's id goes
// on with the lines after it.
func TestStreamL11(t *testing.T) {
	s := startServer(t, "", Config{}, buffer.Config{TailBuffer: 10})
	e, _ := openStream(t, s, "web", "")
	e.start(t)
	texts := make([]string, 1000)
	for i := range texts {
		texts[i] = fmt.Sprint("line ", i)
	}
	s.send("web", texts...) // one append: 1,000 lines, far more than TAIL_BUFFER behind
	ev := e.event(t)
	if len(ev.data) != 1 || !strings.Contains(ev.data[0], "sluice[tail]: Error L11 (Tail buffer overflow): 1000 messages dropped") || ev.id == "" {
		t.Fatalf("event %+v, want the L11 notice alone, with an id", ev)
	}
	_ = e.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rest, err := io.ReadAll(e.br); err != nil || len(rest) != 0 {
		t.Fatalf("after L11: %q, %v; want the stream to end", rest, err)
	}
	e2, _ := openStreamID(t, s, "web", "", ev.id)
	e2.start(t)
	s.send("web", "after")
	if got, _ := e2.lines(t, 1); got[0] != "after" {
		t.Fatalf("resumed after L11 with %q, want the next line", got)
	}
	e3, _ := openStream(t, s, "web", "")
	e3.start(t)
	if got, _ := e3.lines(t, 100); got[99] != "after" || got[98] != "line 999" {
		t.Fatalf("a new stream's backlog ends with %q, want the newest lines", got[98:])
	}
}

func TestStreamsBounded(t *testing.T) {
	s := startServer(t, "", Config{MaxStreams: 3}, buffer.Config{})
	var open []*sse
	for range 3 {
		e, st := openStream(t, s, "web", "")
		if st != 200 {
			t.Fatalf("stream %d: %d", len(open), st)
		}
		e.start(t)
		open = append(open, e)
	}
	for range 5 {
		if _, st := openStream(t, s, "web", ""); st != 503 {
			t.Fatalf("stream over the limit: %d, want 503", st)
		}
	}
	open[0].c.Close()
	eventually.True(t, "a closed stream's slot is freed", func() bool {
		s.h.mu.Lock()
		defer s.h.mu.Unlock()
		return len(s.h.streams) == 2
	})
	if e, st := openStream(t, s, "web", ""); st != 200 {
		t.Fatalf("stream in the freed slot: %d", st)
	} else {
		e.start(t)
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	s := startServer(t, "", Config{}, buffer.Config{})
	e, _ := openStream(t, s, "web", "")
	e.start(t)
	s.h.Shutdown()
	_ = e.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(e.br); err != nil {
		t.Fatalf("stream did not end cleanly at shutdown: %v", err)
	}
	if _, st := openStream(t, s, "web", ""); st != 503 {
		t.Fatalf("stream after shutdown: %d", st)
	}
}

func TestHeartbeat(t *testing.T) {
	s := startServer(t, "", Config{Heartbeat: 50 * time.Millisecond}, buffer.Config{})
	e, _ := openStream(t, s, "web", "")
	e.start(t)
	_ = e.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := e.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == ": keep-alive\n" {
			return
		}
	}
}

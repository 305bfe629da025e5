package httpin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/metrics"
)

// recorder is a sluice.Publisher that keeps clones of what it is given, or
// refuses everything with err.
type recorder struct {
	mu   sync.Mutex
	msgs []sluice.Message
	err  error
}

func (p *recorder) Publish(_ context.Context, batch []sluice.Message) error {
	return p.TryPublish(batch)
}

func (p *recorder) TryPublish(batch []sluice.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	for i := range batch {
		p.msgs = append(p.msgs, batch[i].Clone())
	}
	return nil
}

func (p *recorder) got() []sluice.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sluice.Message(nil), p.msgs...)
}

// server is a Handler behind a real fasthttp server on loopback.
type server struct {
	url    string
	pub    *recorder
	reg    *prometheus.Registry
	client *http.Client
}

type serverOpts struct {
	tokens        string // TOKENS
	admin         string // ADMIN_TOKEN
	maxBody       int64
	maxMessage    int
	serverMaxBody int // fasthttp's MaxRequestBodySize; 0: 4*maxBody
	publishErr    error
	defaultApp    string       // SYSLOG_DEFAULT_APP
	bodies        *budget.Pool // MAX_INFLIGHT_BODY_BYTES; nil: unlimited
}

func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	toks, err := auth.Parse(o.tokens, o.admin)
	if err != nil {
		t.Fatalf("parse tokens: %v", err)
	}
	if o.maxBody == 0 {
		o.maxBody = 64 << 10
	}
	if o.maxMessage == 0 {
		o.maxMessage = 1024
	}
	if o.serverMaxBody == 0 {
		o.serverMaxBody = int(4 * o.maxBody)
	}
	s := &server{pub: &recorder{err: o.publishErr}, reg: prometheus.NewRegistry()}
	h := New(Config{
		Publisher:       s.pub,
		Tokens:          toks,
		Metrics:         metrics.NewIngest(s.reg),
		MaxBodyBytes:    o.maxBody,
		MaxMessageBytes: o.maxMessage,
		DefaultApp:      o.defaultApp,
		Bodies:          o.bodies,
	})
	srv := &fasthttp.Server{
		Handler:            h.ServeHTTP,
		ErrorHandler:       h.ErrorHandler,
		MaxRequestBodySize: o.serverMaxBody,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Without keep-alive connections Shutdown returns at once.
		s.client.CloseIdleConnections()
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	s.url = "http://" + ln.Addr().String()
	return s
}

type response struct {
	status int
	header http.Header
	body   string
}

func (s *server) post(t *testing.T, method, query string, header map[string]string, body []byte) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+"/logs"+query, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s /logs: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// counts returns the non-zero sluice_ingest_rejected_total{transport="http"}
// series by reason, and the accepted messages.
func (s *server) counts(t *testing.T) (map[string]float64, float64) {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	rejected := map[string]float64{}
	var accepted float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["transport"] != metrics.HTTP {
				continue
			}
			v := m.GetCounter().GetValue()
			switch mf.GetName() {
			case "sluice_ingest_rejected_total":
				if v != 0 {
					rejected[labels["reason"]] = v
				}
			case "sluice_ingest_messages_total":
				accepted = v
			}
		}
	}
	return rejected, accepted
}

// frame octet-counts one syslog message.
func frame(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

func rfc5424(app, proc, text string) string {
	return "<190>1 2026-11-25T20:29:46.123456+00:00 host.example " + app + " " + proc + " - - " + text
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return buf.Bytes()
}

func basic(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("token:"+token))
}

const (
	ctLogplex = "application/logplex-1"
	ctNDJSON  = "application/x-ndjson"
	ctText    = "text/plain; charset=utf-8"
)

// want describes the expected outcome of one request.
type want struct {
	status   int
	body     []string // substrings of the response body
	header   map[string]string
	msgs     int                // messages published
	rejected map[string]float64 // the non-zero rejected counters
	check    func(t *testing.T, msgs []sluice.Message)
}

type tcase struct {
	name   string
	opts   serverOpts
	method string
	query  string
	header map[string]string
	body   []byte
	want   want
}

func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.opts)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			resp := s.post(t, method, tc.query, tc.header, tc.body)
			t.Logf("%d %s", resp.status, resp.body)
			if resp.status != tc.want.status {
				t.Fatalf("status = %d, want %d (body %q)", resp.status, tc.want.status, resp.body)
			}
			for _, sub := range tc.want.body {
				if !strings.Contains(resp.body, sub) {
					t.Fatalf("body %q does not contain %q", resp.body, sub)
				}
			}
			for k, v := range tc.want.header {
				if got := resp.header.Get(k); got != v {
					t.Fatalf("header %s = %q, want %q", k, got, v)
				}
			}
			msgs := s.pub.got()
			if len(msgs) != tc.want.msgs {
				t.Fatalf("published %d messages, want %d: %+v", len(msgs), tc.want.msgs, msgs)
			}
			rejected, accepted := s.counts(t)
			if int(accepted) != tc.want.msgs {
				t.Fatalf("messages_total = %v, want %d", accepted, tc.want.msgs)
			}
			wantRej := tc.want.rejected
			if wantRej == nil {
				wantRej = map[string]float64{}
			}
			if fmt.Sprint(rejected) != fmt.Sprint(wantRej) {
				t.Fatalf("rejected = %v, want %v", rejected, wantRej)
			}
			if tc.want.check != nil {
				tc.want.check(t, msgs)
			}
		})
	}
}

func TestLogplex(t *testing.T) {
	body3 := frame(rfc5424("web", "web.1", "one")) + frame(rfc5424("web", "web.2", "two")) + frame(rfc5424("api", "run.1", "three"))
	tokOpts := serverOpts{tokens: "t.web=web,t.rtr=web:router,t.api=api"}
	runCases(t, []tcase{{
		name:   "three frames",
		header: map[string]string{"Content-Type": ctLogplex, "Logplex-Msg-Count": "3", "Logplex-Frame-Id": "abc"},
		body:   []byte(body3),
		want: want{status: 204, msgs: 3, check: func(t *testing.T, msgs []sluice.Message) {
			m := msgs[0]
			wantTime := time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC)
			if m.App != "web" || m.Proc != "web.1" || m.Text != "one" || m.Source != "app" ||
				m.Host != "host.example" || !m.Time.Equal(wantTime) || m.Facility != 23 || m.Severity != 6 {
				t.Fatalf("message 0 = %+v", m)
			}
			if msgs[2].App != "api" || msgs[2].Text != "three" {
				t.Fatalf("message 2 = %+v", msgs[2])
			}
		}},
	}, {
		name:   "LF between frames and at the end",
		header: map[string]string{"Content-Type": ctLogplex},
		body:   []byte(frame(rfc5424("web", "web.1", "one")) + "\n" + frame(rfc5424("web", "web.1", "two")) + "\r\n\n"),
		want:   want{status: 204, msgs: 2},
	}, {
		name:   "msg count mismatch",
		header: map[string]string{"Content-Type": ctLogplex, "Logplex-Msg-Count": "4"},
		body:   []byte(body3),
		want: want{status: 400, body: []string{"msg_count_mismatch", "nothing was accepted"},
			rejected: map[string]float64{"msg_count_mismatch": 1}},
	}, {
		name:   "msg count not a number",
		header: map[string]string{"Content-Type": ctLogplex, "Logplex-Msg-Count": "three"},
		body:   []byte(body3),
		want:   want{status: 400, body: []string{"msg_count_mismatch"}, rejected: map[string]float64{"msg_count_mismatch": 1}},
	}, {
		name:   "bad octet count",
		header: map[string]string{"Content-Type": ctLogplex},
		body:   []byte(frame(rfc5424("web", "web.1", "one")) + "x12 <190>1 - - - - - -" + frame(rfc5424("web", "web.1", "lost"))),
		want: want{status: 400, msgs: 1, body: []string{"accepted 1 of 2 messages; frame 2: bad octet count"},
			rejected: map[string]float64{"bad_octet_count": 1}},
	}, {
		name:   "octet count past the end",
		header: map[string]string{"Content-Type": ctLogplex, "Logplex-Msg-Count": "2"},
		body:   []byte(frame(rfc5424("web", "web.1", "one")) + "500 <190>1 - - - - - - short"),
		want: want{status: 400, msgs: 1, body: []string{"frame 2: bad octet count"},
			rejected: map[string]float64{"bad_octet_count": 1}},
	}, {
		name:   "malformed frame",
		header: map[string]string{"Content-Type": ctLogplex, "Logplex-Msg-Count": "3"},
		body:   []byte(frame(rfc5424("web", "web.1", "one")) + frame("not syslog at all") + frame(rfc5424("web", "web.1", "three"))),
		want: want{status: 400, msgs: 2, body: []string{"accepted 2 of 3 messages; frame 2: missing APP-NAME"},
			rejected: map[string]float64{"malformed": 1}},
	}, {
		name:   "invalid UTF-8 frame is read as Latin-1",
		header: map[string]string{"Content-Type": ctLogplex},
		body:   []byte(frame(rfc5424("web", "web.1", "bad \xff\xfe")) + frame(rfc5424("web", "web.1", "good"))),
		want: want{status: 204, msgs: 2,
			rejected: map[string]float64{"latin1_converted": 1}},
	}, {
		name:   "missing APP-NAME without tokens",
		header: map[string]string{"Content-Type": ctLogplex},
		body:   []byte(frame(rfc5424("-", "web.1", "who"))),
		want:   want{status: 400, body: []string{"frame 1: missing APP-NAME"}, rejected: map[string]float64{"malformed": 1}},
	}, {
		name:   "token as APP-NAME (log-shuttle), Basic auth",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctLogplex, "Authorization": basic("t.rtr"), "Logplex-Msg-Count": "2"},
		body:   []byte(frame(rfc5424("t.rtr", "web.1", "one")) + frame(rfc5424("-", "web.1", "two"))),
		want: want{status: 204, msgs: 2, check: func(t *testing.T, msgs []sluice.Message) {
			for _, m := range msgs {
				if m.App != "web" || m.Source != "router" {
					t.Fatalf("message = %+v, want app web, source router", m)
				}
			}
		}},
	}, {
		name:   "token's own app, Bearer",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctLogplex, "Authorization": "Bearer t.web"},
		body:   []byte(frame(rfc5424("web", "web.1", "one"))),
		want:   want{status: 204, msgs: 1},
	}, {
		name:   "cross-app frame is forbidden",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctLogplex, "Authorization": "Bearer t.web"},
		body:   []byte(frame(rfc5424("web", "web.1", "one")) + frame(rfc5424("api", "web.1", "sneaky"))),
		want: want{status: 403, body: []string{`frame 2: this token may not write to app "api"`},
			rejected: map[string]float64{"forbidden_app": 1}},
	}, {
		name:   "truncated message",
		opts:   serverOpts{maxMessage: 130},
		header: map[string]string{"Content-Type": ctLogplex},
		body:   []byte(frame(rfc5424("web", "web.1", strings.Repeat("a", 129)+"é"+strings.Repeat("b", 50)))),
		want: want{status: 204, msgs: 1, rejected: map[string]float64{"truncated": 1},
			check: func(t *testing.T, msgs []sluice.Message) {
				if want := strings.Repeat("a", 129); msgs[0].Text != want {
					t.Fatalf("text = %q (%d bytes), want 129 a's", msgs[0].Text, len(msgs[0].Text))
				}
			}},
	}})
}

func TestNDJSON(t *testing.T) {
	tokOpts := serverOpts{tokens: "t.web=web,t.rtr=web:router,t.api=api", admin: "t.admin"}
	runCases(t, []tcase{{
		name:   "all fields",
		header: map[string]string{"Content-Type": ctNDJSON},
		body: []byte(`{"app":"web","msg":"hello \"world\"\n\u00e9\ud83d\ude00","time":"2026-11-25T20:29:46.5+01:00","source":"router","proc":"web.1","host":"h1","severity":"warning","extra":{"a":[1,2,{"b":null}]}}` + "\r\n" +
			"\n   \n" +
			`{"app":"web","msg":"two","severity":3}` + "\n" +
			`{"msg":"three","app":"api","severity":"CRIT","time":null}`),
		want: want{status: 204, msgs: 3, check: func(t *testing.T, msgs []sluice.Message) {
			m := msgs[0]
			wantTime := time.Date(2026, 11, 25, 19, 29, 46, 500000000, time.UTC)
			if m.App != "web" || m.Text != "hello \"world\"\né😀" || !m.Time.Equal(wantTime) || m.Source != "router" ||
				m.Proc != "web.1" || m.Host != "h1" || m.Severity != 4 || m.Facility != sluice.DefaultFacility {
				t.Fatalf("message 0 = %+v", m)
			}
			if msgs[1].Severity != 3 || msgs[1].Source != "app" || msgs[1].Time.IsZero() {
				t.Fatalf("message 1 = %+v", msgs[1])
			}
			if msgs[2].App != "api" || msgs[2].Severity != 2 {
				t.Fatalf("message 2 = %+v", msgs[2])
			}
		}},
	}, {
		name:   "invalid JSON on line 3",
		header: map[string]string{"Content-Type": "application/x-ndjson; charset=utf-8"},
		body:   []byte(`{"app":"web","msg":"one"}` + "\n" + `{"app":"web","msg":"two"}` + "\n" + `{"app":"web","msg":"thr` + "\n"),
		want: want{status: 400, msgs: 2, body: []string{"accepted 2 of 3 messages; line 3: invalid JSON"},
			rejected: map[string]float64{"malformed": 1}},
	}, {
		name:   "missing and mistyped fields",
		header: map[string]string{"Content-Type": ctNDJSON},
		body: []byte(`{"msg":"no app"}` + "\n" + `{"app":"web"}` + "\n" + `{"app":7,"msg":"x"}` + "\n" +
			`{"app":"web","msg":"x","time":"yesterday"}` + "\n" + `{"app":"web","msg":"x","severity":"loud"}` + "\n" +
			`{"app":"bad/app","msg":"x"}` + "\n" + `[1,2]` + "\n" + `{"app":"web","msg":"ok"}`),
		want: want{status: 400, msgs: 1,
			body: []string{"accepted 1 of 8 messages", `line 1: missing "app"`, `line 2: missing "msg"`,
				`line 3: "app" must be a string`, "line 4: invalid time", "line 5: invalid severity",
				"line 6: invalid app name", "line 7: invalid JSON"},
			rejected: map[string]float64{"malformed": 7}},
	}, {
		name:   "invalid UTF-8",
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   []byte(`{"app":"web","msg":"ok"}` + "\n" + "{\"app\":\"web\",\"msg\":\"\xc3\x28\"}"),
		want: want{status: 400, msgs: 1, body: []string{"line 2: invalid UTF-8"},
			rejected: map[string]float64{"invalid_utf8": 1}},
	}, {
		name:   "many errors are capped",
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   []byte(strings.Repeat("nope\n", 25) + `{"app":"web","msg":"ok"}`),
		want: want{status: 400, msgs: 1, body: []string{"accepted 1 of 26 messages", "line 10:", "; and 15 more"},
			rejected: map[string]float64{"malformed": 25}},
	}, {
		name:   "token's app; source is the token's",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctNDJSON, "Authorization": basic("t.rtr")},
		body:   []byte(`{"app":"web","msg":"one","source":"spoofed"}`),
		want: want{status: 204, msgs: 1, check: func(t *testing.T, msgs []sluice.Message) {
			if msgs[0].Source != "router" {
				t.Fatalf("source = %q, want router", msgs[0].Source)
			}
		}},
	}, {
		name:   "cross-app line is forbidden",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctNDJSON, "Authorization": "Bearer t.web"},
		body:   []byte(`{"app":"web","msg":"one"}` + "\n" + `{"app":"api","msg":"two"}`),
		want: want{status: 403, body: []string{`line 2: this token may not write to app "api"`},
			rejected: map[string]float64{"forbidden_app": 1}},
	}, {
		name:   "admin token cannot write",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctNDJSON, "Authorization": "Bearer t.admin"},
		body:   []byte(`{"app":"web","msg":"one"}`),
		want:   want{status: 403, body: []string{"admin"}, rejected: map[string]float64{"forbidden_app": 1}},
	}, {
		name:   "no token",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   []byte(`{"app":"web","msg":"one"}`),
		want: want{status: 401, header: map[string]string{"WWW-Authenticate": `Basic realm="sluice"`},
			rejected: map[string]float64{"unauthorized": 1}},
	}, {
		name:   "unknown token",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctNDJSON, "Authorization": basic("t.nope")},
		body:   []byte(`{"app":"web","msg":"one"}`),
		want: want{status: 401, header: map[string]string{"WWW-Authenticate": `Basic realm="sluice"`},
			rejected: map[string]float64{"unauthorized": 1}},
	}, {
		name:   "gzip",
		header: map[string]string{"Content-Type": ctNDJSON, "Content-Encoding": "gzip"},
		body:   gz(t, []byte(`{"app":"web","msg":"one"}`+"\n"+`{"app":"web","msg":"two"}`+"\n")),
		want:   want{status: 204, msgs: 2},
	}})
}

func TestText(t *testing.T) {
	tokOpts := serverOpts{tokens: "t.web=web,t.rtr=web:router"}
	runCases(t, []tcase{{
		name:   "lines",
		query:  "?app=web&source=worker&proc=run.1",
		header: map[string]string{"Content-Type": ctText},
		body:   []byte("one\r\ntwo\n\n  three  \n"),
		want: want{status: 204, msgs: 3, check: func(t *testing.T, msgs []sluice.Message) {
			for i, text := range []string{"one", "two", "  three  "} {
				m := msgs[i]
				if m.Text != text || m.App != "web" || m.Source != "worker" || m.Proc != "run.1" ||
					m.Severity != sluice.DefaultSeverity || m.Time.IsZero() {
					t.Fatalf("message %d = %+v", i, m)
				}
			}
		}},
	}, {
		name:   "missing app",
		header: map[string]string{"Content-Type": "text/plain"},
		body:   []byte("one\n"),
		want:   want{status: 400, body: []string{"?app="}, rejected: map[string]float64{"malformed": 1}},
	}, {
		name:   "invalid app",
		query:  "?app=a%20b",
		header: map[string]string{"Content-Type": "text/plain"},
		body:   []byte("one\n"),
		want:   want{status: 400, body: []string{"invalid app name"}, rejected: map[string]float64{"malformed": 1}},
	}, {
		name:   "invalid UTF-8 line",
		query:  "?app=web",
		header: map[string]string{"Content-Type": ctText},
		body:   []byte("one\nbad\xff\nthree"),
		want: want{status: 400, msgs: 2, body: []string{"accepted 2 of 3 messages; line 2: invalid UTF-8"},
			rejected: map[string]float64{"invalid_utf8": 1}},
	}, {
		name:   "truncation keeps UTF-8 whole",
		opts:   serverOpts{maxMessage: 128},
		query:  "?app=web",
		header: map[string]string{"Content-Type": ctText},
		body:   []byte(strings.Repeat("x", 127) + "€€\nshort\n"),
		want: want{status: 204, msgs: 2, rejected: map[string]float64{"truncated": 1},
			check: func(t *testing.T, msgs []sluice.Message) {
				if msgs[0].Text != strings.Repeat("x", 127) || msgs[1].Text != "short" {
					t.Fatalf("texts = %q, %q", msgs[0].Text, msgs[1].Text)
				}
			}},
	}, {
		name:   "token without ?app= writes to its app",
		opts:   tokOpts,
		header: map[string]string{"Content-Type": ctText, "Authorization": basic("t.rtr")},
		body:   []byte("one\n"),
		want: want{status: 204, msgs: 1, check: func(t *testing.T, msgs []sluice.Message) {
			if msgs[0].App != "web" || msgs[0].Source != "router" {
				t.Fatalf("message = %+v", msgs[0])
			}
		}},
	}, {
		name:   "token with another ?app=",
		opts:   tokOpts,
		query:  "?app=api",
		header: map[string]string{"Content-Type": ctText, "Authorization": "Bearer t.web"},
		body:   []byte("one\n"),
		want:   want{status: 403, body: []string{`app "api"`}, rejected: map[string]float64{"forbidden_app": 1}},
	}})
}

func TestRequestErrors(t *testing.T) {
	ndjson := []byte(`{"app":"web","msg":"one"}` + "\n")
	truncatedGzip := gz(t, bytes.Repeat([]byte(`{"app":"web","msg":"one"}`+"\n"), 200))
	truncatedGzip = truncatedGzip[:len(truncatedGzip)-10]
	corruptGzip := gz(t, bytes.Repeat(ndjson, 50))
	corruptGzip[len(corruptGzip)/2] ^= 0xff
	// 1 MiB of lines decompress far past the 64 KiB limit from a few KiB.
	bomb := gz(t, bytes.Repeat([]byte(`{"app":"web","msg":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`+"\n"), 1<<20/64))
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes compressed; it must pass the compressed-size check", len(bomb))
	}
	runCases(t, []tcase{{
		name:   "GET",
		method: http.MethodGet,
		want:   want{status: 405, header: map[string]string{"Allow": "POST"}},
	}, {
		name:   "unsupported content type",
		header: map[string]string{"Content-Type": "application/json"},
		body:   ndjson,
		want:   want{status: 415, rejected: map[string]float64{"unsupported_media_type": 1}},
	}, {
		name: "no content type",
		body: ndjson,
		want: want{status: 415, rejected: map[string]float64{"unsupported_media_type": 1}},
	}, {
		name:   "unsupported content encoding",
		header: map[string]string{"Content-Type": ctNDJSON, "Content-Encoding": "br"},
		body:   ndjson,
		want:   want{status: 415, body: []string{"Content-Encoding"}, rejected: map[string]float64{"unsupported_media_type": 1}},
	}, {
		name:   "empty body",
		header: map[string]string{"Content-Type": ctNDJSON},
		want:   want{status: 400, body: []string{"empty body"}, rejected: map[string]float64{"empty_body": 1}},
	}, {
		name:   "blank lines only",
		query:  "?app=web",
		header: map[string]string{"Content-Type": ctText},
		body:   []byte("\n\r\n\n"),
		want:   want{status: 400, body: []string{"empty body"}, rejected: map[string]float64{"empty_body": 1}},
	}, {
		name:   "empty gzip stream",
		header: map[string]string{"Content-Type": ctNDJSON, "Content-Encoding": "gzip"},
		body:   gz(t, nil),
		want:   want{status: 400, body: []string{"empty body"}, rejected: map[string]float64{"empty_body": 1}},
	}, {
		name:   "body too large",
		opts:   serverOpts{maxBody: 4096},
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   bytes.Repeat(ndjson, 4096/len(ndjson)+1),
		want:   want{status: 413, rejected: map[string]float64{"too_large": 1}},
	}, {
		name:   "body over the server's limit",
		opts:   serverOpts{maxBody: 4096, serverMaxBody: 4096},
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   bytes.Repeat(ndjson, 4096/len(ndjson)+1),
		want:   want{status: 413, rejected: map[string]float64{"too_large": 1}},
	}, {
		name:   "gzip bomb",
		header: map[string]string{"Content-Type": ctNDJSON, "Content-Encoding": "gzip"},
		body:   bomb,
		want:   want{status: 413, rejected: map[string]float64{"too_large": 1}},
	}, {
		name:   "truncated gzip",
		header: map[string]string{"Content-Type": ctNDJSON, "Content-Encoding": "gzip"},
		body:   truncatedGzip,
		want:   want{status: 400, body: []string{"bad_gzip"}, rejected: map[string]float64{"bad_gzip": 1}},
	}, {
		name:   "corrupt gzip",
		header: map[string]string{"Content-Type": ctNDJSON, "Content-Encoding": "gzip"},
		body:   corruptGzip,
		want:   want{status: 400, body: []string{"bad_gzip"}, rejected: map[string]float64{"bad_gzip": 1}},
	}, {
		name:   "not gzip at all",
		header: map[string]string{"Content-Type": ctNDJSON, "Content-Encoding": "gzip"},
		body:   ndjson,
		want:   want{status: 400, body: []string{"bad_gzip"}, rejected: map[string]float64{"bad_gzip": 1}},
	}, {
		name:   "backpressure",
		opts:   serverOpts{publishErr: sluice.ErrBackpressure},
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   ndjson,
		want: want{status: 429, header: map[string]string{"Retry-After": "1"},
			rejected: map[string]float64{"backpressure": 1}},
	}, {
		name:   "backpressure with a bad line accepts nothing",
		opts:   serverOpts{publishErr: fmt.Errorf("publish: %w", sluice.ErrBackpressure)},
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   append([]byte("nope\n"), ndjson...),
		want: want{status: 429, header: map[string]string{"Retry-After": "1"},
			rejected: map[string]float64{"backpressure": 1}},
	}, {
		name:   "router closed",
		opts:   serverOpts{publishErr: sluice.ErrClosed},
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   ndjson,
		want:   want{status: 503, header: map[string]string{"Retry-After": "1"}, rejected: map[string]float64{"closed": 1}},
	}, {
		name:   "publish fails otherwise",
		opts:   serverOpts{publishErr: errors.New("disk on fire")},
		header: map[string]string{"Content-Type": ctNDJSON},
		body:   ndjson,
		want:   want{status: 500},
	}})
}

// TestConcurrentRequests checks that pooled per-request state is not shared
// between requests in flight.
func TestConcurrentRequests(t *testing.T) {
	s := startServer(t, serverOpts{})
	const clients, perClient = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				var body strings.Builder
				for j := range 20 {
					fmt.Fprintf(&body, `{"app":"app%d","msg":"c%d r%d m%d \u00e9"}`+"\n", c, c, i, j)
				}
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/logs", strings.NewReader(body.String()))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Content-Type", ctNDJSON)
				resp, err := s.client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 204 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	msgs := s.pub.got()
	if len(msgs) != clients*perClient*20 {
		t.Fatalf("published %d, want %d", len(msgs), clients*perClient*20)
	}
	next := map[string]int{} // per app: the next message number expected
	for _, m := range msgs {
		var c, r, j int
		if _, err := fmt.Sscanf(m.Text, "c%d r%d m%d é", &c, &r, &j); err != nil || m.App != fmt.Sprintf("app%d", c) {
			t.Fatalf("message %+v: mixed up (%v)", m, err)
		}
		if n := r*20 + j; n != next[m.App] {
			t.Fatalf("app %s: message %d out of order, want %d", m.App, n, next[m.App])
		}
		next[m.App]++
	}
}

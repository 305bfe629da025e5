package httpdrain_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/sluice-logs/sluice/internal/eventually"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/draintest"
	"github.com/sluice-logs/sluice/drains/httpdrain"
)

// open parses raw the way drains/open does and builds the drain.
func open(t testing.TB, raw string) (*httpdrain.Drain, drains.Options) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	opts, rest, err := drains.ParseOptions(u.Query())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := httpdrain.ParseURL(u, rest)
	if err != nil {
		t.Fatalf("ParseURL(%s): %v", raw, err)
	}
	if cfg.Token == "" {
		cfg.Token = "test"
	}
	d, err := httpdrain.New(cfg, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d, opts
}

func worker(t testing.TB, raw string, notify func(sluice.Message)) *drains.Worker {
	t.Helper()
	d, opts := open(t, raw)
	return drains.NewWorker(drains.WorkerConfig{
		Name: "test", Kind: "http", URL: drains.RedactString(raw), Drain: d, Options: opts,
		Metrics: drains.NewMetrics(prometheus.NewRegistry()), Notify: notify,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
	})
}

func msgs(app string, from, n int) []sluice.Message {
	out := make([]sluice.Message, n)
	for i := range out {
		out[i] = sluice.Message{
			Time: time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC).Add(time.Duration(from+i) * time.Microsecond),
			App:  app, Source: "app", Proc: "web.1", Host: "h1",
			Text: fmt.Sprintf("%s %d", app, from+i), Facility: 1, Severity: 6,
		}
	}
	return out
}

func texts(ms []sluice.Message) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(m.Text)
	}
	return b.String()
}

func stop(t testing.TB, w *drains.Worker) drains.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := w.Stop(ctx)
	if s := w.Status(); !s.Balanced() {
		t.Fatalf("accounting broken after Stop: %+v", s)
	}
	return r
}

func send(t *testing.T, d drains.Drain, batch []sluice.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Send(ctx, batch)
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw     string
		reqURL  string
		format  httpdrain.Format
		gzip    bool
		token   string
		user    string
		wantErr string
	}{
		{raw: "http://h:8080", reqURL: "http://h:8080/"},
		{raw: "https://u:p@h/logs?format=ndjson&gzip=1&drain_token=d.123&batch=5&api_key=k&apps=web",
			reqURL: "https://h/logs?api_key=k", format: httpdrain.FormatNDJSON, gzip: true, token: "d.123", user: "u"},
		{raw: "HTTP://h/x?gzip=false", reqURL: "http://h/x", gzip: false},
		{raw: "http://h/?format=logplex", reqURL: "http://h/", format: httpdrain.FormatLogplex},
		{raw: "http://h/?format=RFC5424", reqURL: "http://h/", format: httpdrain.FormatRFC5424},
		{raw: "http://h?format=xml&gzip=maybe", wantErr: `format="xml"`},
		{raw: "http://:80/", wantErr: "missing host"},
		{raw: "ftp://h/", wantErr: "scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			u, err := url.Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			_, rest, err := drains.ParseOptions(u.Query())
			if err != nil {
				t.Fatal(err)
			}
			c, err := httpdrain.ParseURL(u, rest)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURL error %v, want one mentioning %q", err, tc.wantErr)
				}
				if strings.Contains(tc.raw, "gzip=maybe") && !strings.Contains(err.Error(), "gzip") {
					t.Fatalf("error %v does not report every problem", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.URL.String() != tc.reqURL || c.Format != tc.format || c.Gzip != tc.gzip || c.Token != tc.token || c.User != tc.user {
				t.Fatalf("ParseURL = %+v (url %s)", c, c.URL)
			}
			if strings.Contains(c.Redacted, ":p@") {
				t.Fatalf("Redacted %q shows the password", c.Redacted)
			}
		})
	}
}

func TestLogplexRequest(t *testing.T) {
	s := newSink(t, nil)
	u, _ := url.Parse(s.URL())
	raw := "http://alice:s3cret@" + u.Host + "/logs?x=1&drain_token=d.abc"
	d, _ := open(t, raw)
	defer d.Close(context.Background())
	batch := msgs("web", 0, 3)
	batch[1].Text = "with spaces and ünïcode and a newline\ninside"
	batch[2].MsgID, batch[2].StructuredData = "ID7", `[meta a="1"]`
	if err := send(t, d, batch); err != nil {
		t.Fatal(err)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	h := reqs[0].header
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	for k, want := range map[string]string{
		"Content-Type":        "application/logplex-1",
		"Logplex-Msg-Count":   "3",
		"Logplex-Drain-Token": "d.abc",
		"Authorization":       wantAuth,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "sluice/") || h.Get("Logplex-Frame-Id") == "" {
		t.Errorf("User-Agent %q, Frame-Id %q", h.Get("User-Agent"), h.Get("Logplex-Frame-Id"))
	}
	got := reqs[0].msgs
	for i := range batch {
		w, g := batch[i], got[i]
		if g.App != w.App || g.Text != w.Text || g.Proc != w.Proc || g.Host != w.Host || !g.Time.Equal(w.Time) ||
			g.Severity != w.Severity || g.Facility != w.Facility || g.MsgID != w.MsgID {
			t.Errorf("frame %d parsed back as %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(string(reqs[0].body), `ID7 [meta a="1"] web 2`) {
		t.Errorf("structured data not framed: %q", reqs[0].body)
	}
}

func TestNDJSONAndGzip(t *testing.T) {
	for _, tc := range []struct{ query, encoding string }{
		{"format=ndjson", ""},
		{"format=ndjson&gzip=1", "gzip"},
		{"gzip=1", "gzip"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			s := newSink(t, nil)
			d, _ := open(t, s.URL()+"/?"+tc.query)
			defer d.Close(context.Background())
			batch := msgs("web", 0, 50)
			batch[3].Text = "quote \" backslash \\ tab \t ctl \x01 end"
			if strings.Contains(tc.query, "ndjson") {
				batch[3].Text += " bad utf8 \xff" // Text is valid UTF-8 by contract; NDJSON copes anyway
			}
			batch[4].Source = ""
			if err := send(t, d, batch); err != nil {
				t.Fatal(err)
			}
			reqs := s.requests()
			if len(reqs) != 1 || reqs[0].header.Get("Content-Encoding") != tc.encoding {
				t.Fatalf("%d requests, Content-Encoding %q", len(reqs), reqs[0].header.Get("Content-Encoding"))
			}
			got := reqs[0].msgs
			if len(got) != 50 {
				t.Fatalf("%d messages, want 50", len(got))
			}
			if strings.Contains(tc.query, "ndjson") {
				if want := "quote \" backslash \\ tab \t ctl \x01 end bad utf8 \ufffd"; got[3].Text != want {
					t.Fatalf("text %q, want %q", got[3].Text, want)
				}
				if got[4].Source != "app" || got[0].Proc != "web.1" || !got[0].Time.Equal(batch[0].Time) {
					t.Fatalf("decoded %+v", got[:5])
				}
			}
		})
	}
}

func TestStatusClassification(t *testing.T) {
	date := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		status     int
		retryAfter string
		permanent  bool
		ok         bool
		after      time.Duration // minimum RetryAfter, 0: none
	}{
		{status: 200, ok: true},
		{status: 204, ok: true},
		{status: 500},
		{status: 503, retryAfter: "2", after: 2 * time.Second},
		{status: 429, retryAfter: date, after: time.Second},
		{status: 408},
		{status: 400, permanent: true},
		{status: 401, permanent: true},
		{status: 404, permanent: true},
		{status: 301, permanent: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status, tc.retryAfter), func(t *testing.T) {
			s := newSink(t, func(n int, w http.ResponseWriter) int {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				if tc.status == 301 {
					w.Header().Set("Location", "/elsewhere")
				}
				return tc.status
			})
			d, _ := open(t, s.URL())
			defer d.Close(context.Background())
			err := send(t, d, msgs("web", 0, 1))
			if tc.ok != (err == nil) || drains.IsPermanent(err) != tc.permanent {
				t.Fatalf("status %d: err %v (permanent %v)", tc.status, err, drains.IsPermanent(err))
			}
			var ra *drains.RetryAfter
			if got := errors.As(err, &ra); got != (tc.after > 0) || (got && ra.After < tc.after-time.Second) {
				t.Fatalf("status %d: RetryAfter %v, want at least %s", tc.status, ra, tc.after)
			}
		})
	}
}

func TestConnectionErrorsAreRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d, _ := open(t, "http://"+addr+"/?timeout=2s")
	defer d.Close(context.Background())
	err = send(t, d, msgs("web", 0, 1))
	if err == nil || drains.IsPermanent(err) {
		t.Fatalf("send to a closed port: %v, want a retryable error", err)
	}
	if err := d.Check(context.Background()); err == nil {
		t.Fatal("Check of a closed port succeeded")
	}
}

// TestWorkerRetriesKeepFrameID: 5xx then 429 with Retry-After, then 204;
// every attempt carries the same Logplex-Frame-Id.
func TestWorkerRetriesKeepFrameID(t *testing.T) {
	s := newSink(t, func(n int, w http.ResponseWriter) int {
		switch n {
		case 1:
			return http.StatusBadGateway
		case 2:
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return http.StatusNoContent
	})
	w := worker(t, s.URL()+"/?batch=5&flush=10ms", nil)
	w.Start()
	start := time.Now()
	if err := w.Enqueue(context.Background(), msgs("web", 0, 5)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "delivery after two failures", func() bool { return w.Status().Delivered == 5 })
	if time.Since(start) < time.Second {
		t.Fatal("Retry-After: 1 was not honoured")
	}
	reqs := s.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	id := reqs[0].header.Get("Logplex-Frame-Id")
	for i, r := range reqs {
		if got := r.header.Get("Logplex-Frame-Id"); got != id || texts(r.msgs) != texts(msgs("web", 0, 5)) {
			t.Fatalf("attempt %d: frame id %q (first %q), messages %s", i+1, got, id, texts(r.msgs))
		}
	}
	st := w.Status()
	if st.Retries != 2 || st.State != drains.StateUp || st.LastDelivery.IsZero() {
		t.Fatalf("status %+v", st)
	}
	if r := stop(t, w); r.Delivered != 5 {
		t.Fatalf("report %+v", r)
	}
	// A new batch gets a new Frame-Id.
}

func TestWorkerPermanentCounted(t *testing.T) {
	s := newSink(t, func(n int, w http.ResponseWriter) int {
		if n == 1 {
			return http.StatusForbidden
		}
		return http.StatusNoContent
	})
	w := worker(t, s.URL()+"/?batch=4&flush=10ms", nil)
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("web", 0, 4)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "the refused batch", func() bool { return w.Status().Dropped[drains.ReasonPermanent] == 4 })
	if err := w.Enqueue(context.Background(), msgs("web", 4, 2)); err != nil {
		t.Fatal(err)
	}
	r := stop(t, w)
	if r.Delivered != 2 || r.Dropped[drains.ReasonPermanent] != 4 || len(s.requests()) != 2 {
		t.Fatalf("report %+v, %d requests", r, len(s.requests()))
	}
	if st := w.Status(); !strings.Contains(st.LastError, "403") {
		t.Fatalf("last error %q", st.LastError)
	}
}

// TestWorkerEndpointDownThenUp: nothing listens at first; the worker
// retries, then the endpoint appears and gets everything, in order.
func TestWorkerEndpointDownThenUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	w := worker(t, "http://user:pw@"+addr+"/?batch=10&flush=10ms&policy=block&queue=100", nil)
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("web", 0, 30)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "failing attempts", func() bool { return w.Status().Retries >= 2 })
	st := w.Status()
	if st.State == drains.StateUp || st.LastError == "" || strings.Contains(st.LastError, "pw") {
		t.Fatalf("status while down: %+v", st)
	}
	s := &sink{t: t}
	startOn(t, s, addr)
	eventually.True(t, "delivery once up", func() bool { return w.Status().Delivered == 30 })
	if got, want := texts(s.delivered()), texts(msgs("web", 0, 30)); got != want {
		t.Fatalf("delivered %s, want %s", got, want)
	}
	if st := w.Status(); st.State != drains.StateUp {
		t.Fatalf("state %q after recovery", st.State)
	}
	stop(t, w)
}

// TestWorkerEndpointDiesAndReturns: the endpoint goes away mid-stream
// (kept-alive connections included) and comes back on the same address;
// with policy=block nothing is lost and order is kept.
func TestWorkerEndpointDiesAndReturns(t *testing.T) {
	s1 := newSink(t, nil)
	addr := s1.srv.Listener.Addr().String()
	w := worker(t, s1.URL()+"/?batch=5&flush=5ms&policy=block&queue=20", nil)
	w.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Enqueue(ctx, msgs("web", 0, 10)); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, "first deliveries", func() bool { return w.Status().Delivered == 10 })
	s1.srv.Close()

	done := make(chan error, 1)
	go func() { done <- w.Enqueue(ctx, msgs("web", 10, 60)) }() // blocks once 20 are queued
	eventually.True(t, "failures while down", func() bool { return w.Status().Retries >= 1 })
	if s := w.Status(); !s.Balanced() {
		t.Fatalf("accounting while down: %+v", s)
	}
	s2 := &sink{t: t}
	startOn(t, s2, addr)
	if err := <-done; err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	r := stop(t, w)
	all := append(s1.delivered(), s2.delivered()...)
	if r.Delivered != 70 || texts(all) != texts(msgs("web", 0, 70)) {
		t.Fatalf("report %+v; delivered %s", r, texts(all))
	}
}

// TestWorkerSlowEndpointDropsOldest: with policy=drop a stuck endpoint
// costs the oldest queued messages, and the next delivery starts with the
// L10 line (which Notify sees too).
func TestWorkerSlowEndpointDropsOldest(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := newSink(t, func(n int, w http.ResponseWriter) int {
		if n == 1 {
			entered <- struct{}{}
			<-release
		}
		return http.StatusNoContent
	})
	var mu sync.Mutex
	var notes []sluice.Message
	w := worker(t, s.URL()+"/?batch=5&flush=5ms&queue=10&timeout=30s", func(m sluice.Message) {
		mu.Lock()
		notes = append(notes, m)
		mu.Unlock()
	})
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("web", 0, 5)); err != nil {
		t.Fatal(err)
	}
	<-entered // the first batch is stuck at the endpoint
	for i := 5; i < 40; i += 5 {
		if err := w.Enqueue(context.Background(), msgs("web", i, 5)); err != nil {
			t.Fatal(err)
		}
		if st := w.Status(); !st.Balanced() {
			t.Fatalf("accounting: %+v", st)
		}
	}
	st := w.Status()
	if st.QueueMessages != 10 || st.Dropped[drains.ReasonQueueFull] != 30 {
		t.Fatalf("status %+v: want 10 queued, 30 dropped", st)
	}
	close(release)
	r := stop(t, w)
	got := s.delivered()
	if r.Delivered != 10 || len(got) != 11 {
		t.Fatalf("report %+v, delivered %s", r, texts(got))
	}
	if texts(got[:5]) != texts(msgs("web", 0, 5)) || texts(got[6:]) != texts(msgs("web", 35, 5)) {
		t.Fatalf("delivered %s", texts(got))
	}
	l10 := got[5]
	if !strings.HasPrefix(l10.Text, "Error L10 (output buffer overflow): 30 messages dropped since ") || l10.App != "web" || l10.Proc != "drain.test" {
		t.Fatalf("L10 line %+v", l10)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notes) != 1 || notes[0].Text != l10.Text {
		t.Fatalf("Notify saw %v", notes)
	}
}

// TestWorkerSlowEndpointBlockLosesNothing: a bounded producer against a
// slow endpoint with policy=block.
func TestWorkerSlowEndpointBlockLosesNothing(t *testing.T) {
	var slow sync.Mutex
	s := newSink(t, func(n int, w http.ResponseWriter) int {
		slow.Lock() // serialise; each request is slow only in the sense of one at a time
		defer slow.Unlock()
		if n%3 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	w := worker(t, s.URL()+"/?batch=7&flush=2ms&queue=15&policy=block", nil)
	w.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 300
	var wg sync.WaitGroup
	for p := 0; p < 3; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := fmt.Sprintf("app%d", p)
			for i := 0; i < n; i += 10 {
				if err := w.Enqueue(ctx, msgs(app, i, 10)); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
				if st := w.Status(); !st.Balanced() || st.QueueMessages > 15 {
					t.Errorf("status %+v", st)
					return
				}
			}
		}()
	}
	wg.Wait()
	r := stop(t, w)
	if r.Delivered != 3*n || r.Received != 3*n {
		t.Fatalf("report %+v, want %d delivered", r, 3*n)
	}
	per := map[string][]sluice.Message{}
	for _, m := range s.delivered() {
		per[m.App] = append(per[m.App], m)
	}
	for p := 0; p < 3; p++ {
		app := fmt.Sprintf("app%d", p)
		if texts(per[app]) != texts(msgs(app, 0, n)) {
			t.Fatalf("%s: order or content broken", app)
		}
	}
}

func TestConformance(t *testing.T) {
	s := newSink(t, nil)
	draintest.Run(t, draintest.Harness{
		New: func(t *testing.T) drains.Drain {
			d, _ := open(t, s.URL()+"/?timeout=5s")
			return d
		},
		Read: func(t *testing.T, ctx context.Context) []sluice.Message {
			return s.delivered()
		},
	})
}

// BenchmarkWorkerHTTP measures a Worker and the HTTP drain posting Logplex
// batches to a counting httptest server on loopback.
func BenchmarkWorkerHTTP(b *testing.B) {
	for _, q := range []string{"", "format=ndjson", "gzip=1"} {
		b.Run("q="+q, func(b *testing.B) {
			s := newSink(b, nil)
			s.count = true
			w := worker(b, s.URL()+"/?policy=block&"+q, nil)
			w.Start()
			batch := msgs("web", 0, 100)
			for i := range batch {
				batch[i].Text += " GET /index.html 200 1234 bytes in 3ms from 10.0.0.1 user agent curl/8.5"
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := w.Enqueue(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			r := w.Stop(sctx)
			cancel()
			b.StopTimer()
			if r.Delivered != uint64(b.N*len(batch)) {
				b.Fatalf("delivered %d of %d", r.Delivered, b.N*len(batch))
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func TestHTTPS(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Logplex-Msg-Count"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := httpdrain.ParseURL(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	d, err := httpdrain.New(cfg, drains.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if err := d.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := send(t, d, msgs("web", 0, 2)); err != nil {
		t.Fatalf("Send over TLS: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "2" {
		t.Fatalf("server saw %q", got)
	}
}

// TestSendReturnsWhenCtxEnds: a request stuck at the endpoint does not hold
// Send past ctx; Close waits for it under its own ctx.
func TestSendReturnsWhenCtxEnds(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	s := newSink(t, func(n int, w http.ResponseWriter) int {
		entered <- struct{}{}
		<-release
		return http.StatusNoContent
	})
	d, _ := open(t, s.URL()+"/?timeout=1m")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Send(ctx, msgs("web", 0, 1)) }()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if err := d.Close(short); err == nil {
		t.Fatal("Close returned nil with a request still running")
	}
	close(release)
	if err := d.Close(context.Background()); err != nil {
		t.Fatalf("Close after the request ended: %v", err)
	}
}

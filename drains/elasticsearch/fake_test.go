package elasticsearch

import (
	"bufio"
	"context"
	"encoding/json"
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
)

// fakeES is a real HTTP server on loopback that speaks the bulk protocol
// and answers each item by the first word of its message:
//
//	ok     200/201
//	bad    400 mapper_parsing_exception, every time
//	busy   429 es_rejected_execution_exception on the first attempt
//	flaky  503 unavailable_shards_exception on the first attempt
//
// Whole-request answers queued in next are served first, one per request.
type fakeES struct {
	t       *testing.T
	srv     *httptest.Server
	user    string
	pass    string
	product string // X-Elastic-Product; "" sends none

	mu        sync.Mutex
	next      []cannedResponse
	requests  int
	attempts  map[string]int // message text: bulk items seen
	delivered map[string]int // message text: 2xx answers given
	indexes   map[string]string
	ops       map[string]string
	paths     []string
}

type cannedResponse struct {
	status int
	header http.Header
	body   string
}

func newFakeES(t *testing.T) *fakeES {
	f := &fakeES{
		t: t, user: "writer", pass: "pw", product: "Elasticsearch",
		attempts: map[string]int{}, delivered: map[string]int{},
		indexes: map[string]string{}, ops: map[string]string{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// config returns a drain config pointing at the fake under base path /es.
func (f *fakeES) config(t *testing.T, query string) Config {
	u, _ := url.Parse(f.srv.URL)
	return mustConfig(t, "elasticsearch://"+f.user+":"+f.pass+"@"+u.Host+"/es?"+query)
}

func (f *fakeES) push(r ...cannedResponse) {
	f.mu.Lock()
	f.next = append(f.next, r...)
	f.mu.Unlock()
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	if f.product != "" {
		w.Header().Set("X-Elastic-Product", f.product)
	}
	if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.pass {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user"},"status":401}`)
		return
	}
	if len(f.next) > 0 {
		c := f.next[0]
		f.next = f.next[1:]
		for k, v := range c.header {
			w.Header()[k] = v
		}
		w.WriteHeader(c.status)
		fmt.Fprint(w, c.body)
		return
	}
	switch {
	case r.Method == http.MethodHead && r.URL.Path == "/es/":
		return
	case r.Method == http.MethodPost && r.URL.Path == "/es/_bulk":
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/") {
		f.t.Errorf("bulk content type %q", ct)
	}
	type item map[string]any
	var items []map[string]item
	errorsSeen := false
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			f.t.Errorf("bad action line %q: %v", sc.Text(), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var op, index string
		for k, v := range action {
			op, index = k, v.Index
		}
		if !sc.Scan() {
			f.t.Errorf("action without a document")
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var doc struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			f.t.Errorf("bad document line %q: %v", sc.Text(), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.attempts[doc.Message]++
		first := f.attempts[doc.Message] == 1
		it := item{"_index": index, "_id": fmt.Sprint(f.requests, len(items))}
		word, _, _ := strings.Cut(doc.Message, " ")
		switch {
		case word == "bad":
			it["status"] = 400
			it["error"] = map[string]any{
				"type":   "mapper_parsing_exception",
				"reason": "failed to parse field [message] of type [long] in document",
				"caused_by": map[string]any{
					"type": "illegal_argument_exception", "reason": "For input string: \"x\"",
				},
			}
		case word == "busy" && first:
			it["status"] = 429
			it["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation"}
		case word == "flaky" && first:
			it["status"] = 503
			it["error"] = map[string]any{"type": "unavailable_shards_exception", "reason": "primary shard is not active"}
		default:
			it["status"] = 201
			it["result"] = "created"
			f.delivered[doc.Message]++
			f.indexes[doc.Message] = index
			f.ops[doc.Message] = op
		}
		if it["status"] != 201 {
			errorsSeen = true
		}
		items = append(items, map[string]item{op: it})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errorsSeen, "items": items})
}

func (f *fakeES) count(m map[string]int, text string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[text]
}

func msgs(texts ...string) []sluice.Message {
	out := make([]sluice.Message, len(texts))
	for i, s := range texts {
		out[i] = sluice.Message{Time: docTime, App: "web", Source: "app", Text: s, Facility: 1, Severity: 6}
	}
	return out
}

func newDrain(t *testing.T, cfg Config) *Drain {
	t.Helper()
	d, err := New(cfg, drains.Options{}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func sendCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBulkItemStatuses(t *testing.T) {
	f := newFakeES(t)
	d := newDrain(t, f.config(t, "index=logs-{app}&op=create"))
	batch := msgs("ok 0", "bad 1", "busy 2", "flaky 3", "ok 4")
	err := d.Send(sendCtx(t), batch)
	var be *drains.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Send: %v, want a *drains.BatchError", err)
	}
	if len(be.Failed) != 3 {
		t.Fatalf("failed items %v, want 1, 2 and 3", be.Failed)
	}
	tests := []struct {
		i         int
		permanent bool
		reason    string
	}{
		{1, true, `400 mapper_parsing_exception: failed to parse field [message] of type [long] in document (caused by illegal_argument_exception: For input string: "x")`},
		{2, false, "429 es_rejected_execution_exception: rejected execution"},
		{3, false, "503 unavailable_shards_exception: primary shard is not active"},
	}
	for _, tt := range tests {
		t.Run(batch[tt.i].Text, func(t *testing.T) {
			e := be.Failed[tt.i]
			if e == nil {
				t.Fatalf("item %d not failed", tt.i)
			}
			if drains.IsPermanent(e) != tt.permanent {
				t.Fatalf("item %d: %v, permanent %v, want %v", tt.i, e, drains.IsPermanent(e), tt.permanent)
			}
			if !strings.Contains(e.Error(), tt.reason) || !strings.Contains(e.Error(), `"logs-web"`) {
				t.Fatalf("item %d: %q, want the index and %q", tt.i, e, tt.reason)
			}
		})
	}
	// The Worker retries the retryable ones alone.
	if err := d.Send(sendCtx(t), []sluice.Message{batch[2], batch[3]}); err != nil {
		t.Fatalf("retry of the 429 and 503 items: %v", err)
	}
	for _, text := range []string{"ok 0", "busy 2", "flaky 3", "ok 4"} {
		if n := f.count(f.delivered, text); n != 1 {
			t.Errorf("%q delivered %d times, want once", text, n)
		}
		if op := f.ops[text]; op != "create" {
			t.Errorf("%q sent with op %q, want create", text, op)
		}
	}
	if n := f.count(f.delivered, "bad 1"); n != 0 {
		t.Errorf("bad item delivered %d times", n)
	}
	if got := f.paths[0]; got != "POST /es/_bulk" {
		t.Errorf("request %q, want POST /es/_bulk (base path kept)", got)
	}
}

func TestRequestErrors(t *testing.T) {
	esErr := func(status int, typ, reason string) string {
		return fmt.Sprintf(`{"error":{"root_cause":[],"type":%q,"reason":%q},"status":%d}`, typ, reason, status)
	}
	tests := []struct {
		name       string
		resp       cannedResponse
		permanent  bool
		retryAfter time.Duration // >0: want a *drains.RetryAfter
		batchErr   bool
		want       string
	}{
		{name: "429 with Retry-After", resp: cannedResponse{429, http.Header{"Retry-After": {"7"}}, esErr(429, "es_rejected_execution_exception", "queue full")},
			retryAfter: 7 * time.Second, want: "429 Too Many Requests: es_rejected_execution_exception: queue full"},
		{name: "503 without Retry-After", resp: cannedResponse{503, nil, esErr(503, "cluster_block_exception", "blocked")}, want: "503 Service Unavailable: cluster_block_exception: blocked"},
		{name: "502 from a proxy", resp: cannedResponse{502, nil, "<html>bad gateway</html>"}, want: "502 Bad Gateway: <html>bad gateway</html>"},
		{name: "401", resp: cannedResponse{401, nil, esErr(401, "security_exception", "missing authentication credentials")}, permanent: true, want: "401 Unauthorized: security_exception"},
		{name: "403", resp: cannedResponse{403, nil, esErr(403, "security_exception", "action [indices:data/write/bulk] is unauthorized")}, permanent: true, want: "is unauthorized"},
		{name: "404", resp: cannedResponse{404, nil, ""}, permanent: true, want: "404 Not Found"},
		{name: "400", resp: cannedResponse{400, nil, esErr(400, "illegal_argument_exception", "Malformed action/metadata line")}, permanent: true, want: "illegal_argument_exception: Malformed"},
		{name: "413", resp: cannedResponse{413, nil, ""}, permanent: true, want: "413 Request Entity Too Large"},
		{name: "200 not json", resp: cannedResponse{200, nil, "hello"}, want: "decode response"},
		{name: "200 top-level error (zinc)", resp: cannedResponse{200, nil, `{"took":0,"errors":false,"error":"index full","items":[{"index":{"status":200}}]}`}, want: "server error"},
		{name: "200 too many items", resp: cannedResponse{200, nil, `{"items":[{"index":{"status":200}},{"index":{"status":200}},{"index":{"status":200}}]}`}, want: "3 items in the response to a batch of 2"},
		{name: "200 missing item", resp: cannedResponse{200, nil, `{"items":[{"index":{"status":201}}]}`}, batchErr: true, want: "no result for the item"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeES(t)
			f.push(tt.resp)
			d := newDrain(t, f.config(t, ""))
			err := d.Send(sendCtx(t), msgs("ok 1", "ok 2"))
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if drains.IsPermanent(err) != tt.permanent {
				t.Fatalf("%v: permanent %v, want %v", err, drains.IsPermanent(err), tt.permanent)
			}
			var ra *drains.RetryAfter
			if got := errors.As(err, &ra); got != (tt.retryAfter > 0) || (got && ra.After != tt.retryAfter) {
				t.Fatalf("%v: RetryAfter %v, want %s", err, ra, tt.retryAfter)
			}
			var be *drains.BatchError
			if errors.As(err, &be) != tt.batchErr {
				t.Fatalf("%v: batch error %v, want %v", err, be != nil, tt.batchErr)
			}
			if tt.batchErr {
				if len(be.Failed) != 1 || be.Failed[1] == nil || drains.IsPermanent(be.Failed[1]) {
					t.Fatalf("failed %v, want item 1 retryable", be.Failed)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), f.pass+"@") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	f := newFakeES(t)
	cfg := f.config(t, "")
	cfg.Password = "wrong"
	d := newDrain(t, cfg)
	err := d.Send(sendCtx(t), msgs("ok 1"))
	if !drains.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Send with a wrong password: %v, want a permanent 401", err)
	}
	if err := d.Check(sendCtx(t)); !drains.IsPermanent(err) {
		t.Fatalf("Check with a wrong password: %v, want a permanent error", err)
	}
}

func TestProductHeader(t *testing.T) {
	tests := []struct {
		name    string
		product string
		wantErr bool
	}{
		{"elasticsearch", "Elasticsearch", false},
		{"missing is tolerated", "", false},
		{"another product is refused", "Lookalike", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeES(t)
			f.product = tt.product
			d := newDrain(t, f.config(t, ""))
			err := d.Send(sendCtx(t), msgs("ok 1"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send: %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestServerDown(t *testing.T) {
	addr := freeAddr(t)
	d := newDrain(t, mustConfig(t, "elasticsearch://"+addr))
	err := d.Send(sendCtx(t), msgs("ok 1"))
	var be *drains.BatchError
	if err == nil || drains.IsPermanent(err) || errors.As(err, &be) {
		t.Fatalf("Send to a closed port: %v, want a retryable whole-batch error", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Fatalf("error %q does not name %s", err, addr)
	}
	if err := d.Check(sendCtx(t)); err == nil || drains.IsPermanent(err) {
		t.Fatalf("Check of a closed port: %v, want a retryable error", err)
	}
}

func TestCheck(t *testing.T) {
	f := newFakeES(t)
	d := newDrain(t, f.config(t, ""))
	if err := d.Check(sendCtx(t)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	f.push(cannedResponse{status: 403})
	if err := d.Check(sendCtx(t)); err != nil {
		t.Fatalf("Check answered 403 (no monitor privilege): %v, want nil", err)
	}
	f.push(cannedResponse{status: 503})
	if err := d.Check(sendCtx(t)); err == nil || drains.IsPermanent(err) {
		t.Fatalf("Check answered 503: %v, want a retryable error", err)
	}
	if err := d.Close(sendCtx(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Send(sendCtx(t), msgs("ok 1")); !drains.IsPermanent(err) {
		t.Fatalf("Send after Close: %v, want a permanent error", err)
	}
}

// freeAddr returns a loopback address nothing listens on (until someone
// takes the port).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestWorkerAccounting runs a drains.Worker against the fake through every
// fault at once: the server is down at start, then refuses the first
// request with 429 and Retry-After, then answers items with 429, 503 and
// 400. The accounting equation must hold, every good message must arrive
// exactly once and every bad one be dropped as permanent.
func TestWorkerAccounting(t *testing.T) {
	addr := freeAddr(t)
	f := &fakeES{
		t: t, user: "writer", pass: "pw", product: "Elasticsearch",
		attempts: map[string]int{}, delivered: map[string]int{},
		indexes: map[string]string{}, ops: map[string]string{},
	}
	d := newDrain(t, mustConfig(t, "elasticsearch://writer:pw@"+addr+"/es?index=logs-{app}"))
	w := drains.NewWorker(drains.WorkerConfig{
		Name: "es", Kind: "elasticsearch", URL: drains.Redact(d.cfg.URL), Drain: d,
		Options: drains.Options{
			Queue: 1000, QueueBytes: 1 << 20, Batch: 25, BatchBytes: 1 << 20,
			Flush: 20 * time.Millisecond, Timeout: 10 * time.Second,
		},
		Metrics:    drains.NewMetrics(prometheus.NewRegistry()),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	w.Start()
	const n = 200
	words := []string{"ok", "busy", "ok", "flaky", "bad", "ok", "ok"}
	var texts []string
	wantBad := 0
	for i := 0; i < n; i++ {
		word := words[i%len(words)]
		if word == "bad" {
			wantBad++
		}
		texts = append(texts, fmt.Sprintf("%s %d", word, i))
	}
	for i := 0; i < n; i += 10 {
		if err := w.Enqueue(context.Background(), msgs(texts[i:i+10]...)); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	// Wait until the worker has failed against the dead address, then
	// bring the server up there.
	eventually.True(t, "a failed attempt", func() bool { return w.Status().LastError != "" })
	if s := w.Status(); !s.Balanced() || s.Delivered != 0 {
		t.Fatalf("status while down %+v: want balanced, nothing delivered", s)
	}
	f.push(cannedResponse{429, http.Header{"Retry-After": {"1"}}, `{"error":{"type":"es_rejected_execution_exception","reason":"busy"},"status":429}`})
	var ln net.Listener
	eventually.True(t, "the port to be free again", func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	f.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(f.serve)}}
	f.srv.Start()
	t.Cleanup(f.srv.Close)

	eventually.True(t, "everything settled", func() bool {
		s := w.Status()
		if !s.Balanced() {
			t.Fatalf("accounting broken: %+v", s)
		}
		return s.QueueMessages == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r := w.Stop(ctx)
	s := w.Status()
	if !s.Balanced() || r.Received != n || r.Delivered != uint64(n-wantBad) ||
		r.Dropped[drains.ReasonPermanent] != uint64(wantBad) || r.Undelivered != 0 {
		t.Fatalf("report %+v, status %+v: want %d received, %d delivered, %d dropped as permanent", r, s, n, n-wantBad, wantBad)
	}
	for _, text := range texts {
		want := 1
		if strings.HasPrefix(text, "bad ") {
			want = 0
		}
		if got := f.count(f.delivered, text); got != want {
			t.Errorf("%q delivered %d times, want %d", text, got, want)
		}
		if want == 1 && f.indexes[text] != "logs-web" {
			t.Errorf("%q in index %q, want logs-web", text, f.indexes[text])
		}
	}
}

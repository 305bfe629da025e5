package otlp

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

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
	url     string // http://127.0.0.1:port/v1/logs
	pub     *recorder
	metrics *metrics.Ingest
}

type serverOpts struct {
	tokens     string // TOKENS
	admin      string // ADMIN_TOKEN
	maxBody    int64
	maxMessage int
	maxRecords int
	appAttr    string
	publishErr error
	bodies     *budget.Pool // MAX_INFLIGHT_BODY_BYTES; nil: unlimited
}

func startServer(t testing.TB, o serverOpts) *server {
	t.Helper()
	toks, err := auth.Parse(o.tokens, o.admin)
	if err != nil {
		t.Fatalf("parse tokens: %v", err)
	}
	if o.maxBody == 0 {
		o.maxBody = 1 << 20
	}
	s := &server{pub: &recorder{err: o.publishErr}, metrics: metrics.NewIngest(prometheus.NewRegistry())}
	h := New(Config{
		Publisher:       s.pub,
		Tokens:          toks,
		Metrics:         s.metrics,
		MaxBodyBytes:    o.maxBody,
		MaxMessageBytes: o.maxMessage,
		AppAttribute:    o.appAttr,
		MaxRecords:      o.maxRecords,
		Bodies:          o.bodies,
	})
	srv := &fasthttp.Server{
		Handler:            h.ServeHTTP,
		ErrorHandler:       h.ErrorHandler,
		MaxRequestBodySize: int(o.maxBody),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	s.url = "http://" + ln.Addr().String() + "/v1/logs"
	return s
}

func (s *server) rejected(reason string) float64 {
	return testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(metrics.OTLPHTTP, reason))
}

func (s *server) accepted() float64 {
	return testutil.ToFloat64(s.metrics.Messages.WithLabelValues(metrics.OTLPHTTP))
}

// client posts without keep-alive so that server shutdown is immediate.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

type answer struct {
	code   int
	ctype  string
	header http.Header
	body   []byte
}

func post(t testing.TB, url, ctype string, body []byte, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header, b}
}

// status decodes a google.rpc.Status answer.
func (a answer) status(t testing.TB) *status.Status {
	t.Helper()
	var st status.Status
	var err error
	if a.ctype == "application/json" {
		err = protojson.Unmarshal(a.body, &st)
	} else {
		err = proto.Unmarshal(a.body, &st)
	}
	if err != nil {
		t.Fatalf("answer %d is not a Status (%s): %v: %q", a.code, a.ctype, err, a.body)
	}
	return &st
}

// response decodes a 200 answer's ExportLogsServiceResponse.
func (a answer) response(t testing.TB) *collogs.ExportLogsServiceResponse {
	t.Helper()
	if a.code != 200 {
		t.Fatalf("answer %d, want 200: %q", a.code, a.body)
	}
	var r collogs.ExportLogsServiceResponse
	var err error
	if a.ctype == "application/json" {
		err = protojson.Unmarshal(a.body, &r)
	} else {
		err = proto.Unmarshal(a.body, &r)
	}
	if err != nil {
		t.Fatalf("answer is not an ExportLogsServiceResponse (%s): %v", a.ctype, err)
	}
	return &r
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// exportReq builds an ExportLogsServiceRequest of one resource with attrs
// and one scope holding the records.
func exportReq(attrs []*commonpb.KeyValue, recs ...*logspb.LogRecord) *collogs.ExportLogsServiceRequest {
	return &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource:  &resourcepb.Resource{Attributes: attrs},
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}},
	}}}
}

func textRecord(s string) *logspb.LogRecord {
	return &logspb.LogRecord{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}}
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAnswers covers every answer but the happy path: the status, its body
// in the request's encoding, Retry-After, and the reason counted.
func TestAnswers(t *testing.T) {
	good := marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "web")}, textRecord("hello")))
	other := marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "billing")}, textRecord("hi")))
	tests := []struct {
		name       string
		opts       serverOpts
		ctype      string
		body       []byte
		hdr        []string
		code       int
		reason     string // counted once; "" for none
		inStatus   string // substring of the Status message
		retryAfter bool
	}{
		{name: "text/plain is 415", ctype: "text/plain", body: good, code: 415, reason: "unsupported_media_type"},
		{name: "unknown encoding is 415", ctype: "application/x-protobuf", body: good, hdr: []string{"Content-Encoding", "br"},
			code: 415, reason: "unsupported_media_type", inStatus: "Content-Encoding"},
		{name: "garbage protobuf is 400", ctype: "application/x-protobuf", body: []byte("\xff\xff\xff\xff not protobuf"),
			code: 400, reason: "malformed", inStatus: "cannot decode"},
		{name: "garbage JSON is 400 in JSON", ctype: "application/json", body: []byte(`{"resourceLogs": [}`),
			code: 400, reason: "malformed", inStatus: "cannot decode"},
		{name: "bad gzip is 400", ctype: "application/x-protobuf", body: []byte("\x1f\x8b\x08\x00garbage"),
			hdr: []string{"Content-Encoding", "gzip"}, code: 400, reason: "bad_gzip"},
		{name: "body over the limit is 413", opts: serverOpts{maxBody: 4096}, ctype: "application/x-protobuf",
			body: marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "web")}, textRecord(strings.Repeat("x", 5000)))),
			code: 413, reason: "too_large"},
		{name: "backpressure is 429 with Retry-After", opts: serverOpts{publishErr: sluice.ErrBackpressure},
			ctype: "application/x-protobuf", body: good, code: 429, reason: "backpressure", retryAfter: true},
		{name: "closed router is 503 with Retry-After", opts: serverOpts{publishErr: sluice.ErrClosed},
			ctype: "application/json", body: []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`),
			code: 503, reason: "closed", retryAfter: true},
		{name: "no token is 401", opts: serverOpts{tokens: "t1=web"}, ctype: "application/x-protobuf", body: good,
			code: 401, reason: "unauthorized"},
		{name: "wrong token is 401", opts: serverOpts{tokens: "t1=web"}, ctype: "application/x-protobuf", body: good,
			hdr: []string{"Authorization", "Bearer nope"}, code: 401, reason: "unauthorized"},
		{name: "token of another app is 403", opts: serverOpts{tokens: "t1=web"}, ctype: "application/x-protobuf", body: other,
			hdr: []string{"Authorization", "Bearer t1"}, code: 403, reason: "forbidden_app", inStatus: `"billing"`},
		{name: "admin token cannot write", opts: serverOpts{tokens: "t1=web", admin: "adm"}, ctype: "application/x-protobuf",
			body: good, hdr: []string{"Authorization", "Bearer adm"}, code: 403, reason: "forbidden_app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.opts)
			a := post(t, s.url, tt.ctype, tt.body, tt.hdr...)
			if a.code != tt.code {
				t.Fatalf("status %d, want %d: %q", a.code, tt.code, a.body)
			}
			if tt.ctype != "text/plain" {
				if a.ctype != tt.ctype {
					t.Errorf("answer Content-Type %q, want %q", a.ctype, tt.ctype)
				}
				if st := a.status(t); !strings.Contains(st.GetMessage(), tt.inStatus) {
					t.Errorf("Status message %q lacks %q", st.GetMessage(), tt.inStatus)
				}
			}
			if got := a.header.Get("Retry-After") != ""; got != tt.retryAfter {
				t.Errorf("Retry-After %q, want present=%v", a.header.Get("Retry-After"), tt.retryAfter)
			}
			if tt.reason != "" {
				if n := s.rejected(tt.reason); n != 1 {
					t.Errorf("rejected{reason=%q} = %v, want 1", tt.reason, n)
				}
			}
			if n := len(s.pub.got()); n != 0 {
				t.Errorf("%d messages published, want 0", n)
			}
		})
	}
}

// TestEmptyRequestIs200: an empty ExportLogsServiceRequest is valid.
func TestEmptyRequestIs200(t *testing.T) {
	s := startServer(t, serverOpts{})
	for _, ctype := range []string{"application/x-protobuf", "application/json"} {
		body := []byte{}
		if ctype == "application/json" {
			body = []byte("{}")
		}
		r := post(t, s.url, ctype, body).response(t)
		if r.GetPartialSuccess() != nil {
			t.Errorf("%s: partial success %v", ctype, r.GetPartialSuccess())
		}
	}
}

// TestPartialSuccess: records without a usable app, or whose attributes do
// not fit, are refused and named; the others are accepted.
func TestPartialSuccess(t *testing.T) {
	s := startServer(t, serverOpts{maxMessage: 256})
	big := textRecord("big attrs")
	big.Attributes = []*commonpb.KeyValue{str("k", strings.Repeat("v", 300))}
	long := textRecord(strings.Repeat("é", 200)) // 400 bytes: truncated, kept
	req := &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{textRecord("no app 1"), textRecord("no app 2")}}}},
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "unknown_service:go")}},
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{textRecord("sdk default name")}}}},
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "has space")}},
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{textRecord("bad name")}}}},
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "web")}},
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{textRecord("ok 1"), big, long, textRecord("ok 2")}}}},
	}}
	r := post(t, s.url, "application/x-protobuf", marshal(t, req)).response(t)
	ps := r.GetPartialSuccess()
	if ps.GetRejectedLogRecords() != 5 || !strings.Contains(ps.GetErrorMessage(), "5 of 8 log records refused") ||
		!strings.Contains(ps.GetErrorMessage(), "service.name") {
		t.Fatalf("partial success %v", ps)
	}
	got := s.pub.got()
	var texts []string
	for _, m := range got {
		texts = append(texts, m.Text)
	}
	if len(got) != 3 || got[0].Text != "ok 1" || got[2].Text != "ok 2" || got[1].Text != strings.Repeat("é", 128) {
		t.Fatalf("published %q", texts)
	}
	for reason, want := range map[string]float64{"missing_app": 3, "malformed": 1, "too_large": 1, "truncated": 1} {
		if n := s.rejected(reason); n != want {
			t.Errorf("rejected{reason=%q} = %v, want %v", reason, n, want)
		}
	}
	if n := s.accepted(); n != 3 {
		t.Errorf("accepted %v, want 3", n)
	}
}

// TestTokenApp: with a token, a resource without service.name (or with the
// token's app) is the token's app, and the token's source is used.
func TestTokenApp(t *testing.T) {
	s := startServer(t, serverOpts{tokens: "t1=web:router"})
	req := &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{textRecord("a")}}}},
		{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "web")}},
			ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{textRecord("b")}}}},
	}}
	a := post(t, s.url, "application/x-protobuf", marshal(t, req), "Authorization", "Bearer t1")
	if ps := a.response(t).GetPartialSuccess(); ps != nil {
		t.Fatalf("partial success %v", ps)
	}
	got := s.pub.got()
	if len(got) != 2 || got[0].App != "web" || got[1].App != "web" || got[0].Source != "router" {
		t.Fatalf("published %+v", got)
	}
}

// TestErrorHandler413: a body over the server's MaxRequestBodySize is 413,
// not fasthttp's 400.
func TestErrorHandler413(t *testing.T) {
	s := startServer(t, serverOpts{maxBody: 4096})
	a := post(t, s.url, "application/x-protobuf", make([]byte, 8192))
	if a.code != 413 {
		t.Fatalf("status %d, want 413", a.code)
	}
	if s.rejected("too_large") != 1 {
		t.Errorf("too_large = %v, want 1", s.rejected("too_large"))
	}
}

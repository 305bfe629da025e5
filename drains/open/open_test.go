package open_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/open"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, raw string
		kind      string
		errs      []string // all must appear in the error
	}{
		{name: "web", raw: "https://u:pw@logs.example.com/in?apps=web,api&policy=block", kind: open.KindHTTP},
		{name: "plain", raw: "http://127.0.0.1:8080", kind: open.KindHTTP},
		{name: "k", raw: "kafka://u:pw@b1:9092,b2:9092/logs?batch=100", kind: open.KindKafka},
		{name: "klastnoport", raw: "kafka://u:pw@b1:9092,b2/logs", kind: open.KindKafka},
		{name: "kipv6", raw: "kafka://[::1]:9092,[fe80::1],b3/logs", kind: open.KindKafka},
		{name: "kbadlist", raw: "kafka://b1:9092,b2:x/logs", errs: []string{"DRAIN_KBADLIST", `broker "b2:x"`}},
		{name: "es", raw: "elasticsearch://u:pw@es:9200?index=logs-{app}", kind: open.KindElasticsearch},
		{name: "bad", raw: "https://u:pw@h/?policy=maybe&format=xml", errs: []string{"DRAIN_BAD", "xxxxx@h", `policy="maybe"`, `format="xml"`}},
		{name: "sys", raw: "syslog://logs.example.com:514?format=logplex&drain_token=d.1", kind: open.KindSyslog},
		{name: "systls", raw: "syslog+tls://logs.example.com:6514?apps=web", kind: open.KindSyslog},
		{name: "sysudp", raw: "udpsyslog://127.0.0.1:514?max_datagram=1024", kind: open.KindSyslog},
		{name: "syscred", raw: "syslog://u:pw@h:514", errs: []string{"DRAIN_SYSCRED", "no credentials", "xxxxx"}},
		{name: "sysbad", raw: "syslog://h?insecure=1&format=json&x=1", errs: []string{"missing port", "insecure=1: only for syslog+tls", `format="json"`, `unknown parameter "x"`}},
		{name: "scheme", raw: "gopher://u:pw@h:514", errs: []string{"DRAIN_SCHEME", "unknown scheme", "xxxxx"}},
		{name: "noscheme", raw: "logs.example.com", errs: []string{"DRAIN_NOSCHEME", "missing scheme"}},
		{name: "unparsable", raw: "http://u:pw@h:port:x/%zz", errs: []string{"DRAIN_UNPARSABLE", "not a URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := open.Parse(tc.name, tc.raw)
			if tc.errs != nil {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error", tc.raw, s)
				}
				for _, want := range tc.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.raw, err)
			}
			if s.Kind != tc.kind || s.Name != tc.name || strings.Contains(s.Redacted, "pw") {
				t.Fatalf("Parse(%q) = %+v", tc.raw, s)
			}
		})
	}
}

// TestNewHTTP builds a worker from a URL and delivers through it: the
// drain token defaults to the drain name, the status shows the kind and
// the redacted URL.
func TestNewHTTP(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("Logplex-Drain-Token"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	raw := strings.Replace(srv.URL, "http://", "http://u:pw@", 1) + "/?flush=10ms&apps=web"
	spec, err := open.Parse("MyDrain", raw)
	if err != nil {
		t.Fatal(err)
	}
	w, err := open.New(spec, drains.WorkerConfig{Metrics: drains.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	if err := w.Enqueue(context.Background(), []sluice.Message{
		{Time: time.Now(), App: "web", Text: "hello"},
		{Time: time.Now(), App: "other", Text: "not for this drain"},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := w.Stop(ctx)
	st := w.Status()
	if r.Delivered != 1 || r.Received != 1 || st.Kind != open.KindHTTP || st.Name != "mydrain" || strings.Contains(st.URL, "pw") {
		t.Fatalf("report %+v, status %+v", r, st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 1 || tokens[0] != "mydrain" {
		t.Fatalf("drain tokens %q, want [mydrain]", tokens)
	}
}

func TestNewOtherKinds(t *testing.T) {
	for _, raw := range []string{"kafka://127.0.0.1:1/t", "elasticsearch://127.0.0.1:1"} {
		spec, err := open.Parse("x", raw)
		if err != nil {
			t.Fatal(err)
		}
		w, err := open.New(spec, drains.WorkerConfig{})
		if err != nil {
			t.Fatalf("New(%s): %v", raw, err)
		}
		// Never started: Stop only closes the drain.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		w.Stop(ctx)
		cancel()
	}
}

// TestKindsAgree checks the rules every drain kind shares: booleans take
// 1, 0, true or false; a parameter given twice is an error naming it.
func TestKindsAgree(t *testing.T) {
	kinds := []struct{ base, boolParam, own string }{
		{"http://h/in", "gzip", "format=ndjson"},
		{"kafka://b1:9092/logs", "tls", "format=json"},
		{"elasticsearch://es:9200", "tls", "op=create"},
	}
	for _, k := range kinds {
		for _, v := range []string{"1", "0", "true", "false", "TRUE", "False"} {
			t.Run(k.base+" "+k.boolParam+"="+v, func(t *testing.T) {
				if _, err := open.Parse("x", k.base+"?"+k.boolParam+"="+v); err != nil {
					t.Fatalf("Parse: %v", err)
				}
			})
		}
		for _, v := range []string{"yes", "t", "on", ""} {
			t.Run(k.base+" "+k.boolParam+"="+v, func(t *testing.T) {
				_, err := open.Parse("x", k.base+"?"+k.boolParam+"="+v)
				if err == nil || !strings.Contains(err.Error(), k.boolParam) || !strings.Contains(err.Error(), "want 1, 0, true or false") {
					t.Fatalf("Parse = %v, want an error naming %s", err, k.boolParam)
				}
			})
		}
		for _, q := range []string{k.own + "&" + k.own, "batch=5&batch=6"} {
			t.Run(k.base+" twice "+q, func(t *testing.T) {
				want, _, _ := strings.Cut(q, "=")
				_, err := open.Parse("x", k.base+"?"+q)
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "given more than once") {
					t.Fatalf("Parse(%s) = %v, want an error naming %s given more than once", q, err, want)
				}
			})
		}
	}
}

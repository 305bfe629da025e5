package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// ndjsonSink is a real HTTP server receiving an NDJSON drain's batches.
type ndjsonSink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	docs []map[string]any
}

func newNDJSONSink(t *testing.T) *ndjsonSink {
	s := &ndjsonSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 1<<20)
		var docs []map[string]any
		for sc.Scan() {
			var d map[string]any
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				t.Errorf("bad NDJSON line %q: %v", sc.Bytes(), err)
			}
			docs = append(docs, d)
		}
		s.mu.Lock()
		s.docs = append(s.docs, docs...)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *ndjsonSink) received() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.docs...)
}

// TestOTLPSDKToDaemon: the Go OpenTelemetry SDK's otlploghttp exporter
// sends to a real sluiced; the records reach the app's ring in order, and an
// NDJSON drain carries their attributes as structured data.
func TestOTLPSDKToDaemon(t *testing.T) {
	sink := newNDJSONSink(t)
	r := start(t, "DRAIN_J="+sink.srv.URL+"/?format=ndjson&batch=50&flush=10ms", "TOKENS=tok=checkout")
	ctx := context.Background()
	exp, err := otlploghttp.New(ctx,
		otlploghttp.WithEndpointURL(r.base+"/v1/logs"),
		otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer tok"}),
		otlploghttp.WithCompression(otlploghttp.GzipCompression),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatalf("exporter: %v", err)
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "checkout"),
			attribute.String("k8s.pod.name", "checkout-7f9c"))),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithExportInterval(time.Hour))))
	defer lp.Shutdown(ctx)
	logger := lp.Logger("cart")
	const n = 40
	for i := range n {
		var rec otellog.Record
		rec.SetTimestamp(time.Now())
		rec.SetSeverity(otellog.SeverityWarn)
		rec.SetBody(attribute.StringValue(fmt.Sprintf("order %d", i)))
		rec.AddAttributes(attribute.String("order.id", fmt.Sprintf("o-%d", i)))
		logger.Emit(ctx, rec)
	}
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatalf("export: %v", err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("app[checkout-7f9c]: order %d", i))
	}
	code, body := r.get("/apps/checkout/logs?num=1000", "tok")
	if code != 200 {
		t.Fatalf("GET logs: %d %s", code, body)
	}
	equal(t, stripTimes(body), want)
	waitFor(t, func() bool { return len(sink.received()) >= n })
	for i, d := range sink.received() {
		sd, _ := d["structured_data"].(string)
		if d["msg"] != fmt.Sprintf("order %d", i) || d["app"] != "checkout" || d["severity"] != float64(4) ||
			!strings.Contains(sd, fmt.Sprintf(`[otel.attr@32473 order.id="o-%d"]`, i)) ||
			!strings.Contains(sd, `[otel.resource@32473 `) || !strings.Contains(sd, ` service.name="checkout"`) ||
			!strings.Contains(sd, ` k8s.pod.name="checkout-7f9c"`) {
			t.Fatalf("drain document %d: %v", i, d)
		}
	}
	if got := metric(t, r, `sluice_ingest_messages_total{transport="otlp_http"}`); got != n {
		t.Errorf("otlp_http messages = %v, want %d", got, n)
	}
	// The token of checkout may not write another service.
	body2 := []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"billing"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`)
	if code, text := r.post("/v1/logs", "application/json", "tok", body2); code != 403 || !bytes.Contains([]byte(text), []byte("billing")) {
		t.Errorf("other app: %d %s", code, text)
	}
}

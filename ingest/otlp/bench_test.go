package otlp

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/metrics"
)

// discard is a Publisher that keeps nothing.
type discard struct{}

func (discard) Publish(context.Context, []sluice.Message) error { return nil }
func (discard) TryPublish([]sluice.Message) error               { return nil }

// BenchmarkExport500 runs the handler on one request of 500 records as an
// SDK sends them (a resource with four attributes, a scope, per record a
// timestamp, severity, string body of ~70 bytes and two attributes), in
// protobuf and OTLP/JSON, and reports records/s and allocations per record
// (allocs/op / 500). Compare with ingest/httpin's BenchmarkLogplex500.
func BenchmarkExport500(b *testing.B) {
	const n = 500
	res := []*commonpb.KeyValue{str("service.name", "web"), str("service.instance.id", "web.1"),
		str("host.name", "node-7"), str("telemetry.sdk.language", "go")}
	recs := make([]*logspb.LogRecord, n)
	t0 := uint64(time.Date(2026, 11, 25, 20, 29, 46, 0, time.UTC).UnixNano())
	for i := range recs {
		recs[i] = textRecord(fmt.Sprintf(`at=info method=GET path=/api/items/%d status=200 "quoted"`, i))
		recs[i].TimeUnixNano = t0 + uint64(i)*1000
		recs[i].SeverityNumber = logspb.SeverityNumber_SEVERITY_NUMBER_INFO
		recs[i].Attributes = []*commonpb.KeyValue{str("http.route", "/api/items/{id}"),
			{Key: "http.status", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 200}}}}
	}
	req := exportReq(res, recs...)
	req.ResourceLogs[0].ScopeLogs[0].Scope = &commonpb.InstrumentationScope{Name: "app/http"}
	protoBody := marshal(b, req)
	jsonBody, err := protojson.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	h := New(Config{Publisher: discard{}, Metrics: metrics.NewIngest(nil)})
	for _, tc := range []struct {
		name, ctype string
		body        []byte
	}{
		{"protobuf", "application/x-protobuf", protoBody},
		{"json", "application/json", jsonBody},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var req fasthttp.Request
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetRequestURI("/v1/logs")
			req.Header.SetContentType(tc.ctype)
			req.SetBody(tc.body)
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, nil, nil)
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h.ServeHTTP(&ctx)
				if ctx.Response.StatusCode() != fasthttp.StatusOK {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/record")
		})
	}
}

package otlp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluice-logs/sluice"
)

// sdkLogger returns a logger of a real OpenTelemetry SDK whose batch
// processor exports with otlploghttp to url, and a flush function.
func sdkLogger(t *testing.T, url string, opts ...otlploghttp.Option) (otellog.Logger, func() error) {
	t.Helper()
	ctx := context.Background()
	opts = append([]otlploghttp.Option{
		otlploghttp.WithEndpointURL(url),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
		otlploghttp.WithTimeout(10 * time.Second),
	}, opts...)
	exp, err := otlploghttp.New(ctx, opts...)
	if err != nil {
		t.Fatalf("new exporter: %v", err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.instance.id", "web.1"),
		attribute.String("host.name", "node-7"),
		attribute.String("deployment.environment", "prod"),
	)
	// A large batch and a long interval: records leave only on ForceFlush,
	// so the test decides what one request holds.
	proc := sdklog.NewBatchProcessor(exp, sdklog.WithExportInterval(time.Hour), sdklog.WithExportMaxBatchSize(10000),
		sdklog.WithMaxQueueSize(10000))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(proc))
	t.Cleanup(func() {
		if err := lp.Shutdown(context.Background()); err != nil {
			t.Errorf("logger provider shutdown: %v", err)
		}
	})
	return lp.Logger("shop/cart", otellog.WithInstrumentationVersion("1.2.3")),
		func() error { return lp.ForceFlush(context.Background()) }
}

// TestSDKExporter sends records with the Go SDK's otlploghttp exporter
// (protobuf, plain and gzip) and checks every mapped field, in order.
func TestSDKExporter(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  otlploghttp.Option
	}{
		{"protobuf", otlploghttp.WithCompression(otlploghttp.NoCompression)},
		{"protobuf+gzip", otlploghttp.WithCompression(otlploghttp.GzipCompression)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, serverOpts{})
			logger, flush := sdkLogger(t, s.url, tc.opt)
			base := time.Date(2026, 12, 2, 4, 0, 0, 123456789, time.UTC)
			sevs := []otellog.Severity{otellog.SeverityTrace, otellog.SeverityDebug, otellog.SeverityInfo,
				otellog.SeverityInfo2, otellog.SeverityWarn, otellog.SeverityError, otellog.SeverityFatal,
				otellog.SeverityFatal3, otellog.SeverityFatal4}
			wantSev := []uint8{7, 7, 6, 5, 4, 3, 2, 1, 0}
			const n = 90
			traceID := trace.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
			spanID := trace.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
			ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
			for i := range n {
				var r otellog.Record
				r.SetTimestamp(base.Add(time.Duration(i) * time.Millisecond))
				r.SetSeverity(sevs[i%len(sevs)])
				r.SetSeverityText(sevs[i%len(sevs)].String())
				r.SetBody(attribute.StringValue(fmt.Sprintf("line %d", i)))
				r.AddAttributes(
					attribute.Int("i", i),
					attribute.String("hostile", "a]b\"c\\d\ne\x1b[31m"),
					attribute.Map("http", attribute.String("method", "GET"), attribute.Int("status", 200)),
				)
				logger.Emit(ctx, r)
			}
			// One record whose body is not a string.
			var r otellog.Record
			r.SetBody(attribute.MapValue(attribute.String("event", "login"), attribute.Bool("ok", true)))
			r.SetObservedTimestamp(base)
			logger.Emit(context.Background(), r)
			if err := flush(); err != nil {
				t.Fatalf("export: %v", err)
			}
			got := s.pub.got()
			if len(got) != n+1 {
				t.Fatalf("got %d messages, want %d", len(got), n+1)
			}
			for i, m := range got[:n] {
				want := sluice.Message{
					Time: base.Add(time.Duration(i) * time.Millisecond), App: "checkout", Source: "app", Proc: "web.1",
					Host: "node-7", Text: fmt.Sprintf("line %d", i), Facility: 1, Severity: wantSev[i%len(sevs)],
				}
				sd := m.StructuredData
				m.StructuredData = ""
				if !m.Time.Equal(want.Time) {
					t.Fatalf("message %d time %v, want %v", i, m.Time, want.Time)
				}
				m.Time = want.Time
				if m != want {
					t.Fatalf("message %d\n got %+v\nwant %+v", i, m, want)
				}
				wantSD := `[otel@32473 trace_id="5b8efff798038103d269b633813fc60c" span_id="eee19b7ec3c1b174" severity_text="` +
					sevs[i%len(sevs)].String() + `"]` +
					fmt.Sprintf(`[otel.attr@32473 i="%d" hostile="a\]b\"c\\d`+"\ne\x1b[31m"+`" http="{\"method\":\"GET\",\"status\":200}"]`, i) +
					`[otel.scope@32473 name="shop/cart" version="1.2.3"]`
				if !strings.HasPrefix(sd, wantSD) {
					t.Fatalf("message %d structured data\n got %q\nwant prefix %q", i, sd, wantSD)
				}
				for _, kv := range []string{`service.name="checkout"`, `deployment.environment="prod"`} {
					if !strings.Contains(sd, kv) {
						t.Errorf("message %d structured data lacks %s: %q", i, kv, sd)
					}
				}
			}
			last := got[n]
			if last.Text != `{"event":"login","ok":true}` || !last.Time.Equal(base) || last.Severity != 6 {
				t.Errorf("map body record: %+v", last)
			}
			if s.accepted() != n+1 {
				t.Errorf("accepted %v, want %d", s.accepted(), n+1)
			}
		})
	}
}

// TestSDKExporterWrongToken: the exporter sees the 401 as an error and
// nothing is published.
func TestSDKExporterWrongToken(t *testing.T) {
	s := startServer(t, serverOpts{tokens: "t1=checkout"})
	for _, tc := range []struct {
		name, header string
		ok           bool
	}{
		{"no token", "", false},
		{"unknown token", "Bearer nope", false},
		{"right token", "Bearer t1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []otlploghttp.Option
			if tc.header != "" {
				opts = append(opts, otlploghttp.WithHeaders(map[string]string{"Authorization": tc.header}))
			}
			logger, flush := sdkLogger(t, s.url, opts...)
			var r otellog.Record
			r.SetBody(attribute.StringValue(tc.name))
			logger.Emit(context.Background(), r)
			err := flush()
			if (err == nil) != tc.ok {
				t.Fatalf("flush error %v, want ok=%v", err, tc.ok)
			}
		})
	}
	got := s.pub.got()
	if len(got) != 1 || got[0].Text != "right token" || got[0].App != "checkout" {
		t.Fatalf("published %+v", got)
	}
	if n := s.rejected("unauthorized"); n != 2 {
		t.Errorf("unauthorized = %v, want 2", n)
	}
}

package otlp

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/codec/syslog"
)

// heapAllocs is the process's cumulative heap allocation in bytes.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestGzipBomb: 256 MiB of zeros in a ~256 KiB gzip body is cut off after
// MAX_BODY_BYTES of output: 413, and the whole request allocates a small
// multiple of the limit, not the bomb's size.
func TestGzipBomb(t *testing.T) {
	const limit = 1 << 20
	s := startServer(t, serverOpts{maxBody: limit})
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 256 {
		zw.Write(zeros)
	}
	zw.Close()
	bomb := buf.Bytes()
	if len(bomb) > limit {
		t.Fatalf("bomb is %d bytes, must fit the %d limit compressed", len(bomb), limit)
	}
	runtime.GC()
	before := heapAllocs()
	a := post(t, s.url, "application/x-protobuf", bomb, "Content-Encoding", "gzip")
	allocated := heapAllocs() - before
	if a.code != 413 {
		t.Fatalf("status %d, want 413: %q", a.code, a.body)
	}
	if s.rejected("too_large") != 1 {
		t.Errorf("too_large = %v, want 1", s.rejected("too_large"))
	}
	t.Logf("gzip bomb: %d bytes compressed, 256 MiB inflated; %d bytes allocated by the request (limit %d)", len(bomb), allocated, limit)
	if allocated > 8*limit {
		t.Errorf("the request allocated %d bytes, want at most %d", allocated, 8*limit)
	}
}

// nested returns a body nested depth arrays deep around "x".
func nested(depth int) *commonpb.AnyValue {
	v := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "x"}}
	for range depth {
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{v}}}}
	}
	return v
}

// TestDeepNesting: a body nested past the recursion limit is refused as
// malformed (no stack blow-up); a reasonably nested one becomes JSON.
func TestDeepNesting(t *testing.T) {
	s := startServer(t, serverOpts{maxBody: 16 << 20})
	app := []*commonpb.KeyValue{str("service.name", "web")}
	for _, tc := range []struct {
		name  string
		depth int
		code  int
	}{
		{"10 deep", 10, 200},
		{"5000 deep", 5000, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// proto.Marshal itself recurses; build the wire bytes
			// by hand for the deep case: AnyValue{array_value(5):
			// ArrayValue{values(1): AnyValue{…}}}.
			var body []byte
			if tc.depth > 1000 {
				inner := marshal(t, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "x"}})
				for range tc.depth {
					arr := appendField(nil, 1, inner)
					inner = appendField(nil, 5, arr)
				}
				rec := appendField(nil, 5, inner)                          // LogRecord.body
				sl := appendField(nil, 2, rec)                             // ScopeLogs.log_records
				res := marshal(t, exportReq(app).ResourceLogs[0].Resource) // resource with service.name
				rl := appendField(appendField(nil, 1, res), 2, sl)         // ResourceLogs
				body = appendField(nil, 1, rl)                             // ExportLogsServiceRequest.resource_logs
			} else {
				body = marshal(t, exportReq(app, &logspb.LogRecord{Body: nested(tc.depth)}))
			}
			a := post(t, s.url, "application/x-protobuf", body)
			if a.code != tc.code {
				t.Fatalf("status %d, want %d: %.200q", a.code, tc.code, a.body)
			}
			if tc.code == 200 {
				got := s.pub.got()
				want := strings.Repeat("[", tc.depth) + `"x"` + strings.Repeat("]", tc.depth)
				if len(got) != 1 || got[0].Text != want {
					t.Fatalf("published %+v, want text %s", got, want)
				}
			}
		})
	}
}

// appendField appends a length-delimited protobuf field.
func appendField(dst []byte, num int, b []byte) []byte {
	dst = appendVarint(dst, uint64(num)<<3|2)
	dst = appendVarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// TestManyRecords: 100,000 records in one request within MAX_BODY_BYTES and
// OTLP_MAX_RECORDS all arrive, in order.
func TestManyRecords(t *testing.T) {
	s := startServer(t, serverOpts{maxBody: 16 << 20, maxRecords: 100_000})
	const n = 100_000
	recs := make([]*logspb.LogRecord, n)
	for i := range recs {
		recs[i] = textRecord(fmt.Sprintf("r%d", i))
		recs[i].TimeUnixNano = uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()) + uint64(i)
	}
	body := marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "web")}, recs...))
	runtime.GC()
	before := heapAllocs()
	start := time.Now()
	r := post(t, s.url, "application/x-protobuf", body).response(t)
	took := time.Since(start)
	allocated := heapAllocs() - before
	if r.GetPartialSuccess() != nil {
		t.Fatalf("partial success %v", r.GetPartialSuccess())
	}
	got := s.pub.got()
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if m.Text != fmt.Sprintf("r%d", i) {
			t.Fatalf("message %d is %q", i, m.Text)
		}
	}
	// The recorder's clones are part of what was allocated.
	t.Logf("%d records, %d bytes of protobuf: %v, %d bytes allocated (with the test's clones)", n, len(body), took, allocated)
}

// TestOTLPJSON posts OTLP/JSON as the specification writes it: lowerCamel
// names, hex trace ids, enums as integers, 64-bit integers as strings;
// and the same with the original snake_case names.
func TestOTLPJSON(t *testing.T) {
	camel := `{"resourceLogs":[{"resource":{"attributes":[
		{"key":"service.name","value":{"stringValue":"api"}},
		{"key":"k8s.pod.name","value":{"stringValue":"api-5d9f-xk2"}}]},
	  "scopeLogs":[{"scope":{"name":"my.library","version":"1.0.0"},"logRecords":[
		{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":"1544712660300000001",
		 "severityNumber":10,"severityText":"Information",
		 "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
		 "body":{"stringValue":"Example log record"},
		 "attributes":[{"key":"int.attribute","value":{"intValue":"10"}},
		   {"key":"my.map.attribute","value":{"kvlistValue":{"values":[{"key":"some.map.key","value":{"stringValue":"some value"}}]}}},
		   {"key":"bytes","value":{"bytesValue":"3q2+7w=="}}],
		 "unknownFieldFromTheFuture":{"x":1}}]}]}]}`
	snake := `{"resource_logs":[{"resource":{"attributes":[{"key":"service.name","value":{"string_value":"api"}}]},
	  "scope_logs":[{"log_records":[{"observed_time_unix_nano":1544712660300000001,"severity_number":"SEVERITY_NUMBER_ERROR",
		 "body":{"int_value":42}}]}]}]}`
	s := startServer(t, serverOpts{})
	for _, body := range []string{camel, snake} {
		a := post(t, s.url, "application/json", []byte(body))
		if a.ctype != "application/json" {
			t.Errorf("answer Content-Type %q", a.ctype)
		}
		if ps := a.response(t).GetPartialSuccess(); ps != nil {
			t.Fatalf("partial success %v", ps)
		}
	}
	got := s.pub.got()
	if len(got) != 2 {
		t.Fatalf("got %d messages", len(got))
	}
	m := got[0]
	if m.App != "api" || m.Proc != "api-5d9f-xk2" || m.Text != "Example log record" || m.Severity != 5 ||
		!m.Time.Equal(time.Unix(0, 1544712660300000000)) {
		t.Errorf("camelCase record %+v", m)
	}
	wantSD := `[otel@32473 trace_id="5b8efff798038103d269b633813fc60c" span_id="eee19b7ec3c1b174" severity_text="Information"]` +
		`[otel.attr@32473 int.attribute="10" my.map.attribute="{\"some.map.key\":\"some value\"}" bytes="3q2+7w=="]` +
		`[otel.scope@32473 name="my.library" version="1.0.0"]` +
		`[otel.resource@32473 service.name="api" k8s.pod.name="api-5d9f-xk2"]`
	if m.StructuredData != wantSD {
		t.Errorf("structured data\n got %s\nwant %s", m.StructuredData, wantSD)
	}
	m = got[1]
	if m.Text != "42" || m.Severity != 3 || !m.Time.Equal(time.Unix(0, 1544712660300000001)) {
		t.Errorf("snake_case record %+v", m)
	}
}

// TestStructuredDataSurvivesRFC5424: attribute keys and values that look
// like structure are escaped so that an RFC 5424 line written by the
// syslog drains' encoder parses back to the same structured data and text.
func TestStructuredDataSurvivesRFC5424(t *testing.T) {
	s := startServer(t, serverOpts{})
	rec := textRecord("text with ] \" \\ \n and \x1b[2J")
	rec.Attributes = []*commonpb.KeyValue{
		str(`a]b"c=d e`, `v]"\`+"\n\x1b"),
		str("", "empty key"),
		str(strings.Repeat("k", 40), "long key"),
		str("ключ", "non-ASCII key"),
	}
	post(t, s.url, "application/x-protobuf", marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "web")}, rec))).response(t)
	got := s.pub.got()
	if len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	wantAttr := `[otel.attr@32473 a_b_c_d_e="v\]\"\\` + "\n\x1b" + `" _="empty key" ` + strings.Repeat("k", 32) +
		`="long key" ________="non-ASCII key"]`
	if !strings.HasPrefix(got[0].StructuredData, wantAttr) {
		t.Fatalf("structured data\n got %q\nwant prefix %q", got[0].StructuredData, wantAttr)
	}
	line := sluice.AppendRFC5424(nil, &got[0])
	var p syslog.Parser
	var back sluice.Message
	if err := p.Parse(line, time.Now(), &back); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	if back.StructuredData != got[0].StructuredData || back.Text != got[0].Text {
		t.Fatalf("round trip\n got sd %q text %q\nwant sd %q text %q", back.StructuredData, back.Text, got[0].StructuredData, got[0].Text)
	}
}

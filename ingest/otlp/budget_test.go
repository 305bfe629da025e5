package otlp

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"

	"github.com/sluice-logs/sluice/internal/budget"
)

func manyRecords(n int, text string) *collogs.ExportLogsServiceRequest {
	recs := make([]*logspb.LogRecord, n)
	for i := range recs {
		recs[i] = &logspb.LogRecord{SeverityNumber: 9, TimeUnixNano: uint64(i),
			Attributes: []*commonpb.KeyValue{str("k", "v")}, Body: textRecord(text).Body}
	}
	return exportReq([]*commonpb.KeyValue{str("service.name", "a")}, recs...)
}

// decodeCost is an estimate taken before decoding: it must not be less than
// what decoding allocates, for short records (the worst ratio) and long.
func TestDecodeCostCoversUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *collogs.ExportLogsServiceRequest
	}{
		{"short records", manyRecords(20_000, "m")},
		{"long records", manyRecords(2_000, strings.Repeat("x", 2000))},
		{"no attributes", exportReq(nil, textRecord("a"), textRecord("b"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, isJSON := range []bool{false, true} {
				var body []byte
				var err error
				if isJSON {
					body, err = protojson.Marshal(tc.req)
				} else {
					body, err = proto.Marshal(tc.req)
				}
				if err != nil {
					t.Fatal(err)
				}
				cost, records := decodeCost(body, isJSON)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				var got collogs.ExportLogsServiceRequest
				if isJSON {
					err = protojson.Unmarshal(body, &got)
				} else {
					err = proto.Unmarshal(body, &got)
				}
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatal(err)
				}
				alloc := int64(after.TotalAlloc - before.TotalAlloc)
				if want := len(got.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()); !isJSON && records != want {
					t.Errorf("counted %d records, decoded %d", records, want)
				}
				t.Logf("json=%v: %d bytes decode to %d allocated; estimate %d", isJSON, len(body), alloc, cost)
				if alloc > cost {
					t.Errorf("json=%v: decoding allocated %d bytes, estimated %d", isJSON, alloc, cost)
				}
			}
		})
	}
}

// A request whose decoding needs more than is left of the pool (another
// request holds the rest) gets 503 with Retry-After, counted memory_budget;
// more than the whole pool, 413 (too_large); a small one passes; nothing
// refused is published, and the pool is empty after each.
func TestBodiesWithinBudget(t *testing.T) {
	big := marshal(t, manyRecords(20_000, "m")) // about 11 MB to decode
	for _, tc := range []struct {
		name       string
		pool, held int64
		body       []byte
		code       int
		reason     string
	}{
		{"past what is left", 16 << 20, 8 << 20, big, http.StatusServiceUnavailable, "memory_budget"},
		{"past the whole pool", 1 << 20, 0, big, http.StatusRequestEntityTooLarge, "too_large"},
		{"small", 1 << 20, 512 << 10, marshal(t, manyRecords(10, "m")), http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := budget.NewPool(tc.pool)
			other := pool.Lease()
			other.Grow(tc.held)
			s := startServer(t, serverOpts{maxBody: 16 << 20, maxRecords: 1 << 20, bodies: pool})
			a := post(t, s.url, "application/x-protobuf", tc.body)
			if a.code != tc.code || (a.code == http.StatusServiceUnavailable) != (a.header.Get("Retry-After") != "") {
				t.Fatalf("answer %d %v, want %d (Retry-After with 503)", a.code, a.header, tc.code)
			}
			if tc.reason != "" && (s.rejected(tc.reason) != 1 || s.accepted() != 0 || len(s.pub.got()) != 0) {
				t.Fatalf("rejected %v, accepted %v", s.rejected(tc.reason), s.accepted())
			}
			other.Release()
			if pool.Used() != 0 || pool.Peak() > pool.Limit() {
				t.Fatalf("pool holds %d, peaked %d", pool.Used(), pool.Peak())
			}
		})
	}
}

package elasticsearch

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/draintest"
)

// These tests run against a real Elasticsearch-protocol server (see
// zinc_test.go).

// testSeq makes index names unique per test run, so -count=N runs against
// the one shared server do not see each other's documents.
var testSeq atomic.Int64

func TestRealDocuments(t *testing.T) {
	s := realServer(t)
	for _, op := range []string{OpIndex, OpCreate} {
		t.Run(op, func(t *testing.T) {
			prefix := fmt.Sprintf("%s-doc%s%d", s.run, op, testSeq.Add(1))
			d := newDrain(t, s.config(prefix+"-{app}-{2006.01.02}", op))
			day1 := time.Date(2026, 11, 25, 23, 59, 59, 999999000, time.UTC)
			day2 := time.Date(2026, 11, 26, 1, 2, 3, 4000, time.FixedZone("x", 3600)) // 00:02 UTC
			batch := []sluice.Message{
				{Time: day1, App: "Web.Front", Source: "app", Proc: "web.1", Host: "host-a", MsgID: "REQ",
					StructuredData: `[origin ip="10.0.0.1" ip="10.0.0.2"][meta@1 k="v \"q\""]`,
					Text:           "GET /a 200", Facility: 16, Severity: 6},
				{Time: day2, App: "Web.Front", Source: "router", Text: "at=info path=/b", Facility: 1, Severity: 4},
				{Time: day2.Add(time.Microsecond), App: "worker", Source: "app", Proc: "worker.2", Text: "job done ✓", Facility: 3, Severity: 3,
					StructuredData: `[not structured`},
			}
			if err := d.Send(sendCtx(t), batch); err != nil {
				t.Fatalf("Send: %v", err)
			}
			hits := s.searchUntil(t, prefix+"-*", len(batch))
			if len(hits) != len(batch) {
				t.Fatalf("%d documents, want %d", len(hits), len(batch))
			}
			byMsg := map[string]hit{}
			for _, h := range hits {
				byMsg[fmt.Sprint(h.Source["message"])] = h
			}
			tests := []struct {
				msg    string
				index  string
				fields map[string]any
				sd     string // fmt of the sd object; "" none
			}{
				{"GET /a 200", prefix + "-web.front-2026.11.25", map[string]any{
					"app": "Web.Front", "source": "app", "proc": "web.1", "host": "host-a", "msgid": "REQ",
					"severity": "info", "facility": "local0",
				}, `map[meta@1:map[k:v "q"] origin:map[ip:[10.0.0.1 10.0.0.2]]]`},
				{"at=info path=/b", prefix + "-web.front-2026.11.26", map[string]any{
					"app": "Web.Front", "source": "router", "proc": nil, "host": nil, "msgid": nil,
					"severity": "warning", "facility": "user",
				}, ""},
				{"job done ✓", prefix + "-worker-2026.11.26", map[string]any{
					"app": "worker", "proc": "worker.2", "severity": "err", "facility": "daemon",
					"structured_data": "[not structured",
				}, ""},
			}
			for i, tt := range tests {
				t.Run(tt.msg, func(t *testing.T) {
					h, ok := byMsg[tt.msg]
					if !ok {
						t.Fatalf("no document with message %q in %v", tt.msg, hits)
					}
					if h.Index != tt.index {
						t.Errorf("index %q, want %q", h.Index, tt.index)
					}
					for k, want := range tt.fields {
						if got := h.Source[k]; got != want {
							t.Errorf("%s = %v, want %v", k, got, want)
						}
					}
					if got := h.Source["sd"]; (tt.sd == "" && got != nil) || (tt.sd != "" && fmt.Sprint(got) != tt.sd) {
						t.Errorf("sd = %v, want %s", got, tt.sd)
					}
					ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(h.Source["@timestamp"]))
					if err != nil {
						t.Fatalf("@timestamp %v: %v", h.Source["@timestamp"], err)
					}
					// Zinc keeps @timestamp as a float: allow its rounding.
					if diff := ts.Sub(batch[i].Time); diff < -time.Microsecond || diff > time.Microsecond {
						t.Errorf("@timestamp %v, want %v", ts, batch[i].Time.UTC())
					}
				})
			}
		})
	}
}

func TestRealConformance(t *testing.T) {
	s := realServer(t)
	prefix := fmt.Sprintf("%s-conf%d", s.run, testSeq.Add(1))
	draintest.Run(t, draintest.Harness{
		New: func(t *testing.T) drains.Drain {
			d, err := New(s.config(prefix+"-{app}", OpCreate), drains.Options{}, nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return d
		},
		Read: func(t *testing.T, ctx context.Context) []sluice.Message {
			hits, err := s.search(ctx, prefix+"-*", 10000)
			if err != nil && ctx.Err() == nil {
				t.Fatalf("search: %v", err)
			}
			out := make([]sluice.Message, 0, len(hits))
			for _, h := range hits {
				out = append(out, sluice.Message{
					App:  fmt.Sprint(h.Source["app"]),
					Text: fmt.Sprint(h.Source["message"]),
				})
			}
			return out
		},
	})
}

func TestRealCheck(t *testing.T) {
	s := realServer(t)
	d := newDrain(t, s.config(s.run+"-check", ""))
	if err := d.Check(sendCtx(t)); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if s.pass == "" {
		return
	}
	cfg := s.config(s.run+"-check", "")
	cfg.Password = "wrong"
	d = newDrain(t, cfg)
	err := d.Send(sendCtx(t), msgs("ok 1"))
	if !drains.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Send with a wrong password: %v, want a permanent 401", err)
	}
}

// BenchmarkSendReal sends batches of 500 messages (the default batch size)
// into the real server, one Send at a time as the Worker does.
func BenchmarkSendReal(b *testing.B) {
	s := realServer(b)
	d, err := New(s.config(s.run+"-bench-{app}-{2006.01.02}", OpIndex), drains.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	const size = 500
	apps := []string{"web", "worker", "api", "cron"}
	batch := make([]sluice.Message, size)
	now := time.Now()
	bytes := 0
	for i := range batch {
		batch[i] = sluice.Message{
			Time: now.Add(time.Duration(i) * time.Millisecond), App: apps[i%len(apps)], Source: "app",
			Proc: "web.1", Host: "host-1", StructuredData: `[origin ip="10.0.0.1"]`,
			Text:     fmt.Sprintf("at=info method=GET path=/items/%d host=example.com fwd=10.0.0.1 status=200 bytes=1234 service=12ms", i),
			Facility: 1, Severity: 6,
		}
		bytes += batch[i].Size()
	}
	ctx := context.Background()
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := d.Send(ctx, batch); err != nil {
			b.Fatalf("Send: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkEncode measures building the bulk body alone.
func BenchmarkEncode(b *testing.B) {
	d, err := New(mustConfig(b, "elasticsearch://127.0.0.1:1"), drains.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]sluice.Message, 500)
	bytes := 0
	for i := range batch {
		batch[i] = sluice.Message{
			Time: docTime, App: "web", Source: "app", Proc: "web.1", Host: "host-1",
			StructuredData: `[origin ip="10.0.0.1"]`,
			Text:           "at=info method=GET path=/items/1 host=example.com status=200 bytes=1234",
			Facility:       1, Severity: 6,
		}
		bytes += batch[i].Size()
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	for range b.N {
		d.body = d.encode(d.body[:0], batch)
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
}

// TestRealBusIDs sends the same messages twice with bus positions (cluster
// mode, a redelivery after a partition moved): each is one document whose
// _id is its position, with op=index (overwritten) and op=create (the
// second create is a conflict the drain counts as delivered).
func TestRealBusIDs(t *testing.T) {
	s := realServer(t)
	for _, op := range []string{OpIndex, OpCreate} {
		t.Run(op, func(t *testing.T) {
			prefix := fmt.Sprintf("%s-busid%s%d", s.run, op, testSeq.Add(1))
			d := newDrain(t, s.config(prefix+"-{app}", op))
			at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
			batch := []sluice.Message{
				{Time: at, App: "a", Text: "one", Pos: sluice.MakeBusPos(3, 0)},
				{Time: at.Add(time.Millisecond), App: "a", Text: "two", Pos: sluice.MakeBusPos(3, 1)},
				{Time: at.Add(2 * time.Millisecond), App: "b", Text: "three", Pos: sluice.MakeBusPos(11, 1<<40)},
			}
			for round := range 2 {
				if err := d.Send(sendCtx(t), batch); err != nil {
					t.Fatalf("Send %d: %v", round, err)
				}
			}
			// A third message after the redelivery proves the index
			// settled past the duplicates.
			last := sluice.Message{Time: at.Add(time.Second), App: "a", Text: "four", Pos: sluice.MakeBusPos(3, 2)}
			if err := d.Send(sendCtx(t), []sluice.Message{last}); err != nil {
				t.Fatal(err)
			}
			hits := s.searchUntil(t, prefix+"-*", len(batch)+1)
			ids := map[string]string{}
			for _, h := range hits {
				ids[fmt.Sprint(h.Source["message"])] = h.ID
			}
			want := map[string]string{"one": "3.0", "two": "3.1", "three": "11.1099511627776", "four": "3.2"}
			if len(hits) != len(want) {
				t.Errorf("%d documents, want %d: %v", len(hits), len(want), ids)
			}
			for msg, id := range want {
				if ids[msg] != id {
					t.Errorf("document %q: _id %q, want %q", msg, ids[msg], id)
				}
			}
		})
	}
}

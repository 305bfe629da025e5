package sluice

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestAppendTimeMatchesAppendFormat checks the hand-written timestamp
// formatter against the time package over years 0 to 9999 (and outside),
// every offset and sub-microsecond nanoseconds.
func TestAppendTimeMatchesAppendFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lo := time.Date(-2, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(10001, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	zones := []*time.Location{time.UTC, time.FixedZone("CET", 3600), time.FixedZone("", -(9*3600 + 30*60))}
	times := []time.Time{
		{},
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 999, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 999, time.FixedZone("", 14*3600)),
		time.Now(),
	}
	for range 20000 {
		sec := lo + rng.Int64N(hi-lo)
		if rng.IntN(2) == 0 {
			sec = 1.7e9 + rng.Int64N(1e8)
		}
		times = append(times, time.Unix(sec, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))]))
	}
	for _, ts := range times {
		want := ts.UTC().AppendFormat([]byte("x"), TimeLayout)
		if got := appendTime([]byte("x"), ts); string(got) != string(want) {
			t.Fatalf("appendTime(%v) = %q, want %q", ts, got, want)
		}
	}
}

func TestAppendRFC5424HeaderFields(t *testing.T) {
	m := Message{App: "a\x00b c\x7f\xffd", Proc: strings.Repeat("p", 200), MsgID: "é", Facility: 23, Severity: 7}
	want := "<191>1 0001-01-01T00:00:00.000000+00:00 - a_b_c__d " + strings.Repeat("p", 128) + " __ -"
	if got := string(AppendRFC5424([]byte{}, &m)); got != want {
		t.Fatalf("AppendRFC5424 = %q, want %q", got, want)
	}
}

func TestAppendLineAllocs(t *testing.T) {
	m := Message{Time: time.Now(), Source: "app", Proc: "web.1", Host: "h", App: "a", Text: "hello"}
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		_ = AppendLine(dst[:0], &m)
		_ = AppendRFC5424(dst[:0], &m)
	}); n != 0 {
		t.Fatalf("AppendLine and AppendRFC5424 allocate %v times, want 0", n)
	}
}

func BenchmarkAppendLine(b *testing.B) {
	base := time.Date(2026, 11, 25, 20, 29, 46, 0, time.UTC)
	msgs := make([]Message, 1024)
	for i := range msgs {
		msgs[i] = Message{Time: base.Add(time.Duration(i) * 997 * time.Microsecond), Source: "app", Proc: "web.1",
			Host: "host-07", App: "app-00042", StructuredData: `[req@32473 id="0badc0de" status="200"]`,
			Text: "GET /api/v1/items/8812 200 12ms bytes=5123 user=u1234 region=eu-west-1", Facility: 1, Severity: 6}
	}
	dst := make([]byte, 0, 512)
	b.Run("line", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst = AppendLine(dst[:0], &msgs[i%len(msgs)])
			i++
		}
	})
	b.Run("rfc5424", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			dst = AppendRFC5424(dst[:0], &msgs[i%len(msgs)])
			i++
		}
	})
}

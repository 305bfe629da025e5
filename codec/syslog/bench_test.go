package syslog

import (
	"fmt"
	"testing"
	"time"

	"github.com/influxdata/go-syslog/v3/rfc3164"
	"github.com/influxdata/go-syslog/v3/rfc5424"

	"github.com/sluice-logs/sluice"
)

// benchMessage is a realistic Logplex-style RFC 5424 message with
// structured data, about 150 bytes.
const benchMessage = `<190>1 2026-11-25T20:29:46.123456+00:00 d.8f2a1c host app web.1 - [meta sequenceId="12345"] at=info method=GET path="/" status=200 bytes=1024`

func BenchmarkParse(b *testing.B) {
	frame := []byte(benchMessage)
	b.Run("fast", func(b *testing.B) {
		var m sluice.Message
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if err := Parse(frame, received, &m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("rfc3164", func(b *testing.B) {
		// rsyslog's RSYSLOG_TraditionalForwardFormat, the most common
		// line on the wire.
		frame := []byte("<30>Dec  2 02:05:42 web1 nginx[1234]: 10.0.0.1 - - \"GET /api/v1/items HTTP/1.1\" 200 612 \"-\" \"curl/8.5.0\"")
		var p Parser
		var m sluice.Message
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if err := p.Parse(frame, received, &m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("rfc3164-go-syslog", func(b *testing.B) {
		frame := []byte("<30>Dec  2 02:05:42 web1 nginx[1234]: 10.0.0.1 - - \"GET /api/v1/items HTTP/1.1\" 200 612 \"-\" \"curl/8.5.0\"")
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			mach := rfc3164.NewMachine(rfc3164.WithYear(rfc3164.Year{YYYY: 2026}), rfc3164.WithTimezone(time.UTC))
			if _, err := mach.Parse(frame); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("go-syslog", func(b *testing.B) {
		mach := rfc5424.NewMachine()
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if _, err := mach.Parse(frame); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("slow-path", func(b *testing.B) {
		var m sluice.Message
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if err := parseRFC5424(frame, received, &m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkParser parses a stream of loadgen-like messages (about 150
// bytes, microseconds apart, structured data, fields of varying lengths)
// with one Parser, the way a connection does. One op is one message.
func BenchmarkParser(b *testing.B) {
	procs := []string{"web.1", "web.2", "worker.1", "router", "web.3"}
	frames := make([][]byte, 1024)
	base := time.Date(2026, 11, 25, 20, 29, 46, 0, time.UTC)
	for i := range frames {
		ts := base.Add(time.Duration(i) * 997 * time.Microsecond).Format("2006-01-02T15:04:05.000000-07:00")
		h := uint32(i) * 2654435761
		frames[i] = fmt.Appendf(nil, `<134>1 %s host-%d app-%05d %s - [req@32473 id="%08x" status="%d"] `+
			`GET /api/v1/items/%d 200 12ms bytes=5123 seq=%d user=u1234 region=eu-west-1 agent=Mozilla/5.0`,
			ts, h%16, i%100, procs[h%5], h, 200+h%3*100, h%10000, i)
	}
	var p Parser
	var m sluice.Message
	b.ReportAllocs()
	b.SetBytes(int64(len(frames[0])))
	i := 0
	for b.Loop() {
		if err := p.Parse(frames[i%len(frames)], received, &m); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

package ndjson

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

// BenchmarkParseLine parses a typical line (every known field, one escape),
// restoring it before each parse (ParseLine unescapes in place).
func BenchmarkParseLine(b *testing.B) {
	src := []byte(`{"app":"web","msg":"at=info method=GET path=/api/items/42 status=200 \"quoted\"","proc":"web.1","severity":"info","time":"2026-11-25T20:29:46.000042Z"}`)
	line := make([]byte, len(src))
	var l Line
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		copy(line, src)
		if e := ParseLine(line, &l); !e.OK() {
			b.Fatal(e)
		}
	}
}

// BenchmarkAppendLine encodes the same message.
func BenchmarkAppendLine(b *testing.B) {
	m := sluice.Message{Time: time.Date(2026, 11, 25, 20, 29, 46, 42000, time.UTC), App: "web",
		Proc: "web.1", Severity: 6, Text: fmt.Sprintf("at=info method=GET path=/api/items/%d status=200 \"quoted\"", 42)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], &m)
	}
	b.SetBytes(int64(len(buf)))
}

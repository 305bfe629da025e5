package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// BenchmarkLogs measures the client end to end over loopback: request,
// line splitting, (colouring,) buffered output. One op prints 10,000 lines.
func BenchmarkLogs(b *testing.B) {
	const n = 10_000
	body := strings.Join(lines(1, n), "")
	f := newFakeRouter(b, serve([]string{body}, endClean))
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	for _, bc := range []struct {
		name string
		out  io.Writer
	}{{"plain", io.Discard}, {"colour", devNull}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			getenv := env(map[string]string{"SLUICE_URL": f.srv.URL})
			for b.Loop() {
				if code := run(context.Background(), []string{"logs", "-a", "web", "-n", "10000"}, bc.out, io.Discard, getenv); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

package ship

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

// BenchmarkShipHTTP measures lines/s and CPU per line through the whole
// shipping path — Add, batching (500 lines / 250 ms, log-shuttle's design
// point), logplex-1 encoding, gzip, one POST at a time — to a real HTTP
// server on loopback that reads and discards the body. cpu-ns/line is the
// process's user+system CPU, the sink's share included.
func BenchmarkShipHTTP(b *testing.B) {
	for _, gz := range []bool{false, true} {
		b.Run("gzip="+strconv.FormatBool(gz), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(204)
			}), ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(ln)
			defer srv.Close()
			tr, err := NewHTTP("http://"+ln.Addr().String(), "", 10*time.Second, gz)
			if err != nil {
				b.Fatal(err)
			}
			s, err := New(Config{Transport: tr, Policy: PolicyBlock})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			text := "2026-12-01 10:00:00 INFO request handled method=GET path=/api/v1/items status=200 duration=3.2ms"
			m := sluice.Message{Time: time.Now(), App: "bench", Source: "app", Proc: "web.1", Host: "host-1", Text: text, Facility: 1, Severity: 6}
			before := cpu()
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for range b.N {
				if _, err := s.Add(ctx, &m); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			elapsed := b.Elapsed()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "lines/s")
			b.ReportMetric(float64(cpu()-before)/float64(b.N), "cpu-ns/line")
			if st := s.Stats(); st.Delivered != uint64(b.N) {
				b.Fatalf("delivered %d of %d", st.Delivered, b.N)
			}
		})
	}
}

// cpu is the process's user+system CPU time in nanoseconds.
func cpu() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

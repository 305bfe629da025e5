package buffer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

// benchMessages returns n messages of about 100 bytes of text spread over
// apps apps, either in runs of batch messages per app (perApp) or mixed.
// With perApp, n/batch runs cover only that many apps: feed relabels the
// runs to reach them all.
func benchMessages(n, apps, batch int, perApp bool) []sluice.Message {
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]string, apps)
	for i := range names {
		names[i] = fmt.Sprintf("app-%05d", i)
	}
	text := strings.Repeat("GET /api/v1/things?id=12345 status=200 bytes=5123 duration=12ms request_id=abcdef ", 2)[:100]
	out := make([]sluice.Message, n)
	app := names[0]
	for i := range out {
		if !perApp || i%batch == 0 {
			app = names[rng.IntN(apps)]
		}
		out[i] = sluice.Message{
			Time: time.Unix(1_700_000_000, 0).Add(time.Duration(i) * time.Microsecond),
			App:  app, Source: "app", Proc: fmt.Sprint("web.", i%4), Text: text,
			Facility: 1, Severity: 6,
		}
	}
	return out
}

// BenchmarkAppend measures Append in the steady state (rings full, memory
// limit reached when the apps do not fit) with the default bounds. One op
// is one message.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		apps   int
		perApp bool
		cfg    Config
		batch  int
	}{
		{"apps=1", 1, true, Config{}, 64},
		{"apps=100/mixed", 100, false, Config{}, 64},
		// What one 64 KiB read of a syslog connection gives: ~430.
		{"apps=100/mixed/batch=432", 100, false, Config{}, 432},
		{"apps=10000/batch-per-app", 10000, true, Config{}, 64},
		{"apps=10000/mixed", 10000, false, Config{}, 64},
		{"apps=10000/mixed/batch=432", 10000, false, Config{}, 432},
		{"apps=1/lines=100", 1, true, Config{Lines: 100}, 64},
		{"apps=10000/mixed/lines=100", 10000, false, Config{Lines: 100}, 64},
	} {
		batch := bc.batch
		b.Run(bc.name, func(b *testing.B) {
			msgs := benchMessages(batch*(1<<16/batch), bc.apps, batch, bc.perApp)
			s := New(bc.cfg, nil)
			// Warm up past the memory limit: 256 MiB / ~160 B per line.
			warm := 1 << 21
			if bc.apps == 1 {
				warm = 1 << 14
			}
			feed := relabel(bc.apps, bc.perApp)
			for i := 0; i < warm; i += batch {
				k := i % len(msgs)
				s.Append(feed(msgs[k : k+batch]))
			}
			runtime.GC()
			b.SetBytes(int64(msgs[0].Size()))
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i += batch {
				k := i % len(msgs)
				s.Append(feed(msgs[k : k+batch]))
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
			st := s.Stats()
			b.ReportMetric(float64(st.Apps), "apps_held")
		})
	}
}

// relabel returns a function that gives each per-app batch a random one of
// apps apps (about 1 ns per message); mixed batches pass unchanged.
func relabel(apps int, perApp bool) func([]sluice.Message) []sluice.Message {
	if !perApp || apps == 1 {
		return func(b []sluice.Message) []sluice.Message { return b }
	}
	names := make([]string, apps)
	for i := range names {
		names[i] = fmt.Sprintf("app-%05d", i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	return func(b []sluice.Message) []sluice.Message {
		app := names[rng.IntN(apps)]
		for i := range b {
			b[i].App = app
		}
		return b
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds: on a
// shared machine it says more about the cost of a call than the wall clock.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkAppendSubscribers measures what tails cost Append: each
// subscriber reads in its own goroutine (cpu-ns/msg counts their work too).
func BenchmarkAppendSubscribers(b *testing.B) {
	const batch = 64
	for _, subs := range []int{0, 1, 100} {
		for _, f := range []Filter{{}, {Ps: "web"}} {
			b.Run(fmt.Sprintf("subs=%d/filter=%q", subs, f.Ps), func(b *testing.B) {
				msgs := benchMessages(1<<14, 1, batch, true)
				s := New(Config{}, nil)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{}, subs)
				for i := 0; i < subs; i++ {
					sub := subscribe(b, s, msgs[0].App, Options{Filter: f})
					go func() {
						defer func() { done <- struct{}{} }()
						defer sub.Close()
						var buf []byte
						for {
							var err error
							// A reader that fell behind skips to the newest
							// line (ErrBehind) and reads on.
							if buf, err = sub.Next(ctx, buf[:0]); err != nil && !errors.Is(err, ErrBehind) {
								return
							}
						}
					}()
				}
				b.ReportAllocs()
				b.ResetTimer()
				start, cpu0 := time.Now(), cpuTime()
				for i := 0; i < b.N; i += batch {
					k := i % len(msgs)
					s.Append(msgs[k : k+batch])
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
				b.StopTimer()
				cancel()
				for i := 0; i < subs; i++ {
					<-done
				}
			})
		}
	}
}

// BenchmarkRingMemory fills rings and reports the heap they take against
// the bytes of the lines they hold (heap/line_bytes) and against the
// messages' own payload (heap/msg_bytes, sluice.Message.Size).
func BenchmarkRingMemory(b *testing.B) {
	for _, bc := range []struct {
		name string
		apps int
		cfg  Config
	}{
		{"apps=1/full", 1, Config{}},
		{"apps=10000/limit=256MiB", 10000, Config{}},
		{"apps=10000/100-lines", 10000, Config{Lines: 100}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				msgs := benchMessages(1<<16, bc.apps, 64, bc.apps == 1)
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				before := ms.HeapAlloc
				s := New(bc.cfg, nil)
				n := 1 << 14
				if bc.apps > 1 {
					n = 1 << 22
				}
				for i := 0; i < n; i += 64 {
					k := i % len(msgs)
					s.Append(msgs[k : k+64])
				}
				runtime.GC()
				runtime.ReadMemStats(&ms)
				heap := float64(ms.HeapAlloc - before)
				st := s.Stats()
				b.ReportMetric(heap/float64(st.LineBytes), "heap/line_bytes")
				b.ReportMetric(heap/float64(st.Lines*int64(msgs[0].Size())), "heap/msg_bytes")
				b.ReportMetric(float64(st.Memory)/float64(st.LineBytes), "mem/line_bytes")
				b.ReportMetric(float64(st.Apps), "apps_held")
				runtime.KeepAlive(s)
			}
		})
	}
}

// BenchmarkAppendStalledTails measures what tails that never read cost an
// app's Append (issue 10: 1,000 stalled tails must cost it at most 10%).
// One op is one message; compare tails=1000 with tails=0.
func BenchmarkAppendStalledTails(b *testing.B) {
	const batch = 64
	for _, tails := range []int{0, 1000} {
		b.Run(fmt.Sprintf("tails=%d", tails), func(b *testing.B) {
			msgs := benchMessages(1<<14, 1, batch, true)
			s := New(Config{MaxTails: tails + 1, MaxTailsPerApp: tails + 1}, nil)
			defer s.Close()
			for i := 0; i < tails; i++ {
				sub := subscribe(b, s, msgs[0].App, Options{})
				defer sub.Close()
			}
			for i := 0; i < 1<<14; i += batch {
				s.Append(msgs[i : i+batch])
			}
			b.SetBytes(int64(msgs[0].Size()))
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; i += batch {
				k := i % len(msgs)
				s.Append(msgs[k : k+batch])
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/msg")
		})
	}
}

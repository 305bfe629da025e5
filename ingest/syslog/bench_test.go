package syslog

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

// benchMessage is a realistic Logplex-style RFC 5424 message with
// structured data, about 150 bytes.
const benchMessage = `<190>1 2026-11-25T20:29:46.123456+00:00 d.8f2a1c host app web.1 - [meta sequenceId="12345"] at=info method=GET path="/" status=200 bytes=1024`

func octetStream(msg string, n int) []byte {
	var b []byte
	for range n {
		b = strconv.AppendInt(b, int64(len(msg)), 10)
		b = append(b, ' ')
		b = append(b, msg...)
	}
	return b
}

// BenchmarkFraming measures splitting octet-counted frames out of a full
// read buffer: the framer alone, without parsing.
func BenchmarkFraming(b *testing.B) {
	stream := octetStream(benchMessage, 400) // about one 64 KiB read
	f := newFramer(64 << 10)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	frames := 0
	for b.Loop() {
		sp := f.space()
		f.wrote(copy(sp, stream))
		for {
			_, ev := f.next()
			if ev == evNeedMore {
				break
			}
			frames++
		}
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "msgs/s")
}

// counter is a Publisher that only counts.
type counter struct{ n atomic.Int64 }

func (c *counter) Publish(_ context.Context, batch []sluice.Message) error {
	c.n.Add(int64(len(batch)))
	return nil
}

func (c *counter) TryPublish(batch []sluice.Message) error {
	c.n.Add(int64(len(batch)))
	return nil
}

// BenchmarkTCPIngest sends octet-counted benchMessage frames over loopback
// connections into a counting publisher: framing, parsing, batching and
// metrics, end to end. One op is one message.
func BenchmarkTCPIngest(b *testing.B) {
	for _, conns := range []int{1, 2} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			pub := &counter{}
			s := NewTCP(Config{Addr: "127.0.0.1:0", Publisher: pub})
			if err := s.Listen(); err != nil {
				b.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- s.Serve() }()
			defer func() {
				if err := s.Shutdown(context.Background()); err != nil {
					b.Error(err)
				}
				<-served
			}()
			const perChunk = 400
			chunk := octetStream(benchMessage, perChunk)
			cs := make([]net.Conn, conns)
			for i := range cs {
				c, err := net.Dial("tcp", s.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				cs[i] = c
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(chunk) / perChunk))
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, c := range cs {
				share := b.N / conns
				if i == 0 {
					share += b.N % conns
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for share > 0 {
						k := min(share, perChunk)
						if _, err := c.Write(chunk[:len(chunk)/perChunk*k]); err != nil {
							b.Error(err)
							return
						}
						share -= k
					}
				}()
			}
			wg.Wait()
			deadline := time.Now().Add(time.Minute)
			for pub.n.Load() < int64(b.N) && time.Now().Before(deadline) {
				runtime.Gosched()
			}
			b.StopTimer()
			if got := pub.n.Load(); got != int64(b.N) {
				b.Fatalf("published %d of %d messages", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-logs/sluice/benchmarks/internal/frames"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "framecount:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	n := flag.Int64("n", 1_000_000, "frames to wait for")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	mode := flag.String("mode", "scan", "scan: tight splitting loop over a 256 KiB buffer; bufio: bufio.Reader ReadSlice+Discard per frame")
	flag.Parse()
	if *mode != "scan" && *mode != "bufio" {
		return fmt.Errorf("-mode %q: want scan or bufio", *mode)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	fmt.Fprintf(os.Stderr, "framecount: listening on %s\n", ln.Addr())

	var (
		total     atomic.Int64
		firstByte atomic.Int64 // unix nanos
		done      = make(chan struct{})
		doneOnce  sync.Once
		doneAt    time.Time
		mu        sync.Mutex
		conns     []net.Conn
		wg        sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				add := func(k int64) {
					if total.Add(k) >= *n {
						doneOnce.Do(func() { doneAt = time.Now(); close(done) })
					}
				}
				r := firstByteReader{c, &firstByte}
				if *mode == "bufio" {
					_ = frames.ScanBufio(r, 256<<10, add)
					return
				}
				_ = frames.NewScanner(frames.Auto, 256<<10).Scan(r, add)
			})
		}
	})

	var runErr error
	select {
	case <-done:
	case <-time.After(*timeout):
		doneOnce.Do(func() {
			runErr = errors.New("timed out")
			doneAt = time.Now()
			close(done)
		})
		<-done
	}
	ln.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()

	res := struct {
		Frames     int64   `json:"frames"`
		Seconds    float64 `json:"seconds"`
		MsgsPerSec float64 `json:"msgs_per_sec"`
	}{Frames: total.Load()}
	if fb := firstByte.Load(); fb != 0 {
		res.Seconds = doneAt.Sub(time.Unix(0, fb)).Seconds()
		if res.Seconds > 0 {
			res.MsgsPerSec = float64(res.Frames) / res.Seconds
		}
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return runErr
}

// firstByteReader records when the first byte of any connection arrived.
type firstByteReader struct {
	c     net.Conn
	first *atomic.Int64
}

func (r firstByteReader) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	if n > 0 && r.first.Load() == 0 {
		r.first.CompareAndSwap(0, time.Now().UnixNano())
	}
	return n, err
}

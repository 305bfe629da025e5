package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-logs/sluice/benchmarks/internal/load"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "taillat:", err)
		os.Exit(1)
	}
}

type options struct {
	syslog, base string
	tails, apps  int
	rate, n      int64
	size         int
	timeout      time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.syslog, "syslog", "127.0.0.1:5514", "sluiced syslog TCP address")
	flag.StringVar(&o.base, "http", "http://127.0.0.1:8080", "sluiced HTTP base URL")
	flag.IntVar(&o.tails, "tails", 100, "concurrent tail sessions")
	flag.IntVar(&o.apps, "apps", 100, "apps the load is spread over (app-00000 is tailed)")
	flag.Int64Var(&o.rate, "rate", 100_000, "messages per second sent")
	flag.Int64Var(&o.n, "n", 500_000, "messages to send")
	flag.IntVar(&o.size, "size", 150, "message size in bytes")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	flag.Parse()
	if o.apps < 1 || o.tails < 1 || o.rate < 1 || o.n < 1 {
		return errors.New("-apps, -tails, -rate and -n must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := measure(ctx, o)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return err
}

type result struct {
	Tails      int     `json:"tails"`
	Sent       int64   `json:"sent"`
	SendRate   float64 `json:"send_rate"`
	Expected   int64   `json:"expected_lines"`
	Received   int64   `json:"received_lines"`
	L11        int64   `json:"l11_notices"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	P999ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	Incomplete int     `json:"incomplete_sessions"`
}

// session is one tail reader's progress.
type session struct {
	warm    atomic.Bool
	lastSeq atomic.Int64
}

func measure(ctx context.Context, o options) (result, error) {
	res := result{Tails: o.tails}
	var h histogram
	var l11 atomic.Int64
	sessions := make([]*session, o.tails)
	rctx, stopReaders := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopReaders(); wg.Wait() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.tails, DisableCompression: true}}
	url := o.base + "/apps/" + load.AppName(0) + "/logs?tail=1&num=0"
	errs := make(chan error, o.tails)
	for i := range sessions {
		s := &session{}
		s.lastSeq.Store(-1)
		sessions[i] = s
		wg.Go(func() {
			if err := tail(rctx, client, url, s, &h, &l11); err != nil && rctx.Err() == nil {
				errs <- err
			}
		})
	}

	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", o.syslog)
	if err != nil {
		return res, fmt.Errorf("dial syslog %s: %w", o.syslog, err)
	}
	defer conn.Close()
	context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Unix(1, 0)) })

	// Warm up until every session is connected and receiving.
	var buf []byte
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for warm := 0; ; warm++ {
		all := true
		for _, s := range sessions {
			all = all && s.warm.Load()
		}
		if all {
			break
		}
		buf = appendMsg(buf[:0], 0, -1, o.size)
		if _, err := conn.Write(buf); err != nil {
			return res, fmt.Errorf("send warm-up: %w", err)
		}
		select {
		case err := <-errs:
			return res, err
		case <-ctx.Done():
			return res, fmt.Errorf("waiting for %d tail sessions to connect: %w", o.tails, ctx.Err())
		case <-tick.C:
		}
	}

	// Send n messages at the rate, in 1 ms steps.
	send := time.NewTicker(time.Millisecond)
	defer send.Stop()
	start := time.Now()
	var seq int64
	for seq < o.n {
		due := min(o.n, int64(time.Since(start).Seconds()*float64(o.rate))+1)
		buf = buf[:0]
		for ; seq < due; seq++ {
			buf = appendMsg(buf, int(seq%int64(o.apps)), seq, o.size)
		}
		if len(buf) > 0 {
			if _, err := conn.Write(buf); err != nil {
				return res, fmt.Errorf("send: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-send.C:
		}
	}
	res.Sent = seq
	res.SendRate = float64(seq) / time.Since(start).Seconds()
	last := (o.n - 1) / int64(o.apps) * int64(o.apps) // last seq of app 0

	// Wait for every session to see the last message of the tailed app,
	// or for progress to stop for two seconds.
	lastProgress, lastReceived := time.Now(), h.total.Load()
	for {
		done := 0
		for _, s := range sessions {
			if s.lastSeq.Load() >= last {
				done++
			}
		}
		res.Incomplete = o.tails - done
		if done == o.tails {
			break
		}
		if r := h.total.Load(); r != lastReceived {
			lastProgress, lastReceived = time.Now(), r
		} else if time.Since(lastProgress) > 2*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
	}
	stopReaders()
	wg.Wait()
	res.Expected = (last/int64(o.apps) + 1) * int64(o.tails)
	res.Received = h.total.Load()
	res.L11 = l11.Load()
	res.P50ms, res.P99ms, res.P999ms = h.quantile(0.50), h.quantile(0.99), h.quantile(0.999)
	res.MaxMs = float64(h.max.Load()) / 1e3
	if res.Incomplete > 0 {
		return res, fmt.Errorf("%d of %d sessions did not receive every line", res.Incomplete, o.tails)
	}
	return res, nil
}

// appendMsg appends one octet-counted frame for app, with text
// "t=<now> seq=<seq> …" (seq -1 marks a warm-up line).
func appendMsg(dst []byte, app int, seq int64, size int) []byte {
	var m [512]byte
	b := append(m[:0], "<134>1 2026-11-25T20:29:46.000000+00:00 host-01 "...)
	b = append(b, load.AppName(app)...)
	b = append(b, " web.1 - - t="...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, " seq="...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ' ')
	for len(b) < size {
		b = append(b, 'x')
	}
	return load.AppendFrame(dst, load.Octet, b)
}

// tail reads one tail session until ctx ends.
func tail(ctx context.Context, c *http.Client, url string, s *session, h *histogram, l11 *atomic.Int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("tail %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("tail %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("tail %s: %s", url, resp.Status)
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			return err
		}
		now := time.Now().UnixNano()
		i := bytes.Index(line, []byte(": t="))
		if i < 0 {
			if bytes.Contains(line, []byte("Error L11")) {
				l11.Add(1)
			}
			continue
		}
		sent, rest := number(line[i+4:])
		seq, _ := number(bytes.TrimPrefix(rest, []byte(" seq=")))
		if bytes.HasPrefix(rest, []byte(" seq=-")) {
			s.warm.Store(true)
			continue
		}
		h.add((now - sent) / 1e3)
		s.lastSeq.Store(seq)
	}
}

// number parses the leading decimal digits of b.
func number(b []byte) (int64, []byte) {
	var n int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:]
}

// histogram counts latencies in µs: 10 µs buckets up to 100 ms, 1 ms
// buckets up to 10 s, then one overflow bucket.
type histogram struct {
	b     [10_000 + 9_900 + 1]atomic.Int64
	total atomic.Int64
	max   atomic.Int64
}

func (h *histogram) add(us int64) {
	us = max(us, 0)
	var i int64
	switch {
	case us < 100_000:
		i = us / 10
	case us < 10_000_000:
		i = 10_000 + (us-100_000)/1000
	default:
		i = int64(len(h.b) - 1)
	}
	h.b[i].Add(1)
	h.total.Add(1)
	for m := h.max.Load(); us > m && !h.max.CompareAndSwap(m, us); m = h.max.Load() {
	}
}

// quantile returns the upper bound of the bucket holding quantile q, in ms.
func (h *histogram) quantile(q float64) float64 {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	want := int64(q*float64(total)) + 1
	var seen int64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= want {
			if i < 10_000 {
				return float64(i+1) * 10 / 1e3
			}
			return float64(100_000+(i-10_000+1)*1000) / 1e3
		}
	}
	return float64(h.max.Load()) / 1e3
}

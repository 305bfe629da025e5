package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what a sender reports, printed as one JSON line by the
// commands.
type Result struct {
	Sent          int64   `json:"sent"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	MsgsPerSec    float64 `json:"msgs_per_sec"`
	MiBPerSec     float64 `json:"mib_per_sec"`
	StartUnixNano int64   `json:"start_unix_nano"`
	Retries       int64   `json:"retries,omitempty"`
}

// Finish fills the rates from Sent, Bytes and the elapsed time since start.
func (r *Result) Finish(start time.Time) {
	r.StartUnixNano = start.UnixNano()
	r.Seconds = time.Since(start).Seconds()
	if r.Seconds > 0 {
		r.MsgsPerSec = float64(r.Sent) / r.Seconds
		r.MiBPerSec = float64(r.Bytes) / r.Seconds / (1 << 20)
	}
}

// WriteChunk is the size of one write on a syslog connection.
const WriteChunk = 256 << 10

// SendTCP opens conns connections to addr and sends n messages of p in
// total, framed as f, spread evenly over the connections. Each connection
// starts at a different place in the pool and writes up to WriteChunk bytes
// of whole frames at a time, straight from the pool's framed buffer.
func SendTCP(ctx context.Context, addr string, p *Pool, f Framing, conns int, n int64) (Result, error) {
	if conns < 1 {
		conns = 1
	}
	buf, ends := p.Framed(f)
	var d net.Dialer
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for range conns {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return Result{}, fmt.Errorf("dial syslog %s: %w", addr, err)
		}
		cs = append(cs, c)
	}
	stop := context.AfterFunc(ctx, func() {
		for _, c := range cs {
			_ = c.SetWriteDeadline(time.Unix(1, 0))
		}
	})
	defer stop()

	var (
		wg    sync.WaitGroup
		res   Result
		errMu sync.Mutex
		errs  []error
	)
	start := time.Now()
	for i, c := range cs {
		share := n / int64(conns)
		if int64(i) < n%int64(conns) {
			share++
		}
		first := i * len(ends) / conns
		wg.Go(func() {
			sent, bytes, err := writeFrames(c, buf, ends, first, share)
			atomic.AddInt64(&res.Sent, sent)
			atomic.AddInt64(&res.Bytes, bytes)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			if err != nil {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("connection %d: %w", i, err))
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Finish(start)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, errors.Join(errs...)
}

// writeFrames writes n frames to w starting at frame first, wrapping round
// the pool.
func writeFrames(w io.Writer, buf []byte, ends []int, first int, n int64) (sent, written int64, err error) {
	i := first
	for sent < n {
		from := 0
		if i > 0 {
			from = ends[i-1]
		}
		// Last frame j (exclusive end) that keeps the chunk within
		// WriteChunk bytes and within the remaining count.
		j := sort.SearchInts(ends[i:], from+WriteChunk+1) + i
		if j == i {
			j = i + 1 // one frame larger than a chunk
		}
		if rem := n - sent; int64(j-i) > rem {
			j = i + int(rem)
		}
		k, err := w.Write(buf[from:ends[j-1]])
		written += int64(k)
		if err != nil {
			return sent, written, err
		}
		sent += int64(j - i)
		i = j
		if i == len(ends) {
			i = 0
		}
	}
	return sent, written, nil
}

// HTTPOptions configure SendHTTP.
type HTTPOptions struct {
	// URL is the ingest endpoint, for example http://127.0.0.1:8080/logs.
	URL string
	// Batch is the number of messages per POST (default 500).
	Batch int
	// Clients is the number of concurrent clients (default 4).
	Clients int
	// Token, when set, is sent as HTTP basic auth password (Logplex style).
	Token string
}

// SendHTTP posts n messages of p as application/logplex-1 batches. A 429 or
// 503 answer is retried after a short backoff (capped by Retry-After and by
// one second) and counted in Result.Retries; other non-2xx answers stop the
// run.
func SendHTTP(ctx context.Context, p *Pool, o HTTPOptions, n int64) (Result, error) {
	frames := func(from, count int) ([]byte, error) {
		var b []byte
		for j := from; j < from+count; j++ {
			b = AppendFrame(b, Octet, p.Message(j))
		}
		return b, nil
	}
	return sendBatches(ctx, p, o, n, frames, post)
}

// sendBatches posts n messages of p in bodies of o.Batch messages built by
// build(from, count) from o.Clients clients, each body sent by send; the
// first error stops the run. It is the loop of SendHTTP and SendOTLP.
func sendBatches(ctx context.Context, p *Pool, o HTTPOptions, n int64,
	build func(from, count int) ([]byte, error),
	send func(ctx context.Context, c *http.Client, o HTTPOptions, data []byte, count int) (int64, error),
) (Result, error) {
	if o.Batch < 1 {
		o.Batch = 500
	}
	if o.Clients < 1 {
		o.Clients = 4
	}
	// Bodies of Batch consecutive pool messages; the last one of the run
	// may be shorter and is built when needed.
	type body struct {
		data  []byte
		count int
	}
	var bodies []body
	for i := 0; i+o.Batch <= p.Len(); i += o.Batch {
		b, err := build(i, o.Batch)
		if err != nil {
			return Result{}, err
		}
		bodies = append(bodies, body{b, o.Batch})
	}
	if len(bodies) == 0 {
		return Result{}, fmt.Errorf("pool of %d messages is smaller than one batch of %d", p.Len(), o.Batch)
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: o.Clients,
		DisableCompression:  true,
	}}
	defer client.CloseIdleConnections()

	var (
		next  atomic.Int64 // next batch number
		res   Result
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	fail := func(err error) {
		errMu.Lock()
		if first == nil {
			first = err
		}
		errMu.Unlock()
	}
	batches := (n + int64(o.Batch) - 1) / int64(o.Batch)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range o.Clients {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= batches {
					return
				}
				b := bodies[k%int64(len(bodies))]
				if rem := n - k*int64(o.Batch); rem < int64(b.count) {
					d, err := build(0, int(rem))
					if err != nil {
						fail(err)
						cancel()
						return
					}
					b = body{d, int(rem)}
				}
				retries, err := send(ctx, client, o, b.data, b.count)
				atomic.AddInt64(&res.Retries, retries)
				if err != nil {
					fail(err)
					cancel()
					return
				}
				atomic.AddInt64(&res.Sent, int64(b.count))
				atomic.AddInt64(&res.Bytes, int64(len(b.data)))
			}
		})
	}
	wg.Wait()
	res.Finish(start)
	return res, first
}

// post sends one batch, retrying on 429 and 503.
func post(ctx context.Context, c *http.Client, o HTTPOptions, data []byte, count int) (retries int64, err error) {
	backoff := 5 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(data))
		if err != nil {
			return retries, fmt.Errorf("post %s: %w", o.URL, err)
		}
		req.Header.Set("Content-Type", "application/logplex-1")
		req.Header.Set("Logplex-Msg-Count", strconv.Itoa(count))
		if o.Token != "" {
			req.SetBasicAuth("token", o.Token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return retries, fmt.Errorf("post %s: %w", o.URL, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return retries, nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			retries++
			wait := backoff
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && time.Duration(s)*time.Second < wait {
				wait = time.Duration(s) * time.Second
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return retries, ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
		default:
			return retries, fmt.Errorf("post %s: %s: %s", o.URL, resp.Status, bytes.TrimSpace(msg))
		}
	}
}

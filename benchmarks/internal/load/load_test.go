package load_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/benchmarks/internal/frames"
	"github.com/sluice-logs/sluice/benchmarks/internal/load"
)

// TestSendTCPFrames sends 10,000 messages over real loopback connections to
// the framing-only counter and checks that every frame arrives, for both
// framings.
func TestSendTCPFrames(t *testing.T) {
	pool := load.NewPool(load.Options{Apps: 7})
	for _, tc := range []struct {
		name    string
		framing load.Framing
		conns   int
	}{
		{"octet 1 conn", load.Octet, 1},
		{"octet 3 conns", load.Octet, 3},
		{"lf 2 conns", load.LF, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 10_000
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var (
				got  atomic.Int64
				wg   sync.WaitGroup
				errs = make(chan error, tc.conns)
			)
			wg.Go(func() {
				for range tc.conns {
					c, err := ln.Accept()
					if err != nil {
						errs <- err
						return
					}
					wg.Go(func() {
						defer c.Close()
						if err := frames.NewScanner(frames.Auto, 4096).Scan(c, func(k int64) { got.Add(k) }); err != nil {
							errs <- err
						}
					})
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := load.SendTCP(ctx, ln.Addr().String(), pool, tc.framing, tc.conns, n)
			if err != nil {
				t.Fatalf("SendTCP: %v", err)
			}
			wg.Wait() // the senders closed their side: the readers saw EOF
			close(errs)
			for err := range errs {
				t.Fatalf("reader: %v", err)
			}
			if res.Sent != n || got.Load() != n {
				t.Fatalf("sent %d, counted %d, want %d", res.Sent, got.Load(), n)
			}
			if res.Bytes < n*100 {
				t.Fatalf("sent %d bytes for %d messages, want about 150 a message", res.Bytes, n)
			}
		})
	}
}

// TestSendHTTPBatches posts 10,250 messages as logplex-1 batches to a real
// HTTP server that counts the frames, and checks the Msg-Count header.
func TestSendHTTPBatches(t *testing.T) {
	var got, bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			bad.Add(1)
		}
		k, err := frames.Count(frames.Auto, body)
		if err != nil || r.Header.Get("Logplex-Msg-Count") != strconv.FormatInt(k, 10) ||
			r.Header.Get("Content-Type") != "application/logplex-1" {
			bad.Add(1)
		}
		got.Add(k)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 10_250
	res, err := load.SendHTTP(ctx, load.NewPool(load.Options{Apps: 3}), load.HTTPOptions{URL: srv.URL, Clients: 3}, n)
	if err != nil {
		t.Fatalf("SendHTTP: %v", err)
	}
	if res.Sent != n || got.Load() != n || bad.Load() != 0 {
		t.Fatalf("sent %d, counted %d, bad requests %d, want %d and 0", res.Sent, got.Load(), bad.Load(), n)
	}
}

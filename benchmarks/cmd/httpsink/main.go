package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-logs/sluice/benchmarks/internal/frames"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "httpsink:", err)
		os.Exit(1)
	}
}

type counts struct {
	Frames   atomic.Int64
	Requests atomic.Int64
	Bytes    atomic.Int64
	Bad      atomic.Int64
}

func (c *counts) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int64{
		"frames": c.Frames.Load(), "requests": c.Requests.Load(),
		"bytes": c.Bytes.Load(), "bad_requests": c.Bad.Load(),
	})
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	n := flag.Int64("n", 0, "exit after this many frames (0: run until SIGTERM)")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	fmt.Fprintf(os.Stderr, "httpsink: listening on %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var (
		c        counts
		bufs     = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}
		reached  = make(chan struct{})
		reachOne sync.Once
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&c)
	})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		var src io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				c.Bad.Add(1)
				http.Error(w, "gzip: "+err.Error(), http.StatusBadRequest)
				return
			}
			src = zr
		}
		body, err := readAll(src, (*bp)[:0])
		*bp = body
		if err != nil {
			c.Bad.Add(1)
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		mode := frames.Lines
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/logplex-1" {
			mode = frames.Auto
		}
		k, err := frames.Count(mode, body)
		if err != nil {
			c.Bad.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.Requests.Add(1)
		c.Bytes.Add(int64(len(body)))
		if c.Frames.Add(k) >= *n && *n > 0 {
			reachOne.Do(func() { close(reached) })
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var runErr error
	select {
	case <-ctx.Done():
	case <-reached:
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && runErr == nil {
		runErr = fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = err
	}
	out, _ := json.Marshal(&c)
	fmt.Println(string(out))
	return runErr
}

// readAll reads r into buf, growing it as needed.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

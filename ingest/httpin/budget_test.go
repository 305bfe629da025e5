package httpin

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-logs/sluice/internal/budget"
)

// Request bodies are held within the memory budget's pool: a body whose
// decompression or whose parsed messages would take the pool over its
// limit is answered 503 with Retry-After, counted memory_budget, and
// nothing of it is published; the pool is empty after every request.
func TestBodiesWithinBudget(t *testing.T) {
	const poolSize = 1 << 20
	tiny := strings.Repeat("a\n", 200<<10)                       // 400 KiB of 2-byte lines: 200k messages
	bomb := strings.Repeat(strings.Repeat("x", 99)+"\n", 40<<10) // 4 MiB inflated
	for _, tc := range []struct {
		name   string
		body   []byte
		hdr    map[string]string
		status int
	}{
		{"small text", []byte("hello\nworld\n"), map[string]string{"Content-Type": "text/plain"}, http.StatusNoContent},
		{"small gzip", gz(t, []byte("hello\n")), map[string]string{"Content-Type": "text/plain", "Content-Encoding": "gzip"}, http.StatusNoContent},
		{"gzip inflating past the pool", gz(t, []byte(bomb)), map[string]string{"Content-Type": "text/plain", "Content-Encoding": "gzip"}, http.StatusServiceUnavailable},
		{"messages past the pool", []byte(tiny), map[string]string{"Content-Type": "text/plain"}, http.StatusServiceUnavailable},
		{"ndjson messages past the pool", bytes.Repeat([]byte(`{"app":"a","msg":"m"}`+"\n"), 60<<10), map[string]string{"Content-Type": "application/x-ndjson"}, http.StatusServiceUnavailable},
		{"logplex frames past the pool", bytes.Repeat([]byte(frame(rfc5424("a", "web.1", "m"))), 60<<10), map[string]string{"Content-Type": "application/logplex-1"}, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := budget.NewPool(poolSize)
			s := startServer(t, serverOpts{maxBody: 16 << 20, bodies: pool})
			resp := s.post(t, "POST", "?app=a", tc.hdr, tc.body)
			if resp.status != tc.status {
				t.Fatalf("status %d (%q), want %d", resp.status, resp.body, tc.status)
			}
			rejected, accepted := s.counts(t)
			if tc.status == http.StatusServiceUnavailable {
				if resp.header.Get("Retry-After") == "" || !strings.Contains(resp.body, "MAX_INFLIGHT_BODY_BYTES") {
					t.Errorf("503 without Retry-After or reason: %v %q", resp.header, resp.body)
				}
				if rejected["memory_budget"] != 1 || accepted != 0 || len(s.pub.got()) != 0 {
					t.Errorf("rejected %v, accepted %v, published %d", rejected, accepted, len(s.pub.got()))
				}
			}
			if pool.Used() != 0 || pool.Peak() > poolSize {
				t.Errorf("pool holds %d after the request, peaked at %d", pool.Used(), pool.Peak())
			}
		})
	}
}

// Concurrent requests share the pool: with room for a few bodies at once,
// some of many concurrent bombs are refused, none is lost silently, and the
// pool never goes over.
func TestBodiesShareTheBudget(t *testing.T) {
	pool := budget.NewPool(8 << 20)
	s := startServer(t, serverOpts{maxBody: 16 << 20, bodies: pool})
	body := gz(t, []byte(strings.Repeat(strings.Repeat("x", 99)+"\n", 20<<10))) // 2 MiB inflated
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := s.post(t, "POST", "?app=a", map[string]string{"Content-Type": "text/plain", "Content-Encoding": "gzip"}, body)
			mu.Lock()
			codes[resp.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusNoContent]+codes[http.StatusServiceUnavailable] != 20 || codes[http.StatusNoContent] == 0 {
		t.Fatalf("answers %v", codes)
	}
	rejected, _ := s.counts(t)
	if int(rejected["memory_budget"]) != codes[http.StatusServiceUnavailable] {
		t.Errorf("counted %v, answered %v", rejected, codes)
	}
	if pool.Used() != 0 || pool.Peak() > pool.Limit() {
		t.Errorf("pool holds %d, peaked %d", pool.Used(), pool.Peak())
	}
}

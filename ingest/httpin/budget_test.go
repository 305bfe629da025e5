package httpin

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-logs/sluice/internal/budget"
)

// Request bodies are held within the memory budget's pool. A body whose
// decompression or parsed messages need more than is left of the pool
// (another request holds the rest) gets 503 with Retry-After, counted
// memory_budget; one that needs more than the whole pool gets 413, counted
// too_large; nothing of either is published, and the pool is empty after
// every request.
func TestBodiesWithinBudget(t *testing.T) {
	const poolSize = 8 << 20
	line := strings.Repeat("x", 99) + "\n"
	text := map[string]string{"Content-Type": "text/plain"}
	gzipped := map[string]string{"Content-Type": "text/plain", "Content-Encoding": "gzip"}
	for _, tc := range []struct {
		name   string
		body   []byte
		hdr    map[string]string
		held   int64 // by another request meanwhile
		status int
		reason string
	}{
		{"small text", []byte("hello\nworld\n"), text, 7 << 20, http.StatusNoContent, ""},
		{"small gzip", gz(t, []byte("hello\n")), gzipped, 7 << 20, http.StatusNoContent, ""},
		{"gzip inflating past what is left", gz(t, []byte(strings.Repeat(line, 20<<10))), gzipped, 7 << 20, http.StatusServiceUnavailable, "memory_budget"},
		{"gzip inflating past the whole pool", gz(t, []byte(strings.Repeat(line, 120<<10))), gzipped, 0, http.StatusRequestEntityTooLarge, "too_large"},
		{"2-byte lines: messages past the whole pool", []byte(strings.Repeat("a\n", 200<<10)), text, 0, http.StatusRequestEntityTooLarge, "too_large"},
		{"ndjson messages past what is left", bytes.Repeat([]byte(`{"app":"a","msg":"m"}`+"\n"), 20<<10), map[string]string{"Content-Type": "application/x-ndjson"}, 7 << 20, http.StatusServiceUnavailable, "memory_budget"},
		{"logplex frames past what is left", bytes.Repeat([]byte(frame(rfc5424("a", "web.1", "m"))), 20<<10), map[string]string{"Content-Type": "application/logplex-1"}, 7 << 20, http.StatusServiceUnavailable, "memory_budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := budget.NewPool(poolSize)
			other := pool.Lease()
			if !other.Grow(tc.held) {
				t.Fatal("cannot hold")
			}
			s := startServer(t, serverOpts{maxBody: 16 << 20, bodies: pool})
			resp := s.post(t, "POST", "?app=a", tc.hdr, tc.body)
			if resp.status != tc.status {
				t.Fatalf("status %d (%q), want %d", resp.status, resp.body, tc.status)
			}
			rejected, accepted := s.counts(t)
			if tc.reason != "" {
				if rejected[tc.reason] != 1 || accepted != 0 || len(s.pub.got()) != 0 {
					t.Errorf("rejected %v, accepted %v, published %d", rejected, accepted, len(s.pub.got()))
				}
				if !strings.Contains(resp.body, "MAX_INFLIGHT_BODY_BYTES") {
					t.Errorf("answer does not name the limit: %q", resp.body)
				}
			}
			if (tc.status == http.StatusServiceUnavailable) != (resp.header.Get("Retry-After") != "") {
				t.Errorf("status %d with Retry-After %q", resp.status, resp.header.Get("Retry-After"))
			}
			other.Release()
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

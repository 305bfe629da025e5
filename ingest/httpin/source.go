package httpin

import (
	"context"
	"sync"

	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/metrics"
)

// Route is the path the handler answers on the daemon's HTTP server.
const Route = "/logs"

// Name is the handler's transport, http.
func (h *Handler) Name() string { return metrics.HTTP }

// Route is the path the handler answers, /logs.
func (h *Handler) Route() string { return Route }

// Shutdown refuses new requests (503 with Retry-After, counted closed) and
// waits for the requests being handled to answer, or for ctx.
func (h *Handler) Shutdown(ctx context.Context) error {
	select {
	case <-h.gate.close():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gate counts the requests in flight and refuses new ones once closed.
type gate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // made by close; closed when n reaches 0
}

// enter admits one request, or reports false after close.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends a request that enter admitted.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.idle != nil {
		select {
		case <-g.idle:
		default:
			close(g.idle)
		}
	}
}

// close refuses new requests and returns a channel closed when none is in
// flight.
func (g *gate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.idle = make(chan struct{})
		if g.n == 0 {
			close(g.idle)
		}
	}
	return g.idle
}

// Interface guard.
var _ ingest.Mounted = (*Handler)(nil)

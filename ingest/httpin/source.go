package httpin

import (
	"context"

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
	case <-h.gate.Close():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Interface guard.
var _ ingest.Mounted = (*Handler)(nil)

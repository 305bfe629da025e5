package daemon

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/metrics"
)

// admission reserves an ingest request's body in the memory budget's body
// pool (MAX_INFLIGHT_BODY_BYTES) when its headers are in, before fasthttp
// reads the body: fasthttp reads a body whole before the handler runs, so
// without this, 50 concurrent 15 MiB POSTs held 700 MiB before any handler
// could refuse one. A request the pool cannot take now has its body
// dropped, as for a refused token (see headerReceived), and is answered
// 503 with Retry-After by route.
//
// A reservation is keyed by the request's header, which fasthttp keeps for
// the connection's life and reuses for its next request. route releases it
// just before the source's handler runs (the handler then holds the body in
// its own lease), the error handler when the body could not be read; one
// whose connection died while its body was read is released when the
// header is reused, or, when the pool is short, once its body's read
// deadline has passed. Safe for concurrent use.
type admission struct {
	pool *budget.Pool

	mu      sync.Mutex
	held    map[*fasthttp.RequestHeader]*admitted
	refused map[*fasthttp.RequestHeader]bool
}

type admitted struct {
	lease budget.Lease
	until time.Time // past its body's read deadline: reclaimable
}

func newAdmission(pool *budget.Pool) *admission {
	return &admission{pool: pool, held: map[*fasthttp.RequestHeader]*admitted{}, refused: map[*fasthttp.RequestHeader]bool{}}
}

// admit reserves n bytes for h's body, whose read must end within
// deadline, and reports whether it could. When it could not, the request
// is remembered as refused (see refusedNow).
func (a *admission) admit(h *fasthttp.RequestHeader, n int64, deadline time.Duration) bool {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(h) // the connection's last request, if it never reached route
	delete(a.refused, h)
	e := &admitted{lease: a.pool.Lease(), until: now.Add(deadline + time.Second)}
	if !e.lease.Grow(n) {
		// Reservations of bodies whose read deadline has passed are of
		// connections that died reading them.
		for k, old := range a.held {
			if now.After(old.until) {
				old.lease.Release()
				delete(a.held, k)
			}
		}
		if !e.lease.Grow(n) {
			a.refused[h] = true
			return false
		}
	}
	a.held[h] = e
	return true
}

// done releases h's reservation, if any, and reports whether h was refused.
func (a *admission) done(h *fasthttp.RequestHeader) (refused bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.releaseLocked(h)
	refused = a.refused[h]
	delete(a.refused, h)
	return refused
}

func (a *admission) releaseLocked(h *fasthttp.RequestHeader) {
	if e, ok := a.held[h]; ok {
		e.lease.Release()
		delete(a.held, h)
	}
}

// overBudget answers an ingest request refused at admission: 503 with
// Retry-After, counted memory_budget under the source's transport.
func (d *Daemon) overBudget(ctx *fasthttp.RequestCtx, transport string) {
	d.ingest.Rejected.WithLabelValues(transport, metrics.ReasonMemoryBudget.String()).Inc()
	ctx.Error("request bodies in flight are at MAX_INFLIGHT_BODY_BYTES, retry later\n", fasthttp.StatusServiceUnavailable)
	ctx.Response.Header.Set("Retry-After", "1")
	ctx.SetConnectionClose()
}

package router

import (
	"context"
	"sync"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/sluice-logs/sluice/drains"
)

// Router fans messages out to the rings and the drains.
type Router struct {
	store   *buffer.Store
	workers []*drains.Worker
	// blocking are the workers with policy=block: TryPublish asks them for
	// room before accepting a batch; dropping are the others.
	blocking, dropping []*drains.Worker

	// mu makes Close wait for publishes in progress, so nothing reaches a
	// drain after the daemon starts flushing the drains.
	mu     sync.RWMutex
	closed bool

	// lim is the per-app rate limit, nil when off (LimitRate); the
	// goroutine that reports its drops is stopped by Close.
	lim     *limiter
	stopLim context.CancelFunc
	limDone chan struct{}
}

// New returns a router over store and workers. The workers are started and
// stopped by their owner (the daemon), not by the router.
func New(store *buffer.Store, workers []*drains.Worker) *Router {
	r := &Router{store: store, workers: workers}
	for _, w := range workers {
		if w.Policy() == drains.PolicyBlock {
			r.blocking = append(r.blocking, w)
		} else {
			r.dropping = append(r.dropping, w)
		}
	}
	return r
}

// Publish appends batch to the rings and enqueues it on every drain that
// wants its apps, waiting for room in policy=block drains.
func (r *Router) Publish(ctx context.Context, batch []sluice.Message) error {
	if len(batch) == 0 {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return sluice.ErrClosed
	}
	if r.lim == nil {
		return r.publish(ctx, batch)
	}
	p := r.lim.decide(batch)
	defer r.lim.commit(p) // Publish accepts what it is given, or fails with ctx
	return r.publish(ctx, p.messages(batch))
}

func (r *Router) publish(ctx context.Context, batch []sluice.Message) error {
	r.store.Append(batch)
	for _, w := range r.workers {
		if err := w.Enqueue(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// TryPublish accepts the whole batch or nothing, and never waits for
// room. When a policy=block drain that wants some of its apps lacks room
// for them (or is stopping), it returns sluice.ErrBackpressure (or
// sluice.ErrClosed) and no ring and no drain has taken any of it: the
// blocking drains reserve their shares together (drains.TryEnqueueAll),
// before the rings and the policy=drop drains take theirs.
func (r *Router) TryPublish(batch []sluice.Message) error {
	if len(batch) == 0 {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return sluice.ErrClosed
	}
	if r.lim != nil {
		// Tokens are spent only for a batch that is accepted: refused, it
		// will be sent again.
		p := r.lim.decide(batch)
		if err := r.tryPublish(p.messages(batch)); err != nil {
			r.lim.refund(p)
			return err
		}
		r.lim.commit(p)
		return nil
	}
	return r.tryPublish(batch)
}

func (r *Router) tryPublish(batch []sluice.Message) error {
	if err := drains.TryEnqueueAll(r.blocking, batch); err != nil {
		return err
	}
	r.store.Append(batch)
	for _, w := range r.dropping {
		_ = w.Enqueue(context.Background(), batch) // policy=drop never waits or fails
	}
	return nil
}

// Offer is for senders that cannot be pushed back (syslog over UDP): it
// never waits and never refuses for want of room. The rings and the
// policy=drop drains take the whole batch; each policy=block drain takes
// the messages that fit in its queue now and drops the rest, counted in its
// dropped metric under drains.ReasonUDPNoBackpressure, so one app's full
// blocking drain costs other apps nothing and the drain's accounting
// still balances. It returns sluice.ErrClosed after Close.
func (r *Router) Offer(batch []sluice.Message) error {
	if len(batch) == 0 {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return sluice.ErrClosed
	}
	if r.lim != nil {
		p := r.lim.decide(batch)
		defer r.lim.commit(p)
		batch = p.messages(batch)
	}
	r.store.Append(batch)
	drains.OfferAll(r.workers, batch)
	return nil
}

// Close makes every later Publish fail with sluice.ErrClosed and waits for
// the publishes in progress to finish.
func (r *Router) Close() {
	if r.stopLim != nil {
		r.stopLim()
		<-r.limDone
	}
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

var _ sluice.Publisher = (*Router)(nil)

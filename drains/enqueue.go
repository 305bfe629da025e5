package drains

import (
	"context"
	"time"

	"github.com/sluice-logs/sluice"
)

// Need returns how many of batch's messages the drain wants and their
// bytes, the arguments of HasRoom.
func (w *Worker) Need(batch []sluice.Message) (n int, bytes int64) {
	for i := range batch {
		if w.Wants(batch[i].App) {
			n++
			bytes += int64(batch[i].Size())
		}
	}
	return n, bytes
}

// HasRoom reports whether n messages of the given bytes would enter the
// queue now without waiting. It is always true with policy=drop (room is
// made by dropping the oldest) and false once the Worker is stopping.
func (w *Worker) HasRoom(n int, bytes int64) bool {
	if w.opts.Policy == PolicyDrop {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	return w.q.room(n, bytes)
}

// Enqueue copies the messages of batch that the drain wants into its queue,
// in order. With policy=drop it never blocks: the oldest queued messages
// are dropped (and counted) to make room. With policy=block it waits for
// room, and returns ctx.Err() if ctx ends first, with the batch partly
// accepted. After Stop it returns sluice.ErrClosed and takes nothing.
// A message larger than queue_bytes is dropped (reason too_large).
func (w *Worker) Enqueue(ctx context.Context, batch []sluice.Message) error {
	now := time.Now()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return sluice.ErrClosed
	}
	accepted, err := w.enqueueLocked(ctx, batch, now)
	w.mu.Unlock()
	if accepted > 0 {
		w.signal()
	}
	return err
}

// TryEnqueue is Enqueue that never waits: with policy=block it takes all
// of the wanted messages of batch or, when the queue lacks room for them,
// none, and returns sluice.ErrBackpressure. With policy=drop it is Enqueue.
// Unlike HasRoom followed by Enqueue, the check and the copy are atomic.
func (w *Worker) TryEnqueue(batch []sluice.Message) error {
	if w.opts.Policy != PolicyBlock {
		return w.Enqueue(context.Background(), batch)
	}
	return TryEnqueueAll([]*Worker{w}, batch)
}

// TryEnqueueAll is TryEnqueue over several workers at once, all or
// nothing: either every worker takes its wanted messages of batch, or none
// takes any and the error says why (sluice.ErrBackpressure when one of
// them lacks room, sluice.ErrClosed when one is stopping). It never waits
// for room. The workers' locks are taken in the order of ws, so every
// caller must pass its workers in one fixed order (the router's), each
// worker once.
func TryEnqueueAll(ws []*Worker, batch []sluice.Message) error {
	for i, w := range ws {
		w.mu.Lock()
		var err error
		switch {
		case w.closed:
			err = sluice.ErrClosed
		case w.opts.Policy == PolicyBlock && !w.roomLocked(batch):
			err = sluice.ErrBackpressure
		}
		if err != nil {
			for _, u := range ws[:i+1] {
				u.mu.Unlock()
			}
			return err
		}
	}
	enq := time.Now()
	for _, w := range ws {
		// Everything fits: enqueueLocked never waits, never fails.
		accepted, _ := w.enqueueLocked(context.Background(), batch, enq)
		w.mu.Unlock()
		if accepted > 0 {
			w.signal()
		}
	}
	return nil
}

// roomLocked reports whether the wanted messages of batch that are not too
// large for the queue fit in it now, all of them.
func (w *Worker) roomLocked(batch []sluice.Message) bool {
	var n int
	var bytes int64
	for i := range batch {
		if size := int64(batch[i].Size()); w.Wants(batch[i].App) && !w.q.tooLarge(size) {
			n++
			bytes += size
		}
	}
	return w.q.room(n, bytes)
}

// enqueueLocked offers the wanted messages of batch to the queue and
// counts what it dropped. With policy=block it waits for room (unlocking
// w.mu meanwhile) and returns early when ctx ends or the Worker stops.
// start is when the call began, the messages' enqueue time.
func (w *Worker) enqueueLocked(ctx context.Context, batch []sluice.Message, start time.Time) (accepted int, err error) {
	enq := int64(start.Sub(w.epoch))
	var now time.Time // wall clock of drops, read once
	for i := range batch {
		m := &batch[i]
		if w.apps != nil && !w.Wants(m.App) {
			continue
		}
		size := int64(m.Size())
		v, d := w.q.offer(m, size, enq, w.stats.received)
		for v != queued && v != refused {
			switch v {
			case mustWait:
				if err := w.waitRoomLocked(ctx); err != nil {
					return accepted, err
				}
			case evicted:
				if now.IsZero() {
					now = time.Now()
				}
				w.countDropLocked(d, now)
			}
			v, d = w.q.offer(m, size, enq, w.stats.received)
		}
		// received counts a message together with its outcome (queued or
		// dropped), under the same lock, so Status always balances.
		w.stats.received++
		if v == queued {
			accepted++
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		w.countDropLocked(d, now)
	}
	return accepted, nil
}

// countDropLocked counts a message the queue dropped. Queue overflows and
// too large messages are remembered per app for the in-band L10 report.
func (w *Worker) countDropLocked(d dropped, now time.Time) {
	w.stats.dropped[d.reason]++
	if d.reason == queueFull || d.reason == tooLarge {
		w.notices.add(d.app, now) // d.app views queue memory: add clones it
	}
}

// waitRoomLocked waits, with w.mu unlocked, until the goroutine frees room
// in the queue, ctx ends or the Worker stops (policy=block).
func (w *Worker) waitRoomLocked(ctx context.Context) error {
	w.waiters++
	ch := w.space
	w.mu.Unlock()
	w.signal()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	case <-w.stopCh:
		err = sluice.ErrClosed
	}
	w.mu.Lock()
	w.waiters--
	if err == nil && w.closed {
		err = sluice.ErrClosed
	}
	return err
}

// signal wakes the goroutine without blocking.
func (w *Worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// freedLocked wakes the Enqueue calls waiting for room.
func (w *Worker) freedLocked() {
	if w.waiters > 0 {
		close(w.space)
		w.space = make(chan struct{})
	}
}

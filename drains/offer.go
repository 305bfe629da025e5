package drains

import (
	"context"
	"time"

	"github.com/sluice-logs/sluice"
)

// ReasonUDPNoBackpressure is the drop reason of a message offered to a
// full policy=block drain by a sender that cannot be pushed back (syslog
// over UDP): the drain drops it, and only that drain (see OfferAll).
const ReasonUDPNoBackpressure = "udp_no_backpressure"

// OfferAll gives every worker of ws the wanted messages of batch without
// ever waiting: a policy=block worker takes each message that fits in its
// queue now and drops the others, counted under ReasonUDPNoBackpressure
// (received = delivered + dropped + queued still holds); a policy=drop
// worker behaves as in Enqueue. A stopping worker takes nothing. It
// returns how many messages were dropped for want of room, over all ws.
//
// It is for senders that no backpressure can reach: one app's full
// blocking drain must not stop the others' datagrams from reaching their
// rings and drains.
func OfferAll(ws []*Worker, batch []sluice.Message) (dropped int) {
	start := time.Now()
	for _, w := range ws {
		if w.opts.Policy != PolicyBlock {
			_ = w.Enqueue(context.Background(), batch) // policy=drop never waits or fails
			continue
		}
		n, accepted := w.offer(batch, start)
		dropped += n
		if accepted > 0 {
			w.signal()
		}
	}
	return dropped
}

// offer is OfferAll for one policy=block worker: each wanted message the
// queue would make it wait for is dropped instead (udpNoBackpressure).
func (w *Worker) offer(batch []sluice.Message, start time.Time) (lost, accepted int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, 0
	}
	enq := int64(start.Sub(w.epoch))
	for i := range batch {
		m := &batch[i]
		if w.apps != nil && !w.Wants(m.App) {
			continue
		}
		size := int64(m.Size())
		seq := w.stats.received // the message's number, as enqueueLocked gives it
		w.stats.received++
		switch v, d := w.q.offer(m, size, enq, seq); v {
		case queued:
			accepted++
		case mustWait:
			w.countDropLocked(dropped{app: m.App, reason: udpNoBackpressure, size: size}, start)
			lost++
		default: // refused: too large
			w.countDropLocked(d, start)
		}
	}
	return lost, accepted
}

package drains

import (
	"context"
	"errors"
	"time"

	"github.com/sluice-logs/sluice"
)

// run is the Worker's goroutine: it owns the in-flight batch.
func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var b batch
	s := sendState{timer: time.NewTimer(time.Hour)}
	s.timer.Stop()
	for {
		w.mu.Lock()
		stopping := w.closed
		if w.q.n == 0 && !w.notices.pending() {
			w.mu.Unlock()
			if stopping {
				return
			}
			select {
			case <-w.wake:
			case <-w.stopCh:
			}
			continue
		}
		if wait := w.flushWaitLocked(stopping); wait > 0 {
			w.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-w.wake:
			case <-timer.C:
			case <-w.stopCh:
			}
			timer.Stop()
			continue
		}
		w.takeLocked(&b)
		w.mu.Unlock()

		w.deliver(ctx, &b, &s)
		if ctx.Err() != nil {
			// Stop's deadline passed: what is left will not be delivered.
			w.mu.Lock()
			w.giveUpLocked(&b)
			w.mu.Unlock()
			return
		}
	}
}

// flushWaitLocked returns how long the goroutine should wait before it
// takes a batch: zero when a full batch is queued, a producer waits for
// room, the Worker is stopping or the oldest message has reached the flush
// age.
func (w *Worker) flushWaitLocked(stopping bool) time.Duration {
	if stopping || w.waiters > 0 || w.q.n >= w.opts.Batch || w.q.bytes >= w.opts.BatchBytes {
		return 0
	}
	return w.opts.Flush - w.ageLocked()
}

// ageLocked returns how long the oldest queued message (or unreported
// drop) has waited.
func (w *Worker) ageLocked() time.Duration {
	now := time.Since(w.epoch)
	var age time.Duration
	if w.q.n > 0 {
		age = now - time.Duration(w.q.enq[w.q.head])
	}
	if t := w.notices.oldest(); !t.IsZero() {
		age = max(age, time.Since(t))
	}
	return age
}

// takeLocked fills b up to the batch limits (batch, batch_bytes): the
// pending L10 notices first (notices.go), then the oldest queued messages.
func (w *Worker) takeLocked(b *batch) {
	b.reset()
	var noteBytes int64
	if w.notices.pending() {
		maxN, maxBytes := w.opts.Batch, w.opts.BatchBytes
		if w.q.n > 0 { // leave messages at least half the batch
			maxN, maxBytes = max(1, maxN/2), max(1, maxBytes/2)
		}
		noteBytes = w.takeNoticesLocked(b, maxN, maxBytes, int64(time.Since(w.epoch)))
	}
	for taken := len(b.msgs); w.q.n > 0 && taken < w.opts.Batch; taken++ {
		size := int64(w.q.oldest().Size())
		if taken > 0 && noteBytes+b.bytes+size > w.opts.BatchBytes {
			break
		}
		b.takeFrom(&w.q.ring, size)
	}
	w.q.take(b)
	w.seq++
	b.id = w.seq
}

// giveUpLocked counts the in-flight batch and the queue as undelivered.
func (w *Worker) giveUpLocked(b *batch) {
	w.stats.dropped[shutdown] += uint64(w.q.clear())
	b.reset()
	w.notices.reset()
	w.freedLocked()
}

// sendState is the scratch space of deliver, owned by the goroutine.
type sendState struct {
	timer  *time.Timer
	retry  []bool
	notify []sluice.Message
}

// deliver sends b until every message is delivered or dropped, or ctx
// ends (Stop's deadline).
func (w *Worker) deliver(ctx context.Context, b *batch, s *sendState) {
	for attempt := 0; len(b.msgs) > 0; attempt++ {
		err := w.send(ctx, b)
		s.reset(len(b.msgs))
		again := w.settle(b, err, s.retry, &s.notify)
		if w.cfg.Notify != nil {
			for _, m := range s.notify {
				w.cfg.Notify(m)
			}
		}
		if !again {
			return
		}
		b.keep(s.retry)
		if !w.waitRetry(ctx, s.timer, w.backoff(attempt, err)) {
			return
		}
	}
}

// send makes one attempt to deliver b, within the timeout option and
// Stop's deadline.
func (w *Worker) send(ctx context.Context, b *batch) error {
	w.mu.Lock()
	deadline := w.deadline
	w.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	if !deadline.IsZero() {
		sctx, cancel = withEarlierDeadline(sctx, cancel, deadline)
	}
	defer cancel()
	return w.cfg.Drain.Send(WithBatchID(sctx, b.id), b.msgs)
}

// reset sizes the scratch space for a batch of n messages.
func (s *sendState) reset(n int) {
	if cap(s.retry) < n {
		s.retry = make([]bool, n)
	} else {
		s.retry = s.retry[:n]
		clear(s.retry)
	}
	clear(s.notify)
	s.notify = s.notify[:0]
}

// settle accounts the outcome of one Send of b. It marks in retry the
// positions to send again, appends the delivered notices to notify, and
// reports whether anything is to be sent again.
func (w *Worker) settle(b *batch, err error, retry []bool, notify *[]sluice.Message) bool {
	var be *BatchError
	partial := errors.As(err, &be)
	whole := err != nil && !partial && IsPermanent(err) // whole batch permanent
	now := time.Now()
	mono := int64(time.Since(w.epoch))

	w.mu.Lock()
	defer w.mu.Unlock()
	nDelivered, nRetry := 0, 0
	var bytes int64
	low := w.stats.received
	for i := range b.msgs {
		ferr := err
		if partial {
			ferr = be.Failed[i]
		}
		switch {
		case ferr == nil:
			nDelivered++
			if i < b.notes {
				if !b.isSummary(i) { // the aggregate line belongs to no app's ring
					*notify = append(*notify, b.msgs[i])
				}
			} else {
				w.deliveredLocked(b, i, mono)
			}
		case whole || IsPermanent(ferr):
			if i >= b.notes { // a refused notice is not retried; the counts stay in metrics
				w.stats.dropped[permanent]++
				w.q.settled(int64(b.msgs[i].Size()))
			}
		default:
			retry[i] = true
			nRetry++
			if i >= b.notes {
				bytes += int64(b.msgs[i].Size())
				low = min(low, b.seq[i])
			}
		}
	}
	b.bytes = bytes
	w.q.inflightLow = low
	if nDelivered > 0 {
		w.stats.lastDelivery = now
	}
	if nRetry < len(b.msgs) {
		w.freedLocked()
	}
	return w.outcomeLocked(err, nRetry, now)
}

// deliveredLocked accounts message i of b as delivered.
func (w *Worker) deliveredLocked(b *batch, i int, mono int64) {
	w.stats.delivered++
	w.q.settled(int64(b.msgs[i].Size()))
	if w.hist != nil {
		w.hist.Observe(float64(mono-b.enq[i]) / 1e9)
	}
}

package buffer

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/sluice-logs/sluice"
)

// Subscription follows one app's new lines that pass its filter (one
// `sluice logs --tail`). Its queue holds the stream positions of lines not
// yet read, at most Config.TailBuffer: the lines themselves stay in the
// ring, so Append pays a few bytes per subscriber per line and never
// blocks. Lines dropped because the queue was full, or because the ring
// evicted them before they were read, are counted and reported by Next as
// an L11 line.
//
// Next is called by one goroutine; Close by any, at any time.
type Subscription struct {
	s        *Store
	r        *ring // nil when subscribed after Store.Close
	f        Filter
	startPos uint64 // stream position of the first line of the subscription; Backlog reads before it
	max      int

	// Guarded by r.mu.
	q       []uint64 // circular queue of the lines' stream positions
	qfirst  int
	qn      int
	dropped uint64
	since   time.Time
	closed  bool
	fed     uint64  // scratch of Store.feed: lines dropped by this Append
	st      stamper // keeps the formatted second from one Next to the next

	wake chan struct{} // a token when lines were queued
	done chan struct{} // closed by Close
}

// Subscribe starts following app (which need not exist yet) from its next
// line on. Close the subscription when done. After Store.Close it returns a
// subscription that is already closed.
func (s *Store) Subscribe(app string, f Filter) *Subscription {
	sub := &Subscription{
		s:    s,
		f:    Filter{Source: strings.Clone(f.Source), Ps: strings.Clone(f.Ps)},
		max:  s.cfg.TailBuffer,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		sub.closed = true
		close(sub.done)
		return sub
	}
	r := s.apps.get(app)
	if r == nil {
		r = newRing(app)
		s.apps.put(r)
		s.mem.Add(r.mem)
	}
	r.mu.Lock()
	sub.r = r
	sub.startPos = r.tail
	r.subs = append(r.subs, sub)
	r.mu.Unlock()
	s.sessions.Add(1)
	return sub
}

// Backlog appends to dst the last n lines passing the filter that the app
// held when the subscription started, oldest first. Together with Next it
// gives every line exactly once: Backlog ends where Next begins.
func (sub *Subscription) Backlog(dst []byte, n int) []byte {
	r := sub.r
	if r == nil {
		return dst
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.appendLast(dst, n, &sub.f, sub.startPos)
}

// Next appends to dst every line queued for the subscriber, as tail lines,
// first an L11 line if lines were dropped since the last call. It waits
// until there is at least one line, ctx ends (ctx.Err()) or the
// subscription is closed (io.EOF).
func (sub *Subscription) Next(ctx context.Context, dst []byte) ([]byte, error) {
	r := sub.r
	if r == nil {
		return dst, io.EOF
	}
	for {
		r.mu.Lock()
		if sub.closed {
			r.mu.Unlock()
			return dst, io.EOF
		}
		n0 := len(dst)
		dst = sub.readLocked(dst)
		r.mu.Unlock()
		if len(dst) > n0 {
			return dst, nil
		}
		select {
		case <-sub.wake:
		case <-sub.done:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

// readLocked moves the queued lines to dst. The caller holds r.mu.
func (sub *Subscription) readLocked(dst []byte) []byte {
	r := sub.r
	lost := uint64(0)
	for sub.qn > 0 && sub.q[sub.qfirst] < r.head {
		sub.pop()
		lost++
	}
	if lost > 0 {
		sub.noteDrops(lost, time.Now())
		sub.s.tailDropped.Add(float64(lost))
	}
	if sub.dropped > 0 {
		dst = sluice.AppendLine(dst, &sluice.Message{
			Time:   time.Now(),
			Source: "sluice",
			Proc:   "tail",
			Text:   sluice.DropNotice("L11", "Tail buffer overflow", sub.dropped, sub.since),
		})
		sub.dropped, sub.since = 0, time.Time{}
	}
	for sub.qn > 0 {
		p := sub.pop()
		h := r.headerAt(p)
		dst = r.appendLine(dst, p, &h, &sub.st)
	}
	return dst
}

// push queues the line at stream position p, dropping the oldest queued line when the queue is full;
// it reports whether it dropped one. The caller holds r.mu.
func (sub *Subscription) push(p uint64) (dropped bool) {
	if sub.qn == len(sub.q) {
		if len(sub.q) < sub.max {
			sub.grow()
		} else {
			sub.pop()
			dropped = true
		}
	}
	i := sub.qfirst + sub.qn
	if i >= len(sub.q) {
		i -= len(sub.q)
	}
	sub.q[i] = p
	sub.qn++
	return dropped
}

func (sub *Subscription) pop() uint64 {
	p := sub.q[sub.qfirst]
	sub.qfirst++
	if sub.qfirst == len(sub.q) {
		sub.qfirst = 0
	}
	sub.qn--
	return p
}

// grow doubles the queue up to max; it starts small because most tails
// keep up and never need TailBuffer slots.
func (sub *Subscription) grow() {
	q := make([]uint64, min(sub.max, max(64, 2*len(sub.q))))
	k := copy(q, sub.q[sub.qfirst:min(len(sub.q), sub.qfirst+sub.qn)])
	copy(q[k:], sub.q[:sub.qn-k])
	sub.q, sub.qfirst = q, 0
}

// noteDrops records n lost lines for the next L11 report. The caller holds
// r.mu.
func (sub *Subscription) noteDrops(n uint64, now time.Time) {
	if sub.dropped == 0 {
		sub.since = now
	}
	sub.dropped += n
}

func (sub *Subscription) notify() {
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// Close ends the subscription: a waiting Next returns io.EOF. It may be
// called more than once, from any goroutine.
func (sub *Subscription) Close() {
	r := sub.r
	if r == nil {
		return
	}
	s := sub.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if sub.closed {
		return
	}
	sub.closeLocked()
	for i, o := range r.subs {
		if o == sub {
			r.subs = append(r.subs[:i], r.subs[i+1:]...)
			r.subs[len(r.subs):cap(r.subs)][0] = nil
			break
		}
	}
	if r.n == 0 && len(r.subs) == 0 && !r.dead {
		// Nothing to keep for an app that has no lines and no watcher.
		s.dropLocked(r)
	}
}

// closeLocked marks the subscription closed and wakes Next. The caller
// holds r.mu.
func (sub *Subscription) closeLocked() {
	sub.closed = true
	close(sub.done)
	sub.q, sub.qn = nil, 0
	sub.s.sessions.Add(-1)
}

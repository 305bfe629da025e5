package drains

import (
	"unsafe"

	"github.com/sluice-logs/sluice"
)

// ring is the Worker's queue: a ring of messages, each backed by its own
// reusable byte buffer, so that Enqueue copies a message without allocating
// once the ring has warmed up. It grows by doubling up to its limit.
//
// Messages leave the ring by swapping their buffer with a spare one of the
// batch (take), so ownership of bytes moves without copying.
type ring struct {
	msgs  []sluice.Message
	bufs  [][]byte
	enq   []int64  // enqueue time, nanoseconds since the Worker's epoch
	seq   []uint64 // the message's number among those the Worker received
	head  int
	n     int
	bytes int64
}

// maxSpare is the capacity above which a buffer is not kept for a message
// four times smaller: one huge message does not pin its memory forever.
const maxSpare = 64 << 10

// grow makes room for one more message, up to limit slots in all.
func (r *ring) grow(limit int) {
	if r.n < len(r.msgs) {
		return
	}
	size := 2 * len(r.msgs)
	if size < 64 {
		size = 64
	}
	if size > limit {
		size = limit
	}
	msgs := make([]sluice.Message, size)
	bufs := make([][]byte, size)
	enq := make([]int64, size)
	seq := make([]uint64, size)
	for i := 0; i < r.n; i++ {
		j := (r.head + i) % len(r.msgs)
		msgs[i], bufs[i], enq[i], seq[i] = r.msgs[j], r.bufs[j], r.enq[j], r.seq[j]
	}
	r.msgs, r.bufs, r.enq, r.seq, r.head = msgs, bufs, enq, seq, 0
}

// push copies m into the next slot. The caller has checked the limits and
// called grow.
func (r *ring) push(m *sluice.Message, size int64, enq int64, seq uint64) {
	i := (r.head + r.n) % len(r.msgs)
	r.bufs[i], r.msgs[i] = copyMessage(r.bufs[i], m)
	r.enq[i] = enq
	r.seq[i] = seq
	r.n++
	r.bytes += size
}

// oldest returns the oldest queued message; valid until the next push.
func (r *ring) oldest() *sluice.Message { return &r.msgs[r.head] }

// pop removes the oldest message, keeping its buffer for reuse.
func (r *ring) pop(size int64) {
	r.msgs[r.head] = sluice.Message{}
	r.head = (r.head + 1) % len(r.msgs)
	r.n--
	r.bytes -= size
}

// copyMessage copies m's strings into buf (reused when large enough) and
// returns the buffer and a Message viewing it.
func copyMessage(buf []byte, m *sluice.Message) ([]byte, sluice.Message) {
	need := m.Size()
	if cap(buf) < need || (cap(buf) > maxSpare && cap(buf) > 4*need) {
		c := 256
		for c < need {
			c *= 2
		}
		buf = make([]byte, 0, c)
	}
	buf = buf[:0]
	buf = append(buf, m.App...)
	buf = append(buf, m.Source...)
	buf = append(buf, m.Proc...)
	buf = append(buf, m.Host...)
	buf = append(buf, m.MsgID...)
	buf = append(buf, m.StructuredData...)
	buf = append(buf, m.Text...)
	out := *m
	off := 0
	out.App, off = view(buf, off, len(m.App))
	out.Source, off = view(buf, off, len(m.Source))
	out.Proc, off = view(buf, off, len(m.Proc))
	out.Host, off = view(buf, off, len(m.Host))
	out.MsgID, off = view(buf, off, len(m.MsgID))
	out.StructuredData, off = view(buf, off, len(m.StructuredData))
	out.Text, _ = view(buf, off, len(m.Text))
	return buf, out
}

// view returns buf[off:off+n] as a string without copying. The bytes are
// rewritten only when the slot is reused, after the message has left the
// Worker (Drain.Send must not keep it).
func view(buf []byte, off, n int) (string, int) {
	if n == 0 {
		return "", off
	}
	return unsafe.String(&buf[off], n), off + n
}

// queue is a Worker's bounded queue and the one place that applies its
// backpressure policy. offer admits a message: under policy=drop it makes
// room by dropping the oldest queued messages, one per call; under
// policy=block it says when the caller must wait; a message larger than
// the byte limit is refused. It never counts anything itself: it returns
// what it dropped and the Worker counts it, so that every dropped message
// is counted in exactly one place.
//
// The batch the Worker's goroutine holds (inflight) counts against the
// limits until it is settled. A queue is not safe for concurrent use: the
// Worker's mutex guards it.
type queue struct {
	ring
	policy     Policy
	limit      int   // messages, including the batch in flight
	limitBytes int64 // payload bytes, including the batch in flight

	inflight      int // messages of the in-flight batch (notices excluded)
	inflightBytes int64
	inflightLow   uint64 // lowest seq of the in-flight batch's unsettled messages
}

// verdict is what offer did.
type verdict uint8

const (
	queued   verdict = iota // m was copied into the queue
	evicted                 // policy=drop: the oldest message was dropped to make room; offer m again
	mustWait                // policy=block and no room: wait for room, then offer m again
	refused                 // m itself was dropped
)

// dropped is a message the queue dropped, for its caller to count. app
// views queue memory: it is valid until the next offer.
type dropped struct {
	app    string
	reason reason
	size   int64
}

func newQueue(o Options) queue {
	return queue{policy: o.Policy, limit: o.Queue, limitBytes: o.QueueBytes}
}

// held returns the messages and bytes the queue holds, in flight included.
func (q *queue) held() (int, int64) {
	return q.n + q.inflight, q.bytes + q.inflightBytes
}

// fits reports whether one more message of size bytes fits now.
func (q *queue) fits(size int64) bool {
	return q.n+q.inflight < q.limit && q.bytes+q.inflightBytes+size <= q.limitBytes
}

// room reports whether n messages of the given bytes fit now, all of them
// (policy=block's try: take all or nothing).
func (q *queue) room(n int, bytes int64) bool {
	return q.n+q.inflight+n <= q.limit && q.bytes+q.inflightBytes+bytes <= q.limitBytes
}

// tooLarge reports whether a message of size bytes can never fit.
func (q *queue) tooLarge(size int64) bool { return size > q.limitBytes }

// offer takes one step to admit m (size bytes, enqueued at enq) under the
// policy, and returns what it did and, with evicted and refused, the
// message it dropped: m itself when it is too large or everything queued
// is in flight, else the oldest queued one (policy=drop), after which the
// caller offers m again. With mustWait nothing changed.
func (q *queue) offer(m *sluice.Message, size, enq int64, seq uint64) (verdict, dropped) {
	if q.tooLarge(size) {
		return refused, dropped{m.App, tooLarge, size}
	}
	if !q.fits(size) {
		if q.policy != PolicyDrop {
			return mustWait, dropped{}
		}
		if q.n == 0 {
			// Everything is in flight: the new message is the one dropped.
			return refused, dropped{m.App, queueFull, size}
		}
		old := q.oldest()
		d := dropped{old.App, queueFull, int64(old.Size())}
		q.pop(d.size) // the slot's buffer, which d.app views, is rewritten by the next push only
		return evicted, d
	}
	q.grow(q.limit)
	q.push(m, size, enq, seq)
	return queued, dropped{}
}

// take marks the batch b, just filled from the queue, as in flight.
func (q *queue) take(b *batch) {
	q.inflight = len(b.msgs) - b.notes
	q.inflightBytes = b.bytes
	if q.inflight > 0 {
		q.inflightLow = b.seq[b.notes]
	}
}

// low returns the seq before which every message is settled, given the
// next seq to be received.
func (q *queue) low(next uint64) uint64 {
	if q.n > 0 {
		next = min(next, q.seq[q.head])
	}
	if q.inflight > 0 {
		next = min(next, q.inflightLow)
	}
	return next
}

// settled releases one in-flight message of size bytes (delivered or
// dropped for good).
func (q *queue) settled(size int64) {
	q.inflight--
	q.inflightBytes -= size
}

// clear empties the queue and forgets the in-flight batch, and returns how
// many messages that dropped (Stop's deadline passed).
func (q *queue) clear() int {
	n := q.n + q.inflight
	for q.n > 0 {
		q.pop(0)
	}
	q.bytes, q.inflight, q.inflightBytes = 0, 0, 0
	return n
}

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
	enq   []int64 // enqueue time, nanoseconds since the Worker's epoch
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
	for i := 0; i < r.n; i++ {
		j := (r.head + i) % len(r.msgs)
		msgs[i], bufs[i], enq[i] = r.msgs[j], r.bufs[j], r.enq[j]
	}
	r.msgs, r.bufs, r.enq, r.head = msgs, bufs, enq, 0
}

// push copies m into the next slot. The caller has checked the limits and
// called grow.
func (r *ring) push(m *sluice.Message, size int64, enq int64) {
	i := (r.head + r.n) % len(r.msgs)
	r.bufs[i], r.msgs[i] = copyMessage(r.bufs[i], m)
	r.enq[i] = enq
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

// batch is the in-flight batch the Worker's goroutine owns: the in-band L10
// notices first, then messages taken from the ring.
type batch struct {
	msgs  []sluice.Message
	bufs  [][]byte // bufs[i] backs msgs[i] (spare for notices)
	enq   []int64
	notes int   // msgs[:notes] are L10 notices
	bytes int64 // payload bytes of the messages (not the notices)
	id    uint64
}

// slot extends the batch by one position and returns its index; the
// buffer at that position is a spare left by an earlier batch, if any.
func (b *batch) slot() int {
	i := len(b.msgs)
	if i < cap(b.msgs) {
		b.msgs = b.msgs[:i+1]
	} else {
		b.msgs = append(b.msgs, sluice.Message{})
	}
	if i < cap(b.bufs) {
		b.bufs = b.bufs[:i+1]
	} else {
		b.bufs = append(b.bufs, nil)
	}
	if i < cap(b.enq) {
		b.enq = b.enq[:i+1]
	} else {
		b.enq = append(b.enq, 0)
	}
	return i
}

func (b *batch) reset() {
	clear(b.msgs)
	b.msgs, b.bufs, b.enq = b.msgs[:0], b.bufs[:0], b.enq[:0]
	b.notes, b.bytes = 0, 0
}

// takeFrom moves the oldest message of r into the batch.
func (b *batch) takeFrom(r *ring, size int64) {
	i := b.slot()
	h := r.head
	b.msgs[i] = r.msgs[h]
	b.bufs[i], r.bufs[h] = r.bufs[h], b.bufs[i]
	b.enq[i] = r.enq[h]
	b.bytes += size
	r.pop(size)
}

// keep compacts the batch to the positions for which retry is true,
// keeping their order (and every buffer).
func (b *batch) keep(retry []bool) {
	w, notes := 0, 0
	for i := range b.msgs {
		if !retry[i] {
			continue
		}
		if i < b.notes {
			notes++
		}
		if w != i {
			b.msgs[w] = b.msgs[i]
			b.bufs[w], b.bufs[i] = b.bufs[i], b.bufs[w]
			b.enq[w] = b.enq[i]
		}
		w++
	}
	clear(b.msgs[w:])
	b.msgs, b.bufs, b.enq = b.msgs[:w], b.bufs[:w], b.enq[:w]
	b.notes = notes
}

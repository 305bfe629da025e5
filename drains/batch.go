package drains

import "github.com/sluice-logs/sluice"

// batch is the in-flight batch the Worker's goroutine owns: the in-band L10
// notices first, then messages taken from the ring.
type batch struct {
	msgs  []sluice.Message
	bufs  [][]byte // bufs[i] backs msgs[i] (spare for notices)
	enq   []int64
	seq   []uint64 // ring.seq of each message (0 for notices)
	notes int      // msgs[:notes] are L10 notices
	// summary: msgs[notes-1] is the aggregate L10 line (notices.go).
	summary bool
	bytes   int64 // payload bytes of the messages (not the notices)
	id      uint64
}

// slot extends the batch by one position and returns its index; the
// buffer at that position is a spare left by an earlier batch, if any.
func (b *batch) slot() int {
	i := len(b.msgs)
	b.msgs, b.bufs, b.enq, b.seq = extend(b.msgs), extend(b.bufs), extend(b.enq), extend(b.seq)
	b.seq[i] = 0
	return i
}

// extend lengthens s by one, keeping what the spare capacity holds at the
// new position (a buffer of an earlier batch) or appending a zero value.
func extend[T any](s []T) []T {
	if len(s) < cap(s) {
		return s[:len(s)+1]
	}
	var zero T
	return append(s, zero)
}

func (b *batch) reset() {
	clear(b.msgs)
	b.msgs, b.bufs, b.enq, b.seq = b.msgs[:0], b.bufs[:0], b.enq[:0], b.seq[:0]
	b.notes, b.bytes, b.summary = 0, 0, false
}

// takeFrom moves the oldest message of r into the batch.
func (b *batch) takeFrom(r *ring, size int64) {
	i := b.slot()
	h := r.head
	b.msgs[i] = r.msgs[h]
	b.bufs[i], r.bufs[h] = r.bufs[h], b.bufs[i]
	b.enq[i] = r.enq[h]
	b.seq[i] = r.seq[h]
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
			b.seq[w] = b.seq[i]
		}
		w++
	}
	if b.summary && !retry[b.notes-1] {
		b.summary = false
	}
	clear(b.msgs[w:])
	b.msgs, b.bufs, b.enq, b.seq = b.msgs[:w], b.bufs[:w], b.enq[:w], b.seq[:w]
	b.notes = notes
}

// isSummary reports whether position i holds the aggregate L10 line.
func (b *batch) isSummary(i int) bool { return b.summary && i == b.notes-1 }

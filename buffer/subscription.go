package buffer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-logs/sluice"
)

// Cursor is a line's position in its app's stream: the epoch of the app's
// ring (it changes when the router restarts or forgets the app) and the
// line's number in it, and in cluster mode the line's position on the bus,
// which every member's ring for the app agrees on. Clients treat it as
// opaque text: "EPOCH:SEQ", or "bPARTITION.OFFSET" for a line with a bus
// position (such a cursor survives the app's partition moving to another
// member).
type Cursor struct {
	Epoch uint64
	Seq   uint64
	// Bus is the line's position on the cluster bus, zero when it has
	// none. A cursor with one is resumed by it alone.
	Bus sluice.BusPos
}

// IsZero reports whether c is the zero Cursor (no position).
func (c Cursor) IsZero() bool { return c == Cursor{} }

// AppendText appends the cursor's text form.
func (c Cursor) AppendText(dst []byte) []byte {
	if c.Bus != 0 {
		dst = append(dst, 'b')
		return c.Bus.AppendID(dst)
	}
	dst = strconv.AppendUint(dst, c.Epoch, 36)
	dst = append(dst, ':')
	return strconv.AppendUint(dst, c.Seq, 10)
}

func (c Cursor) String() string { return string(c.AppendText(nil)) }

// ParseCursor reads the text form of a Cursor.
func ParseCursor(s string) (Cursor, error) {
	if b, ok := strings.CutPrefix(s, "b"); ok {
		ps, os, ok := strings.Cut(b, ".")
		part, err1 := strconv.ParseUint(ps, 10, 16)
		off, err2 := strconv.ParseInt(os, 10, 64)
		if !ok || err1 != nil || err2 != nil || off < 0 || off >= 1<<48-1 {
			return Cursor{}, fmt.Errorf("cursor %q: want bPARTITION.OFFSET as the router gave it", s)
		}
		return Cursor{Bus: sluice.MakeBusPos(int32(part), off)}, nil
	}
	e, q, ok := strings.Cut(s, ":")
	epoch, err1 := strconv.ParseUint(e, 36, 64)
	seq, err2 := strconv.ParseUint(q, 10, 64)
	if !ok || err1 != nil || err2 != nil || epoch == 0 || len(s) > 40 {
		return Cursor{}, fmt.Errorf("cursor %q: want EPOCH:SEQ as the router gave it", s)
	}
	return Cursor{Epoch: epoch, Seq: seq}, nil
}

// Options say which lines a Read or a Subscription gives, and how.
type Options struct {
	Filter Filter
	// Last begins with the last Last lines that pass the filter (when
	// After is zero).
	Last int
	// After begins with the line after this cursor. A cursor of another
	// epoch (the router restarted, or the app was forgotten) begins with
	// the oldest line held; one older than the oldest line held does too,
	// and the lines missed are reported as an L11 line first.
	After Cursor
	// Limit bounds a Read that starts After a cursor (0: every line held).
	Limit int
	// Events writes each line as a server-sent event whose id is the
	// line's cursor ("id: CURSOR\ndata: LINE\n\n") instead of a plain
	// tail line.
	Events bool
}

// ErrTooManyTails is matched (errors.Is) by the error Subscribe returns
// when a cap on tails is reached.
var ErrTooManyTails = errors.New("too many tails")

// TailLimitError says which cap on tails was reached.
type TailLimitError struct {
	Var   string // MAX_TAILS or MAX_TAILS_PER_APP
	Limit int
}

func (e *TailLimitError) Error() string {
	what := "on this router"
	if e.Var == "MAX_TAILS_PER_APP" {
		what = "of this app"
	}
	return fmt.Sprintf("too many tails: %d tails %s are open already (%s); try again later", e.Limit, what, e.Var)
}

func (e *TailLimitError) Is(target error) bool { return target == ErrTooManyTails }

// ErrBehind is returned by Next after the L11 line of a subscription that
// fell too far behind: it ends there.
var ErrBehind = errors.New("tail fell behind")

// Subscription follows one app's lines that pass its filter (one
// `sluice logs --tail`). It is a cursor into the app's ring, not a queue:
// Append only wakes waiting subscribers (once per Append, however many
// there are), and each subscriber copies the lines it has not read out of
// the ring under the ring's lock and formats them outside it. A subscriber
// thus holds no lines of its own; its memory is its read buffer.
//
// A subscriber that falls more than Config.TailBuffer lines or
// Config.TailBufferBytes bytes behind the app's newest line (counting the
// lines that arrived after it began), or whose unread lines the ring
// evicted, skips to the newest line: Next reports how many lines it missed
// as an L11 line and returns ErrBehind.
//
// Next is called by one goroutine; Close by any, at any time.
type Subscription struct {
	s      *Store
	r      *ring // nil when subscribed after Store.Close
	f      Filter
	events bool

	// Guarded by r.mu.
	pos, seq           uint64 // the next record to read, and the number of the line before it
	startPos, startSeq uint64 // where the ring ended when the subscription began
	gap                uint64 // lines a resume missed, to report first
	closed             bool

	// Owned by the goroutine calling Next.
	raw  []byte
	skip sluice.BusPos // a bus cursor resumed after: lines not after it are skipped
	st   stamper

	done chan struct{} // closed by Close
}

// Subscribe starts following app (which need not exist yet) from where o
// says. Close the subscription when done. After Store.Close it returns a
// subscription that is already closed. When a cap on tails is reached it
// returns a *TailLimitError.
func (s *Store) Subscribe(app string, o Options) (*Subscription, error) {
	sub := &Subscription{
		s:      s,
		f:      Filter{Source: strings.Clone(o.Filter.Source), Ps: strings.Clone(o.Filter.Ps)},
		events: o.Events,
		skip:   o.After.Bus,
		done:   make(chan struct{}),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		sub.closed = true
		close(sub.done)
		return sub, nil
	}
	if s.sessions.Load() >= int64(s.cfg.MaxTails) {
		s.tailRejected.WithLabelValues("max_tails").Inc()
		return nil, &TailLimitError{"MAX_TAILS", s.cfg.MaxTails}
	}
	r := s.apps.get(app)
	if r != nil && r.nsubs() >= s.cfg.MaxTailsPerApp {
		s.tailRejected.WithLabelValues("max_tails_per_app").Inc()
		return nil, &TailLimitError{"MAX_TAILS_PER_APP", s.cfg.MaxTailsPerApp}
	}
	if r == nil {
		r = s.newRingLocked(app)
	}
	r.mu.Lock()
	sub.r = r
	sub.startPos, sub.startSeq = r.tail, r.seq
	if o.After.IsZero() {
		sub.pos, sub.seq = r.lastStart(o.Last, &sub.f)
	} else {
		sub.pos, sub.seq, sub.gap = r.afterStart(o.After)
	}
	if r.watch == nil {
		r.watch = &watchers{}
	}
	r.watch.subs = append(r.watch.subs, sub)
	r.mu.Unlock()
	s.sessions.Add(1)
	return sub, nil
}

// Position returns the cursor of the line before the next one Next gives:
// where a client that has read nothing yet resumes.
func (sub *Subscription) Position() Cursor {
	r := sub.r
	if r == nil {
		return Cursor{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cursorBefore(sub.pos, sub.seq)
}

// rawBufs holds *rawBuf: the copies of ring bytes Next formats from.
var rawBufs sync.Pool

type rawBuf struct{ b []byte }

// readChunk is about how many bytes of the ring one Next copies: it bounds
// a subscriber's buffers and how long it holds the ring's lock.
const readChunk = 16 << 10

// Next appends to dst the next lines for the subscriber (an L11 line first
// when lines were missed). It waits until there is at least one line, ctx
// ends (ctx.Err()) or the subscription is closed (io.EOF). After the L11
// line of a subscriber that fell behind it returns ErrBehind.
func (sub *Subscription) Next(ctx context.Context, dst []byte) ([]byte, error) {
	r := sub.r
	if r == nil {
		return dst, io.EOF
	}
	n0 := len(dst)
	for {
		r.mu.Lock()
		if sub.closed {
			r.mu.Unlock()
			return dst, io.EOF
		}
		if sub.gap > 0 {
			// A resume that began before the oldest line held: say so,
			// then go on with the lines.
			n, at := sub.gap, r.cursorBefore(sub.pos, sub.seq)
			since := sub.sinceLocked()
			sub.gap = 0
			r.mu.Unlock()
			sub.s.tailDropped.Add(float64(n))
			dst = sub.appendNotice(dst, n, since, at)
			continue
		}
		if sub.behindLocked() {
			since := sub.sinceLocked()
			n := r.seq - sub.seq
			sub.pos, sub.seq = r.tail, r.seq
			at := r.cursorBefore(sub.pos, sub.seq)
			r.mu.Unlock()
			sub.s.tailDropped.Add(float64(n))
			sub.s.tailCut.Inc()
			return sub.appendNotice(dst, n, since, at), ErrBehind
		}
		if sub.pos < r.tail {
			end, n := sub.pos, uint64(0)
			for end < r.tail && (n == 0 || end-sub.pos < readChunk) {
				end += uint64(r.sizeAt(end))
				n++
			}
			// The copy is needed only until it is formatted: it goes back
			// to a pool shared by every subscription, so that a tail
			// stalled in a write to its client holds none.
			raw, _ := rawBufs.Get().(*rawBuf)
			if raw == nil {
				raw = new(rawBuf)
			}
			sub.raw = slices.Grow(raw.b[:0], int(end-sub.pos))[:end-sub.pos]
			r.read(sub.pos, sub.raw)
			seq, epoch := sub.seq, r.epoch
			sub.pos, sub.seq = end, sub.seq+n
			r.mu.Unlock()
			dst = sub.format(dst, epoch, seq)
			if cap(sub.raw) <= 4*readChunk {
				raw.b = sub.raw[:0]
				rawBufs.Put(raw)
			}
			sub.raw = nil
			if len(dst) > n0 {
				return dst, nil
			}
			continue
		}
		if len(dst) > n0 {
			r.mu.Unlock()
			return dst, nil
		}
		wait := r.waitLocked()
		r.mu.Unlock()
		select {
		case <-wait:
		case <-sub.done:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

// format appends the lines of the records in sub.raw, the first of which
// follows line seq of the given epoch, that pass the filter.
func (sub *Subscription) format(dst []byte, epoch, seq uint64) []byte {
	for b := sub.raw; len(b) > 0; {
		h := decodeHeader(b)
		rec := b[:h.size()]
		b = b[h.size():]
		seq++
		if sub.skip != 0 {
			if notAfter(h.pos, sub.skip) {
				continue
			}
			if h.pos != 0 {
				sub.skip = 0 // past it: offsets only grow from here
			}
		}
		if !matchRecord(rec, &h, &sub.f) {
			continue
		}
		dst = frameStart(dst, sub.events, Cursor{Epoch: epoch, Seq: seq, Bus: h.pos})
		dst = appendRecordLine(dst, &h, rec[hdrSize:], &sub.st)
		dst = frameEnd(dst, sub.events)
	}
	return dst
}

// frameStart and frameEnd wrap a line as a server-sent event when events is
// set: the line (one line, no CR or LF in it) is the event's data.
func frameStart(dst []byte, events bool, c Cursor) []byte {
	if !events {
		return dst
	}
	dst = append(dst, "id: "...)
	dst = c.AppendText(dst)
	return append(dst, "\ndata: "...)
}

func frameEnd(dst []byte, events bool) []byte {
	if !events {
		return dst
	}
	return append(dst, '\n')
}

// appendNotice appends the L11 line for n missed lines, framed with the
// cursor at which the subscription goes on.
func (sub *Subscription) appendNotice(dst []byte, n uint64, since time.Time, at Cursor) []byte {
	dst = frameStart(dst, sub.events, at)
	dst = sluice.AppendLine(dst, &sluice.Message{
		Time:   time.Now(),
		Source: "sluice",
		Proc:   "tail",
		Text:   sluice.DropNotice("L11", "Tail buffer overflow", n, since),
	})
	return frameEnd(dst, sub.events)
}

// behindLocked reports whether the subscriber fell behind its bounds. The
// lines the ring held when it began do not count against them. The caller
// holds r.mu.
func (sub *Subscription) behindLocked() bool {
	r := sub.r
	if sub.pos < r.head {
		return true // the ring evicted lines it had not read
	}
	fromSeq, fromPos := max(sub.seq, sub.startSeq), max(sub.pos, sub.startPos)
	lag := r.seq - fromSeq
	if lag == 0 {
		return false
	}
	// Bytes of the lagging lines as tail lines: the stream holds a header
	// where a line has its timestamp.
	lagBytes := int64(r.tail-fromPos) + int64(lag)*int64(tsLen-hdrSize)
	return lag > uint64(sub.s.cfg.TailBuffer) || lagBytes > sub.s.cfg.TailBufferBytes
}

// sinceLocked returns when the first line the subscriber misses was
// written, as far as the ring still knows (else now). The caller holds
// r.mu.
func (sub *Subscription) sinceLocked() time.Time {
	r := sub.r
	p := max(sub.pos, r.head)
	if p >= r.tail {
		return time.Now()
	}
	return time.UnixMicro(r.headerAt(p).micros)
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
	w := r.watch
	for i, o := range w.subs {
		if o == sub {
			w.subs = append(w.subs[:i], w.subs[i+1:]...)
			w.subs[len(w.subs):cap(w.subs)][0] = nil
			break
		}
	}
	if r.n == 0 && len(w.subs) == 0 && !r.dead {
		// Nothing to keep for an app that has no lines and no watcher.
		s.dropLocked(r)
	}
}

// closeLocked marks the subscription closed and wakes Next. The caller
// holds r.mu.
func (sub *Subscription) closeLocked() {
	sub.closed = true
	close(sub.done)
	sub.s.sessions.Add(-1)
}

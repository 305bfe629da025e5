package main

import (
	"bytes"
	"hash/maphash"
)

// Dedupe parameters.
const (
	historyLines = 64 // printed lines remembered (as hashes)
	strongMatch  = 8  // agreeing lines that settle a resync at once
)

// hashSeed is fixed for the process, so hashes of one run compare.
var hashSeed = maphash.MakeSeed()

// deduper remembers the lines printed last and, after a reconnect, finds
// where the router's backlog overlaps them, so the backlog is printed
// without repeats and, where the router still holds the lines, without a
// gap.
//
// The backlog B is the last lines of the app's ring; the history H ends
// with the last line printed. The overlap is a position j in B where B[j]
// is that line and the lines before it agree with H going backwards.
// A candidate settles at once when at least strongMatch lines agree, or
// all of H; otherwise the best candidate (most agreeing lines, the
// earliest of equals; one where all of B before it agrees counts, as the
// ring may start there) is used when the backlog is complete. Without a candidate the whole backlog is
// new (the router restarted and lost its ring, or the gap was longer
// than the backlog: then gap is set).
//
// In-band notices of the router's tail ("sluice[tail]: Error L11 …") are
// not in the ring: they are neither remembered nor matched.
//
// A deduper is used by one goroutine.
type deduper struct {
	hist [historyLines]uint64
	n    int // lines recorded in total

	active  bool // resyncing
	want    int  // lines asked for: the backlog has at most this many
	pending [][]byte
	hashes  []uint64 // of pending; 0 for in-band notices
	best    int      // pending[:best] were printed already; -1 when no candidate
	bestLen int
	gap     bool // the last resync found no overlap in a full backlog
}

var tailNotice = []byte(" sluice[tail]: ")

// lineHash returns the hash of a line, 0 for the router's in-band tail
// notices.
func lineHash(line []byte) uint64 {
	if sp := bytes.IndexByte(line, ' '); sp >= 0 && bytes.HasPrefix(line[sp:], tailNotice) {
		return 0
	}
	h := maphash.Bytes(hashSeed, line)
	if h == 0 {
		h = 1
	}
	return h
}

// record notes that line was printed.
func (d *deduper) record(line []byte) {
	if h := lineHash(line); h != 0 {
		d.hist[d.n%historyLines] = h
		d.n++
	}
}

// empty reports whether no line was recorded.
func (d *deduper) empty() bool { return d.n == 0 }

// histAt returns the hash of the k-th line from the end of the history
// (k = 0 is the last printed line).
func (d *deduper) histAt(k int) uint64 { return d.hist[(d.n-1-k)%historyLines] }

func (d *deduper) histLen() int { return min(d.n, historyLines) }

// start begins a resync against a backlog of at most want lines. Without
// history there is nothing to skip and no resync.
func (d *deduper) start(want int) {
	d.active = d.n > 0 && want > 0
	d.want = want
	d.pending, d.hashes = nil, nil
	d.best, d.bestLen = -1, 0
	d.gap = false
}

// offer holds the next line of the backlog. It reports true when the
// resync can be settled now: call finish.
func (d *deduper) offer(line []byte) bool {
	h := lineHash(line)
	d.pending = append(d.pending, line)
	d.hashes = append(d.hashes, h)
	i := len(d.pending) - 1
	if h != 0 && h == d.histAt(0) {
		agree, strong := d.match(i)
		if strong {
			d.best, d.bestLen = i+1, agree
			return true
		}
		if agree > d.bestLen {
			d.best, d.bestLen = i+1, agree
		}
	}
	return len(d.pending) >= d.want
}

// match counts how many lines of pending, going back from i, agree with
// the history, and whether that settles it.
func (d *deduper) match(i int) (agree int, strong bool) {
	k := 0
	for j := i; j >= 0; j-- {
		if d.hashes[j] == 0 {
			continue
		}
		if k == d.histLen() {
			return agree, true // all of the history agrees
		}
		if d.hashes[j] != d.histAt(k) {
			return agree, false
		}
		agree++
		k++
		if agree >= strongMatch {
			return agree, true
		}
	}
	if k == d.histLen() {
		return agree, true
	}
	// The backlog starts inside the history (the ring lost older lines):
	// consistent, but fewer lines vouch for it; let a better candidate win.
	return agree, false
}

// finish ends the resync and returns the held lines that were not printed
// yet, in order.
func (d *deduper) finish() [][]byte {
	if !d.active {
		return nil
	}
	out := d.pending
	if d.best >= 0 {
		out = out[d.best:]
	} else {
		d.gap = len(d.pending) >= d.want
	}
	d.active = false
	d.pending, d.hashes = nil, nil
	return out
}

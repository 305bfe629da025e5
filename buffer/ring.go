package buffer

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/sluice-logs/sluice"
)

// chunkSize is the unit in which rings take and give back memory. Small
// enough that a ring wastes little at its two ends (about one chunk per app
// on average), large enough that the chunk table stays under 1% of the data.
const chunkSize = 1024

type chunk [chunkSize]byte

// maxField is the longest SOURCE or PROC a ring keeps; longer ones (never
// valid syslog or token names) are cut. It keeps the record header small.
const maxField = 255

// A record is one line in a ring's byte stream: a header, then the line as
// a tail line without its timestamp ("SOURCE[PROC]: MESSAGE\n"). Keeping
// the header beside the bytes means an Append writes one place per line,
// and a reader finds everything about a line where its bytes are.
//
// The header, little endian: the timestamp in microseconds since the Unix
// epoch (8 bytes), the length of the line (4), the length of the previous
// record (4, for walking back from the newest line), the lengths of
// SOURCE and PROC (1 each, for filtering) and the line's position on the
// cluster bus (8, zero outside cluster mode; bus cursors resume by it).
const hdrSize = 26

type header struct {
	micros          int64
	line, prev      uint32
	srcLen, procLen uint8
	pos             sluice.BusPos
}

// size is the length of the record.
func (h *header) size() uint64 { return hdrSize + uint64(h.line) }

func (h *header) put(b []byte) {
	_ = b[hdrSize-1]
	binary.LittleEndian.PutUint64(b, uint64(h.micros))
	binary.LittleEndian.PutUint32(b[8:], h.line)
	binary.LittleEndian.PutUint32(b[12:], h.prev)
	b[16], b[17] = h.srcLen, h.procLen
	binary.LittleEndian.PutUint64(b[18:], uint64(h.pos))
}

func decodeHeader(b []byte) header {
	_ = b[hdrSize-1]
	return header{
		micros:  int64(binary.LittleEndian.Uint64(b)),
		line:    binary.LittleEndian.Uint32(b[8:]),
		prev:    binary.LittleEndian.Uint32(b[12:]),
		srcLen:  b[16],
		procLen: b[17],
		pos:     sluice.BusPos(binary.LittleEndian.Uint64(b[18:])),
	}
}

// maxInlineName is the longest app name a ring keeps in its own struct
// (auth.ValidName allows 48 bytes): the store's map compares keys where
// Append looks next anyway, instead of in a separate allocation.
const maxInlineName = 48

// appOverhead approximates what an app costs besides its lines: the ring
// struct (with its name) and its map slot. It is counted against
// MemoryLimit so that many tiny apps cannot grow memory without bound.
const appOverhead = int64(unsafe.Sizeof(ring{})) + 32

// ring is one app's lines. Its byte stream is the concatenation of the
// stored records; positions in it only grow. [head, tail) is held, in
// chunks covering [cbase*chunkSize, (cbase+cn)*chunkSize).
//
// The fields an Append touches come first, and the struct is 256 bytes (a
// size class aligned to cache lines): with many apps, each Append to a ring
// misses the cache on it, so it should span as few lines as possible.
type ring struct {
	name [maxInlineName]byte // backs app when it fits
	app  string

	mu sync.Mutex
	// dead is set when the store forgets the ring; an Append that found it
	// in the map just before looks it up again.
	dead       bool
	lastLen    uint32 // size of the newest record
	headLen    uint32 // size of the oldest record (when n > 0)
	n          int    // lines held
	seq        uint64 // lines ever appended; the oldest held is seq-n
	head, tail uint64
	hc, tc     *chunk // the first and the last chunk (nil when cn is 0)

	lineBytes int64 // bytes of the held lines as tail lines
	mem       int64 // memory held: chunks, spare, table, appOverhead
	cbase     uint64
	cfirst    int
	cn        int
	spare     *chunk // a freed chunk kept for the next write
	// lastWrite is the store clock at the last Append (for eviction
	// order). Guarded by mu like the rest: an atomic store here is a full
	// barrier that waits for the Append's own stores to reach the cache,
	// which cost a tenth of sluiced's CPU with 10,000 apps.
	lastWrite uint64

	chunks []*chunk // circular; chunks[cfirst] holds chunk number cbase
	// watch is nil until the app is first followed by a tail.
	watch *watchers
	// epoch names this ring's numbering of lines (seq) in cursors; a new
	// ring for the same app (after a restart, or after it was forgotten)
	// gets another.
	epoch uint64

	// Where the next Append will write and the next eviction will read,
	// set at the end of each Append for grouper.prefetch, which warms the
	// caches for a batch's rings before locking them one by one. They are
	// addresses only, never dereferenced, and read without the lock: a
	// stale or torn hint costs a useless prefetch, nothing else. (Atomic
	// stores would be full barriers waiting for the Append's own stores.)
	writeHint, evictHint uintptr
	_                    [8]byte // to 256 bytes (TestRingLayout)
}

// watchers are a ring's subscribers.
type watchers struct {
	subs []*Subscription
	// wait is closed by the next Append, to wake the subscribers waiting
	// on it; nil when none waits. One close wakes them all: Append does no
	// work per subscriber.
	wait chan struct{}
}

// nsubs returns how many subscribers follow r. The caller holds r.mu.
func (r *ring) nsubs() int {
	if r.watch == nil {
		return 0
	}
	return len(r.watch.subs)
}

func newRing(app string) *ring {
	r := &ring{mem: appOverhead, epoch: rand.Uint64() | 1}
	if len(app) <= maxInlineName {
		n := copy(r.name[:], app)
		r.app = unsafe.String(&r.name[0], n)
	} else {
		r.app = strings.Clone(app)
	}
	return r
}

// bytesAt returns the bytes of the stream from position p (which is
// covered) to the end of its chunk. The first and last chunks, where writes
// and evictions happen, are found without reading the table.
func (r *ring) bytesAt(p uint64) []byte {
	k := p/chunkSize - r.cbase
	var c *chunk
	switch {
	case k == 0:
		c = r.hc
	case k == uint64(r.cn-1):
		c = r.tc
	default:
		i := int(k) + r.cfirst
		if i >= len(r.chunks) {
			i -= len(r.chunks)
		}
		c = r.chunks[i]
	}
	return c.from(int(p % chunkSize))
}

// from returns c[off:] for 0 <= off < chunkSize without touching c's
// memory. Slicing the array pointer would load c[0] for its nil check: with
// many apps that byte is a cache miss (and a TLB miss) of its own, which
// cost a quarter of sluiced's CPU with 10,000 apps.
func (c *chunk) from(off int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(c), off)), chunkSize-off)
}

// headerAt reads the header of the record at p.
func (r *ring) headerAt(p uint64) header {
	if b := r.bytesAt(p); len(b) >= hdrSize {
		return decodeHeader(b)
	}
	var b [hdrSize]byte
	r.read(p, b[:])
	return decodeHeader(b[:])
}

// sizeAt returns the size of the record at p, reading only its length.
func (r *ring) sizeAt(p uint64) uint32 {
	if b := r.bytesAt(p); len(b) >= hdrSize {
		return hdrSize + binary.LittleEndian.Uint32(b[8:12])
	}
	h := r.headerAt(p)
	return uint32(h.size())
}

// read copies the stream from p into b.
func (r *ring) read(p uint64, b []byte) {
	for len(b) > 0 {
		k := copy(b, r.bytesAt(p))
		b = b[k:]
		p += uint64(k)
	}
}

// put stores m as the newest line, evicting old lines to stay within the
// line and byte bounds. The caller holds r.mu.
func (r *ring) put(m *sluice.Message, lines int, maxBytes int64, ev *evictions, free *chunkList) {
	src := m.Source
	if src == "" {
		src = "app"
	}
	if len(src) > maxField {
		src = src[:maxField]
	}
	proc := m.Proc
	if len(proc) > maxField {
		proc = proc[:maxField]
	}
	text := m.Text
	fixed := len(src) + len(": \n")
	if proc != "" {
		fixed += len(proc) + len("[]")
	}
	if int64(fixed+len(text)+tsLen) > maxBytes {
		// The line alone is larger than the ring: keep what fits, cut at
		// a rune boundary, rather than lose the line.
		room := int(maxBytes) - tsLen - fixed
		if room < 0 {
			ev.appBytes++
			return
		}
		for room > 0 && !utf8.RuneStart(text[room]) {
			room--
		}
		text = text[:room]
	}
	size := fixed + len(text)
	for r.n >= lines {
		r.evictOldest(free)
		ev.appLines++
	}
	for r.n > 0 && r.lineBytes+int64(size+tsLen) > maxBytes {
		r.evictOldest(free)
		ev.appBytes++
	}
	rec := hdrSize + size
	r.reserve(rec, free)

	h := header{
		micros:  m.Time.UnixMicro(),
		line:    uint32(size),
		prev:    r.lastLen,
		srcLen:  uint8(len(src)),
		procLen: uint8(len(proc)),
		pos:     m.Pos,
	}
	if off := int(r.tail % chunkSize); off+rec <= chunkSize {
		// Fast path: the record fits in the last chunk. Appending to a
		// zero-length slice of the chunk writes in place.
		appendRecord(r.tc.from(off)[:0], &h, src, proc, text)
	} else if rec <= maxAssembled {
		// The record spans chunks: assemble it, then copy it in two
		// pieces rather than seven.
		var a [maxAssembled]byte
		write(r, r.tail, appendRecord(a[:0], &h, src, proc, text))
	} else {
		var hb [hdrSize]byte
		h.put(hb[:])
		p := write(r, r.tail, hb[:])
		p = write(r, p, src)
		if proc != "" {
			p = write(r, p, "[")
			p = write(r, p, proc)
			p = write(r, p, "]")
		}
		p = write(r, p, ": ")
		p = write(r, p, text)
		write(r, p, "\n")
	}
	if r.n == 0 {
		r.headLen = uint32(rec)
	}
	r.tail += uint64(rec)
	r.lastLen = uint32(rec)
	r.n++
	r.seq++
	r.lineBytes += int64(size + tsLen)
}

// appendRecord appends to b, which is empty and has room for it, the record
// of a line: the header h, then "SOURCE[PROC]: TEXT\n" (without "[PROC]"
// when proc is empty).
func appendRecord(b []byte, h *header, src, proc, text string) []byte {
	b = b[:hdrSize]
	h.put(b)
	b = append(b, src...)
	if proc != "" {
		b = append(b, '[')
		b = append(b, proc...)
		b = append(b, ']')
	}
	b = append(b, ": "...)
	b = append(b, text...)
	return append(b, '\n')
}

// publishHints records where the next write and the next eviction (if the
// ring is full at lines) will touch the ring's memory. The caller holds
// r.mu.
func (r *ring) publishHints(lines int) {
	var w, e uintptr
	if r.cn > 0 {
		if r.tail < (r.cbase+uint64(r.cn))*chunkSize {
			w = uintptr(unsafe.Pointer(r.tc)) + uintptr(r.tail%chunkSize)
		}
		// A full ring evicts a line per line appended, reading the header
		// of the line after the oldest.
		if p := r.head + uint64(r.headLen); r.n >= lines && r.n > 1 && p < r.tail {
			e = uintptr(unsafe.Pointer(unsafe.SliceData(r.bytesAt(p))))
			// Start loading it now, not only when the next batch comes:
			// with ~100 busy apps it is then in the cache, not on the way.
			prefetchLines(e, evictAhead)
		}
	}
	r.writeHint, r.evictHint = w, e
}

// evictAhead is how far a full ring's eviction hint reaches past its
// oldest line: about two records of a typical size.
const evictAhead = 384

// maxAssembled is the largest record put assembles on the stack when it
// spans two chunks.
const maxAssembled = 512

// write copies s to stream position p (already reserved) and returns the
// position after it.
func write[S string | []byte](r *ring, p uint64, s S) uint64 {
	for len(s) > 0 {
		k := copy(r.bytesAt(p), s)
		s = s[k:]
		p += uint64(k)
	}
	return p
}

// reserve makes sure chunks cover [tail, tail+size), taking new chunks
// from free.
func (r *ring) reserve(size int, free *chunkList) {
	if r.cn == 0 {
		r.cbase = r.tail / chunkSize
	}
	need := r.tail + uint64(size)
	for (r.cbase+uint64(r.cn))*chunkSize < need {
		if r.cn == len(r.chunks) {
			r.growChunkTable()
		}
		c := r.spare
		if c != nil {
			r.spare = nil
		} else {
			c = free.get()
			r.mem += chunkSize
		}
		i := r.cfirst + r.cn
		if i >= len(r.chunks) {
			i -= len(r.chunks)
		}
		r.chunks[i] = c
		if r.cn == 0 {
			r.hc = c
		}
		r.tc = c
		r.cn++
	}
}

func (r *ring) growChunkTable() {
	n := max(4, 2*len(r.chunks))
	t := make([]*chunk, n)
	for i := 0; i < r.cn; i++ {
		j := r.cfirst + i
		if j >= len(r.chunks) {
			j -= len(r.chunks)
		}
		t[i] = r.chunks[j]
	}
	r.mem += int64(n-len(r.chunks)) * 8
	r.chunks, r.cfirst = t, 0
}

// evictOldest drops the oldest line and releases the chunks before it. The
// first freed chunk becomes the spare; any other is given back to free.
//
// The oldest record's size is kept in the ring, and the next one's header
// is read after the eviction: the read, likely a cache miss on data
// written long ago, is then not in the way of the write that follows.
func (r *ring) evictOldest(free *chunkList) {
	size := uint64(r.headLen)
	r.lineBytes -= int64(size-hdrSize) + int64(tsLen)
	r.n--
	r.head += size
	for r.cn > 0 && (r.cbase+1)*chunkSize <= r.head {
		c := r.chunks[r.cfirst]
		r.chunks[r.cfirst] = nil
		r.cfirst++
		if r.cfirst == len(r.chunks) {
			r.cfirst = 0
		}
		r.cn--
		r.cbase++
		if r.spare == nil {
			r.spare = c
		} else {
			free.put(c)
			r.mem -= chunkSize
		}
		if r.cn == 0 {
			r.hc, r.tc = nil, nil
		} else {
			r.hc = r.chunks[r.cfirst]
		}
	}
	if r.n > 0 {
		r.headLen = r.sizeAt(r.head)
	}
}

// evictAll drops every line at once, without reading their headers as
// evictOldest would (with many apps, reclaim mostly empties whole rings, and
// walking them was a cache miss per line), and gives their chunks back.
func (r *ring) evictAll(free *chunkList) {
	r.head = r.tail
	r.n = 0
	r.lineBytes = 0
	r.releaseChunks(free)
}

// releaseChunks gives back the chunks of an empty ring and its spare, but
// keeps the chunk table for the lines to come.
func (r *ring) releaseChunks(free *chunkList) {
	for i := 0; i < r.cn; i++ {
		j := r.cfirst + i
		if j >= len(r.chunks) {
			j -= len(r.chunks)
		}
		free.put(r.chunks[j])
		r.chunks[j] = nil
		r.mem -= chunkSize
	}
	r.cfirst, r.cn = 0, 0
	r.hc, r.tc = nil, nil
	r.freeSpare(free)
}

// freeSpare gives back the spare chunk, if any.
func (r *ring) freeSpare(free *chunkList) {
	if r.spare != nil {
		free.put(r.spare)
		r.spare = nil
		r.mem -= chunkSize
	}
}

// compact gives back what a ring does not need: the spare chunk, and all
// the chunks and the table of an empty ring.
func (r *ring) compact(free *chunkList) {
	if r.n == 0 {
		r.releaseChunks(free)
		r.mem -= int64(len(r.chunks)) * 8
		r.chunks = nil
		return
	}
	r.freeSpare(free)
}

// appendLine appends the line of the record at p, whose header is h,
// formatted as a tail line. The stored bytes are the message as received;
// they go through sluice.AppendDisplay here, on the way out, so that a line
// read is exactly one line with no control characters (ingest pays nothing
// for it, and only what is read is scanned).
func (r *ring) appendLine(dst []byte, p uint64, h *header, st *stamper) []byte {
	start, n := p+hdrSize, int(h.line)
	if b := r.bytesAt(start); len(b) >= n {
		return appendRecordLine(dst, h, b[:n], st)
	}
	// The line spans chunks: escaping needs it in one piece (a character
	// may be split between them).
	st.scratch = slices.Grow(st.scratch[:0], n)[:n]
	r.read(start, st.scratch)
	dst = appendRecordLine(dst, h, st.scratch, st)
	if cap(st.scratch) > maxScratch {
		st.scratch = nil
	}
	return dst
}

// appendRecordLine appends the tail line of a record whose header is h and
// whose stored line ("SOURCE[PROC]: TEXT\n") is line.
func appendRecordLine(dst []byte, h *header, line []byte, st *stamper) []byte {
	dst = st.append(dst, h.micros)
	dst = append(dst, ' ')
	dst = sluice.AppendDisplay(dst, line[:len(line)-1])
	return append(dst, '\n')
}

// matchRecord is matches for a record copied out of the ring.
func matchRecord(rec []byte, h *header, f *Filter) bool {
	line := rec[hdrSize:]
	if f.Source != "" && string(line[:h.srcLen]) != f.Source {
		return false
	}
	if f.Ps != "" {
		proc := line[int(h.srcLen)+1 : int(h.srcLen)+1+int(h.procLen)]
		if h.procLen == 0 || len(proc) < len(f.Ps) || string(proc[:len(f.Ps)]) != f.Ps ||
			(len(proc) > len(f.Ps) && proc[len(f.Ps)] != '.') {
			return false
		}
	}
	return true
}

// waitLocked returns the channel the next Append closes. The caller holds
// r.mu.
func (r *ring) waitLocked() chan struct{} {
	if r.watch == nil {
		r.watch = &watchers{}
	}
	if r.watch.wait == nil {
		r.watch.wait = make(chan struct{})
	}
	return r.watch.wait
}

// lastStart returns where the last n lines passing f begin, and the number
// of the line before them.
func (r *ring) lastStart(n int, f *Filter) (pos, seq uint64) {
	lo, found, walked := r.tail, 0, uint64(0)
	for lo > r.head && found < n {
		prev := r.lastLen
		if lo != r.tail {
			prev = r.headerAt(lo).prev
		}
		lo -= uint64(prev)
		walked++
		if h := r.headerAt(lo); r.matches(lo, &h, f) {
			found++
		}
	}
	return lo, r.seq - walked
}

// afterStart returns where the lines after cursor c begin, the number of
// the line before them, and how many lines after c the ring no longer
// holds.
func (r *ring) afterStart(c Cursor) (pos, seq, missed uint64) {
	before := r.seq - uint64(r.n) // the line before the oldest held
	if c.Bus != 0 {
		return r.afterBus(c.Bus)
	}
	switch {
	case c.Epoch != r.epoch:
		return r.head, before, 0
	case c.Seq >= r.seq:
		return r.tail, r.seq, 0
	case c.Seq <= before:
		return r.head, before, before - c.Seq
	}
	// Walk from the nearer end.
	if fwd := c.Seq - before; fwd <= r.seq-c.Seq {
		p := r.head
		for i := uint64(0); i < fwd; i++ {
			p += uint64(r.sizeAt(p))
		}
		return p, c.Seq, 0
	}
	p := r.tail
	for i := r.seq; i > c.Seq; i-- {
		prev := r.lastLen
		if p != r.tail {
			prev = r.headerAt(p).prev
		}
		p -= uint64(prev)
	}
	return p, c.Seq, 0
}

// afterBus returns where the lines after bus position b begin: after the
// newest held line of b's partition at or before b. An app's lines come
// from one partition in offset order, so the walk back from the newest
// line stops at the first line not after b (lines without a position, or
// of another partition, are passed). A ring that holds no line at or
// before b begins with its oldest line. Lines at or before b that arrive
// later (a new owner still catching up on the partition) are skipped by
// the reader: see notAfter.
func (r *ring) afterBus(b sluice.BusPos) (pos, seq, missed uint64) {
	p, seq := r.tail, r.seq
	for p > r.head {
		prev := r.lastLen
		if p != r.tail {
			prev = r.headerAt(p).prev
		}
		if notAfter(r.headerAt(p-uint64(prev)).pos, b) {
			break
		}
		p -= uint64(prev)
		seq--
	}
	return p, seq, 0
}

// notAfter reports whether a line at bus position lp is at or before the
// bus cursor b (same partition, offset not greater): a resume after b does
// not give it.
func notAfter(lp, b sluice.BusPos) bool {
	return lp != 0 && lp.Partition() == b.Partition() && lp <= b
}

// cursorBefore returns the cursor of the line before position p (line
// number seq): its bus position when it has one.
func (r *ring) cursorBefore(p, seq uint64) Cursor {
	c := Cursor{Epoch: r.epoch, Seq: seq}
	if p > r.head && p <= r.tail {
		prev := r.lastLen
		if p != r.tail {
			prev = r.headerAt(p).prev
		}
		c.Bus = r.headerAt(p - uint64(prev)).pos
	}
	return c
}

// maxScratch is the largest scratch buffer a reader keeps between lines.
const maxScratch = 64 << 10

// equalAt reports whether the stream holds s at position p.
func (r *ring) equalAt(p uint64, s string) bool {
	for len(s) > 0 {
		b := r.bytesAt(p)
		k := min(len(b), len(s))
		if string(b[:k]) != s[:k] {
			return false
		}
		s = s[k:]
		p += uint64(k)
	}
	return true
}

// matches reports whether the line of the record at p, whose header is h,
// passes f.
func (r *ring) matches(p uint64, h *header, f *Filter) bool {
	if f.Source == "" && f.Ps == "" {
		return true
	}
	start := p + hdrSize
	if f.Source != "" && (int(h.srcLen) != len(f.Source) || !r.equalAt(start, f.Source)) {
		return false
	}
	if f.Ps != "" {
		pl := int(h.procLen)
		if pl < len(f.Ps) {
			return false
		}
		q := start + uint64(h.srcLen) + 1 // after "SOURCE["
		if !r.equalAt(q, f.Ps) {
			return false
		}
		if pl > len(f.Ps) && !r.equalAt(q+uint64(len(f.Ps)), ".") {
			return false
		}
	}
	return true
}

// appendLast appends the last n lines passing f among those stored before
// stream position before (a record boundary), oldest first.
func (r *ring) appendLast(dst []byte, n int, f *Filter, before uint64) []byte {
	if n <= 0 || before <= r.head {
		return dst
	}
	// Walk back to the oldest of the lines to append.
	lo, found := before, 0
	for lo > r.head && found < n {
		prev := r.lastLen
		if lo != r.tail {
			prev = r.headerAt(lo).prev
		}
		lo -= uint64(prev)
		if h := r.headerAt(lo); r.matches(lo, &h, f) {
			found++
		}
	}
	var st stamper
	for p := lo; p < before; {
		h := r.headerAt(p)
		if r.matches(p, &h, f) {
			dst = r.appendLine(dst, p, &h, &st)
		}
		p += h.size()
	}
	return dst
}

// evictions counts lines evicted during one Append, by reason.
type evictions struct {
	appLines, appBytes int64
}

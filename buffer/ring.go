package buffer

import (
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/sluice-logs/sluice"
)

// chunkSize is the unit in which rings take and give back memory. Small
// enough that a ring wastes little at its two ends (about one chunk per app
// on average), large enough that the chunk table stays under 1% of the data.
const chunkSize = 1024

type chunk [chunkSize]byte

// freeChunks recycles the chunks that rings give back (when the memory
// limit empties apps, and new apps appear), sparing the allocator and the
// garbage collector. Pooled chunks do not count as ring memory.
var freeChunks = sync.Pool{New: func() any { return new(chunk) }}

// maxField is the longest SOURCE or PROC a ring keeps; longer ones (never
// valid syslog or token names) are cut. It keeps the index entry small.
const maxField = 255

// entry indexes one line. start holds the low 32 bits of the line's stream
// position: a ring never spans 4 GiB, so the full position is recovered
// from the ring's head. The line ends where the next one starts.
type entry struct {
	micros  int64 // timestamp, microseconds since the Unix epoch
	start   uint32
	srcLen  uint16
	procLen uint16
}

const entrySize = int64(unsafe.Sizeof(entry{}))

// appOverhead approximates what an app costs besides its lines: the ring
// struct, its name and its map slot. It is counted against MemoryLimit so
// that many tiny apps cannot grow memory without bound.
const appOverhead = int64(unsafe.Sizeof(ring{})) + 64

// ring is one app's lines. Its byte stream is the concatenation of the
// stored lines; positions in it only grow. [head, tail) is held, in chunks
// covering [cbase*chunkSize, (cbase+cn)*chunkSize).
type ring struct {
	app string

	// lastWrite is the store clock at the last Append (for eviction order).
	lastWrite atomic.Uint64

	mu sync.Mutex
	// dead is set when the store forgets the ring; an Append that found it
	// in the map just before looks it up again.
	dead bool

	ents     []entry // circular; ents[first] is the oldest line
	first, n int
	seq      uint64 // sequence number of the next line; the oldest is seq-n

	head, tail uint64
	chunks     []*chunk // circular; chunks[cfirst] holds chunk number cbase
	cfirst, cn int
	cbase      uint64
	spare      *chunk // a freed chunk kept for the next write

	lineBytes int64 // bytes of the held lines as tail lines
	mem       int64 // memory held: chunks, spare, tables, appOverhead

	subs []*Subscription
}

func newRing(app string) *ring {
	return &ring{app: app, mem: appOverhead}
}

// slot is the index in ents of the i-th oldest line.
func (r *ring) slot(i int) int {
	j := r.first + i
	if j >= len(r.ents) {
		j -= len(r.ents)
	}
	return j
}

// pos recovers a stream position from an entry's low 32 bits.
func (r *ring) pos(lo uint32) uint64 {
	return r.head + uint64(lo-uint32(r.head))
}

// span returns the stream range of the i-th oldest line.
func (r *ring) span(i int) (start, end uint64) {
	start = r.pos(r.ents[r.slot(i)].start)
	if i+1 < r.n {
		return start, r.pos(r.ents[r.slot(i+1)].start)
	}
	return start, r.tail
}

// chunkAt returns the chunk holding stream position p and p's offset in it.
func (r *ring) chunkAt(p uint64) (*chunk, int) {
	i := int(p/chunkSize-r.cbase) + r.cfirst
	if i >= len(r.chunks) {
		i -= len(r.chunks)
	}
	return r.chunks[i], int(p % chunkSize)
}

// put stores m as the newest line, evicting old lines to stay within the
// line and byte bounds. The caller holds r.mu.
func (r *ring) put(m *sluice.Message, lines int, maxBytes int64, ev *evictions) {
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
	hdr := len(src) + len(": \n")
	if proc != "" {
		hdr += len(proc) + len("[]")
	}
	if int64(hdr+len(text)+tsLen) > maxBytes {
		// The line alone is larger than the ring: keep what fits, cut at
		// a rune boundary, rather than lose the line.
		room := int(maxBytes) - tsLen - hdr
		if room < 0 {
			ev.appBytes++
			return
		}
		for room > 0 && !utf8.RuneStart(text[room]) {
			room--
		}
		text = text[:room]
	}
	size := hdr + len(text)
	for r.n >= lines {
		r.evictOldest()
		ev.appLines++
	}
	for r.n > 0 && r.lineBytes+int64(size+tsLen) > maxBytes {
		r.evictOldest()
		ev.appBytes++
	}
	if r.n == len(r.ents) {
		r.growIndex(lines)
	}
	r.reserve(size)

	r.ents[r.slot(r.n)] = entry{
		micros:  m.Time.UnixMicro(),
		start:   uint32(r.tail),
		srcLen:  uint16(len(src)),
		procLen: uint16(len(proc)),
	}
	if c, off := r.chunkAt(r.tail); off+size <= chunkSize {
		// Fast path: the line fits in the current chunk. Appending to a
		// zero-length slice of the chunk writes in place.
		b := c[off:off:chunkSize]
		b = append(b, src...)
		if proc != "" {
			b = append(b, '[')
			b = append(b, proc...)
			b = append(b, ']')
		}
		b = append(b, ": "...)
		b = append(b, text...)
		_ = append(b, '\n')
	} else {
		p := r.write(r.tail, src)
		if proc != "" {
			p = r.write(p, "[")
			p = r.write(p, proc)
			p = r.write(p, "]")
		}
		p = r.write(p, ": ")
		p = r.write(p, text)
		r.write(p, "\n")
	}
	r.tail += uint64(size)
	r.n++
	r.seq++
	r.lineBytes += int64(size + tsLen)
}

// write copies s to stream position p (already reserved) and returns the
// position after it.
func (r *ring) write(p uint64, s string) uint64 {
	for len(s) > 0 {
		c, off := r.chunkAt(p)
		k := copy(c[off:], s)
		s = s[k:]
		p += uint64(k)
	}
	return p
}

// reserve makes sure chunks cover [tail, tail+size).
func (r *ring) reserve(size int) {
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
			c = freeChunks.Get().(*chunk)
			r.mem += chunkSize
		}
		i := r.cfirst + r.cn
		if i >= len(r.chunks) {
			i -= len(r.chunks)
		}
		r.chunks[i] = c
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

// growIndex makes room for one more line, doubling up to lines entries.
func (r *ring) growIndex(lines int) {
	r.resizeIndex(min(max(8, 2*len(r.ents)), lines))
}

func (r *ring) resizeIndex(n int) {
	t := make([]entry, n)
	k := copy(t, r.ents[r.first:min(len(r.ents), r.first+r.n)])
	copy(t[k:], r.ents[:r.n-k])
	r.mem += int64(n-len(r.ents)) * entrySize
	r.ents, r.first = t, 0
}

// evictOldest drops the oldest line and releases the chunks before it. The
// first freed chunk becomes the spare; any other is given back.
func (r *ring) evictOldest() {
	_, end := r.span(0)
	r.lineBytes -= int64(end-r.head) + int64(tsLen)
	r.first++
	if r.first == len(r.ents) {
		r.first = 0
	}
	r.n--
	r.head = end
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
			freeChunks.Put(c)
			r.mem -= chunkSize
		}
	}
}

// compact gives back what an emptied or shrunken ring does not need: the
// spare chunk, the chunks of an empty ring, most of a sparse index.
func (r *ring) compact() {
	if r.spare != nil {
		freeChunks.Put(r.spare)
		r.spare = nil
		r.mem -= chunkSize
	}
	if r.n == 0 {
		for i := 0; i < r.cn; i++ {
			j := r.cfirst + i
			if j >= len(r.chunks) {
				j -= len(r.chunks)
			}
			freeChunks.Put(r.chunks[j])
			r.mem -= chunkSize
		}
		r.mem -= int64(len(r.chunks))*8 + int64(len(r.ents))*entrySize
		r.chunks, r.cfirst, r.cn = nil, 0, 0
		r.ents, r.first = nil, 0
		return
	}
	if r.n < len(r.ents)/4 {
		r.resizeIndex(max(8, 2*r.n))
	}
}

// appendLine appends the i-th oldest line, formatted as a tail line.
func (r *ring) appendLine(dst []byte, i int, st *stamper) []byte {
	start, end := r.span(i)
	dst = st.append(dst, r.ents[r.slot(i)].micros)
	dst = append(dst, ' ')
	for start < end {
		c, off := r.chunkAt(start)
		k := min(chunkSize-off, int(end-start))
		dst = append(dst, c[off:off+k]...)
		start += uint64(k)
	}
	return dst
}

// equalAt reports whether the stream holds s at position p.
func (r *ring) equalAt(p uint64, s string) bool {
	for len(s) > 0 {
		c, off := r.chunkAt(p)
		k := min(chunkSize-off, len(s))
		if string(c[off:off+k]) != s[:k] {
			return false
		}
		s = s[k:]
		p += uint64(k)
	}
	return true
}

// matches reports whether the i-th oldest line passes f.
func (r *ring) matches(i int, f *Filter) bool {
	if f.Source == "" && f.Ps == "" {
		return true
	}
	e := &r.ents[r.slot(i)]
	start := r.pos(e.start)
	if f.Source != "" && (int(e.srcLen) != len(f.Source) || !r.equalAt(start, f.Source)) {
		return false
	}
	if f.Ps != "" {
		pl := int(e.procLen)
		if pl < len(f.Ps) {
			return false
		}
		p := start + uint64(e.srcLen) + 1 // after "SOURCE["
		if !r.equalAt(p, f.Ps) {
			return false
		}
		if pl > len(f.Ps) && !r.equalAt(p+uint64(len(f.Ps)), ".") {
			return false
		}
	}
	return true
}

// appendLast appends the last n lines passing f among those with a
// sequence number below before, oldest first.
func (r *ring) appendLast(dst []byte, n int, f *Filter, before uint64) []byte {
	hi := r.n - int(min(r.seq-before, uint64(r.n))) // lines [0, hi) are before
	if n <= 0 || hi <= 0 {
		return dst
	}
	lo := max(0, hi-n)
	if f.Source != "" || f.Ps != "" {
		found := 0
		lo = hi
		for lo > 0 && found < n {
			lo--
			if r.matches(lo, f) {
				found++
			}
		}
	}
	var st stamper
	for i := lo; i < hi; i++ {
		if r.matches(i, f) {
			dst = r.appendLine(dst, i, &st)
		}
	}
	return dst
}

// evictions counts lines evicted during one Append, by reason.
type evictions struct {
	appLines, appBytes int64
}

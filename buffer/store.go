package buffer

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
)

// Config bounds the rings. Zero values take the defaults of the daemon's
// configuration (BUFFER_LINES, BUFFER_BYTES, MEMORY_LIMIT, TAIL_BUFFER).
type Config struct {
	// Lines is the most lines kept per app (BUFFER_LINES, default 1500).
	Lines int
	// BytesPerApp is the most bytes of tail lines kept per app
	// (BUFFER_BYTES, default 1 MiB, at most 2 GiB). A line longer than
	// this on its own is kept cut to fit.
	BytesPerApp int64
	// MemoryLimit bounds the memory of all rings together (MEMORY_LIMIT,
	// default 256 MiB): the oldest lines of the least recently written
	// apps are evicted first, and apps still empty when memory is next
	// reclaimed are forgotten.
	MemoryLimit int64
	// TailBuffer and TailBufferBytes bound how far a subscriber may fall
	// behind the app's newest line, in lines (TAIL_BUFFER, default 1000)
	// and in bytes of tail lines (TAIL_BUFFER_BYTES, default 1 MiB); one
	// further behind, or whose unread lines the ring evicted, is sent an
	// L11 line and ended (see Subscription).
	TailBuffer      int
	TailBufferBytes int64
	// MaxTails and MaxTailsPerApp cap the open subscriptions, in all and
	// per app (MAX_TAILS, default 1000; MAX_TAILS_PER_APP, default 100).
	MaxTails       int
	MaxTailsPerApp int
}

// Defaults of Config, used when a field is zero. They are the defaults of
// BUFFER_LINES, BUFFER_BYTES, MEMORY_LIMIT, TAIL_BUFFER, TAIL_BUFFER_BYTES,
// MAX_TAILS and MAX_TAILS_PER_APP: package config prints these constants
// in its table (sluiced -help) rather than repeating them.
const (
	DefaultLines           = 1500
	DefaultBytesPerApp     = 1 << 20
	DefaultMemoryLimit     = 256 << 20
	DefaultTailBuffer      = 1000
	DefaultTailBufferBytes = 1 << 20
	DefaultMaxTails        = 1000
	DefaultMaxTailsPerApp  = 100
)

const maxBytesPerApp = 1 << 31

func (c Config) withDefaults() Config {
	if c.Lines <= 0 {
		c.Lines = DefaultLines
	}
	if c.BytesPerApp <= 0 {
		c.BytesPerApp = DefaultBytesPerApp
	}
	c.BytesPerApp = min(c.BytesPerApp, maxBytesPerApp)
	if c.MemoryLimit <= 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.TailBuffer <= 0 {
		c.TailBuffer = DefaultTailBuffer
	}
	if c.TailBufferBytes <= 0 {
		c.TailBufferBytes = DefaultTailBufferBytes
	}
	if c.MaxTails <= 0 {
		c.MaxTails = DefaultMaxTails
	}
	if c.MaxTailsPerApp <= 0 {
		c.MaxTailsPerApp = DefaultMaxTailsPerApp
	}
	return c
}

// Filter selects lines by source and process. Ps "web" matches the procs
// "web" and "web.N" (not "webby"). Empty fields match anything.
type Filter struct {
	Source string
	Ps     string
}

// Store is the set of per-app rings. It is safe for concurrent use.
type Store struct {
	cfg Config

	mu     sync.RWMutex // guards apps and closed
	apps   appIndex
	closed bool

	clock    atomic.Uint64 // orders appends, for least-recently-written eviction
	mem      atomic.Int64  // memory of all rings
	peak     atomic.Int64  // the most mem has been after an Append
	lines    atomic.Int64  // lines in all rings
	sessions atomic.Int64  // open subscriptions

	reclaimMu sync.Mutex
	victims   []victim // scratch of reclaim, guarded by reclaimMu

	groups sync.Pool // *grouper

	// free recycles the chunks this store's rings give back (chunks.go).
	// It is passed down to the ring methods that take or give chunks
	// (put, reserve, evict*, compact) rather than held by each ring, which
	// keeps the ring struct at 256 bytes.
	free chunkList

	evAppLines, evAppBytes, evMemory prometheus.Counter
	tailDropped, tailCut             prometheus.Counter
	tailRejected                     *prometheus.CounterVec
}

type victim struct {
	r  *ring
	at uint64
}

// New returns an empty store. Its metrics are registered on reg unless reg
// is nil.
func New(cfg Config, reg prometheus.Registerer) *Store {
	s := &Store{cfg: cfg.withDefaults(), apps: newAppIndex()}
	s.free.allowFor(s.cfg.MemoryLimit)
	s.groups.New = func() any { return &grouper{} }
	evicted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_buffer_evicted_total",
		Help: "Lines evicted from the rings, by reason: app_lines (BUFFER_LINES), app_bytes (BUFFER_BYTES), memory (MEMORY_LIMIT).",
	}, []string{"reason"})
	s.evAppLines = evicted.WithLabelValues("app_lines")
	s.evAppBytes = evicted.WithLabelValues("app_bytes")
	s.evMemory = evicted.WithLabelValues("memory")
	s.tailDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_tail_dropped_total",
		Help: "Lines a tail subscriber did not read in time and missed (reported to it as L11 lines).",
	})
	s.tailCut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_tail_behind_total",
		Help: "Tails ended because they fell behind TAIL_BUFFER or TAIL_BUFFER_BYTES, or the ring evicted lines they had not read.",
	})
	s.tailRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_tail_rejected_total",
		Help: "Tails refused (429) because a cap was reached, by reason: max_tails, max_tails_per_app.",
	}, []string{"reason"})
	if reg != nil {
		reg.MustRegister(evicted, s.tailDropped, s.tailCut, s.tailRejected,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sluice_buffer_apps",
				Help: "Apps that have a ring.",
			}, func() float64 {
				s.mu.RLock()
				defer s.mu.RUnlock()
				return float64(s.apps.len())
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sluice_buffer_lines",
				Help: "Lines held in all rings.",
			}, func() float64 { return float64(s.lines.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sluice_buffer_bytes",
				Help: "Memory held by all rings (lines, index, per-app overhead); bounded by MEMORY_LIMIT.",
			}, func() float64 { return float64(s.mem.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sluice_buffer_bytes_peak",
				Help: "The most sluice_buffer_bytes has been after an append; MEMORY_LIMIT bounds it.",
			}, func() float64 { return float64(s.peak.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sluice_buffer_free_bytes",
				Help: "Memory of chunks the rings gave back, kept for reuse; not counted in sluice_buffer_bytes (at most MEMORY_LIMIT/8).",
			}, func() float64 { return float64(s.free.bytes()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sluice_tail_sessions",
				Help: "Open tail subscriptions.",
			}, func() float64 { return float64(s.sessions.Load()) }),
		)
	}
	return s
}

// Stats is a snapshot of what the store holds.
type Stats struct {
	Apps      int
	Lines     int64
	LineBytes int64 // bytes of the held lines as tail lines
	Memory    int64 // memory of all rings, what MemoryLimit bounds
	Sessions  int64 // open subscriptions
}

// Stats walks every ring; it is meant for tests, benchmarks and debugging,
// not for a hot path.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Apps: s.apps.len(), Memory: s.mem.Load(), Sessions: s.sessions.Load()}
	for r := range s.apps.all() {
		r.mu.Lock()
		st.Lines += int64(r.n)
		st.LineBytes += r.lineBytes
		r.mu.Unlock()
	}
	return st
}

// ring returns app's ring, creating it on first use.
func (s *Store) ring(app string) *ring {
	s.mu.RLock()
	r := s.apps.get(app)
	s.mu.RUnlock()
	if r != nil {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r = s.apps.get(app); r == nil {
		r = s.newRingLocked(app)
	}
	return r
}

// newRingLocked adds an empty ring for app. The caller holds s.mu.
func (s *Store) newRingLocked(app string) *ring {
	r := newRing(app)
	s.apps.put(r)
	s.mem.Add(r.mem)
	return r
}

// appendAcc gathers what one Append changes in the store-wide counters, so
// that they are updated once per call rather than per line.
type appendAcc struct {
	mem, lines int64
	ev         evictions
}

// Append copies the batch into the apps' rings, in order within each app,
// and queues the new lines for the apps' subscribers. It never blocks on a
// subscriber. Safe for concurrent use; the batch is not kept.
func (s *Store) Append(batch []sluice.Message) {
	if len(batch) == 0 {
		return
	}
	stamp := s.clock.Add(1)
	var acc appendAcc
	app := batch[0].App
	single := true
	for i := 1; i < len(batch); i++ {
		if batch[i].App != app {
			single = false
			break
		}
	}
	if single {
		s.appendGroup(s.ring(app), batch, nil, 0, stamp, &acc)
	} else {
		g := s.groups.Get().(*grouper)
		g.group(s, batch)
		g.prefetch()
		for _, h := range g.heads {
			s.appendGroup(g.rings[h], batch, g.next, h, stamp, &acc)
		}
		g.reset()
		s.groups.Put(g)
	}
	s.settle(&acc)
}

// appendGroup appends the messages of one app: batch itself when next is
// nil, else the chain batch[first], batch[next[first]], ...
func (s *Store) appendGroup(r *ring, batch []sluice.Message, next []int32, first int32, stamp uint64, acc *appendAcc) {
	r.mu.Lock()
	for r.dead {
		// Forgotten since we looked it up: the next lookup makes a new one.
		r.mu.Unlock()
		r = s.ring(r.app)
		r.mu.Lock()
	}
	mem0, n0 := r.mem, r.n
	lines, maxBytes := s.cfg.Lines, s.cfg.BytesPerApp
	if next == nil {
		for i := range batch {
			r.put(&batch[i], lines, maxBytes, &acc.ev, &s.free)
		}
	} else {
		for i := first; i >= 0; i = next[i] {
			r.put(&batch[i], lines, maxBytes, &acc.ev, &s.free)
		}
	}
	r.lastWrite = stamp
	r.publishHints(lines)
	acc.mem += r.mem - mem0
	acc.lines += int64(r.n - n0)
	// Subscribers read the new lines themselves: wake those waiting, with
	// one close however many they are, after the lock.
	var wake chan struct{}
	if r.watch != nil {
		wake, r.watch.wait = r.watch.wait, nil
	}
	r.mu.Unlock()
	if wake != nil {
		close(wake)
	}
}

// settle applies one Append's changes to the store-wide counters and
// reclaims memory if the rings went over the limit.
func (s *Store) settle(acc *appendAcc) {
	mem := s.mem.Add(acc.mem)
	for pk := s.peak.Load(); mem > pk && !s.peak.CompareAndSwap(pk, mem); pk = s.peak.Load() {
	}
	s.lines.Add(acc.lines)
	if acc.ev.appLines > 0 {
		s.evAppLines.Add(float64(acc.ev.appLines))
	}
	if acc.ev.appBytes > 0 {
		s.evAppBytes.Add(float64(acc.ev.appBytes))
	}
	if mem > s.cfg.MemoryLimit {
		s.reclaim()
	}
}

// reclaim evicts the oldest lines of the least recently written apps until
// the rings are a little under MemoryLimit (so that it runs once per
// MemoryLimit/16 of new data, not per Append), and forgets the apps it had
// left empty the time before.
// One caller reclaims at a time; the others wait for it rather than go on
// appending over the limit (with 100,000 apps a pass takes long enough for
// another connection to put the rings 15% over MEMORY_LIMIT), and then
// reclaim themselves if the rings are still over.
func (s *Store) reclaim() {
	s.reclaimMu.Lock()
	defer s.reclaimMu.Unlock()
	limit := s.cfg.MemoryLimit
	low := limit - limit/16
	// Appends that go over the limit while a pass runs do not reclaim
	// (TryLock): look again after each pass, a few times at most.
	for pass := 0; pass < 3 && s.mem.Load() > limit; pass++ {
		s.reclaimPass(low)
	}
}

// reclaimPass evicts, in least-recently-written order, until the rings are
// under low. The caller holds reclaimMu.
func (s *Store) reclaimPass(low int64) {
	s.mu.RLock()
	for r := range s.apps.all() {
		r.mu.Lock()
		at := r.lastWrite
		r.mu.Unlock()
		s.victims = append(s.victims, victim{r, at})
	}
	s.mu.RUnlock()
	slices.SortFunc(s.victims, func(a, b victim) int { return cmp.Compare(a.at, b.at) })
	var evicted int64
	for _, v := range s.victims {
		if s.mem.Load() <= low {
			break
		}
		r := v.r
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			continue
		}
		mem0, n0 := r.mem, r.n
		if s.mem.Load()-(r.mem-appOverhead) > low {
			r.evictAll(&s.free) // all of it goes anyway
		}
		for r.n > 0 && s.mem.Load()+(r.mem-mem0) > low {
			r.evictOldest(&s.free)
		}
		if r.n == 0 {
			r.releaseChunks(&s.free) // keeps the table, unlike compact
		} else {
			r.freeSpare(&s.free)
		}
		evicted += int64(n0 - r.n)
		s.lines.Add(int64(r.n - n0))
		s.mem.Add(r.mem - mem0)
		// A ring emptied now keeps its struct and chunk table (counted in
		// its memory) for the app's next lines; one that was already
		// empty at the last reclaim is forgotten. Apps that keep writing
		// under memory pressure then cost no allocations.
		forget := n0 == 0 && r.nsubs() == 0
		r.mu.Unlock()
		if forget {
			s.forget(r)
		}
	}
	clear(s.victims)
	s.victims = s.victims[:0]
	if evicted > 0 {
		s.evMemory.Add(float64(evicted))
	}
}

// forget removes r from the store if it is still empty and unwatched.
func (s *Store) forget(r *ring) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dead && r.n == 0 && r.nsubs() == 0 {
		s.dropLocked(r)
	}
}

// dropLocked removes r from the store and gives back its memory. The caller
// holds s.mu and r.mu.
func (s *Store) dropLocked(r *ring) {
	// All of r.mem leaves the count, including what compact gives back
	// (a kept ring's chunk table, a chunk at its tail).
	s.mem.Add(-r.mem)
	r.compact(&s.free)
	r.dead = true
	s.apps.del(r)
	r.mem = 0
}

// Last appends to dst the last n lines of app that pass f, oldest first,
// each formatted as a tail line (sluice.AppendLine). The whole ring is
// searched. An unknown app has no lines.
func (s *Store) Last(dst []byte, app string, n int, f Filter) []byte {
	s.mu.RLock()
	r := s.apps.get(app)
	s.mu.RUnlock()
	if r == nil {
		return dst
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.appendLast(dst, n, &f, r.tail)
}

// Read appends to dst the lines of app that o selects (Last, or After with
// Limit), oldest first, as tail lines or events, and returns the cursor of
// the newest line it covered: the last line returned when Limit cut the
// read short, else the app's newest line. An unknown app has no lines and
// no cursor. A resume whose first lines the ring no longer holds begins
// with an L11 line saying how many.
func (s *Store) Read(dst []byte, app string, o Options) ([]byte, Cursor) {
	s.mu.RLock()
	r := s.apps.get(app)
	s.mu.RUnlock()
	if r == nil {
		return dst, Cursor{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var p, seq, missed uint64
	limit := -1
	if o.After.IsZero() {
		p, seq = r.lastStart(o.Last, &o.Filter)
	} else {
		p, seq, missed = r.afterStart(o.After)
		if o.Limit > 0 {
			limit = o.Limit
		}
	}
	if missed > 0 {
		sub := Subscription{events: o.Events}
		since := time.Now()
		if r.n > 0 {
			since = time.UnixMicro(r.headerAt(r.head).micros)
		}
		dst = sub.appendNotice(dst, missed, since, r.cursorBefore(p, seq))
	}
	var st stamper
	for ; p < r.tail && limit != 0; seq++ {
		h := r.headerAt(p)
		if o.After.Bus != 0 && notAfter(h.pos, o.After.Bus) {
			p += h.size()
			continue
		}
		if r.matches(p, &h, &o.Filter) {
			dst = frameStart(dst, o.Events, Cursor{Epoch: r.epoch, Seq: seq + 1, Bus: h.pos})
			dst = r.appendLine(dst, p, &h, &st)
			dst = frameEnd(dst, o.Events)
			limit--
		}
		p += h.size()
	}
	return dst, r.cursorBefore(p, seq)
}

// Close ends every subscription (their Next returns io.EOF) and makes later
// ones end at once. Append and Last keep working.
func (s *Store) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	// Dropping a ring moves others in the index: walk a copy.
	for _, r := range slices.Collect(s.apps.all()) {
		r.mu.Lock()
		if r.watch != nil {
			for _, sub := range r.watch.subs {
				sub.closeLocked()
			}
			r.watch.subs = nil
		}
		if r.n == 0 {
			s.dropLocked(r)
		}
		r.mu.Unlock()
	}
}

// grouper links the messages of a mixed batch by app, so that each app's
// ring is locked once per Append. Pooled; its slices and table are reused.
// The last message of each ring is found in a small open-addressing table
// keyed by the ring's address: a Go map here cost about a seventh of
// sluiced's CPU with 100 apps per batch (hashing, and clearing it).
type grouper struct {
	rings  []*ring  // ring of each message
	hashes []uint64 // scratch of appIndex.lookupBatch
	next   []int32  // next message of the same ring, -1 at the end
	heads  []int32  // first message of each ring, in order of appearance
	tab    []slot   // len a power of two, at least twice the batch
	used   []int32  // the slots of tab in use, to clear them
}

type slot struct {
	r    *ring
	last int32
}

func (g *grouper) group(s *Store, batch []sluice.Message) {
	// Look the apps up under one read lock; create the missing ones after.
	g.rings = slices.Grow(g.rings, len(batch))[:len(batch)]
	g.hashes = slices.Grow(g.hashes, len(batch))[:len(batch)]
	s.mu.RLock()
	s.apps.lookupBatch(batch, g.rings, g.hashes)
	s.mu.RUnlock()
	for i, r := range g.rings {
		if r == nil {
			g.rings[i] = s.ring(batch[i].App)
		}
	}
	size := 16
	for size < 2*len(batch) {
		size <<= 1
	}
	if len(g.tab) < size {
		g.tab = make([]slot, size)
	}
	mask := uintptr(len(g.tab) - 1)
	for i, r := range g.rings {
		g.next = append(g.next, -1)
		// Fibonacci hashing of the address: rings are 256-byte aligned
		// heap objects, so the low bits carry nothing.
		h := uintptr(uint64(uintptr(unsafe.Pointer(r)))*0x9E3779B97F4A7C15>>32) & mask
		for {
			sl := &g.tab[h]
			if sl.r == r {
				g.next[sl.last] = int32(i)
				sl.last = int32(i)
				break
			}
			if sl.r == nil {
				sl.r, sl.last = r, int32(i)
				g.heads = append(g.heads, int32(i))
				g.used = append(g.used, int32(h))
				break
			}
			h = (h + 1) & mask
		}
	}
}

// prefetch starts loading what appending the batch will touch in each
// ring: its struct, then where it will write and evict. The loads overlap,
// where appendGroup, which must lock each ring first, would take the cache
// misses one after the other.
func (g *grouper) prefetch() {
	if raceEnabled {
		return // the hints are read without the rings' locks, on purpose
	}
	for _, h := range g.heads {
		a := uintptr(unsafe.Pointer(g.rings[h]))
		prefetch(a + 64)
		prefetch(a + 128)
		prefetch(a + 192)
	}
	for _, h := range g.heads {
		r := g.rings[h]
		// A typical record is 150-250 bytes: its lines, and those of the
		// next records the evictions will read.
		prefetchLines(r.writeHint, 192)
		prefetchLines(r.evictHint, evictAhead)
	}
}

func (g *grouper) reset() {
	for _, h := range g.used {
		g.tab[h] = slot{}
	}
	clear(g.rings)
	g.rings, g.next, g.heads, g.used = g.rings[:0], g.next[:0], g.heads[:0], g.used[:0]
}

// AppStat is one app the store holds: its name and how many lines it has
// received since its ring was made (a counter that only grows while the
// ring lives; the web page's line-rate sparkline is its derivative).
type AppStat struct {
	Name  string
	Lines uint64
}

// Apps appends to dst every app the store holds, in no particular order.
// It walks every ring like Stats: for a page that lists apps, not for a
// hot path.
func (s *Store) Apps(dst []AppStat) []AppStat {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for r := range s.apps.all() {
		r.mu.Lock()
		dst = append(dst, AppStat{Name: strings.Clone(r.app), Lines: r.seq})
		r.mu.Unlock()
	}
	return dst
}

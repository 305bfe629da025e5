package buffer

import "sync"

// chunkList recycles the chunks that a store's rings give back (when the
// memory limit empties apps, and a ring's head passes a chunk while it
// already has a spare), sparing the allocator and the garbage collector.
// Each Store owns one (Store.free) and passes it to the ring methods that
// take or give chunks; stores share nothing. A sync.Pool did this before,
// but the garbage collector empties a pool, so under a memory limit with
// many apps every GC cycle turned the chunks reclaim had just freed into
// garbage and the next lines into new allocations (0.08 allocations per
// message with 10,000 apps).
//
// The list holds at most maxFree chunks: 1/8 of the store's MemoryLimit
// (set by New). One reclaim frees a little over 1/16 (whole rings go at
// once), so all it frees fits. Free chunks are not counted as ring memory:
// the store holds at most that much more than MEMORY_LIMIT in chunks
// (sluice_buffer_free_bytes).
//
// It is safe for concurrent use: rings of different apps, each under its
// own lock, take and give chunks at once.
type chunkList struct {
	mu      sync.Mutex
	free    []*chunk
	maxFree int64 // set once by New, before any ring exists
}

// allowFor sets the list's bound to what a store with this memory limit
// reclaims at once.
func (l *chunkList) allowFor(memoryLimit int64) {
	l.maxFree = memoryLimit / 8 / chunkSize
}

// get returns a free chunk, or a new one. Its bytes are not cleared: rings
// only read what they wrote.
func (l *chunkList) get() *chunk {
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		c := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return c
	}
	l.mu.Unlock()
	return new(chunk)
}

// put takes c back, or leaves it to the garbage collector when the list is
// full.
func (l *chunkList) put(c *chunk) {
	l.mu.Lock()
	if int64(len(l.free)) < l.maxFree {
		l.free = append(l.free, c)
	}
	l.mu.Unlock()
}

// bytes returns the memory of the free chunks.
func (l *chunkList) bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.free)) * chunkSize
}

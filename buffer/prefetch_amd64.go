package buffer

// prefetch asks the CPU to bring the cache line at addr into its caches. It
// never faults, whatever addr is, and changes nothing a program can observe
// but time.
//
//go:noescape
func prefetch(addr uintptr)

// prefetchLines prefetches the n bytes from addr, a cache line at a time;
// nothing when addr is 0 (no hint).
func prefetchLines(addr, n uintptr) {
	if addr == 0 {
		return
	}
	for off := uintptr(0); off < n; off += 64 {
		prefetch(addr + off)
	}
}

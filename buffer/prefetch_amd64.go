package buffer

// prefetch asks the CPU to bring the cache line at addr into its caches. It
// never faults, whatever addr is, and changes nothing a program can observe
// but time.
//
//go:noescape
func prefetch(addr uintptr)

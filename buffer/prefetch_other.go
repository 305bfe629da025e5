//go:build !amd64

package buffer

// prefetch does nothing on this architecture.
func prefetch(addr uintptr) {}

// prefetchLines does nothing on this architecture.
func prefetchLines(addr, n uintptr) {}

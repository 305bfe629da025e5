//go:build !amd64

package buffer

// prefetch does nothing on this architecture.
func prefetch(addr uintptr) {}

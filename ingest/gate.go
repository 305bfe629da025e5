package ingest

import (
	"bytes"
	"sync"
)

// DefaultMaxBodyBytes is the largest HTTP ingest body (after gzip
// decompression) of every Mounted source unless MAX_BODY_BYTES says
// otherwise.
const DefaultMaxBodyBytes = 16 << 20

// Gate counts the requests a Mounted source is handling and refuses new
// ones once closed: the whole of a mounted source's Shutdown. The zero
// value is open. It is safe for concurrent use.
type Gate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // made by Close; closed when n reaches 0
}

// Enter admits one request, or reports false after Close.
func (g *Gate) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// Leave ends a request that Enter admitted.
func (g *Gate) Leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.idle != nil {
		select {
		case <-g.idle:
		default:
			close(g.idle)
		}
	}
}

// Close refuses new requests and returns a channel closed when none is in
// flight.
func (g *Gate) Close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.idle = make(chan struct{})
		if g.n == 0 {
			close(g.idle)
		}
	}
	return g.idle
}

// Gzipped reads an HTTP source's Content-Encoding value: gzip (or x-gzip)
// is gzipped, none or identity is not, and anything else is not supported
// (ok false; the source answers 415).
func Gzipped(contentEncoding []byte) (gzipped, ok bool) {
	switch ce := bytes.TrimSpace(contentEncoding); {
	case len(ce) == 0 || bytes.EqualFold(ce, []byte("identity")):
		return false, true
	case bytes.EqualFold(ce, []byte("gzip")) || bytes.EqualFold(ce, []byte("x-gzip")):
		return true, true
	}
	return false, false
}

package syslog

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// lifecycle is the start and stop state a TCPServer and a UDPServer share:
// Serve runs once, only after Listen and not after Shutdown, and publishes
// with a context that Shutdown can cancel. The zero value is not ready: set
// name and done (a new channel).
type lifecycle struct {
	name    string // "syslog tcp", for errors
	closing atomic.Bool

	mu      sync.Mutex // guards the fields below and the server's socket
	started bool
	cancel  context.CancelFunc // ends the context Serve publishes with
	done    chan struct{}      // closed when Serve has returned
}

// begin starts Serve and returns the context to publish with. bound, called
// under mu, reports whether Listen has set the socket (and may take it).
// Serve must call end when it returns.
func (l *lifecycle) begin(bound func() bool) (context.Context, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !bound() {
		return nil, fmt.Errorf("%s: Serve called before Listen", l.name)
	}
	if l.started || l.closing.Load() {
		return nil, ErrServerClosed
	}
	l.started = true
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	return ctx, nil
}

// end cancels Serve's context and marks Serve returned.
func (l *lifecycle) end() {
	l.cancel()
	close(l.done)
}

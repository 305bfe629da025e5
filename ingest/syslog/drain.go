package syslog

import (
	"net"
	"sync/atomic"
	"syscall"
)

// errDrained is returned by a draining read when the socket holds nothing
// more. It is a timeout, so crypto/tls treats it like an expired deadline.
var errDrained error = drainedError{}

type drainedError struct{}

func (drainedError) Error() string   { return "syslog: socket drained at shutdown" }
func (drainedError) Timeout() bool   { return true }
func (drainedError) Temporary() bool { return true }

// drainConn is an accepted TCP connection that Shutdown can switch to
// draining: from then on a Read takes what the socket already holds and
// never waits (readNow), so the frames a client wrote before Shutdown are
// published and an idle or trickling client cannot hold Shutdown up. TLS
// reads through it.
type drainConn struct {
	net.Conn
	raw      syscall.RawConn // nil: cannot drain, a draining Read reports errDrained
	draining atomic.Bool
}

func newDrainConn(c net.Conn) *drainConn {
	d := &drainConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			d.raw = raw
		}
	}
	return d
}

func (d *drainConn) Read(p []byte) (int, error) {
	if !d.draining.Load() {
		return d.Conn.Read(p)
	}
	if d.raw == nil {
		return 0, errDrained
	}
	return readNow(d.raw, p)
}

// drainListener wraps every accepted connection in a drainConn.
type drainListener struct{ net.Listener }

func (l drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newDrainConn(c), nil
}

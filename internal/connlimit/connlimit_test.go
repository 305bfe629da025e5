package connlimit_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/connlimit"
	"github.com/sluice-logs/sluice/internal/eventually"
	"github.com/sluice-logs/sluice/metrics"
)

// server accepts on a limited loopback listener and keeps every accepted
// connection until the test ends or closeAll.
type server struct {
	ln      *connlimit.Listener
	mu      sync.Mutex
	conns   []net.Conn
	refused map[metrics.Reason]int
}

func newServer(t *testing.T, limits connlimit.Limits, reply []byte) *server {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{refused: make(map[metrics.Reason]int)}
	s.ln = connlimit.Wrap(inner, limits, func(r metrics.Reason) {
		s.mu.Lock()
		s.refused[r]++
		s.mu.Unlock()
	}, reply)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		s.ln.Close()
		<-done
		s.closeAll()
	})
	return s
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
		c.Close() // twice: released once
	}
	s.conns = nil
}

func (s *server) count(r metrics.Reason) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[r]
}

// dialFrom connects from the loopback address from (127.0.0.x).
func dialFrom(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(t.Context(), "tcp", to)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c (EOF or reset) and
// returns what it wrote first.
func closedByServer(t *testing.T, c net.Conn) (bool, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, string(b)
	}
	return true, string(b)
}

func TestLimits(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		s := newServer(t, connlimit.Limits{Total: 10, PerIP: 2}, nil)
		addr := s.ln.Addr().String()
		dialFrom(t, "127.0.0.2", addr)
		dialFrom(t, "127.0.0.2", addr)
		eventually.True(t, "2 open", func() bool { return s.ln.Open() == 2 })
		third := dialFrom(t, "127.0.0.2", addr)
		if closed, _ := closedByServer(t, third); !closed {
			t.Fatal("the third connection from 127.0.0.2 was kept open")
		}
		eventually.True(t, "one counted", func() bool { return s.count(metrics.ReasonTooManyConnectionsPerIP) == 1 })
		// Another address is not held back.
		dialFrom(t, "127.0.0.1", addr)
		eventually.True(t, "3 open", func() bool { return s.ln.Open() == 3 })
		// Closing gives the places back.
		s.closeAll()
		eventually.True(t, "0 open", func() bool { return s.ln.Open() == 0 })
		dialFrom(t, "127.0.0.2", addr)
		dialFrom(t, "127.0.0.2", addr)
		eventually.True(t, "2 open again", func() bool { return s.ln.Open() == 2 })
	})
	t.Run("total", func(t *testing.T) {
		reply := []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n")
		s := newServer(t, connlimit.Limits{Total: 3, PerIP: 2}, reply)
		addr := s.ln.Addr().String()
		dialFrom(t, "127.0.0.2", addr)
		dialFrom(t, "127.0.0.3", addr)
		dialFrom(t, "127.0.0.4", addr)
		eventually.True(t, "3 open", func() bool { return s.ln.Open() == 3 })
		closed, got := closedByServer(t, dialFrom(t, "127.0.0.5", addr))
		if !closed || got != string(reply) {
			t.Fatalf("fourth connection: closed %v, read %q", closed, got)
		}
		if n := s.count(metrics.ReasonTooManyConnections); n != 1 {
			t.Fatalf("too_many_connections %d, want 1", n)
		}
	})
	t.Run("a flood is refused at accept", func(t *testing.T) {
		const limit, flood = 50, 500
		s := newServer(t, connlimit.Limits{Total: 1000, PerIP: limit}, nil)
		addr := s.ln.Addr().String()
		for range flood {
			dialFrom(t, "127.0.0.2", addr)
		}
		eventually.True(t, "the flood counted", func() bool {
			return s.count(metrics.ReasonTooManyConnectionsPerIP) == flood-limit
		})
		if n := s.ln.Open(); n != limit {
			t.Fatalf("open %d, want %d", n, limit)
		}
	})
}

func TestSyscallConnPassesThrough(t *testing.T) {
	s := newServer(t, connlimit.Limits{}, nil)
	dialFrom(t, "127.0.0.1", s.ln.Addr().String())
	eventually.True(t, "accepted", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.conns) == 1 })
	s.mu.Lock()
	c := s.conns[0]
	s.mu.Unlock()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatal("not a syscall.Conn")
	}
	if _, err := sc.SyscallConn(); err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
}

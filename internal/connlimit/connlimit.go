package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/sluice-logs/sluice/metrics"
)

// Limits are the caps of one listener. A limit <= 0 is no limit.
type Limits struct {
	Total int // MAX_CONNECTIONS
	PerIP int // MAX_CONNECTIONS_PER_IP
}

// Listener is a net.Listener that holds at most Limits connections open.
type Listener struct {
	net.Listener
	limits Limits
	refuse func(metrics.Reason)
	reply  []byte // written to a refused connection before it closes; may be nil

	mu    sync.Mutex
	open  int
	perIP map[netip.Addr]int
}

// Wrap bounds ln by limits. refused, if not nil, is called (in Accept's
// goroutine) with the reason of every connection refused:
// metrics.ReasonTooManyConnections or ReasonTooManyConnectionsPerIP.
// reply, if not nil, is written to a refused connection before it is
// closed: a plain-text protocol's refusal, such as an HTTP 503; it must
// fit a socket's send buffer, so the write never waits.
func Wrap(ln net.Listener, limits Limits, refused func(metrics.Reason), reply []byte) *Listener {
	return &Listener{Listener: ln, limits: limits, refuse: refused, reply: reply, perIP: make(map[netip.Addr]int)}
}

// Accept returns the next connection within the limits, closing (and
// counting) those over them meanwhile.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		reason := l.admit(key)
		if reason == metrics.ReasonNone {
			return &conn{Conn: c, l: l, key: key}, nil
		}
		if l.reply != nil {
			_, _ = c.Write(l.reply)
		}
		_ = c.Close()
		if l.refuse != nil {
			l.refuse(reason)
		}
	}
}

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *Listener) admit(key netip.Addr) metrics.Reason {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.Total > 0 && l.open >= l.limits.Total {
		return metrics.ReasonTooManyConnections
	}
	if l.limits.PerIP > 0 && key.IsValid() && l.perIP[key] >= l.limits.PerIP {
		return metrics.ReasonTooManyConnectionsPerIP
	}
	l.open++
	if key.IsValid() {
		l.perIP[key]++
	}
	return metrics.ReasonNone
}

func (l *Listener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if key.IsValid() {
		if n := l.perIP[key] - 1; n > 0 {
			l.perIP[key] = n
		} else {
			delete(l.perIP, key)
		}
	}
}

// clientKey is the address a per-IP limit counts: the IPv4 address, or the
// IPv6 /64. The zero Addr (not counted per IP) for other networks.
func clientKey(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// conn releases its place in the counts on its first Close.
type conn struct {
	net.Conn
	l    *Listener
	key  netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

// SyscallConn is the underlying connection's, so that code reading the
// socket directly (a non-blocking drain at shutdown) still can.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoSyscallConn
}

// NetConn is the connection under c.
func (c *conn) NetConn() net.Conn { return c.Conn }

var errNoSyscallConn = errors.New("connlimit: the connection has no file descriptor")

// Interface guards.
var (
	_ net.Listener = (*Listener)(nil)
	_ syscall.Conn = (*conn)(nil)
)

package syslog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/metrics"
)

// offerer is a Publisher that can take a batch without ever waiting (the
// router's Offer): a full policy=block drain drops what it has no room for,
// counted as udp_no_backpressure, instead of stopping the socket. UDP
// senders cannot be pushed back, so waiting would only make the kernel
// drop every app's datagrams for one app's drain. A Publisher without it
// (a test's) gets Publish.
type offerer interface {
	Offer(batch []sluice.Message) error
}

// udpLogEvery rate-limits the rejection warnings of the UDP socket, which
// all senders share.
const udpLogEvery = 10 * time.Second

// UDPServer reads syslog over UDP, one message per datagram, in the
// goroutine that calls Serve.
type UDPServer struct {
	in     *ingester
	addr   string
	rcvbuf int // Config.UDPReadBuffer

	lifecycle // its mu also guards conn
	conn      *net.UDPConn
}

// NewUDP returns a server for cfg; Listen binds it. IdleTimeout does not
// apply to UDP.
func NewUDP(cfg Config) *UDPServer {
	return &UDPServer{
		in:        newIngester(cfg, metrics.SyslogUDP),
		addr:      cfg.Addr,
		rcvbuf:    cfg.UDPReadBuffer,
		lifecycle: lifecycle{name: "syslog udp", done: make(chan struct{})},
	}
}

// Name is the server's transport, syslog_udp.
func (s *UDPServer) Name() string { return s.in.transport }

// Listen binds the socket.
func (s *UDPServer) Listen() error {
	addr, err := net.ResolveUDPAddr("udp", s.addr)
	if err != nil {
		return fmt.Errorf("syslog udp listen %s: %w", s.addr, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fmt.Errorf("syslog udp listen %s: %w", s.addr, err)
	}
	s.tuneSocket(conn)
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	return nil
}

// DefaultUDPReadBuffer is the UDP socket's receive buffer when
// Config.UDPReadBuffer is 0: a burst of several MiB of datagrams waits in
// the kernel while a Publish blocks or the scheduler is busy.
const DefaultUDPReadBuffer = 8 << 20

// tuneSocket sizes the receive buffer and turns on the kernel's drop
// counter, logging what it could not do: a smaller buffer than asked (the
// kernel caps it at net.core.rmem_max) means datagrams are lost sooner, and
// those losses are then counted as reason kernel_drop.
func (s *UDPServer) tuneSocket(conn *net.UDPConn) {
	want := s.rcvbuf
	if want == 0 {
		want = DefaultUDPReadBuffer
	}
	if want > 0 {
		got, err := setReadBuffer(conn, want)
		switch {
		case err != nil:
			s.in.log.Warn("syslog udp: cannot set the receive buffer", "want_bytes", want, "err", err)
		case got < want:
			s.in.log.Warn("syslog udp: the kernel capped the receive buffer; raise net.core.rmem_max to get more",
				"want_bytes", want, "got_bytes", got)
		default:
			s.in.log.Info("syslog udp receive buffer", "bytes", got)
		}
	}
	if err := enableDropCount(conn); err != nil {
		s.in.log.Warn("syslog udp: the kernel's drop count is not available; datagrams it drops are not counted", "err", err)
	}
}

// Addr is the bound address, nil before Listen.
func (s *UDPServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	return s.conn.LocalAddr()
}

// Serve reads datagrams until Shutdown and returns ErrServerClosed.
func (s *UDPServer) Serve() error {
	var conn *net.UDPConn
	ctx, err := s.begin(func() bool { conn = s.conn; return conn != nil })
	if err != nil {
		return err
	}
	defer s.end()

	var from netip.AddrPort
	sess := newSession(s.in, func() string { return from.String() }, udpLogEvery)
	if o, ok := s.in.pub.(offerer); ok {
		sess.offer = o.Offer
	}
	// The largest UDP payload is 65507 bytes.
	buf := make([]byte, 64<<10)
	oob := make([]byte, oobSize)
	var drops uint32 // the kernel's count of dropped datagrams, last seen
	handle := func(n int) error {
		frame := trimEOL(buf[:n])
		if len(frame) == 0 {
			return nil
		}
		if len(frame) > s.in.frameMax {
			frame = trimRune(frame[:s.in.frameMax])
			sess.reject(metrics.ReasonTruncated, nil)
		}
		sess.frame(frame, time.Now())
		return sess.flush(ctx)
	}
	for {
		n, oobn, _, addr, err := conn.ReadMsgUDPAddrPort(buf, oob)
		if d, ok := dropCount(oob[:oobn]); ok && d != drops {
			sess.counts[metrics.ReasonKernelDrop] += uint64(d - drops) // wraps like the counter
			drops = d
		}
		if err != nil {
			if s.closing.Load() {
				s.drain(conn, buf, handle)
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			s.in.log.Debug("syslog udp read failed", "err", err)
			continue
		}
		from = addr
		if err := handle(n); err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			s.in.log.Warn("syslog udp: messages lost", "err", err)
		}
	}
}

// drain handles the datagrams the socket holds when Shutdown begins (those
// sent before it), without waiting for more.
func (s *UDPServer) drain(conn *net.UDPConn, buf []byte, handle func(int) error) {
	rc, err := conn.SyscallConn()
	if err != nil || conn.SetReadDeadline(time.Time{}) != nil {
		return
	}
	for {
		n, err := readNow(rc, buf)
		if err != nil {
			return
		}
		if err := handle(n); err != nil {
			s.in.log.Warn("syslog udp: messages lost at shutdown", "err", err)
			return
		}
	}
}

// Shutdown stops reading, lets Serve publish the datagram it holds and
// those waiting in the socket (sent before Shutdown), and waits for it to
// return. If ctx ends first, it cancels the publishing and
// returns ctx.Err().
func (s *UDPServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	if s.conn != nil {
		_ = s.conn.SetReadDeadline(time.Now())
	}
	started := s.started
	s.mu.Unlock()
	if !started {
		if s.conn != nil {
			s.conn.Close()
		}
		return nil
	}
	select {
	case <-s.done:
		s.conn.Close()
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.cancel()
	s.conn.Close()
	s.mu.Unlock()
	return ctx.Err()
}

// Interface guard.
var _ ingest.Listener = (*UDPServer)(nil)

package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/internal/connlimit"
	"github.com/sluice-logs/sluice/metrics"
)

// ErrServerClosed is returned by Serve after Shutdown: ingest.ErrClosed.
var ErrServerClosed = ingest.ErrClosed

// TCPServer reads syslog over TCP, RFC 6587 octet-counted or LF-framed
// (detected per connection), one goroutine per connection.
type TCPServer struct {
	in   *ingester
	addr string
	idle time.Duration
	tls  *tls.Config // nil: plain TCP
	caps connlimit.Limits

	lifecycle  // its mu also guards the fields below
	ln         net.Listener
	conns      map[net.Conn]struct{}
	quit       chan struct{} // closed by Shutdown
	quitClosed bool
	wg         sync.WaitGroup // connection goroutines
}

// NewTCP returns a server for cfg; Listen binds it.
func NewTCP(cfg Config) *TCPServer {
	transport := metrics.SyslogTCP
	if cfg.TLS != nil {
		transport = metrics.SyslogTLS
	}
	return &TCPServer{
		in:        newIngester(cfg, transport),
		tls:       cfg.TLS,
		addr:      cfg.Addr,
		idle:      cfg.IdleTimeout,
		caps:      connlimit.Limits{Total: cfg.MaxConnections, PerIP: cfg.MaxConnectionsPerIP},
		lifecycle: lifecycle{name: "syslog tcp", done: make(chan struct{})},
		conns:     make(map[net.Conn]struct{}),
		quit:      make(chan struct{}),
	}
}

// Name is the server's transport, syslog_tcp or syslog_tls.
func (s *TCPServer) Name() string { return s.in.transport }

// Listen binds the listening socket, so the caller can log Addr before
// Serve.
func (s *TCPServer) Listen() error {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("syslog tcp listen %s: %w", s.addr, err)
	}
	// Over a cap, a connection is closed at accept, before it has a
	// goroutine or a TLS handshake.
	ln = drainListener{connlimit.Wrap(ln, s.caps, func(r metrics.Reason) { s.in.rejected[r].Inc() }, nil)}
	if s.tls != nil {
		// The handshake runs on the connection's first read, in its own
		// goroutine and under its idle deadline: a client that never
		// finishes it costs nobody else anything.
		ln = tls.NewListener(ln, s.tls)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr is the bound address, nil before Listen.
func (s *TCPServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until Shutdown, then waits for every
// connection goroutine and returns ErrServerClosed.
func (s *TCPServer) Serve() error {
	var ln net.Listener
	ctx, err := s.begin(func() bool { ln = s.ln; return ln != nil })
	if err != nil {
		return err
	}
	defer s.end()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				break
			}
			if errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return fmt.Errorf("syslog tcp accept: %w", err)
			}
			// Out of file descriptors and the like: wait and retry, the
			// way net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.in.log.Warn("syslog tcp accept failed; retrying", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.quit:
				t.Stop()
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			c.Close()
			break
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(ctx, c)
	}
	s.wg.Wait()
	return ErrServerClosed
}

// Shutdown stops accepting, lets every connection read what its socket
// already holds (what the client wrote before Shutdown; no waiting for
// more) and publish the complete frames, and waits for the connection
// goroutines. If
// ctx ends first, it cancels the publishing, closes the connections and
// returns ctx.Err().
func (s *TCPServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	if !s.quitClosed {
		s.quitClosed = true
		close(s.quit)
	}
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		// Read on what the socket holds, without waiting, and wake a Read
		// that waits.
		drainOf(c).draining.Store(true)
		_ = c.SetReadDeadline(time.Now())
	}
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.cancel()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return ctx.Err()
}

// serveConn reads one connection until EOF, an error, the idle timeout or
// Shutdown.
func (s *TCPServer) serveConn(ctx context.Context, c net.Conn) {
	defer s.wg.Done()
	s.in.conns.Inc()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.in.conns.Dec()
	}()

	sess := newSession(s.in, c.RemoteAddr().String, 0)
	f := newFramer(s.in.frameMax)
	// started is when the connection began the unfinished frame the
	// framer holds: a trickle is not idle, so a frame must be completed
	// within the idle timeout too (reason frame_timeout).
	var started time.Time
	woken := 0 // reads that Shutdown's deadline ended
	for {
		if s.closing.Load() {
			// Shutdown: read what the socket already holds (the frames
			// clients wrote before it), never waiting for more.
			drainOf(c).draining.Store(true)
			_ = c.SetReadDeadline(time.Time{})
		} else if s.idle > 0 {
			deadline := time.Now().Add(s.idle)
			if !started.IsZero() {
				deadline = started.Add(s.idle)
			}
			_ = c.SetReadDeadline(deadline)
		}
		n, rerr := c.Read(f.space())
		if n > 0 {
			f.wrote(n)
			now := time.Now()
			completed := false
		frames:
			for {
				frame, ev := f.next()
				switch ev {
				case evNeedMore:
					break frames
				case evBadCount:
					sess.reject(metrics.ReasonBadOctetCount, nil)
				case evOverlong:
					sess.reject(metrics.ReasonBadOctetCount, nil)
					sess.frame(frame, now)
					completed = true
				case evTruncated:
					sess.reject(metrics.ReasonTruncated, nil)
					sess.frame(frame, now)
					completed = true
				default:
					sess.frame(frame, now)
					completed = true
				}
			}
			switch {
			case !f.pending():
				started = time.Time{}
			case completed || started.IsZero():
				started = now
			}
		}
		if rerr != nil {
			if woken < 3 && s.closing.Load() && errors.Is(rerr, os.ErrDeadlineExceeded) {
				woken++ // Shutdown's deadline: read on, draining
			} else {
				s.finish(ctx, c, sess, f, rerr)
				return
			}
		}
		if err := sess.flush(ctx); err != nil {
			s.in.log.Warn("syslog tcp: closing connection", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
	}
}

// finish publishes what the connection left when its reading ended.
func (s *TCPServer) finish(ctx context.Context, c net.Conn, sess *session, f *framer, rerr error) {
	var ne net.Error
	switch {
	case errors.Is(rerr, io.EOF):
		frame, incomplete := f.rest()
		if incomplete {
			sess.reject(metrics.ReasonMalformed, errors.New("connection closed inside an octet-counted frame"))
		} else if frame != nil {
			sess.frame(frame, time.Now())
		}
	case s.closing.Load():
		// Shutdown, the socket drained: publish what is complete; a
		// partial frame is lost.
	case errors.As(rerr, &ne) && ne.Timeout() && f.pending():
		sess.reject(metrics.ReasonFrameTimeout, errors.New("a frame was not completed within the idle timeout"))
	case errors.As(rerr, &ne) && ne.Timeout():
		sess.reject(metrics.ReasonIdleTimeout, nil)
	default:
		s.in.log.Debug("syslog tcp read failed", "remote", c.RemoteAddr().String(), "err", rerr)
	}
	if err := sess.flush(ctx); err != nil {
		s.in.log.Warn("syslog tcp: messages lost at close", "remote", c.RemoteAddr().String(), "err", err)
	}
}

// Interface guard.
var _ ingest.Listener = (*TCPServer)(nil)

// drainOf is the drainConn under c (a drainConn or a *tls.Conn over one).
func drainOf(c net.Conn) *drainConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	return c.(*drainConn)
}

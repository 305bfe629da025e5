package ship

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/codec/octet"
)

// Syslog writes batches as octet-counted RFC 5424 frames (RFC 6587, RFC
// 5425) over one TCP or TLS connection, redialled after an error. A batch
// counts as delivered once it is written: syslog has no acknowledgement, so
// a connection that breaks may lose what the kernel had not yet sent, and a
// retried batch may arrive twice.
type Syslog struct {
	addr    string
	tls     *tls.Config
	timeout time.Duration
	conn    net.Conn
	buf     []byte
	frame   []byte
}

// NewSyslog returns a transport for a syslog://host:port or
// syslog+tls://host:port URL (the schemes of Sluice's syslog drains).
// Certificates are checked against the system roots (SSL_CERT_FILE and
// SSL_CERT_DIR add to them).
func NewSyslog(raw string, timeout time.Duration) (*Syslog, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Port() == "" {
		return nil, fmt.Errorf("syslog URL %q: want syslog://host:port or syslog+tls://host:port", raw)
	}
	s := &Syslog{addr: u.Host, timeout: timeout}
	switch u.Scheme {
	case "syslog", "syslog+tcp":
	case "syslog+tls":
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	default:
		return nil, fmt.Errorf("syslog URL %q: scheme %q: want syslog or syslog+tls", raw, u.Scheme)
	}
	return s, nil
}

// SetTLSConfig makes a syslog+tls:// transport use c's roots and client
// certificate; nil keeps the defaults. Call it before the first Send.
func (s *Syslog) SetTLSConfig(c *tls.Config) {
	if c == nil || s.tls == nil {
		return
	}
	s.tls.RootCAs, s.tls.Certificates = c.RootCAs, c.Certificates
}

// Send writes msgs as frames in one write.
func (s *Syslog) Send(ctx context.Context, msgs []sluice.Message) error {
	if s.conn == nil {
		d := &net.Dialer{Timeout: s.timeout}
		var c net.Conn
		var err error
		if s.tls != nil {
			c, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
		} else {
			c, err = d.DialContext(ctx, "tcp", s.addr)
		}
		if err != nil {
			return fmt.Errorf("dial %s: %w", s.addr, err)
		}
		s.conn = c
	}
	s.buf = s.buf[:0]
	for i := range msgs {
		s.frame = sluice.AppendRFC5424(s.frame[:0], &msgs[i])
		s.buf = octet.AppendFrame(s.buf, s.frame)
	}
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline) // a failure shows in the Write below
	if _, err := s.conn.Write(s.buf); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("write to %s: %w", s.addr, err)
	}
	return nil
}

// Close closes the connection.
func (s *Syslog) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

var _ Transport = (*Syslog)(nil)

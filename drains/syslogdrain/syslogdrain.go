package syslogdrain

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/codec/octet"
	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/drains"
)

// Transport is how frames travel.
type Transport int

// The transports, one per URL scheme.
const (
	TCP Transport = iota // syslog://
	TLS                  // syslog+tls://
	UDP                  // udpsyslog://
)

func (t Transport) String() string {
	switch t {
	case TLS:
		return "tls"
	case UDP:
		return "udp"
	}
	return "tcp"
}

// Format is the layout of each message.
type Format int

const (
	// FormatRFC5424 (the default) is strict RFC 5424 with the app in
	// APP-NAME (sluice.AppendRFC5424).
	FormatRFC5424 Format = iota
	// FormatLogplex is Heroku's syslog drain layout
	// (sluice.AppendLogplexSyslog).
	FormatLogplex
)

func (f Format) String() string {
	if f == FormatLogplex {
		return "logplex"
	}
	return "rfc5424"
}

// DefaultMaxDatagram is the longest UDP datagram sent unless max_datagram=
// says otherwise: RFC 5426 receivers must take 480 bytes and should take
// 2048.
const DefaultMaxDatagram = 2048

// Config is a parsed syslog drain URL plus what the URL cannot say.
type Config struct {
	Transport Transport
	Addr      string // host:port
	Redacted  string // the drain URL as printed
	Format    Format
	// Token is the HOSTNAME of format=logplex frames (drain_token=); empty
	// means each message's app.
	Token string
	// Insecure (insecure=1) skips the TLS certificate verification.
	Insecure bool
	// MaxDatagram bounds a UDP datagram (max_datagram=).
	MaxDatagram int
	// TLSConfig overrides the TLS settings (tests: their own roots); nil
	// means the system roots and the URL's host as ServerName.
	TLSConfig *tls.Config
	// Name is the drain's name, used in the in-band L14 lines' PROCID.
	Name string
	// Notify puts an in-band line (L14) into the app's stream; it is
	// drains.WorkerConfig.Notify, called from the Worker's goroutine. May
	// be nil.
	Notify func(m sluice.Message)
}

// paramNames are the query parameters ParseURL consumes.
var paramNames = []string{"format", "drain_token", "insecure", "max_datagram"}

// ParseURL reads a syslog, syslog+tls or udpsyslog drain URL. rest holds
// the query parameters drains.ParseOptions left. It validates everything
// (every problem at once) without dialing.
func ParseURL(u *url.URL, rest url.Values) (Config, error) {
	c := Config{Redacted: drains.Redact(u), MaxDatagram: DefaultMaxDatagram}
	var errs []error
	switch strings.ToLower(u.Scheme) {
	case "syslog":
		c.Transport = TCP
	case "syslog+tls":
		c.Transport = TLS
	case "udpsyslog":
		c.Transport = UDP
	default:
		errs = append(errs, fmt.Errorf("scheme %q: want syslog, syslog+tls or udpsyslog", u.Scheme))
	}
	if u.Hostname() == "" {
		errs = append(errs, errors.New("missing host"))
	}
	if p := u.Port(); p == "" {
		errs = append(errs, errors.New("missing port: want host:port"))
	} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		errs = append(errs, fmt.Errorf("port %q: want 1-65535", p))
	}
	if u.User != nil {
		errs = append(errs, errors.New("user info: syslog drains take no credentials"))
	}
	if u.Path != "" && u.Path != "/" {
		errs = append(errs, errors.New("a path: syslog drains take none")) // not its text: it may hold a token
	}
	c.Addr = net.JoinHostPort(u.Hostname(), u.Port())
	for name, vs := range rest {
		if !slices.Contains(paramNames, name) {
			errs = append(errs, fmt.Errorf("unknown parameter %q", name))
			continue
		}
		if len(vs) > 1 {
			errs = append(errs, fmt.Errorf("%s: given more than once", name)) // not the values: drain_token is a secret
		}
		v := vs[0]
		switch name {
		case "format":
			switch strings.ToLower(v) {
			case "rfc5424":
				c.Format = FormatRFC5424
			case "logplex":
				c.Format = FormatLogplex
			default:
				errs = append(errs, fmt.Errorf("format=%q: want rfc5424 or logplex", v))
			}
		case "drain_token":
			if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r < 33 || r > 126 }) {
				errs = append(errs, errors.New("drain_token: want printable ASCII without spaces")) // a secret: its value never prints
			}
			c.Token = v
		case "insecure":
			b, err := config.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("insecure=%q: %w", v, err))
			}
			c.Insecure = b
		case "max_datagram":
			n, err := strconv.Atoi(v)
			if err != nil || n < 480 || n > 65507 {
				errs = append(errs, fmt.Errorf("max_datagram=%q: want 480-65507 bytes", v))
			}
			c.MaxDatagram = n
		}
	}
	if c.Insecure && c.Transport != TLS {
		errs = append(errs, errors.New("insecure=1: only for syslog+tls"))
	}
	if rest.Has("max_datagram") && c.Transport != UDP {
		errs = append(errs, errors.New("max_datagram: only for udpsyslog"))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Drain writes batches to one syslog receiver. It implements drains.Drain.
type Drain struct {
	cfg     Config
	timeout time.Duration
	log     *slog.Logger
	host    string // the URL's host, TLS ServerName

	// Owned by the caller of Send/Check/Close (one goroutine).
	conn    net.Conn
	buf     []byte
	frame   []byte
	lastL14 map[string]time.Time // per app: when L14 was last reported
	closed  bool

	truncated atomic.Uint64
}

// New returns a Drain for cfg. It does not dial.
func New(cfg Config, opts drains.Options, logger *slog.Logger) (*Drain, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("new syslog drain %s: %w", cfg.Redacted, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = drains.DefaultTimeout
	}
	if cfg.MaxDatagram <= 0 {
		cfg.MaxDatagram = DefaultMaxDatagram
	}
	if cfg.Insecure {
		logger.Warn("syslog+tls drain with insecure=1: the receiver's certificate is NOT verified; anyone on the path can read and change the logs",
			"url", cfg.Redacted)
	}
	return &Drain{cfg: cfg, timeout: opts.Timeout, log: logger, host: host, lastL14: make(map[string]time.Time)}, nil
}

var errClosed = drains.ErrClosed // permanent: a closed drain stays closed

// Send writes batch on the connection, dialing first if needed. See
// drains.Drain and the package documentation.
func (d *Drain) Send(ctx context.Context, batch []sluice.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send to %s: %w", d.cfg.Redacted, err)
	}
	if d.closed {
		return fmt.Errorf("send to %s: %w", d.cfg.Redacted, errClosed)
	}
	if d.conn != nil && d.cfg.Transport != UDP && !alive(d.conn) {
		d.log.Info("syslog receiver closed the connection; reconnecting", "url", d.cfg.Redacted)
		d.drop()
	}
	if d.conn == nil {
		conn, err := d.dial(ctx)
		if err != nil {
			d.reportL14(err, batch)
			return err
		}
		d.conn = conn
	}
	var err error
	if d.cfg.Transport == UDP {
		err = d.sendUDP(ctx, batch)
	} else {
		err = d.sendStream(ctx, batch)
	}
	if err != nil {
		d.drop()
		return fmt.Errorf("send to %s: %w", d.cfg.Redacted, err)
	}
	return nil
}

// dial connects by the transport, under ctx and the drain's timeout.
func (d *Drain) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var conn net.Conn
	var err error
	switch d.cfg.Transport {
	case TLS:
		conn, err = d.dialTLS(ctx)
	case UDP:
		conn, err = d.dialUDP(ctx)
	default:
		conn, err = d.dialTCP(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.cfg.Redacted, err)
	}
	return conn, nil
}

// sendStream writes the batch as octet-counted frames in one write (TCP
// and TLS). ctx ending interrupts the write.
func (d *Drain) sendStream(ctx context.Context, batch []sluice.Message) error {
	d.buf = d.buf[:0]
	for i := range batch {
		d.frame = d.encode(d.frame[:0], &batch[i])
		d.buf = octet.AppendFrame(d.buf, d.frame)
	}
	stop := d.deadlines(ctx)
	_, err := d.conn.Write(d.buf)
	stop()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if cap(d.buf) > 4<<20 {
		d.buf = nil // do not pin the memory of one huge batch
	}
	if cap(d.frame) > 1<<20 {
		d.frame = nil
	}
	return err
}

// deadlines bounds the writes by the timeout and ctx's deadline, and makes
// them return at once when ctx ends. Call the returned func when done.
func (d *Drain) deadlines(ctx context.Context) func() {
	deadline := time.Now().Add(d.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn := d.conn
	_ = conn.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

// encode appends m in the drain's format, without framing.
func (d *Drain) encode(dst []byte, m *sluice.Message) []byte {
	if d.cfg.Format == FormatLogplex {
		host := d.cfg.Token
		if host == "" {
			host = m.App
		}
		return sluice.AppendLogplexSyslog(dst, m, host)
	}
	return sluice.AppendRFC5424(dst, m)
}

// alive reports whether the receiver has not closed conn: a read that
// cannot wait returns only a timeout on a healthy syslog connection (a
// receiver never writes). Anything else (EOF, a reset, stray bytes) means
// the connection is done.
func alive(conn net.Conn) bool {
	if err := conn.SetReadDeadline(time.Now()); err != nil {
		return false
	}
	var b [1]byte
	_, err := conn.Read(b[:])
	_ = conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// drop closes the connection; the next Send dials again.
func (d *Drain) drop() {
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
}

// Check dials the receiver (with the TLS handshake) and hangs up.
func (d *Drain) Check(ctx context.Context) error {
	conn, err := d.dial(ctx)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return conn.Close()
}

// Close closes the connection. Later calls do nothing.
func (d *Drain) Close(ctx context.Context) error {
	d.closed = true
	d.drop()
	return nil
}

// Truncated returns how many UDP messages were cut to max_datagram.
func (d *Drain) Truncated() uint64 { return d.truncated.Load() }

var _ drains.Drain = (*Drain)(nil)

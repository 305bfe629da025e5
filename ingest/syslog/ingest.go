package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	syslogcodec "github.com/sluice-logs/sluice/codec/syslog"
	"github.com/sluice-logs/sluice/metrics"
)

// Config configures a TCPServer or a UDPServer.
type Config struct {
	Addr string // listen address, "127.0.0.1:0" in tests
	// MaxMessageBytes bounds a message's text (the MSG); a longer one is
	// truncated to it and counted (reason truncated). A frame may be
	// HeaderRoom bytes longer, for the header and structured data; what a
	// frame holds beyond that is skipped. <= 0 means 64 KiB.
	MaxMessageBytes int
	IdleTimeout     time.Duration // TCP: close a connection that sends nothing this long (reason idle_timeout), or that takes this long to finish a frame (reason frame_timeout); 0 means never
	Tokens          *auth.Tokens  // nil or !Enabled(): open
	Publisher       sluice.Publisher
	Metrics         *metrics.Ingest // nil: counted nowhere
	Logger          *slog.Logger    // nil: discard
	// TLS, when set, makes a TCP server speak syslog over TLS (RFC 5425);
	// its metrics use transport syslog_tls.
	TLS *tls.Config

	// Timezone reads timestamps without a UTC offset (RFC 3164); nil
	// means UTC.
	Timezone *time.Location
	// DefaultApp is the app of a message that names none (an RFC 3164 TAG
	// that is missing, empty or digits only), counted as reason
	// default_app. "" means DefaultApp; with tokens enabled it does not
	// apply (the app is the token's).
	DefaultApp string
	// UDPReadBuffer is the UDP socket's receive buffer (SO_RCVBUF) in
	// bytes; 0 means DefaultUDPReadBuffer, < 0 the kernel's default.
	UDPReadBuffer int

	// MaxConnections and MaxConnectionsPerIP cap a TCP or TLS server's
	// open connections, in all and per client address; a connection over
	// a cap is closed at accept and counted (reasons too_many_connections,
	// too_many_connections_per_ip). <= 0 is no cap.
	MaxConnections      int
	MaxConnectionsPerIP int
}

// DefaultApp is the Config.DefaultApp of a zero Config.
const DefaultApp = "syslog"

// DefaultMaxMessageBytes is the MaxMessageBytes of a zero Config.
const DefaultMaxMessageBytes = sluice.DefaultMaxMessageBytes

// HeaderRoom is what a frame may hold beyond MaxMessageBytes: the syslog
// header (at most about 500 bytes in RFC 5424) and structured data.
const HeaderRoom = 8 << 10

// reasons are the reasons a syslog server counts.
var reasons = []metrics.Reason{
	metrics.ReasonMalformed,
	metrics.ReasonBadOctetCount,
	metrics.ReasonInvalidUTF8,
	metrics.ReasonUnknownToken,
	metrics.ReasonTruncated,
	metrics.ReasonIdleTimeout,
	metrics.ReasonLatin1,
	metrics.ReasonDefaultApp,
	metrics.ReasonKernelDrop,
	metrics.ReasonFrameTimeout,
	metrics.ReasonTooManyConnections,
	metrics.ReasonTooManyConnectionsPerIP,
}

// ingester is what a server shares with its connections: the
// configuration and the counters, resolved once.
type ingester struct {
	transport  string
	max        int // of a message's text
	frameMax   int // of a frame: max + HeaderRoom
	timezone   *time.Location
	defaultApp string // "" with tokens
	tokens     *auth.Tokens
	pub        sluice.Publisher
	log        *slog.Logger
	messages   prometheus.Counter
	rejected   [metrics.NumReasons]prometheus.Counter
	conns      prometheus.Gauge
}

func newIngester(cfg Config, transport string) *ingester {
	in := &ingester{
		transport: transport,
		max:       cfg.MaxMessageBytes,
		pub:       cfg.Publisher,
		log:       cfg.Logger,
	}
	if in.max <= 0 {
		in.max = DefaultMaxMessageBytes
	}
	in.frameMax = in.max + HeaderRoom
	if cfg.Tokens.Enabled() {
		in.tokens = cfg.Tokens
	} else {
		in.defaultApp = cfg.DefaultApp
		if in.defaultApp == "" {
			in.defaultApp = DefaultApp
		}
	}
	in.timezone = cfg.Timezone
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	m := cfg.Metrics
	if m == nil {
		m = metrics.NewIngest(nil)
	}
	in.messages = m.Messages.WithLabelValues(transport)
	in.rejected = m.RejectedCounters(transport, reasons...)
	in.conns = m.Connections
	return in
}

// session is the state of one TCP connection (or of the UDP socket): the
// batch being built from one read, the rejections counted since the last
// flush, and a one-entry token cache. It is used by one goroutine.
type session struct {
	in     *ingester
	remote func() string // the peer, formatted only when logged
	batch  []sluice.Message
	counts [metrics.NumReasons]uint64
	parser syslogcodec.Parser

	logEvery time.Duration // 0: log only the first rejection
	logged   time.Time

	// offer, when set, publishes instead of Publish without ever waiting
	// (UDP: see offerer).
	offer func([]sluice.Message) error

	tok      []byte // the last token looked up, and its answer
	tokGrant auth.Grant
	tokOK    bool
	tokSet   bool
}

func newSession(in *ingester, remote func() string, logEvery time.Duration) *session {
	s := &session{in: in, remote: remote, logEvery: logEvery, batch: make([]sluice.Message, 0, 64)}
	s.parser.Location = in.timezone
	s.parser.DefaultApp = in.defaultApp
	return s
}

// frame parses one frame into the batch, or counts why it was refused.
func (s *session) frame(frame []byte, received time.Time) {
	s.batch = append(s.batch, sluice.Message{})
	m := &s.batch[len(s.batch)-1]
	err := s.parser.Parse(frame, received, m)
	if err == nil {
		err = s.authorize(m)
	}
	if err == nil {
		if n := s.parser.Notes(); n != 0 {
			if n&syslogcodec.NoteLatin1 != 0 {
				s.counts[metrics.ReasonLatin1]++
			}
			if n&syslogcodec.NoteDefaultApp != 0 {
				s.counts[metrics.ReasonDefaultApp]++
			}
		}
		if len(m.Text) > s.in.max {
			m.Text = truncateText(m.Text, s.in.max)
			s.counts[metrics.ReasonTruncated]++
		}
		return
	}
	s.batch = s.batch[:len(s.batch)-1]
	r := metrics.ReasonMalformed
	switch {
	case errors.Is(err, syslogcodec.ErrInvalidUTF8):
		r = metrics.ReasonInvalidUTF8
	case errors.Is(err, errUnknownToken):
		r = metrics.ReasonUnknownToken
	}
	s.reject(r, err)
}

// truncateText cuts s to at most max bytes, not inside a UTF-8 sequence.
func truncateText(s string, max int) string {
	b := trimRune(unsafe.Slice(unsafe.StringData(s), max))
	return s[:len(b)]
}

var (
	errUnknownToken = errors.New("APP-NAME is not a known token")
	errBadApp       = errors.New("APP-NAME is not a valid app name")
)

// authorize maps the token in APP-NAME to its app and source, or, without
// tokens, checks that APP-NAME can name an app.
func (s *session) authorize(m *sluice.Message) error {
	if s.in.tokens == nil {
		if !auth.ValidName(m.App) {
			return errBadApp
		}
		return nil
	}
	if !s.tokSet || string(s.tok) != m.App {
		g, ok := s.in.tokens.Lookup(m.App)
		s.tok = append(s.tok[:0], m.App...)
		s.tokGrant, s.tokOK, s.tokSet = g, ok && !g.Admin, true
	}
	if !s.tokOK {
		return errUnknownToken
	}
	m.App, m.Source = s.tokGrant.App, s.tokGrant.Source
	return nil
}

// reject counts a rejection and logs the first one of the session (or one
// per logEvery).
func (s *session) reject(r metrics.Reason, err error) {
	s.counts[r]++
	if !s.logged.IsZero() && (s.logEvery == 0 || time.Since(s.logged) < s.logEvery) {
		return
	}
	s.logged = time.Now()
	attrs := []any{"transport", s.in.transport, "remote", s.remote(), "reason", r.String()}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	s.in.log.Warn("syslog ingest rejected a message", attrs...)
}

// flush publishes the batch and adds the counts to the metrics. The batch
// aliases the read buffer, so it must be flushed before the next read.
func (s *session) flush(ctx context.Context) error {
	for r, n := range s.counts {
		if n > 0 {
			s.in.rejected[r].Add(float64(n))
			s.counts[r] = 0
		}
	}
	if len(s.batch) == 0 {
		return nil
	}
	n := len(s.batch)
	var err error
	if s.offer != nil {
		err = s.offer(s.batch)
	} else {
		err = s.in.pub.Publish(ctx, s.batch)
	}
	clear(s.batch) // drop the references into the read buffer
	s.batch = s.batch[:0]
	if err != nil {
		return fmt.Errorf("publish %d messages: %w", n, err)
	}
	s.in.messages.Add(float64(n))
	return nil
}

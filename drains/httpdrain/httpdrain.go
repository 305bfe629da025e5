package httpdrain

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/retryafter"
)

// Format is the body format of the POSTs.
type Format int

const (
	// FormatRFC5424 (the default, format=rfc5424) is octet-counted strict
	// RFC 5424 frames (application/logplex-1) with the app in APP-NAME, so
	// that one Sluice can feed another.
	FormatRFC5424 Format = iota
	// FormatLogplex (format=logplex) is Heroku's drain layout in the same
	// framing: "<PRI>1 TIME host SOURCE PROC - MSG" (sluice.AppendLogplex),
	// what lpx-based receivers read. The app is not in the frame; it is
	// known from Logplex-Drain-Token, so such a drain is meant for one app.
	FormatLogplex
	// FormatNDJSON is one JSON object per line (application/x-ndjson).
	FormatNDJSON
)

func (f Format) String() string {
	switch f {
	case FormatNDJSON:
		return "ndjson"
	case FormatLogplex:
		return "logplex"
	}
	return "rfc5424"
}

// logplexHost is the HOSTNAME Heroku's HTTPS drains write (logplex_http_drain).
const logplexHost = "host"

// Config is a parsed http(s) drain URL.
type Config struct {
	// URL is the request URL: no user info, and none of the parameters
	// Sluice reads (the common drains.Options and format, gzip,
	// drain_token). Other query parameters are the endpoint's and are sent.
	URL      *url.URL
	Redacted string // the drain URL as printed
	Format   Format
	Gzip     bool
	// Token is the Logplex-Drain-Token header (drain_token=); empty means
	// the drain name, which drains/open fills in.
	Token string
	// User and Password are the basic auth credentials (URL user info).
	User, Password string
	HasAuth        bool
	// UserAgent defaults to "sluice/<module version>".
	UserAgent string
	// TLSConfig for https; nil means the system roots.
	TLSConfig *tls.Config
}

// paramNames are the query parameters ParseURL consumes.
var paramNames = []string{"format", "gzip", "drain_token"}

// ParseURL reads an http(s) drain URL. rest holds the query parameters that
// drains.ParseOptions left. It validates everything without dialing.
func ParseURL(u *url.URL, rest url.Values) (Config, error) {
	c := Config{Redacted: drains.Redact(u), UserAgent: defaultUserAgent()}
	var errs []error
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		errs = append(errs, fmt.Errorf("scheme %q: want http or https", u.Scheme))
	}
	if u.Hostname() == "" {
		errs = append(errs, errors.New("missing host"))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("port %q: want 1-65535", p))
		}
	}
	one := func(name string) (string, bool) {
		vs, ok := rest[name]
		if !ok {
			return "", false
		}
		if len(vs) > 1 {
			errs = append(errs, fmt.Errorf("%s: given more than once", name)) // not the values: drain_token is a secret
		}
		return vs[0], true
	}
	if v, ok := one("format"); ok {
		switch strings.ToLower(v) {
		case "rfc5424":
			c.Format = FormatRFC5424
		case "logplex":
			c.Format = FormatLogplex
		case "ndjson":
			c.Format = FormatNDJSON
		default:
			errs = append(errs, fmt.Errorf("format=%q: want rfc5424, logplex or ndjson", v))
		}
	}
	if v, ok := one("gzip"); ok {
		b, err := config.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("gzip=%q: %w", v, err))
		}
		c.Gzip = b
	}
	if v, ok := one("drain_token"); ok {
		if v == "" {
			errs = append(errs, errors.New("drain_token: must not be empty"))
		}
		c.Token = v
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
		c.HasAuth = true
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	req := *u
	req.Scheme = strings.ToLower(u.Scheme)
	req.User = nil
	req.Fragment, req.RawFragment = "", ""
	req.RawQuery = passThrough(u.RawQuery, rest)
	if req.Path == "" {
		req.Path = "/"
	}
	c.URL = &req
	return c, nil
}

// passThrough keeps, in their original order, the query parameters of raw
// that are still in rest and are not ours.
func passThrough(raw string, rest url.Values) string {
	if raw == "" {
		return ""
	}
	var kept []string
	for _, p := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		if _, ok := rest[name]; !ok {
			continue // a common option
		}
		ours := false
		for _, n := range paramNames {
			ours = ours || n == name
		}
		if !ours {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

func defaultUserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "sluice/" + v
}

// Drain posts batches to one HTTP endpoint. It implements drains.Drain.
type Drain struct {
	cfg     Config
	timeout time.Duration
	log     *slog.Logger
	client  *fasthttp.HostClient
	uri     string
	auth    string
	ctype   string
	idBase  string // random per Drain: Frame-Ids of two processes never collide
	seq     uint64 // Frame-Ids of Sends without a drains.BatchID

	// Owned by the caller of Send/Close (one goroutine).
	buf     []byte
	fid     []byte // the bus Frame-Id being built
	frame   []byte
	gz      *gzip.Writer
	pending []chan result // requests whose Send gave up (ctx ended)
	closed  bool
}

// result is what a request goroutine reports. The goroutine owns the
// fasthttp request and response; Send only reads the result.
type result struct {
	err        error
	status     int
	retryAfter string
	body       string
}

// New returns a Drain for cfg. It does not dial.
func New(cfg Config, opts drains.Options, logger *slog.Logger) (*Drain, error) {
	if cfg.URL == nil {
		return nil, errors.New("new http drain: missing URL")
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = defaultUserAgent()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = drains.DefaultTimeout
	}
	tlsOn := cfg.URL.Scheme == "https"
	port := cfg.URL.Port()
	if port == "" {
		port = "80"
		if tlsOn {
			port = "443"
		}
	}
	addr := net.JoinHostPort(cfg.URL.Hostname(), port)
	var idb [6]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("new http drain %s: frame id: %w", cfg.Redacted, err)
	}
	d := &Drain{
		cfg:     cfg,
		timeout: opts.Timeout,
		log:     logger,
		uri:     cfg.URL.String(),
		idBase:  hex.EncodeToString(idb[:]),
		client: &fasthttp.HostClient{
			Addr:                      addr,
			IsTLS:                     tlsOn,
			TLSConfig:                 cfg.TLSConfig,
			Name:                      cfg.UserAgent,
			MaxConns:                  4,
			MaxIdleConnDuration:       30 * time.Second,
			MaxResponseBodySize:       1 << 20,
			MaxIdemponentCallAttempts: 2,
			// One transparent retry when a kept-alive connection turns
			// out to be closed before the request reached the server.
			RetryIfErr: func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
				return false, attempts < 2 && (errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed))
			},
			DisablePathNormalizing: true,
		},
	}
	if cfg.HasAuth {
		d.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.User+":"+cfg.Password))
	}
	switch cfg.Format {
	case FormatNDJSON:
		d.ctype = "application/x-ndjson"
	default:
		d.ctype = "application/logplex-1"
	}
	if cfg.Format == FormatLogplex && len(opts.Apps) != 1 {
		logger.Warn("format=logplex frames do not name the app (Heroku's layout); receivers know it only from Logplex-Drain-Token: give the drain one app (apps=NAME)",
			"url", cfg.Redacted) // not drain_token: a secret (see ParseURL, drains.Redact)
	}
	if cfg.Gzip {
		gz, err := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		if err != nil {
			return nil, fmt.Errorf("new http drain %s: %w", cfg.Redacted, err)
		}
		d.gz = gz
	}
	return d, nil
}

// Send posts batch as one request. See drains.Drain.
func (d *Drain) Send(ctx context.Context, batch []sluice.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("post to %s: %w", d.cfg.Redacted, err)
	}
	if d.closed {
		return fmt.Errorf("post to %s: %w", d.cfg.Redacted, drains.ErrClosed)
	}
	d.reap()
	id, ok := drains.BatchID(ctx)
	if !ok {
		d.seq++
		id = d.seq | 1<<63
	}

	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(d.uri)
	req.Header.SetContentType(d.ctype)
	req.Header.Set("Logplex-Msg-Count", strconv.Itoa(len(batch)))
	if fid, ok := drains.AppendBusBatchID(d.fid[:0], batch); ok {
		d.fid = fid // cluster mode: the same messages keep their id on another process
		req.Header.SetBytesV("Logplex-Frame-Id", fid)
	} else {
		req.Header.Set("Logplex-Frame-Id", d.idBase+"-"+strconv.FormatUint(id, 16))
	}
	if d.cfg.Token != "" {
		req.Header.Set("Logplex-Drain-Token", d.cfg.Token)
	}
	if d.auth != "" {
		req.Header.Set("Authorization", d.auth)
	}
	d.buf = d.encode(d.buf[:0], batch)
	if d.gz != nil {
		req.Header.Set("Content-Encoding", "gzip")
		d.gz.Reset(req.BodyWriter())
		_, werr := d.gz.Write(d.buf)
		if cerr := d.gz.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			fasthttp.ReleaseRequest(req)
			return fmt.Errorf("post to %s: gzip: %w", d.cfg.Redacted, werr)
		}
	} else {
		req.SetBody(d.buf)
	}
	if cap(d.buf) > 4<<20 && len(d.buf) < cap(d.buf)/4 {
		d.buf = nil // do not pin the memory of one huge batch
	}

	deadline := time.Now().Add(d.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	done := make(chan result, 1)
	go d.do(req, deadline, done)
	select {
	case r := <-done:
		return d.outcome(r)
	case <-ctx.Done():
		d.pending = append(d.pending, done)
		return fmt.Errorf("post to %s: %w", d.cfg.Redacted, ctx.Err())
	}
}

// do runs one request; it owns req and its response, and ends by the
// deadline.
func (d *Drain) do(req *fasthttp.Request, deadline time.Time, done chan<- result) {
	resp := fasthttp.AcquireResponse()
	err := d.client.DoDeadline(req, resp, deadline)
	r := result{err: err, status: resp.StatusCode()}
	if err != nil && errors.Is(err, fasthttp.ErrBodyTooLarge) && r.status >= 200 && r.status < 300 {
		r.err = nil // delivered; the endpoint just talks too much
	}
	if r.err == nil && (r.status < 200 || r.status > 299) {
		r.retryAfter = string(resp.Header.Peek("Retry-After"))
		body := resp.Body()
		if len(body) > 200 {
			body = body[:200]
		}
		r.body = strings.ToValidUTF8(strings.TrimSpace(string(body)), "?")
	}
	fasthttp.ReleaseResponse(resp)
	fasthttp.ReleaseRequest(req)
	done <- r
}

// reap forgets abandoned requests that have ended.
func (d *Drain) reap() {
	kept := d.pending[:0]
	for _, ch := range d.pending {
		select {
		case <-ch:
		default:
			kept = append(kept, ch)
		}
	}
	clear(d.pending[len(kept):])
	d.pending = kept
}

// outcome classifies a finished request.
func (d *Drain) outcome(r result) error {
	if r.err != nil {
		return fmt.Errorf("post to %s: %w", d.cfg.Redacted, r.err)
	}
	if r.status >= 200 && r.status <= 299 {
		return nil
	}
	err := fmt.Errorf("post to %s: status %d", d.cfg.Redacted, r.status)
	if r.body != "" {
		err = fmt.Errorf("post to %s: status %d: %s", d.cfg.Redacted, r.status, r.body)
	}
	switch {
	case r.status == http.StatusRequestTimeout, r.status == http.StatusTooManyRequests, r.status >= 500:
		if after, ok := retryafter.Parse(r.retryAfter, time.Now()); ok {
			return &drains.RetryAfter{After: after, Err: err}
		}
		return err
	default:
		return fmt.Errorf("%w: %w", drains.ErrPermanent, err)
	}
}

// Check dials the endpoint (and completes the TLS handshake for https).
func (d *Drain) Check(ctx context.Context) error {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", d.client.Addr)
	if err != nil {
		return fmt.Errorf("check %s: %w", d.cfg.Redacted, err)
	}
	defer conn.Close()
	if d.client.IsTLS {
		cfg := &tls.Config{}
		if d.cfg.TLSConfig != nil {
			cfg = d.cfg.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = d.cfg.URL.Hostname()
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("check %s: tls: %w", d.cfg.Redacted, err)
		}
	}
	return nil
}

// Close waits (under ctx) for requests that Send gave up on, and closes
// the idle connections. Later calls do nothing.
func (d *Drain) Close(ctx context.Context) error {
	d.closed = true
	for len(d.pending) > 0 {
		select {
		case <-d.pending[0]:
			d.pending = d.pending[1:]
		case <-ctx.Done():
			return fmt.Errorf("close %s: %d requests still running: %w", d.cfg.Redacted, len(d.pending), ctx.Err())
		}
	}
	d.client.CloseIdleConnections()
	return nil
}

var _ drains.Drain = (*Drain)(nil)

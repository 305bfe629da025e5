package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/drains/retryafter"

	"github.com/sluice-logs/sluice/version"
)

const defaultURL = "http://localhost:8080"

// Reconnect and resync parameters of --tail.
const (
	backoffMin    = 250 * time.Millisecond
	backoffMax    = 5 * time.Second
	retryAfterMax = time.Minute // longest Retry-After honoured
	resyncLines   = 1000        // recent lines asked for on reconnect
	healthyStream = 10 * time.Second
)

// logsOptions are the flags of `sluice logs`.
type logsOptions struct {
	app     string
	num     int
	tail    bool
	source  string
	ps      string
	noColor bool
}

// shortFlags maps the Heroku-style short forms to their long names.
var shortFlags = map[string]string{"a": "app", "n": "num", "t": "tail", "s": "source", "p": "ps"}

// logsFlagOrder is the order of the flags in the help text; a test checks
// that it names every flag.
var logsFlagOrder = []string{"app", "num", "tail", "source", "ps", "no-color"}

func newLogsFlags(o *logsOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice logs", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.app, "app", "", "Read the logs of `APP` (required)")
	fs.IntVar(&o.num, "num", 100, "Print the last `N` lines")
	fs.BoolVar(&o.tail, "tail", false, "Keep printing new lines as they arrive; reconnect when the connection is lost")
	fs.StringVar(&o.source, "source", "", "Only lines from `SOURCE` (app, router, …)")
	fs.StringVar(&o.ps, "ps", "", "Only lines of process `PS` (web matches web.1, web.2, …)")
	fs.BoolVar(&o.noColor, "no-color", false, "Do not colour the output")
	for s, long := range shortFlags {
		f := fs.Lookup(long)
		fs.Var(f.Value, s, "short for --"+long)
	}
	return fs
}

// errHelp asks for the help text (sluice logs -h); it is not an error.
var errHelp = errors.New("help requested")

func parseLogs(args []string) (logsOptions, error) {
	var o logsOptions
	fs := newLogsFlags(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, &usageError{msg: "logs: " + err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return o, usageErrorf("logs: unexpected argument %q (flags go before it; the app is --app %s)", fs.Arg(0), fs.Arg(0))
	case o.app == "":
		return o, usageErrorf("logs: --app is required (sluice logs --app APP)")
	case !auth.ValidName(o.app):
		return o, usageErrorf("logs: --app %q: not a valid app name", o.app)
	case o.num < 0:
		return o, usageErrorf("logs: --num %d: must not be negative", o.num)
	}
	return o, nil
}

// resume is the query string of a tail that goes on after cursor.
func (o *logsOptions) resume(cursor string) url.Values {
	q := o.query(0)
	q.Del("num")
	q.Set("after", cursor)
	return q
}

// query is the query string of GET /apps/{app}/logs asking for the last num
// lines.
func (o *logsOptions) query(num int) url.Values {
	q := url.Values{"num": {strconv.Itoa(num)}}
	if o.tail {
		q.Set("tail", "1")
	}
	if o.source != "" {
		q.Set("source", o.source)
	}
	if o.ps != "" {
		q.Set("ps", o.ps)
	}
	return q
}

func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	o, err := parseLogs(args)
	if errors.Is(err, errHelp) {
		_, err = fmt.Fprint(stdout, usage())
		return err
	}
	if err != nil {
		return err
	}
	rawURL := getenv("SLUICE_URL")
	base, err := baseURL(rawURL)
	if err != nil {
		return err
	}
	tc, err := clientTLS(getenv)
	if err != nil {
		return err
	}
	c := &client{
		base:     base,
		explicit: rawURL != "",
		token:    getenv("SLUICE_TOKEN"),
		app:      o.app,
		hc:       newHTTPClient(tc),
		out:      newOutput(stdout, useColor(stdout, o.noColor, getenv)),
		stderr:   stderr,
	}
	defer c.hc.CloseIdleConnections()
	if o.tail {
		return c.tail(ctx, &o)
	}
	return c.once(ctx, &o)
}

// baseURL parses SLUICE_URL.
func baseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = defaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := raw
		if err == nil {
			shown = u.Redacted()
		}
		return nil, usageErrorf("SLUICE_URL %q: want an http:// or https:// URL such as %s", shown, defaultURL)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// newHTTPClient is the client of logs; tc, when not nil, its TLS
// configuration (clientTLS).
func newHTTPClient(tc *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if tc != nil {
		t.TLSClientConfig = tc
	}
	d := &net.Dialer{
		Timeout: 10 * time.Second,
		// A tail is often idle for minutes: probe the peer so that a dead
		// network path ends the stream (and reconnects) within about 30s.
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3},
	}
	t.DialContext = d.DialContext
	t.ResponseHeaderTimeout = 30 * time.Second
	// No overall Timeout: a tail streams for as long as the user wants.
	return &http.Client{Transport: t}
}

// client reads one app's logs from one router.
type client struct {
	base     *url.URL
	explicit bool // SLUICE_URL was set
	token    string
	app      string
	hc       *http.Client
	out      *output
	stderr   io.Writer
	// cursor is the position of the last line printed (of the last event
	// seen), when the router sends event streams; a reconnect resumes
	// after it.
	cursor string
}

// once prints the app's recent lines and returns.
func (c *client) once(ctx context.Context, o *logsOptions) error {
	resp, cancel, err := c.open(ctx, o.query(o.num))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var d deduper
	err = c.stream(ctx, resp, cancel, &d)
	switch {
	case ctx.Err() != nil:
		return nil
	case errors.Is(err, io.EOF):
		return nil
	case isWriteError(err):
		return err
	default:
		return fmt.Errorf("read logs: %w", err)
	}
}

// tail prints the app's recent lines, then new lines until ctx ends. When
// the stream ends or breaks it reconnects with backoff, asks for recent
// lines again and skips those it already printed.
func (c *client) tail(ctx context.Context, o *logsOptions) error {
	resp, cancel, err := c.open(ctx, o.query(o.num))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var d deduper
	var b backoff
	warned := false
	for {
		began := time.Now()
		err := c.stream(ctx, resp, cancel, &d)
		switch {
		case ctx.Err() != nil:
			return nil
		case isWriteError(err), errors.Is(err, errLineTooLong):
			return err
		}
		why := err.Error()
		if errors.Is(err, io.EOF) {
			why = "the router ended the stream"
		}
		fmt.Fprintf(c.stderr, "sluice: connection lost (%s); reconnecting…\n", why)

		// Resume after the last line printed. A router that gives no
		// cursors (an older one) is asked for enough recent lines to
		// cover the gap, and the deduper skips those printed already.
		// When nothing was printed yet there is nothing to dedupe
		// against: ask for what the user asked for.
		q := o.resume(c.cursor)
		num := resyncLines
		if c.cursor == "" {
			if d.empty() {
				num = o.num
			}
			q = o.query(num)
			if !warned {
				warned = true
				fmt.Fprintln(c.stderr, "sluice: the router gives no line positions; resuming from its recent lines, which may miss or repeat some")
			}
		}
		// A router that keeps dropping the stream at once is not hammered:
		// the backoff starts again only after a stream that lasted.
		if time.Since(began) >= healthyStream {
			b.reset()
		}
		resp, cancel, err = c.reconnect(ctx, q, &b)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Fprintln(c.stderr, "sluice: reconnected")
		if c.cursor == "" {
			d.start(num)
		}
	}
}

// reconnect opens the stream again, retrying with capped, jittered
// exponential backoff while the failure may be temporary (network errors,
// 408, 429, 5xx). Retry-After is honoured.
func (c *client) reconnect(ctx context.Context, q url.Values, b *backoff) (*http.Response, context.CancelFunc, error) {
	var retryAfter time.Duration
	for {
		t := time.NewTimer(max(b.next(), retryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		resp, cancel, err := c.open(ctx, q)
		if err == nil {
			return resp, cancel, nil
		}
		var he *httpError
		if errors.As(err, &he) && !he.retryable() {
			return nil, nil, err
		}
		retryAfter = 0
		if he != nil {
			retryAfter = min(he.retryAfter, retryAfterMax)
		}
	}
}

// backoff yields waits doubling from backoffMin to backoffMax, each with
// equal jitter (half the step, plus up to the other half).
type backoff struct{ step time.Duration }

func (b *backoff) next() time.Duration {
	b.step = min(max(2*b.step, backoffMin), backoffMax)
	return b.step/2 + rand.N(b.step/2+1)
}

func (b *backoff) reset() { b.step = 0 }

// open sends GET /apps/{app}/logs. On 200 it returns the response and the
// function that aborts it; otherwise an *httpError or a transport error.
func (c *client) open(ctx context.Context, q url.Values) (*http.Response, context.CancelFunc, error) {
	u := c.base.JoinPath("apps", c.app, "logs")
	u.RawQuery = q.Encode()
	rctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	// A tail asks for server-sent events: they carry each line's cursor,
	// by which a reconnect resumes exactly.
	accept := "text/plain"
	if q.Get("tail") == "1" {
		accept = "text/event-stream, text/plain;q=0.5"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", version.UserAgent())
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		hint := ""
		if !c.explicit {
			hint = " (is sluiced running? set SLUICE_URL to the router's address)"
		}
		return nil, nil, fmt.Errorf("connect to %s: %w%s", c.base.Redacted(), err, hint)
	}
	if resp.StatusCode != http.StatusOK {
		he := newHTTPError(resp, c.app, c.token != "")
		he.base = c.base.Redacted()
		resp.Body.Close()
		cancel()
		return nil, nil, he
	}
	return resp, cancel, nil
}

// httpError is a refusal by the router, with the reason it gave.
type httpError struct {
	code       int
	status     string // "403 Forbidden"
	reason     string // the body, on one line
	app        string
	base       string // SLUICE_URL, redacted
	tokenSet   bool
	retryAfter time.Duration
}

func newHTTPError(resp *http.Response, app string, tokenSet bool) *httpError {
	var reason string
	// The router explains a refusal in plain text; an HTML page comes
	// from something else (a proxy) and would only clutter the terminal.
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		reason = strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "?")), " ")
		if len(reason) > 300 {
			reason = strings.ToValidUTF8(reason[:300], "") + "…"
		}
	}
	return &httpError{
		code:       resp.StatusCode,
		status:     resp.Status,
		reason:     reason,
		app:        app,
		tokenSet:   tokenSet,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After")),
	}
}

func (e *httpError) Error() string {
	msg := "the router answered " + e.status
	if e.reason != "" && !strings.EqualFold(e.reason, http.StatusText(e.code)) {
		msg += ": " + e.reason
	}
	switch {
	case e.code == http.StatusUnauthorized && e.tokenSet:
		msg += "\nsluice: the router does not accept the token in SLUICE_TOKEN; check its value"
	case e.code == http.StatusUnauthorized:
		msg += fmt.Sprintf("\nsluice: the router needs a token: set SLUICE_TOKEN to a token that may read app %q", e.app)
	case e.code == http.StatusForbidden:
		msg += fmt.Sprintf("\nsluice: the token in SLUICE_TOKEN cannot read app %q", e.app)
	case e.code == http.StatusNotFound:
		msg += fmt.Sprintf("\nsluice: is %s a Sluice router? (set SLUICE_URL)", e.base)
	}
	return msg
}

// retryable reports whether asking again later may succeed.
func (e *httpError) retryable() bool {
	return e.code >= 500 || e.code == http.StatusRequestTimeout || e.code == http.StatusTooManyRequests
}

// output writes lines to stdout through a buffer, coloured or not. Every
// line is escaped for display (sluice.AppendDisplay) whatever the router
// sent: a router that does not escape (an older or a foreign one) must not
// reach the terminal with a message's control characters, nor split one
// message into lines.
type output struct {
	w     *bufio.Writer
	color bool
	buf   []byte
	safe  []byte
}

func newOutput(w io.Writer, color bool) *output {
	return &output{w: bufio.NewWriterSize(w, 64<<10), color: color}
}

// line writes one line (with its '\n'). Errors show at flush.
func (o *output) line(l []byte) {
	if body := l[:len(l)-1]; sluice.NeedsDisplayEscape(body) {
		o.safe = append(sluice.AppendDisplay(o.safe[:0], body), '\n')
		l = o.safe
	}
	if o.color {
		o.buf = appendColored(o.buf[:0], l)
		l = o.buf
	}
	o.w.Write(l) //nolint:errcheck // the writer keeps the error for flush
}

func (o *output) flush() error {
	if err := o.w.Flush(); err != nil {
		return &writeError{err: err}
	}
	return nil
}

// writeError is a failure to write stdout. EPIPE (the reader left) ends
// the program quietly.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write output: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func isWriteError(err error) bool {
	var we *writeError
	return errors.As(err, &we)
}

// parseRetryAfter reads the router's Retry-After (0 when absent or bad).
func parseRetryAfter(v string) time.Duration {
	d, _ := retryafter.Parse(v, time.Now())
	return d
}

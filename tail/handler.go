package tail

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/valyala/fasthttp"
)

// Config is what the handler needs.
type Config struct {
	Store  *buffer.Store
	Tokens *auth.Tokens // nil or empty: reads are open
	Logger *slog.Logger // nil: discard
	// WriteTimeout bounds one write to a tail client; a client that
	// accepts nothing for this long is disconnected (default 30s).
	WriteTimeout time.Duration
}

// SessionBytes is what the memory budget reserves per open tail
// (MAX_TAILS × SessionBytes): a tail stalled in a write to a client that
// reads nothing holds its formatted chunk of lines (up to about 32 KiB)
// and two goroutine stacks. Measured with the sluiced binary: 1,000
// stalled tails of 8 KB lines cost about 49 MiB of RSS.
const SessionBytes = 48 << 10

// DefaultNum is how many lines a request without num gets.
const DefaultNum = 100

// maxNum caps num: no ring holds more lines than BUFFER_LINES allows.
const maxNum = 10_000_000

// shutdownGrace bounds the final write of each session at Shutdown.
const shutdownGrace = time.Second

// Handler serves GET /apps/{app}/logs.
type Handler struct {
	store        *buffer.Store
	tokens       *auth.Tokens
	log          *slog.Logger
	writeTimeout time.Duration

	mu       sync.Mutex
	closed   bool
	sessions map[*session]struct{}
	// wg counts running sessions. Add happens under mu while !closed, so
	// every Add comes before Shutdown's Wait.
	wg sync.WaitGroup
}

// New returns a handler reading from cfg.Store.
func New(cfg Config) *Handler {
	h := &Handler{
		store:        cfg.Store,
		tokens:       cfg.Tokens,
		log:          cfg.Logger,
		writeTimeout: cfg.WriteTimeout,
		sessions:     make(map[*session]struct{}),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.writeTimeout <= 0 {
		h.writeTimeout = 30 * time.Second
	}
	return h
}

// query is a parsed request.
type query struct {
	num    int
	numSet bool
	tail   bool
	after  buffer.Cursor
	events bool
	filter buffer.Filter
}

// options are the buffer's read options for q.
func (q *query) options() buffer.Options {
	o := buffer.Options{Filter: q.filter, Last: q.num, After: q.after, Events: q.events}
	if q.numSet {
		o.Limit = q.num
	}
	return o
}

func parseQuery(args *fasthttp.Args, lastEventID []byte) (query, error) {
	q := query{num: DefaultNum}
	var errs []error
	after := args.Peek("after")
	if after == nil && len(lastEventID) > 0 {
		after = lastEventID // an EventSource reconnecting
	}
	if after != nil {
		c, err := buffer.ParseCursor(string(after))
		if err != nil {
			errs = append(errs, err)
		}
		q.after = c
	}
	if v := args.Peek("num"); v != nil {
		q.numSet = true
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 || v[0] == '+' {
			errs = append(errs, fmt.Errorf("num %q: want a whole number, 0 or more", v))
		}
		q.num = min(n, maxNum)
	}
	if args.Has("tail") {
		switch v := string(args.Peek("tail")); v {
		case "", "1", "true":
			q.tail = true
		case "0", "false":
		default:
			errs = append(errs, fmt.Errorf("tail %q: want 1 or 0", v))
		}
	}
	if v := args.Peek("source"); len(v) > 0 {
		if !auth.ValidName(string(v)) {
			errs = append(errs, fmt.Errorf("source %q: want 1 to 48 printable characters", v))
		}
		q.filter.Source = string(v)
	}
	if v := args.Peek("ps"); len(v) > 0 {
		if !validProc(v) {
			errs = append(errs, fmt.Errorf("ps %q: want 1 to 128 printable characters", v))
		}
		q.filter.Ps = string(v)
	}
	return q, errors.Join(errs...)
}

// CursorHeader carries, on a read that is not a tail, the cursor of the
// newest line the response covers: pass it back as after= to read on.
const CursorHeader = "Sluice-Cursor"

// wantsEvents reports whether the client asked for server-sent events.
func wantsEvents(accept []byte) bool {
	return bytes.Contains(accept, []byte("text/event-stream"))
}

func contentType(events bool) string {
	if events {
		return "text/event-stream; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// validProc accepts what can be a syslog PROCID: 1 to 128 printable
// US-ASCII characters.
func validProc(b []byte) bool {
	if len(b) == 0 || len(b) > 128 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// ServeHTTP answers a read of app's lines; the caller has matched the path
// and the method (GET or HEAD).
func (h *Handler) ServeHTTP(ctx *fasthttp.RequestCtx, app string) {
	if !auth.ValidName(app) {
		ctx.Error("invalid app name\n", fasthttp.StatusBadRequest)
		return
	}
	if h.tokens.Enabled() && !h.authorize(ctx, app) {
		return
	}
	q, err := parseQuery(ctx.QueryArgs(), ctx.Request.Header.Peek("Last-Event-ID"))
	if err != nil {
		ctx.Error(err.Error()+"\n", fasthttp.StatusBadRequest)
		return
	}
	q.events = wantsEvents(ctx.Request.Header.Peek(fasthttp.HeaderAccept))
	if !q.tail || ctx.IsHead() {
		ctx.SetContentType(contentType(q.events))
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
		body, cur := h.store.Read(nil, app, q.options())
		if !cur.IsZero() {
			ctx.Response.Header.Set(CursorHeader, cur.String())
		}
		ctx.SetBody(body)
		return
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		ctx.Error("shutting down\n", fasthttp.StatusServiceUnavailable) // resets the headers
		ctx.Response.Header.Set("Retry-After", "1")
		return
	}
	s := &session{
		h:      h,
		app:    app,
		q:      q,
		http11: ctx.Request.Header.IsHTTP11(),
		remote: ctx.RemoteAddr().String(),
	}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(s.run)
}

// authorize checks the request's token against app and answers 401 or 403
// when it fails.
func (h *Handler) authorize(ctx *fasthttp.RequestCtx, app string) bool {
	_, grant, ok := h.tokens.Authorize(string(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)))
	switch {
	case !ok:
		ctx.Error("unauthorized\n", fasthttp.StatusUnauthorized) // resets the headers
		ctx.Response.Header.Add(fasthttp.HeaderWWWAuthenticate, `Basic realm="sluice"`)
		ctx.Response.Header.Add(fasthttp.HeaderWWWAuthenticate, `Bearer realm="sluice"`)
		return false
	case !grant.CanRead(app):
		ctx.Error("forbidden: the token may not read this app\n", fasthttp.StatusForbidden)
		return false
	}
	return true
}

// Shutdown ends every tail session: each sends the end of its response
// (within a second) and closes. It waits for them, and later tail requests
// get 503.
func (h *Handler) Shutdown() {
	h.mu.Lock()
	h.closed = true
	for s := range h.sessions {
		s.stop(time.Now().Add(shutdownGrace))
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// End ends the tail sessions of the apps for which moved reports true (in
// cluster mode, apps whose partition another process owns now): each
// writes the end of its response, so its client sees a clean end and
// reconnects, to the new owner. It returns how many it ended.
func (h *Handler) End(moved func(app string) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.sessions {
		if moved(s.app) {
			s.stop(time.Now().Add(shutdownGrace))
			n++
		}
	}
	return n
}

// track registers a running session; it reports false when the handler is
// shutting down (the session must end at once). Sessions register
// themselves once fasthttp hands them the connection, which it may fail to
// do, so that Shutdown never waits for one that never ran.
func (h *Handler) track(s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.sessions[s] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Handler) untrack(s *session) {
	h.mu.Lock()
	delete(h.sessions, s)
	h.mu.Unlock()
	h.wg.Done()
}

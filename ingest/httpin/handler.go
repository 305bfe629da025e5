package httpin

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	syslogcodec "github.com/sluice-logs/sluice/codec/syslog"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/internal/gunzip"
	"github.com/sluice-logs/sluice/metrics"
)

// Defaults used when a Config field is zero: MAX_BODY_BYTES' and
// MAX_MESSAGE_BYTES' defaults, which live in the packages that own them.
const (
	DefaultMaxBodyBytes    = ingest.DefaultMaxBodyBytes
	DefaultMaxMessageBytes = sluice.DefaultMaxMessageBytes
)

// maxListed is how many problems a 400 body lists before "and N more".
const maxListed = 10

// Config is what the handler needs.
type Config struct {
	Publisher sluice.Publisher
	// Tokens authenticates requests; nil or !Enabled() leaves ingest open.
	Tokens *auth.Tokens
	// Metrics may be nil (nothing is counted then).
	Metrics *metrics.Ingest
	// MaxBodyBytes is the largest body, compressed or decompressed; larger
	// ones get 413. Zero means DefaultMaxBodyBytes. The fasthttp server's
	// MaxRequestBodySize should be at least this (see ErrorHandler).
	MaxBodyBytes int64
	// MaxMessageBytes is the longest message text; longer ones are cut at a
	// UTF-8 boundary and counted (reason truncated). Zero means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int
	// Logger may be nil (nothing is logged then).
	Logger *slog.Logger

	// Timezone reads syslog timestamps without a UTC offset in
	// logplex-1 frames; nil means UTC.
	Timezone *time.Location
	// DefaultApp, when set, is the app of a logplex-1 frame that names
	// none (counted as reason default_app) when ingest is open; with a
	// token such a frame is the token's app, as before.
	DefaultApp string

	// Bodies is the memory budget's pool for request bodies
	// (MAX_INFLIGHT_BODY_BYTES): each request holds its body, its
	// decompression and its parsed messages there, and one that would go
	// over it gets 503 with Retry-After. Nil is unlimited.
	Bodies *budget.Pool
}

// Handler serves POST /logs. Create it with New.
type Handler struct {
	pub      sluice.Publisher
	tokens   *auth.Tokens
	maxBody  int64
	maxMsg   int
	tz       *time.Location
	defApp   string
	log      *slog.Logger
	accepted prometheus.Counter
	rejected [metrics.NumReasons]prometheus.Counter
	pool     sync.Pool   // *request
	gate     ingest.Gate // requests in flight; closed by Shutdown
	bodies   *budget.Pool
}

// New returns a Handler for cfg. cfg.Publisher must not be nil.
func New(cfg Config) *Handler {
	h := &Handler{
		pub:     cfg.Publisher,
		tokens:  cfg.Tokens,
		maxBody: cfg.MaxBodyBytes,
		maxMsg:  cfg.MaxMessageBytes,
		tz:      cfg.Timezone,
		defApp:  cfg.DefaultApp,
		log:     cfg.Logger,
		bodies:  cfg.Bodies,
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxMsg <= 0 {
		h.maxMsg = DefaultMaxMessageBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	m := cfg.Metrics
	if m == nil {
		m = metrics.NewIngest(nil)
	}
	h.accepted = m.Messages.WithLabelValues(metrics.HTTP)
	h.rejected = m.RejectedCounters(metrics.HTTP,
		metrics.ReasonMalformed, metrics.ReasonBadOctetCount, metrics.ReasonInvalidUTF8,
		metrics.ReasonBadGzip, metrics.ReasonTooLarge, metrics.ReasonUnsupportedMediaType,
		metrics.ReasonUnauthorized, metrics.ReasonForbiddenApp, metrics.ReasonEmptyBody,
		metrics.ReasonMsgCountMismatch, metrics.ReasonBackpressure, metrics.ReasonClosed,
		metrics.ReasonTruncated, metrics.ReasonLatin1, metrics.ReasonDefaultApp,
		metrics.ReasonMemoryBudget)
	h.pool.New = func() any { return new(request) }
	return h
}

// format is a body format, chosen by Content-Type.
type format uint8

const (
	formatUnknown format = iota
	formatLogplex
	formatNDJSON
	formatText
)

// writer is who sends the request: the token's grant, or nobody when ingest
// is open.
type writer struct {
	authed bool
	token  string // the presented token (log-shuttle puts it in APP-NAME)
	app    string
	source string
}

// request is the per-request state, reused through Handler.pool.
type request struct {
	parser   syslogcodec.Parser // keeps the last timestamp's minute
	msgs     []sluice.Message
	inflated []byte // decompressed body
	report   []byte // the 400 body: "line 3: …; line 7: …"
	problems int    // rejected lines or frames
	// counts are the rejected lines or frames by reason, and the truncated
	// (but accepted) messages.
	counts [metrics.NumReasons]int
	// forbidden is the first line or frame (1-based) whose app the token
	// may not write; the whole request is refused with 403.
	forbidden    int
	forbiddenApp string

	// lease is what the request holds of the body pool: the body, the
	// buffers the request reuses, what decompression and parsing grow.
	// overBudget is set when the lease could not grow: add then returns
	// spare, the decoders stop, and the request is answered 503.
	lease      budget.Lease
	overBudget bool
	spare      sluice.Message
}

// msgSize is what one parsed message costs in r.msgs.
const msgSize = int64(unsafe.Sizeof(sluice.Message{}))

// Largest per-request buffers kept in the pool; bigger ones are left to the
// garbage collector so one huge request does not pin memory.
const (
	maxPooledMsgs  = 4096
	maxPooledBytes = 1 << 20
)

func (h *Handler) getRequest() *request { return h.pool.Get().(*request) }

func (h *Handler) putRequest(r *request) {
	if cap(r.msgs) > maxPooledMsgs || cap(r.inflated) > maxPooledBytes {
		return
	}
	clear(r.msgs[:cap(r.msgs)]) // drop references to the body
	r.msgs = r.msgs[:0]
	r.inflated = r.inflated[:0]
	r.report = r.report[:0]
	r.problems = 0
	r.counts = [metrics.NumReasons]int{}
	r.forbidden = 0
	r.forbiddenApp = ""
	r.overBudget = false
	r.spare = sluice.Message{}
	h.pool.Put(r)
}

// add appends a zero message and returns it for filling. When the lease
// cannot grow to hold it, it sets r.overBudget and returns a spare message
// that is not kept: the decoders stop at their next line.
func (r *request) add() *sluice.Message {
	if r.overBudget {
		r.spare = sluice.Message{}
		return &r.spare
	}
	if len(r.msgs) == cap(r.msgs) {
		grow := max(cap(r.msgs), 256)
		if !r.lease.Grow(int64(grow) * msgSize) {
			r.overBudget = true
			r.spare = sluice.Message{}
			return &r.spare
		}
		r.msgs = slices.Grow(r.msgs, grow)
		r.msgs = r.msgs[:len(r.msgs)+1]
		r.msgs[len(r.msgs)-1] = sluice.Message{}
	} else {
		r.msgs = r.msgs[:len(r.msgs)+1]
		r.msgs[len(r.msgs)-1] = sluice.Message{}
	}
	return &r.msgs[len(r.msgs)-1]
}

// unadd removes the message add returned last.
func (r *request) unadd() {
	if r.overBudget {
		return // add returned the spare
	}
	r.msgs[len(r.msgs)-1] = sluice.Message{}
	r.msgs = r.msgs[:len(r.msgs)-1]
}

// problem is why one line or frame was rejected. what is a constant, so
// that an abusive body of a million bad lines costs no allocation per line.
type problem struct {
	reason metrics.Reason
	what   string
	detail string // optional, a value quoted after what
	err    string // optional, an error text after what and ": "
	at     int    // optional 1-based byte offset in the line
}

// reject records that line (or frame) n was rejected. unit is "line" or
// "frame".
func (r *request) reject(unit string, n int, p problem) {
	r.counts[p.reason]++
	r.problems++
	if r.problems > maxListed {
		return
	}
	if len(r.report) > 0 {
		r.report = append(r.report, "; "...)
	}
	r.report = append(r.report, unit...)
	r.report = append(r.report, ' ')
	r.report = strconv.AppendInt(r.report, int64(n), 10)
	r.report = append(r.report, ": "...)
	r.report = append(r.report, p.what...)
	if p.detail != "" {
		r.report = append(r.report, ' ')
		r.report = appendQuotedLimit(r.report, p.detail, 64)
	}
	if p.err != "" {
		r.report = append(r.report, ": "...)
		r.report = appendOneLine(r.report, p.err, 160)
	}
	if p.at > 0 {
		r.report = append(r.report, " at byte "...)
		r.report = strconv.AppendInt(r.report, int64(p.at), 10)
	}
}

// appendQuotedLimit appends s quoted (control characters and invalid UTF-8
// escaped, so a report stays one clean line), cut to at most max bytes.
func appendQuotedLimit(dst []byte, s string, max int) []byte {
	s, cut := truncate(s, max)
	dst = strconv.AppendQuote(dst, s)
	if cut {
		dst = append(dst, "…"...)
	}
	return dst
}

// appendOneLine appends s, cut to at most max bytes, with control
// characters replaced by spaces.
func appendOneLine(dst []byte, s string, max int) []byte {
	s, cut := truncate(strings.ToValidUTF8(s, "\uFFFD"), max)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c == 0x7f {
			c = ' '
		}
		dst = append(dst, c)
	}
	if cut {
		dst = append(dst, "…"...)
	}
	return dst
}

// forbid records that line (or frame) n names an app the token may not
// write. Only the first is reported.
func (r *request) forbid(n int, app string) {
	if r.forbidden == 0 {
		r.forbidden = n
		r.forbiddenApp = app
	}
}

// ServeHTTP handles POST /logs. It is a fasthttp.RequestHandler. After
// Shutdown it answers 503.
func (h *Handler) ServeHTTP(ctx *fasthttp.RequestCtx) {
	if !h.gate.Enter() {
		ctx.Response.Header.Set("Retry-After", "1")
		h.respond(ctx, fasthttp.StatusServiceUnavailable, metrics.ReasonClosed, "shutting down, retry later")
		return
	}
	defer h.gate.Leave()
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		h.respond(ctx, fasthttp.StatusMethodNotAllowed, metrics.ReasonNone, "method not allowed: use POST")
		return
	}
	w, ok := h.authenticate(ctx)
	if !ok {
		return
	}
	if !w.authed {
		// Open ingest: the source is ?source= (NDJSON lines may name
		// their own), "app" by default. With a token it is the token's.
		w.source = "app"
		if src := bytesString(ctx.QueryArgs().Peek("source")); src != "" {
			if !auth.ValidName(src) {
				h.respond(ctx, fasthttp.StatusBadRequest, metrics.ReasonMalformed, "invalid source name "+quoteLimit(src))
				return
			}
			w.source = src
		}
	}
	f := formatOf(ctx.Request.Header.ContentType())
	if f == formatUnknown {
		h.respond(ctx, fasthttp.StatusUnsupportedMediaType, metrics.ReasonUnsupportedMediaType,
			"unsupported Content-Type: want application/logplex-1, application/x-ndjson or text/plain")
		return
	}
	gzipped, ok := ingest.Gzipped(ctx.Request.Header.ContentEncoding())
	if !ok {
		h.respond(ctx, fasthttp.StatusUnsupportedMediaType, metrics.ReasonUnsupportedMediaType,
			"unsupported Content-Encoding: want gzip or none")
		return
	}
	received := time.Now()
	r := h.getRequest()
	defer h.putRequest(r)
	r.lease = h.bodies.Lease()
	defer r.lease.Release()
	body, ok := h.body(ctx, r, gzipped)
	if !ok {
		return
	}

	unit := "line"
	switch f {
	case formatLogplex:
		unit = "frame"
		if status, text := h.decodeLogplex(ctx, r, body, w, received); status != 0 {
			h.respond(ctx, status, metrics.ReasonMsgCountMismatch, text)
			return
		}
	case formatNDJSON:
		h.decodeNDJSON(r, body, w, received)
	case formatText:
		tw, status, rsn, text := textWriter(w, bytesString(ctx.QueryArgs().Peek("app")))
		if status != 0 {
			h.respond(ctx, status, rsn, text)
			return
		}
		h.decodeText(r, body, tw, bytesString(ctx.QueryArgs().Peek("proc")), received)
	}
	if r.overBudget {
		h.overBudget(ctx, r)
		return
	}
	if r.forbidden != 0 {
		text := unit + " " + strconv.Itoa(r.forbidden) + ": this token may not write to app " + quoteLimit(r.forbiddenApp)
		h.respond(ctx, fasthttp.StatusForbidden, metrics.ReasonForbiddenApp, text)
		return
	}
	if len(r.msgs) == 0 && r.problems == 0 {
		h.respond(ctx, fasthttp.StatusBadRequest, metrics.ReasonEmptyBody, "empty body")
		return
	}

	h.publish(ctx, r)
}

// body returns the request body, decompressed into r.inflated when
// gzipped. When the body is too large, empty or not valid gzip it answers
// and returns false.
func (h *Handler) body(ctx *fasthttp.RequestCtx, r *request, gzipped bool) ([]byte, bool) {
	body := ctx.PostBody()
	if int64(len(body)) > h.maxBody {
		h.respond(ctx, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooLargeText())
		return nil, false
	}
	// The body as read, and the buffers this pooled request already has.
	if !r.lease.Grow(int64(len(body)) + int64(cap(r.inflated)) + int64(cap(r.msgs))*msgSize) {
		h.overBudget(ctx, r)
		return nil, false
	}
	if gzipped && gunzip.SizeHint(body, h.maxBody) > measureOver {
		// A large body: measure it first (a decompression that keeps
		// nothing), then reserve the body and its messages at once, or
		// refuse it before allocating either.
		size, lines, err := gunzip.Measure(body, h.maxBody)
		switch {
		case errors.Is(err, gunzip.ErrTooLarge):
			h.respond(ctx, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooLargeText())
			return nil, false
		case err != nil:
			h.respond(ctx, fasthttp.StatusBadRequest, metrics.ReasonBadGzip, "bad_gzip: "+err.Error())
			return nil, false
		}
		need := max(size+1-int64(cap(r.inflated)), 0) + max(int64(lines+1-cap(r.msgs)), 0)*msgSize
		if !r.lease.Grow(need) {
			h.overBudget(ctx, r)
			return nil, false
		}
		if size+1 > int64(cap(r.inflated)) {
			r.inflated = make([]byte, 0, size+1) // +1: room to read the end
		}
		r.msgs = slices.Grow(r.msgs[:0], lines+1)
	}
	if gzipped {
		// Take what the gzip trailer says the body inflates to at once,
		// rather than growing bit by bit: concurrent requests that each
		// hold part of what they need could starve one another.
		if want := gunzip.SizeHint(body, h.maxBody); want > int64(cap(r.inflated)) {
			if !r.lease.Grow(want - int64(cap(r.inflated))) {
				h.overBudget(ctx, r)
				return nil, false
			}
			r.inflated = make([]byte, 0, want)
		}
		var err error
		r.inflated, err = gunzip.AppendWithin(r.inflated[:0], body, h.maxBody, &r.lease)
		switch {
		case errors.Is(err, gunzip.ErrOverBudget):
			h.overBudget(ctx, r)
			return nil, false
		case errors.Is(err, gunzip.ErrTooLarge):
			h.respond(ctx, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooLargeText())
			return nil, false
		case err != nil:
			h.respond(ctx, fasthttp.StatusBadRequest, metrics.ReasonBadGzip, "bad_gzip: "+err.Error())
			return nil, false
		}
		body = r.inflated
	}
	if len(body) == 0 {
		h.respond(ctx, fasthttp.StatusBadRequest, metrics.ReasonEmptyBody, "empty body")
		return nil, false
	}
	// A message per line at most (logplex-1 frames need not end in one;
	// add grows the messages past this): take their room at once too.
	if n := bytes.Count(body, []byte{'\n'}) + 1; n > cap(r.msgs) {
		if !r.lease.Grow(int64(n-cap(r.msgs)) * msgSize) {
			h.overBudget(ctx, r)
			return nil, false
		}
		r.msgs = slices.Grow(r.msgs[:0], n)
	}
	return body, true
}

// publish hands the decoded messages to the router and answers: 204, or
// 400 listing the rejected lines or frames, or 429/503 when the router
// takes nothing.
func (h *Handler) publish(ctx *fasthttp.RequestCtx, r *request) {
	if len(r.msgs) > 0 {
		switch err := h.pub.TryPublish(r.msgs); {
		case err == nil:
			h.accepted.Add(float64(len(r.msgs)))
		case errors.Is(err, sluice.ErrBackpressure):
			ctx.Response.Header.Set("Retry-After", "1")
			h.respond(ctx, fasthttp.StatusTooManyRequests, metrics.ReasonBackpressure, "drain backlog full, retry later")
			return
		case errors.Is(err, sluice.ErrClosed):
			ctx.Response.Header.Set("Retry-After", "1")
			h.respond(ctx, fasthttp.StatusServiceUnavailable, metrics.ReasonClosed, "shutting down, retry later")
			return
		default:
			h.log.Error("publish http ingest batch", "messages", len(r.msgs), "err", err)
			h.respond(ctx, fasthttp.StatusInternalServerError, metrics.ReasonNone, "internal error")
			return
		}
	}
	// Line and frame problems are counted only now: a request refused as a
	// whole above counts once, with its own reason.
	for rsn, n := range r.counts {
		if n > 0 {
			h.rejected[rsn].Add(float64(n))
		}
	}
	if r.problems == 0 {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	out := make([]byte, 0, len(r.report)+64)
	out = append(out, "accepted "...)
	out = strconv.AppendInt(out, int64(len(r.msgs)), 10)
	out = append(out, " of "...)
	out = strconv.AppendInt(out, int64(len(r.msgs)+r.problems), 10)
	out = append(out, " messages; "...)
	out = append(out, r.report...)
	if more := r.problems - maxListed; more > 0 {
		out = append(out, "; and "...)
		out = strconv.AppendInt(out, int64(more), 10)
		out = append(out, " more"...)
	}
	ctx.SetStatusCode(fasthttp.StatusBadRequest)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBody(append(out, '\n'))
}

// measureOver is the gzip body size (as its trailer says) above which a
// body is measured before anything is reserved or allocated for it.
const measureOver = 1 << 20

// overBudget answers a request the memory budget cannot take now: 503
// with Retry-After, counted as memory_budget. Nothing of it was published.
// A request that needs more than the whole pool gets 413 instead (counted
// too_large): retrying cannot help.
func (h *Handler) overBudget(ctx *fasthttp.RequestCtx, r *request) {
	if r.lease.Never() {
		h.respond(ctx, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge,
			"body needs more memory than MAX_INFLIGHT_BODY_BYTES allows all requests together; send it in parts")
		return
	}
	ctx.Response.Header.Set("Retry-After", "1")
	h.respond(ctx, fasthttp.StatusServiceUnavailable, metrics.ReasonMemoryBudget,
		"request bodies in flight are at MAX_INFLIGHT_BODY_BYTES, retry later")
}

func (h *Handler) tooLargeText() string {
	return "body larger than " + strconv.FormatInt(h.maxBody, 10) + " bytes"
}

// respond answers a request refused as a whole and counts it once.
func (h *Handler) respond(ctx *fasthttp.RequestCtx, status int, rsn metrics.Reason, text string) {
	if rsn != metrics.ReasonNone {
		h.rejected[rsn].Inc()
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(text + "\n")
}

// authenticate returns who sends the request. When tokens are enabled and
// the request has no known token, or an admin token, it answers and returns
// false.
func (h *Handler) authenticate(ctx *fasthttp.RequestCtx) (writer, bool) {
	if !h.tokens.Enabled() {
		return writer{}, true
	}
	tok, g, ok := h.tokens.Authorize(bytesString(ctx.Request.Header.Peek("Authorization")))
	if !ok {
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="sluice"`)
		h.respond(ctx, fasthttp.StatusUnauthorized, metrics.ReasonUnauthorized, "missing or unknown token")
		return writer{}, false
	}
	if g.Admin {
		h.respond(ctx, fasthttp.StatusForbidden, metrics.ReasonForbiddenApp, "the admin token cannot write")
		return writer{}, false
	}
	return writer{authed: true, token: tok, app: g.App, source: g.Source}, true
}

// ErrorHandler is a fasthttp.Server ErrorHandler that answers a body over
// the server's MaxRequestBodySize with 413 (counted too_large) instead of
// fasthttp's default 400, and other request-parsing errors like the default.
func (h *Handler) ErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		h.respond(ctx, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooLargeText())
	case errors.As(err, &small):
		ctx.Error("request header too large", fasthttp.StatusRequestHeaderFieldsTooLarge)
	default:
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			ctx.Error("request timeout", fasthttp.StatusRequestTimeout)
			return
		}
		ctx.Error("cannot parse request", fasthttp.StatusBadRequest)
	}
}

// formatOf picks the body format from a Content-Type value; parameters such
// as charset are ignored.
func formatOf(ct []byte) format {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	switch {
	case bytes.EqualFold(ct, []byte("application/logplex-1")):
		return formatLogplex
	case bytes.EqualFold(ct, []byte("application/x-ndjson")):
		return formatNDJSON
	case bytes.EqualFold(ct, []byte("text/plain")):
		return formatText
	}
	return formatUnknown
}

// truncate cuts a valid UTF-8 text to at most max bytes at a rune boundary.
func truncate(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// bytesString views b as a string without copying. The request body and
// headers that b points into do not change while the handler runs, and the
// router copies what it keeps.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Interface guard: ServeHTTP is a fasthttp.RequestHandler.
var _ fasthttp.RequestHandler = (*Handler)(nil).ServeHTTP

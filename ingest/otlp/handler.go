package otlp

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/internal/gunzip"
	"github.com/sluice-logs/sluice/metrics"
)

// Defaults used when a Config field is zero (the same as config's
// MAX_BODY_BYTES, MAX_MESSAGE_BYTES and OTLP_APP_ATTRIBUTE defaults).
const (
	DefaultMaxBodyBytes    = ingest.DefaultMaxBodyBytes
	DefaultMaxMessageBytes = sluice.DefaultMaxMessageBytes
	DefaultAppAttribute    = "service.name"
	// DefaultMaxRecords is OTLP_MAX_RECORDS' default: twice the
	// Collector's default batch (8192), 32 times an SDK's (512).
	DefaultMaxRecords = 16384
)

// Config is what the handler needs.
type Config struct {
	Publisher sluice.Publisher
	// Tokens authenticates requests; nil or !Enabled() leaves ingest open.
	Tokens *auth.Tokens
	// Metrics may be nil (nothing is counted then).
	Metrics *metrics.Ingest
	// MaxBodyBytes is the largest body, compressed or decompressed; larger
	// ones get 413. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxMessageBytes is the longest message text (longer ones are cut at a
	// UTF-8 boundary and counted truncated) and the longest structured data
	// of one record (longer: the record is refused, reason too_large). Zero
	// means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// AppAttribute is the resource attribute that names the app. Empty
	// means DefaultAppAttribute.
	AppAttribute string
	// MaxRecords is the most log records one request may carry; a request
	// with more gets 413 (reason too_large) before it is decoded. A body
	// of empty records decodes into about a hundred times its size, so
	// MaxBodyBytes alone does not bound the memory of a request. Zero
	// means DefaultMaxRecords.
	MaxRecords int
	// Logger may be nil (nothing is logged then).
	Logger *slog.Logger
	// Bodies is the memory budget's pool for request bodies
	// (MAX_INFLIGHT_BODY_BYTES): each request holds its body, its
	// decompression, an estimate of what decoding it allocates and its
	// messages there, and one that would go over it gets 503 with
	// Retry-After. Nil is unlimited.
	Bodies *budget.Pool
}

// Handler serves POST /v1/logs. Create it with New.
type Handler struct {
	pub      sluice.Publisher
	tokens   *auth.Tokens
	maxBody  int64
	maxMsg   int
	maxRecs  int
	appAttr  string
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
		maxRecs: cfg.MaxRecords,
		appAttr: cfg.AppAttribute,
		log:     cfg.Logger,
		bodies:  cfg.Bodies,
	}
	if h.maxRecs <= 0 {
		h.maxRecs = DefaultMaxRecords
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxMsg <= 0 {
		h.maxMsg = DefaultMaxMessageBytes
	}
	if h.appAttr == "" {
		h.appAttr = DefaultAppAttribute
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	m := cfg.Metrics
	if m == nil {
		m = metrics.NewIngest(nil)
	}
	h.accepted = m.Messages.WithLabelValues(metrics.OTLPHTTP)
	h.rejected = m.RejectedCounters(metrics.OTLPHTTP, reasons...)
	h.pool.New = func() any { return new(request) }
	return h
}

// reasons are the rejection reasons the handler counts (the series exist
// from the start at 0).
var reasons = []metrics.Reason{
	metrics.ReasonMalformed, metrics.ReasonMissingApp, metrics.ReasonInvalidUTF8, metrics.ReasonLatin1,
	metrics.ReasonBadGzip, metrics.ReasonTooLarge, metrics.ReasonUnsupportedMediaType,
	metrics.ReasonUnauthorized, metrics.ReasonForbiddenApp, metrics.ReasonBackpressure,
	metrics.ReasonClosed, metrics.ReasonTruncated, metrics.ReasonMemoryBudget,
}

// encoding is the body encoding, chosen by Content-Type.
type encoding uint8

const (
	encodingUnknown encoding = iota
	encodingProto
	encodingJSON
)

// writer is who sends the request: the token's grant, or nobody when ingest
// is open.
type writer struct {
	authed bool
	app    string
	source string
}

// request is the per-request state, reused through Handler.pool.
type request struct {
	msgs     []sluice.Message
	inflated []byte // decompressed body
	fixed    []byte // the body with non-UTF-8 strings converted (rarely used)
	sd       []byte // structured data of every message, appended
	scratch  []byte // one record's structured data while it is built
	// counts are the refused records by reason, and the truncated (but
	// accepted) ones.
	counts   [metrics.NumReasons]int
	refused  int
	firstWhy string // the first refused record's problem
	// forbiddenApp is the first app the token may not write; the whole
	// request is refused with 403.
	forbiddenApp string
	forbidden    bool
}

// Largest per-request buffers kept in the pool; bigger ones are left to the
// garbage collector so one huge request does not pin memory.
const (
	maxPooledMsgs  = 4096
	maxPooledBytes = 1 << 20
)

func (h *Handler) getRequest() *request { return h.pool.Get().(*request) }

func (h *Handler) putRequest(r *request) {
	if cap(r.msgs) > maxPooledMsgs || cap(r.inflated) > maxPooledBytes || cap(r.sd) > maxPooledBytes ||
		cap(r.fixed) > maxPooledBytes {
		return
	}
	clear(r.msgs[:cap(r.msgs)]) // drop references to the decoded request
	*r = request{msgs: r.msgs[:0], inflated: r.inflated[:0], sd: r.sd[:0], scratch: r.scratch[:0], fixed: r.fixed[:0]}
	h.pool.Put(r)
}

// refuse records that one log record was refused.
func (r *request) refuse(rsn metrics.Reason, why string) {
	r.counts[rsn]++
	r.refused++
	if r.firstWhy == "" {
		r.firstWhy = why
	}
}

// ServeHTTP handles POST /v1/logs. It is a fasthttp.RequestHandler.
func (h *Handler) ServeHTTP(ctx *fasthttp.RequestCtx) {
	enc := encodingOf(ctx.Request.Header.ContentType())
	if !h.gate.Enter() {
		ctx.Response.Header.Set("Retry-After", "1")
		h.fail(ctx, enc, fasthttp.StatusServiceUnavailable, metrics.ReasonClosed, "shutting down, retry later")
		return
	}
	defer h.gate.Leave()
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		h.fail(ctx, enc, fasthttp.StatusMethodNotAllowed, metrics.ReasonNone, "method not allowed: use POST")
		return
	}
	if enc == encodingUnknown {
		h.fail(ctx, enc, fasthttp.StatusUnsupportedMediaType, metrics.ReasonUnsupportedMediaType,
			"unsupported Content-Type: want application/x-protobuf or application/json")
		return
	}
	w, ok := h.authenticate(ctx, enc)
	if !ok {
		return
	}
	gzipped, ok := ingest.Gzipped(ctx.Request.Header.ContentEncoding())
	if !ok {
		h.fail(ctx, enc, fasthttp.StatusUnsupportedMediaType, metrics.ReasonUnsupportedMediaType,
			"unsupported Content-Encoding: want gzip or none")
		return
	}
	received := time.Now()
	r := h.getRequest()
	defer h.putRequest(r)
	lease := h.bodies.Lease()
	defer lease.Release()
	body, ok := h.body(ctx, enc, r, gzipped, &lease)
	if !ok {
		return
	}
	if enc == encodingProto {
		if n := countRecords(body, h.maxRecs); n > h.maxRecs {
			h.fail(ctx, enc, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooManyText())
			return
		}
	}
	// Decoding allocates several times the body: take its estimate and
	// the messages' room at once, before decoding.
	if cost, records := decodeCost(body, enc == encodingJSON); !lease.Grow(cost) {
		h.overBudget(ctx, enc, &lease)
		return
	} else if records > cap(r.msgs) {
		r.msgs = slices.Grow(r.msgs[:0], records)
	}
	var req collogs.ExportLogsServiceRequest
	if !h.decode(ctx, enc, r, body, &req) {
		return
	}
	if enc == encodingJSON && countDecoded(&req) > h.maxRecs {
		h.fail(ctx, enc, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooManyText())
		return
	}
	h.mapRequest(r, &req, enc == encodingJSON, w, received)
	if r.forbidden {
		h.fail(ctx, enc, fasthttp.StatusForbidden, metrics.ReasonForbiddenApp,
			"this token may not write to app "+strconv.Quote(r.forbiddenApp))
		return
	}
	h.publish(ctx, enc, r)
}

// decode decodes body into req. A body refused only because a string is
// not valid UTF-8 is decoded again with those strings read as Latin-1 (see
// latin1Fixer) and the records concerned are counted latin1_converted. On
// any other error it answers 400 and returns false.
func (h *Handler) decode(ctx *fasthttp.RequestCtx, enc encoding, r *request, body []byte, req *collogs.ExportLogsServiceRequest) bool {
	err := unmarshal(enc, body, req)
	if err != nil && isUTF8Error(err) {
		converted := 0
		var ferr error
		if enc == encodingProto {
			var f latin1Fixer
			r.fixed, ferr = f.fix(r.fixed[:0], body)
			converted = f.records + f.others
		} else {
			// JSON outside strings is ASCII, so converting every byte that
			// is not UTF-8 only touches strings; which records held them
			// is not known, so the request counts once.
			r.fixed, converted = appendLatin1(r.fixed[:0], body), 1
		}
		if ferr == nil {
			req.Reset()
			if err = unmarshal(enc, r.fixed, req); err == nil {
				r.counts[metrics.ReasonLatin1] += max(converted, 1)
			}
		}
	}
	if err != nil {
		rsn := metrics.ReasonMalformed
		if isUTF8Error(err) {
			rsn = metrics.ReasonInvalidUTF8
		}
		h.fail(ctx, enc, fasthttp.StatusBadRequest, rsn, "cannot decode ExportLogsServiceRequest: "+err.Error())
		return false
	}
	return true
}

// countDecoded is the number of log records in req.
func countDecoded(req *collogs.ExportLogsServiceRequest) int {
	n := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	return n
}

func (h *Handler) tooManyText() string {
	return "more than " + strconv.Itoa(h.maxRecs) + " log records in one request (OTLP_MAX_RECORDS)"
}

// body returns the request body, decompressed into r.inflated when
// gzipped. When the body is too large or not valid gzip it answers and
// returns false. An empty body is a valid, empty request.
func (h *Handler) body(ctx *fasthttp.RequestCtx, enc encoding, r *request, gzipped bool, lease *budget.Lease) ([]byte, bool) {
	body := ctx.PostBody()
	if int64(len(body)) > h.maxBody {
		h.fail(ctx, enc, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooLargeText())
		return nil, false
	}
	// The body as read, and the buffers this pooled request already has.
	if !lease.Grow(int64(len(body)) + int64(cap(r.inflated)+cap(r.sd)+cap(r.scratch)) + int64(cap(r.msgs))*msgSize) {
		h.overBudget(ctx, enc, lease)
		return nil, false
	}
	if gzipped {
		if want := gunzip.SizeHint(body, h.maxBody); want > int64(cap(r.inflated)) {
			if !lease.Grow(want - int64(cap(r.inflated))) {
				h.overBudget(ctx, enc, lease)
				return nil, false
			}
			r.inflated = make([]byte, 0, want)
		}
		var err error
		r.inflated, err = gunzip.AppendWithin(r.inflated[:0], body, h.maxBody, lease)
		switch {
		case errors.Is(err, gunzip.ErrOverBudget):
			h.overBudget(ctx, enc, lease)
			return nil, false
		case errors.Is(err, gunzip.ErrTooLarge):
			h.fail(ctx, enc, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooLargeText())
			return nil, false
		case err != nil:
			h.fail(ctx, enc, fasthttp.StatusBadRequest, metrics.ReasonBadGzip, "bad gzip body: "+err.Error())
			return nil, false
		}
		body = r.inflated
	}
	return body, true
}

// publish hands the mapped messages to the router and answers 200 with an
// ExportLogsServiceResponse (naming the refused records in its
// partial_success), or 429/503 when the router takes nothing.
func (h *Handler) publish(ctx *fasthttp.RequestCtx, enc encoding, r *request) {
	if len(r.msgs) > 0 {
		switch err := h.pub.TryPublish(r.msgs); {
		case err == nil:
			h.accepted.Add(float64(len(r.msgs)))
		case errors.Is(err, sluice.ErrBackpressure):
			ctx.Response.Header.Set("Retry-After", "1")
			h.fail(ctx, enc, fasthttp.StatusTooManyRequests, metrics.ReasonBackpressure, "drain backlog full, retry later")
			return
		case errors.Is(err, sluice.ErrClosed):
			ctx.Response.Header.Set("Retry-After", "1")
			h.fail(ctx, enc, fasthttp.StatusServiceUnavailable, metrics.ReasonClosed, "shutting down, retry later")
			return
		default:
			h.log.Error("publish otlp logs batch", "messages", len(r.msgs), "err", err)
			h.fail(ctx, enc, fasthttp.StatusInternalServerError, metrics.ReasonNone, "internal error")
			return
		}
	}
	// Record problems are counted only now: a request refused as a whole
	// above counts once, with its own reason.
	for rsn, n := range r.counts {
		if n > 0 {
			h.rejected[rsn].Add(float64(n))
		}
	}
	var resp collogs.ExportLogsServiceResponse
	if r.refused > 0 {
		why := r.firstWhy
		if r.refused > 1 {
			why = "first: " + why
		}
		resp.PartialSuccess = &collogs.ExportLogsPartialSuccess{
			RejectedLogRecords: int64(r.refused),
			ErrorMessage: strconv.Itoa(r.refused) + " of " + strconv.Itoa(r.refused+len(r.msgs)) +
				" log records refused; " + why,
		}
	}
	h.write(ctx, enc, fasthttp.StatusOK, &resp)
}

// overBudget answers a request the memory budget cannot take now: 503
// with Retry-After, counted as memory_budget. Nothing of it was published.
// A request that needs more than the whole pool gets 413 instead (counted
// too_large): retrying cannot help.
func (h *Handler) overBudget(ctx *fasthttp.RequestCtx, enc encoding, lease *budget.Lease) {
	if lease.Never() {
		h.fail(ctx, enc, fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge,
			"request needs more memory than MAX_INFLIGHT_BODY_BYTES allows all requests together; send it in parts")
		return
	}
	ctx.Response.Header.Set("Retry-After", "1")
	h.fail(ctx, enc, fasthttp.StatusServiceUnavailable, metrics.ReasonMemoryBudget,
		"request bodies in flight are at MAX_INFLIGHT_BODY_BYTES, retry later")
}

func (h *Handler) tooLargeText() string {
	return "body larger than " + strconv.FormatInt(h.maxBody, 10) + " bytes"
}

// fail answers a request refused as a whole and counts it once. The body is
// a google.rpc.Status in the request's encoding, or plain text when the
// encoding is unknown.
func (h *Handler) fail(ctx *fasthttp.RequestCtx, enc encoding, code int, rsn metrics.Reason, text string) {
	if rsn != metrics.ReasonNone {
		h.rejected[rsn].Inc()
	}
	if enc == encodingUnknown {
		ctx.SetStatusCode(code)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(text + "\n")
		return
	}
	h.write(ctx, enc, code, &status.Status{Code: grpcCode(code), Message: text})
}

// write answers with m in the encoding enc.
func (h *Handler) write(ctx *fasthttp.RequestCtx, enc encoding, code int, m proto.Message) {
	var (
		b   []byte
		err error
	)
	if enc == encodingJSON {
		b, err = protojson.Marshal(m)
		ctx.SetContentType("application/json")
	} else {
		b, err = proto.Marshal(m)
		ctx.SetContentType("application/x-protobuf")
	}
	if err != nil { // not expected: the messages are built here
		h.log.Error("encode otlp response", "err", err)
		ctx.Error("internal error\n", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(code)
	ctx.SetBody(b)
}

// grpcCode is the google.rpc.Code a Status body carries for an HTTP status.
func grpcCode(httpStatus int) int32 {
	switch httpStatus {
	case fasthttp.StatusBadRequest:
		return 3 // INVALID_ARGUMENT
	case fasthttp.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case fasthttp.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case fasthttp.StatusMethodNotAllowed, fasthttp.StatusUnsupportedMediaType:
		return 12 // UNIMPLEMENTED
	case fasthttp.StatusRequestEntityTooLarge, fasthttp.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case fasthttp.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	default:
		return 13 // INTERNAL
	}
}

// authenticate returns who sends the request. When tokens are enabled and
// the request has no known token, or an admin token, it answers and returns
// false.
func (h *Handler) authenticate(ctx *fasthttp.RequestCtx, enc encoding) (writer, bool) {
	if !h.tokens.Enabled() {
		return writer{source: "app"}, true
	}
	_, g, ok := h.tokens.Authorize(bytesString(ctx.Request.Header.Peek("Authorization")))
	if !ok {
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="sluice"`)
		h.fail(ctx, enc, fasthttp.StatusUnauthorized, metrics.ReasonUnauthorized, "missing or unknown token")
		return writer{}, false
	}
	if g.Admin {
		h.fail(ctx, enc, fasthttp.StatusForbidden, metrics.ReasonForbiddenApp, "the admin token cannot write")
		return writer{}, false
	}
	return writer{authed: true, app: g.App, source: g.Source}, true
}

// ErrorHandler is a fasthttp.Server ErrorHandler that answers a body over
// the server's MaxRequestBodySize with 413 (counted too_large) instead of
// fasthttp's default 400. Use it when the handler has a server of its own.
func (h *Handler) ErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		h.fail(ctx, encodingOf(ctx.Request.Header.ContentType()), fasthttp.StatusRequestEntityTooLarge, metrics.ReasonTooLarge, h.tooLargeText())
		return
	}
	ctx.Error("cannot parse request", fasthttp.StatusBadRequest)
}

// encodingOf picks the body encoding from a Content-Type value; parameters
// such as charset are ignored.
func encodingOf(ct []byte) encoding {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	switch {
	case bytes.EqualFold(ct, []byte("application/x-protobuf")):
		return encodingProto
	case bytes.EqualFold(ct, []byte("application/json")):
		return encodingJSON
	}
	return encodingUnknown
}

// bytesString views b as a string without copying; b must not change while
// the string is used.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Interface guard: ServeHTTP is a fasthttp.RequestHandler.
var _ fasthttp.RequestHandler = (*Handler)(nil).ServeHTTP

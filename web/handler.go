package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"mime"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/buffer"
)

//go:embed static
var static embed.FS

// Config is what the handler needs.
type Config struct {
	Store  *buffer.Store
	Tokens *auth.Tokens // nil or empty: the page is open, like the API
	Logger *slog.Logger // nil: discard
	// Registerer takes the handler's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// MaxStreams bounds the event streams open at once (default 256).
	MaxStreams int
	// SessionTTL is how long a sign-in lasts (default 12h).
	SessionTTL time.Duration
	// WriteTimeout bounds one write to a stream (default 30s).
	WriteTimeout time.Duration
	// Heartbeat is the interval of the comment lines that keep a quiet
	// stream alive through proxies (default 15s).
	Heartbeat time.Duration
}

// Limits of what a request may ask for.
const (
	defaultNum    = 1000
	maxNum        = 10_000
	maxTokenBytes = 4096
	cookieName    = "sluice_session"
)

// csp is the Content-Security-Policy of every response: nothing inline,
// nothing from elsewhere, never framed.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the page and its API.
type Handler struct {
	store        *buffer.Store
	tokens       *auth.Tokens
	log          *slog.Logger
	cookies      cookieCodec
	maxStreams   int
	writeTimeout time.Duration
	heartbeat    time.Duration
	m            *webMetrics

	mu      sync.Mutex
	closed  bool
	streams map[*stream]struct{}
	// wg counts running streams. Add happens under mu while !closed, so
	// every Add comes before Shutdown's Wait.
	wg sync.WaitGroup
}

// New returns a handler.
func New(cfg Config) *Handler {
	h := &Handler{
		store:        cfg.Store,
		tokens:       cfg.Tokens,
		log:          cfg.Logger,
		maxStreams:   cfg.MaxStreams,
		writeTimeout: cfg.WriteTimeout,
		heartbeat:    cfg.Heartbeat,
		streams:      make(map[*stream]struct{}),
		m:            newMetrics(cfg.Registerer),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxStreams <= 0 {
		h.maxStreams = 256
	}
	if h.writeTimeout <= 0 {
		h.writeTimeout = 30 * time.Second
	}
	if h.heartbeat <= 0 {
		h.heartbeat = 15 * time.Second
	}
	ttl := cfg.SessionTTL
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	h.cookies = newCookieCodec(cfg.Tokens, ttl)
	return h
}

// WantsPage reports whether a request for / comes from a browser (its
// Accept names text/html): the daemon serves it the page, and everyone
// else (curl) the plain-text index.
func WantsPage(ctx *fasthttp.RequestCtx) bool {
	return strings.Contains(string(ctx.Request.Header.Peek(fasthttp.HeaderAccept)), "text/html")
}

// ServeHTTP answers GET / and every path under /web/.
func (h *Handler) ServeHTTP(ctx *fasthttp.RequestCtx) {
	setSecurityHeaders(ctx)
	p := string(ctx.Path())
	switch {
	case p == "/" || p == "/web/":
		if !h.method(ctx, "GET") {
			return
		}
		h.serveAsset(ctx, "static/index.html")
	case strings.HasPrefix(p, "/web/static/"):
		if !h.method(ctx, "GET") {
			return
		}
		h.serveAsset(ctx, "static/"+p[len("/web/static/"):])
	case p == "/web/signin":
		if h.method(ctx, "POST") {
			h.signIn(ctx)
		}
	case p == "/web/signout":
		if h.method(ctx, "POST") {
			h.signOut(ctx)
		}
	case p == "/web/apps":
		if h.method(ctx, "GET") {
			h.serveApps(ctx)
		}
	case p == "/web/stream":
		if h.method(ctx, "GET") {
			h.serveStream(ctx)
		}
	default:
		fail(ctx, "not found\n", fasthttp.StatusNotFound)
	}
}

// method answers 405 unless the request's method is m (HEAD counts as GET).
func (h *Handler) method(ctx *fasthttp.RequestCtx, m string) bool {
	got := string(ctx.Method())
	if got == m || (m == "GET" && got == "HEAD") {
		return true
	}
	fail(ctx, "method not allowed\n", fasthttp.StatusMethodNotAllowed)
	if m == "GET" {
		m = "GET, HEAD"
	}
	ctx.Response.Header.Set("Allow", m)
	return false
}

func setSecurityHeaders(ctx *fasthttp.RequestCtx) {
	hd := &ctx.Response.Header
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// serveAsset writes one embedded file. Paths are cleaned and must stay
// under static/.
func (h *Handler) serveAsset(ctx *fasthttp.RequestCtx, name string) {
	name = path.Clean(name)
	if !strings.HasPrefix(name, "static/") {
		fail(ctx, "not found\n", fasthttp.StatusNotFound)
		return
	}
	b, err := fs.ReadFile(static, name)
	if err != nil {
		fail(ctx, "not found\n", fasthttp.StatusNotFound)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
		ct += "; charset=utf-8"
	}
	ctx.SetContentType(ct)
	// Assets change with the binary: revalidate rather than cache blindly.
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(b)
}

// sameOrigin is the CSRF check of the state-changing requests: the browser's
// Origin must be this host. Fetch metadata, when sent, must agree.
func sameOrigin(ctx *fasthttp.RequestCtx) bool {
	origin := string(ctx.Request.Header.Peek("Origin"))
	host := string(ctx.Host())
	if origin == "" || host == "" {
		return false
	}
	if site := string(ctx.Request.Header.Peek("Sec-Fetch-Site")); site != "" && site != "same-origin" {
		return false
	}
	scheme := "http://"
	if ctx.IsTLS() {
		scheme = "https://"
	}
	return origin == scheme+host
}

// grantOf returns what the request's session cookie allows. With tokens
// off, everyone may read every app (like the API).
func (h *Handler) grantOf(ctx *fasthttp.RequestCtx) (auth.Grant, bool) {
	if !h.tokens.Enabled() {
		return auth.Grant{Admin: true}, true
	}
	return h.cookies.decode(ctx.Request.Header.Cookie(cookieName), time.Now())
}

func (h *Handler) signIn(ctx *fasthttp.RequestCtx) {
	if !sameOrigin(ctx) {
		h.m.signins.WithLabelValues("bad_origin").Inc()
		fail(ctx, "forbidden: sign in from the page itself\n", fasthttp.StatusForbidden)
		return
	}
	if !h.tokens.Enabled() {
		writeJSON(ctx, h.appsView(auth.Grant{Admin: true}))
		return
	}
	tok := ctx.PostArgs().Peek("token")
	if len(tok) == 0 || len(tok) > maxTokenBytes {
		h.m.signins.WithLabelValues("bad_token").Inc()
		fail(ctx, "wrong token\n", fasthttp.StatusUnauthorized)
		return
	}
	// One SHA-256 and one map lookup by hash, whatever the token: a
	// wrong guess costs the same as a right one and tells nothing of how
	// close it was.
	sum := auth.Sum(string(tok))
	g, ok := h.tokens.LookupSum(sum)
	if !ok {
		h.m.signins.WithLabelValues("bad_token").Inc()
		h.log.Debug("web sign-in refused", "remote", ctx.RemoteAddr().String())
		fail(ctx, "wrong token\n", fasthttp.StatusUnauthorized)
		return
	}
	h.m.signins.WithLabelValues("ok").Inc()
	now := time.Now()
	h.setCookie(ctx, h.cookies.encode(sum, now), h.cookies.ttl)
	writeJSON(ctx, h.appsView(g))
}

func (h *Handler) signOut(ctx *fasthttp.RequestCtx) {
	if !sameOrigin(ctx) {
		fail(ctx, "forbidden: sign out from the page itself\n", fasthttp.StatusForbidden)
		return
	}
	h.setCookie(ctx, "", 0)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (h *Handler) setCookie(ctx *fasthttp.RequestCtx, value string, ttl time.Duration) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(cookieName)
	c.SetValue(value)
	c.SetPath("/web/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetSecure(ctx.IsTLS())
	if ttl > 0 {
		c.SetMaxAge(int(ttl / time.Second))
	} else {
		c.SetMaxAge(-1) // Max-Age=0: delete
	}
	ctx.Response.Header.SetCookie(c)
}

// appsJSON is the answer of /web/apps and of a sign-in.
type appsJSON struct {
	Auth  bool      `json:"auth"`  // tokens are on: a session is needed
	Admin bool      `json:"admin"` // may read every app
	Apps  []appJSON `json:"apps"`
	Now   int64     `json:"now"` // server time (ms) of the line counters
}

type appJSON struct {
	Name  string `json:"name"`
	Lines uint64 `json:"lines"`
}

func (h *Handler) serveApps(ctx *fasthttp.RequestCtx) {
	g, ok := h.grantOf(ctx)
	if !ok {
		fail(ctx, "sign in first\n", fasthttp.StatusUnauthorized)
		return
	}
	writeJSON(ctx, h.appsView(g))
}

// appsView lists what g may read: every app for an admin (or an open
// router), else the token's own app, held or not.
func (h *Handler) appsView(g auth.Grant) appsJSON {
	v := appsJSON{Auth: h.tokens.Enabled(), Admin: g.Admin, Apps: []appJSON{}, Now: time.Now().UnixMilli()}
	own := false
	for _, a := range h.store.Apps(nil) {
		if g.CanRead(a.Name) {
			v.Apps = append(v.Apps, appJSON{a.Name, a.Lines})
			own = own || a.Name == g.App
		}
	}
	if !g.Admin && !own {
		v.Apps = append(v.Apps, appJSON{g.App, 0})
	}
	slices.SortFunc(v.Apps, func(a, b appJSON) int { return strings.Compare(a.Name, b.Name) })
	return v
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(ctx, "encode json\n", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(b)
}

// webMetrics are the page's counters.
type webMetrics struct {
	signins  *prometheus.CounterVec
	streams  prometheus.Gauge
	rejected prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *webMetrics {
	m := &webMetrics{
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_web_signins_total",
			Help: "Sign-ins on the web page, by result (ok, bad_token, bad_origin).",
		}, []string{"result"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_web_streams",
			Help: "Event streams of the web page open now.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_web_streams_rejected_total",
			Help: "Event streams refused with 503 because WEB's MaxStreams were open.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.signins, m.streams, m.rejected)
	}
	return m
}

// fail answers an error with the security headers (ctx.Error resets the
// headers).
func fail(ctx *fasthttp.RequestCtx, msg string, status int) {
	ctx.Error(msg, status)
	setSecurityHeaders(ctx)
}

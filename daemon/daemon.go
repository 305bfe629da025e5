package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/open"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/ingest/sources"
	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/metrics"
	"github.com/sluice-logs/sluice/router"
	"github.com/sluice-logs/sluice/tail"
	"github.com/sluice-logs/sluice/web"
)

// Daemon is one sluiced process.
type Daemon struct {
	cfg config.Config
	log *slog.Logger
	reg *prometheus.Registry

	store   *buffer.Store
	workers []*drains.Worker
	router  *router.Router
	ingest  *metrics.Ingest

	// syslog holds the sources with a socket of their own, in start
	// order; mounted the sources served on PORT, by route.
	syslog  []syslogListener
	mounted map[string]ingest.Mounted
	httpLn  net.Listener
	http    *fasthttp.Server
	tails   *tail.Handler
	web     *web.Handler
	prom    fasthttp.RequestHandler
	pprof   *http.Server

	bus       *clusterParts // nil unless BUS_URL is set
	admission *admission    // reserves ingest bodies before they are read

	shuttingDown atomic.Bool
	wg           sync.WaitGroup // the serving goroutines
	serveErr     chan error
}

// ParseDrains parses every DRAIN_<NAME> of cfg, reporting every bad URL at
// once. It dials nothing.
func ParseDrains(cfg config.Config) ([]open.Spec, error) {
	var specs []open.Spec
	var errs []error
	for _, name := range cfg.DrainNames() {
		spec, err := open.Parse(name, cfg.Drains[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		specs = append(specs, spec)
	}
	return specs, errors.Join(errs...)
}

// Role is what a sluiced process does: RoleAll, or in cluster mode
// (cluster.go) RoleIngest (sources publishing to the Kafka bus, no rings
// or drains) and RoleRouter (rings, tails and drains fed from the bus, no
// sources), each a Plan with parts left out.
type Role string

// RoleAll runs everything in one process: sources, rings, tails, drains.
const RoleAll Role = "all"

// Plan lists what New builds: which sources, which drains, and, by Role,
// whether the process keeps rings and serves tails (RoleAll: yes). It is
// plain data, made by NewPlan from the configuration; tests may edit it.
type Plan struct {
	Role    Role
	Sources []sources.Spec
	Drains  []open.Spec
}

// NewPlan is the plan of a process for cfg and its parsed drains: RoleAll,
// or in cluster mode the ROLE's (see clusterPlan).
func NewPlan(cfg config.Config, specs []open.Spec) Plan {
	return clusterPlan(cfg, Plan{Role: RoleAll, Sources: sources.Specs(cfg), Drains: specs})
}

// New builds a daemon from a validated config and parsed drains: the plan
// NewPlan(cfg, specs). It binds nothing yet.
func New(cfg config.Config, specs []open.Spec, log *slog.Logger) (*Daemon, error) {
	return NewFromPlan(cfg, NewPlan(cfg, specs), log)
}

// NewFromPlan builds what plan lists, in data-flow order: rings, drains,
// the router, the sources, tails and the HTTP server. It binds nothing yet.
func NewFromPlan(cfg config.Config, plan Plan, log *slog.Logger) (*Daemon, error) {
	if err := checkRole(cfg, plan.Role); err != nil {
		return nil, err
	}
	// The memory budget: a configuration whose reservations do not fit is
	// refused, with the arithmetic.
	mem := MemoryPlan(cfg, plan.Drains)
	if err := mem.Check(); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d := &Daemon{cfg: cfg, log: log, reg: reg, serveErr: make(chan error, 4)}
	bodies := budget.NewPool(cfg.MaxInflightBodyBytes)
	registerBudget(reg, mem, bodies)
	d.admission = newAdmission(bodies)
	d.ingest = metrics.NewIngest(reg)
	d.store = buffer.New(buffer.Config{
		Lines:       cfg.BufferLines,
		BytesPerApp: cfg.BufferBytes,
		MemoryLimit: cfg.MemoryLimit,
		TailBuffer:  cfg.TailBuffer,

		TailBufferBytes: cfg.TailBufferBytes,
		MaxTails:        cfg.MaxTails,
		MaxTailsPerApp:  cfg.MaxTailsPerApp,
	}, reg)

	dm := drains.NewMetrics(reg)
	// A drain's in-band L10 line goes into the app's ring (so `sluice logs`
	// shows it), not to the drains.
	notify := func(m sluice.Message) { d.store.Append([]sluice.Message{m}) }
	for _, spec := range plan.Drains {
		w, err := open.New(spec, drains.WorkerConfig{
			Name:    spec.Name,
			Logger:  log, // the Worker adds drain=NAME
			Metrics: dm,
			Notify:  notify,
		})
		if err != nil {
			return nil, fmt.Errorf("drain %s: %w", spec.Name, err)
		}
		d.workers = append(d.workers, w)
	}
	d.router = router.New(d.store, d.workers)
	if cfg.AppRateLimit > 0 { // issue 10: APP_RATE_LIMIT
		d.router.LimitRate(router.RateLimit{PerSecond: cfg.AppRateLimit, Burst: cfg.AppRateBurst,
			Rejected: d.ingest.Rejected.WithLabelValues(metrics.Router, metrics.ReasonRateLimit.String())})
	}
	// In cluster mode the sources publish to the bus and a consumer feeds
	// the router.
	pub, err := d.buildBus(cfg, plan)
	if err != nil {
		return nil, err
	}

	if err := d.buildSources(plan.Sources, ingest.Deps{
		Publisher: pub,
		Tokens:    cfg.Tokens,
		Metrics:   d.ingest,
		Logger:    log,
		Bodies:    bodies,
	}); err != nil {
		return nil, err
	}
	d.tails = tail.New(tail.Config{Store: d.store, Tokens: cfg.Tokens, Logger: log.With("component", "tail")})
	d.web = web.New(web.Config{Store: d.store, Tokens: cfg.Tokens, Logger: log.With("component", "web"), Registerer: reg})
	d.prom = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	d.http = d.newHTTPServer() // httpserver.go
	return d, nil
}

// Start binds every listener and starts serving. When Start returns, the
// daemon accepts connections on every address it logs.
func (d *Daemon) Start() error {
	ln, err := d.listenHTTP() // httpserver.go
	if err != nil {
		return err
	}
	d.httpLn = ln
	// On a failure, release what is already bound.
	undo := func(bound []syslogListener) {
		ln.Close()
		for _, l := range bound {
			_ = l.srv.Shutdown(context.Background())
		}
	}
	for i, l := range d.syslog {
		if err := l.srv.Listen(); err != nil {
			undo(d.syslog[:i])
			return fmt.Errorf("listen %s %q: %w", l.envVar, l.addr, err)
		}
	}
	if d.cfg.PprofAddr != "" {
		if err := d.startPprof(); err != nil {
			undo(d.syslog)
			return err
		}
	}
	if err := d.startBus(ln.Addr()); err != nil {
		undo(d.syslog)
		return err
	}
	for _, w := range d.workers {
		w.Start()
	}
	d.serve("http", func() error { return d.http.Serve(ln) })
	attrs := []any{"http", ln.Addr().String(), "https", d.cfg.HTTPTLS != nil}
	for _, l := range d.syslog {
		d.serve(l.name, l.srv.Serve)
		attrs = append(attrs, l.name, l.srv.Addr().String())
	}
	attrs = append(attrs, "drains", len(d.workers), "auth", d.cfg.Tokens.Enabled())
	d.log.Info("sluiced listening", attrs...)
	if !d.cfg.Tokens.Enabled() {
		d.log.Warn("TOKENS is not set: the router is open, anyone who reaches it may write and read every app")
	}
	return nil
}

// syslogListener is a source with a socket of its own (syslog TCP, UDP,
// TLS), with the names it is logged and configured under.
type syslogListener struct {
	name   string // log attribute and serve name: syslog_tcp, …
	envVar string // the variable that set addr
	addr   string
	srv    ingest.Listener
}

// buildSources builds the sources of specs: listeners in order, mounted
// handlers by route.
func (d *Daemon) buildSources(specs []sources.Spec, deps ingest.Deps) error {
	d.mounted = make(map[string]ingest.Mounted)
	for _, spec := range specs {
		src, err := sources.New(spec, deps)
		if err != nil {
			return err
		}
		switch src := src.(type) {
		case ingest.Listener:
			d.syslog = append(d.syslog, syslogListener{src.Name(), spec.Var, spec.Addr, src})
		case ingest.Mounted:
			if _, dup := d.mounted[src.Route()]; dup {
				return fmt.Errorf("source %s: route %s is taken", src.Name(), src.Route())
			}
			d.mounted[src.Route()] = src
		default:
			return fmt.Errorf("source %s is neither a Listener nor Mounted", src.Name())
		}
	}
	return nil
}

// errorHandler is the HTTP server's ErrorHandler: that of the mounted
// source whose route the failed request named (so an oversized POST
// /v1/logs is answered and counted by OTLP ingest, one to /logs by HTTP
// ingest), else HTTP ingest's, else fasthttp's default.
func (d *Daemon) errorHandler() func(*fasthttp.RequestCtx, error) {
	type errorHandler interface {
		ErrorHandler(*fasthttp.RequestCtx, error)
	}
	fallback, _ := d.mounted["/logs"].(errorHandler)
	return func(ctx *fasthttp.RequestCtx, err error) {
		d.admission.done(&ctx.Request.Header) // the body was not read
		if eh, ok := d.mounted[string(ctx.Path())].(errorHandler); ok {
			eh.ErrorHandler(ctx, err)
			return
		}
		if fallback != nil {
			fallback.ErrorHandler(ctx, err)
			return
		}
		ctx.Error("cannot parse request", fasthttp.StatusBadRequest)
	}
}

// listenerAddr is the bound address of the listener named name, nil when
// it is off.
func (d *Daemon) listenerAddr(name string) net.Addr {
	for _, l := range d.syslog {
		if l.name == name {
			return l.srv.Addr()
		}
	}
	return nil
}

func (d *Daemon) serve(name string, fn func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := fn(); err != nil && !d.shuttingDown.Load() {
			d.log.Error("listener failed", "listener", name, "err", err)
			d.serveErr <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// Err is readable when a listener fails while serving.
func (d *Daemon) Err() <-chan error { return d.serveErr }

// HTTPAddr is the bound HTTP address.
func (d *Daemon) HTTPAddr() net.Addr { return d.httpLn.Addr() }

// SyslogTCPAddr is the bound syslog TCP address, nil when off.
func (d *Daemon) SyslogTCPAddr() net.Addr { return d.listenerAddr(metrics.SyslogTCP) }

// SyslogUDPAddr is the bound syslog UDP address, nil when off.
func (d *Daemon) SyslogUDPAddr() net.Addr { return d.listenerAddr(metrics.SyslogUDP) }

// SyslogTLSAddr is the bound syslog TLS address, nil when off.
func (d *Daemon) SyslogTLSAddr() net.Addr { return d.listenerAddr(metrics.SyslogTLS) }

// Workers returns the drain workers (for /drains and tests).
func (d *Daemon) Workers() []*drains.Worker { return d.workers }

// Shutdown stops the daemon in data-flow order: health turns 503 and the
// HTTP port answers 503 with Retry-After (it stays open, so that senders
// hear "try elsewhere" rather than a refused connection), the syslog
// listeners close at once and finish the frames in flight, HTTP ingest in
// flight finishes, tails close, the router closes, and every drain flushes
// what it holds within ctx's deadline. The HTTP listener closes last. It
// logs, per drain, what could not be delivered.
func (d *Daemon) Shutdown(ctx context.Context) error {
	if d.shuttingDown.Swap(true) {
		return errors.New("already shut down")
	}
	start := time.Now()
	d.log.Info("shutting down", "deadline", deadlineString(ctx))
	var (
		errs []error
		mu   sync.Mutex
		lw   sync.WaitGroup
	)
	stop := func(name string, fn func(context.Context) error) {
		lw.Add(1)
		go func() {
			defer lw.Done()
			if err := fn(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("stop %s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	for _, l := range d.syslog {
		stop(l.name, l.srv.Shutdown)
	}
	d.tails.Shutdown()
	d.web.Shutdown()
	for _, m := range d.mounted {
		stop(m.Name(), m.Shutdown)
	}
	lw.Wait()
	d.stopBus(ctx) // ingest has stopped: flush the producer, stop consuming
	d.router.Close()
	d.store.Close()

	// Flush every drain at once: a slow drain must not eat the others'
	// share of the deadline.
	reports := make([]drains.Report, len(d.workers))
	var ww sync.WaitGroup
	for i, w := range d.workers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			reports[i] = w.Stop(ctx)
		}()
	}
	ww.Wait()
	d.closeBus(ctx) // the drains are flushed: commit, leave the group
	var undelivered uint64
	for _, rep := range reports {
		undelivered += rep.Undelivered
		attrs := []any{"drain", rep.Name, "received", rep.Received, "delivered", rep.Delivered, "dropped", rep.Dropped}
		if rep.CloseErr != nil {
			attrs = append(attrs, "close_err", rep.CloseErr.Error())
		}
		if rep.Undelivered > 0 {
			d.log.Error("drain not flushed before the deadline", append(attrs, "undelivered", rep.Undelivered)...)
		} else {
			d.log.Info("drain flushed", attrs...)
		}
	}

	// Until now every HTTP request got an answer (503 for ingest); only
	// now does the port close. The deadline may be spent: allow the
	// answers being written a moment more.
	d.log.Info("closing the HTTP listener")
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpCloseGrace)
	defer cancel()
	if err := d.http.ShutdownWithContext(hctx); err != nil {
		errs = append(errs, fmt.Errorf("stop http: %w", err))
	}
	if d.pprof != nil {
		if err := d.pprof.Shutdown(hctx); err != nil {
			errs = append(errs, fmt.Errorf("stop pprof: %w", err))
		}
	}
	d.wg.Wait()
	d.log.Info("shut down", "took", time.Since(start).String(), "undelivered", undelivered)
	return errors.Join(errs...)
}

// httpCloseGrace bounds closing the HTTP server after the drains flushed.
const httpCloseGrace = 2 * time.Second

// unavailable answers 503 while shutting down: try again (elsewhere).
func unavailable(ctx *fasthttp.RequestCtx) {
	ctx.Error("shutting down\n", fasthttp.StatusServiceUnavailable) // resets the headers
	ctx.Response.Header.Set("Retry-After", "1")
	ctx.SetConnectionClose()
}

// readOnly answers 405 to methods other than GET and HEAD and reports
// whether it did.
func readOnly(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return false
	}
	ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	return true
}

func deadlineString(ctx context.Context) string {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl).Round(time.Millisecond).String()
	}
	return "none"
}

// route is the HTTP router. The routes are few and fixed; a table of
// prefixes is all it needs.
func (d *Daemon) route(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch src := d.mounted[path]; {
	case src != nil:
		// The source's handler holds the body in its own lease now.
		refused := d.admission.done(&ctx.Request.Header)
		if d.shuttingDown.Load() {
			unavailable(ctx)
			return
		}
		if refused {
			d.overBudget(ctx, src.Name())
			return
		}
		src.ServeHTTP(ctx)
	case strings.HasPrefix(path, "/apps/"):
		app, rest, ok := strings.Cut(path[len("/apps/"):], "/")
		if !ok || rest != "logs" || app == "" {
			ctx.Error("not found\n", fasthttp.StatusNotFound)
			return
		}
		if readOnly(ctx) {
			return
		}
		if d.proxyRead(ctx, app) { // cluster mode: the owner answers
			return
		}
		d.tails.ServeHTTP(ctx, app)
	case path == "/healthz":
		if readOnly(ctx) {
			return
		}
		if d.shuttingDown.Load() {
			unavailable(ctx) // not ready: take this process out of rotation
			return
		}
		if d.notReady(ctx) { // cluster mode: not yet in the group
			return
		}
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.WriteString("ok\n")
	case path == "/metrics":
		if readOnly(ctx) {
			return
		}
		d.prom(ctx)
	case path == "/drains":
		if readOnly(ctx) {
			return
		}
		d.serveDrains(ctx)
	case path == "/cluster":
		if readOnly(ctx) {
			return
		}
		d.serveCluster(ctx)
	case path == "/" && web.WantsPage(ctx), strings.HasPrefix(path, "/web/"):
		// Browsers get the live tail page; curl and scripts the index below.
		d.web.ServeHTTP(ctx)
	case path == "/":
		if readOnly(ctx) {
			return
		}
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.WriteString("sluice log router\nPOST /logs  POST /v1/logs  GET /apps/{app}/logs?num=&tail=1&source=&ps=  GET /healthz  GET /metrics  GET /drains\n" +
			"GET / with Accept: text/html (a browser), or GET /web/: the live tail page\n")
	default:
		ctx.Error("not found\n", fasthttp.StatusNotFound)
	}
}

func (d *Daemon) serveDrains(ctx *fasthttp.RequestCtx) {
	member, forged := d.fromMember(ctx) // a member asking for the cluster view
	if forged {
		return
	}
	if d.cfg.Tokens.Enabled() && !member && !d.isAdmin(ctx) {
		ctx.Error("GET /drains needs the ADMIN_TOKEN\n", fasthttp.StatusUnauthorized)
		ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="sluice"`)
		return
	}
	out := make([]drains.Status, 0, len(d.workers))
	for _, w := range d.workers {
		out = append(out, w.Status())
	}
	if !member && ctx.QueryArgs().GetBool("cluster") && d.bus != nil && d.bus.proxy != nil {
		d.clusterDrains(ctx, out)
		return
	}
	b, err := json.MarshalIndent(map[string]any{"drains": out}, "", "  ")
	if err != nil {
		ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.Write(append(b, '\n'))
}

func (d *Daemon) isAdmin(ctx *fasthttp.RequestCtx) bool {
	_, g, ok := d.cfg.Tokens.Authorize(string(ctx.Request.Header.Peek("Authorization")))
	return ok && g.Admin
}

// fasthttpLogger sends fasthttp's own messages to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...))
}

// DrainSpec is a parsed DRAIN_<NAME> variable.
type DrainSpec = open.Spec

// CheckResult is the outcome of checking one drain.
type CheckResult struct {
	Name, URL string
	Took      time.Duration
	Err       error
}

// CheckDrains connects to every drain (sluiced check-drains), each within
// timeout, all at once, and returns the results in the order of specs.
func CheckDrains(ctx context.Context, specs []open.Spec, timeout time.Duration) []CheckResult {
	out := make([]CheckResult, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = CheckResult{Name: spec.Name, URL: spec.Redacted}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			dr, err := open.NewDrain(spec, nil)
			if err == nil {
				err = dr.Check(cctx)
				dr.Close(cctx)
			}
			out[i].Took, out[i].Err = time.Since(start), err
		}()
	}
	wg.Wait()
	return out
}

// startPprof serves Go's profiles on PPROF_ADDR, a separate listener so the
// public port never exposes them.
func (d *Daemon) startPprof() error {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", d.cfg.PprofAddr)
	if err != nil {
		return fmt.Errorf("listen PPROF_ADDR %q: %w", d.cfg.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	d.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	d.serve("pprof", func() error {
		if err := d.pprof.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	d.log.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}

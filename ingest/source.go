package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/metrics"
)

// Source brings messages into Sluice: it turns bytes from clients into
// sluice.Message batches and hands them to a sluice.Publisher (the router).
// A source does not keep a message after Publish or TryPublish returns.
//
// There are two kinds, and every Source is exactly one of them:
//
//   - A Listener owns its socket (syslog TCP, UDP, TLS): the daemon binds
//     it with Listen, runs Serve in a goroutine of its own, and stops it
//     with Shutdown.
//   - A Mounted source is a request handler that the daemon's one HTTP
//     server on PORT routes to by path (POST /logs, OTLP POST /v1/logs),
//     so that HTTP ingest shares the port with reads and /metrics. It has
//     no socket, no Listen and no Serve: the HTTP server is the daemon's,
//     and so are its timeouts, body limit and keep-alive connections.
//
// Lifecycle: a Source is created by its package's constructor (or by
// ingest/sources from the configuration) with a Deps, started once and shut
// down once.
//
//   - Name is the source's transport: the transport label of
//     sluice_ingest_messages_total and sluice_ingest_rejected_total, and the
//     key it is logged under ("syslog_tcp", "syslog_udp", "syslog_tls",
//     "http"). Names are unique within a daemon. Every message a source
//     refuses is counted there with a metrics.Reason.
//   - Shutdown stops accepting (new connections, datagrams or requests),
//     finishes what is in flight, and returns when the source will publish
//     nothing more. Nothing accepted is lost: a message whose bytes the
//     source has acknowledged (an HTTP 2xx) or that a client wrote to a
//     connection before Shutdown began is published before Shutdown
//     returns, unless ctx ends first. When ctx ends, Shutdown cancels the
//     publishing in flight, closes the connections that are left and
//     returns ctx.Err(); it never waits longer than ctx for a client, idle,
//     trickling or stuck. A Shutdown before Listen (or before the first
//     request) returns nil at once. Calling Shutdown twice is safe.
//
// Concurrency: Name, Addr and Route may be called at any time from any
// goroutine. Shutdown may be called concurrently with Serve and ServeHTTP
// (that is its purpose), but not with Listen. ServeHTTP is called by any
// number of HTTP server goroutines at once. A source publishes from as many
// goroutines as it likes (one per connection, one per request); per-app
// order is kept per connection or request, and the Publisher is safe for
// concurrent use.
type Source interface {
	Name() string
	Shutdown(ctx context.Context) error
}

// Listener is a Source that owns its socket.
//
//   - Listen binds the socket (the address comes from the configuration;
//     ":0" binds a free port). After Listen returns nil, Addr reports the
//     bound address and clients may connect; nothing is read until Serve.
//     An error means nothing is bound. The daemon binds every listener
//     before it serves any, so a bad address fails startup as a whole.
//   - Addr is the bound address, nil before Listen.
//   - Serve reads and publishes until Shutdown; it blocks, and returns
//     ErrClosed once Shutdown has stopped it (after every goroutine it
//     started has ended), or another error if the socket fails. Serve
//     before Listen, twice, or after Shutdown returns an error at once.
type Listener interface {
	Source
	Listen() error
	Addr() net.Addr
	Serve() error
}

// Mounted is a Source served by the daemon's HTTP server.
//
//   - Route is the exact request path it answers ("/logs"); the daemon
//     sends every request with that path to ServeHTTP, whatever its method
//     (the source answers 405 itself).
//   - ServeHTTP handles one request and has answered when it returns. A
//     2xx answer means every accepted message was published (TryPublish,
//     which never keeps the request waiting on a drain). After Shutdown it
//     answers 503 with Retry-After, counted with reason closed.
//   - Shutdown refuses new requests and waits for the requests being
//     handled. The daemon shuts its HTTP server down too, which closes the
//     idle keep-alive connections and bounds slow ones with its timeouts.
type Mounted interface {
	Source
	Route() string
	ServeHTTP(ctx *fasthttp.RequestCtx)
}

// ErrClosed is returned by a Listener's Serve after Shutdown.
var ErrClosed = errors.New("ingest source closed")

// Deps are what every source shares with the rest of the daemon.
type Deps struct {
	// Publisher receives the batches; required.
	Publisher sluice.Publisher
	// Tokens authenticates writers; nil or !Enabled() leaves ingest open.
	Tokens *auth.Tokens
	// Metrics counts accepted and rejected messages; nil counts nowhere.
	Metrics *metrics.Ingest
	// Logger is the daemon's logger; nil discards. A source adds its own
	// attributes.
	Logger *slog.Logger
	// Bodies is the memory budget's pool for HTTP request bodies
	// (MAX_INFLIGHT_BODY_BYTES); nil is unlimited.
	Bodies *budget.Pool
}

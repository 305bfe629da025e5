package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/internal/connlimit"
	"github.com/sluice-logs/sluice/metrics"
)

// The HTTP server on PORT, hardened against a client that holds
// connections (issue 10): the listener caps connections in all and per
// client address (internal/connlimit), headers must arrive within
// HTTP_HEADER_TIMEOUT of a request's first byte, a body at
// HTTP_BODY_MIN_RATE on average after that grace, a keep-alive connection
// waits HTTP_IDLE_TIMEOUT for its next request, and an ingest request whose
// token is refused is answered before its body is read.

// newHTTPServer is the fasthttp server of PORT.
func (d *Daemon) newHTTPServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:        d.route,
		ErrorHandler:   d.errorHandler(), // 413 (not 400) for bodies over MAX_BODY_BYTES
		HeaderReceived: d.headerReceived,
		Name:           "sluice",
		// The listener's MAX_CONNECTIONS binds first: a connection over it
		// is closed at accept, before fasthttp gives it a goroutine.
		// fasthttp's own cap, above it, never answers 503 to a connection
		// the listener took.
		Concurrency:        d.cfg.MaxConnections + d.cfg.MaxConnections/8 + 16,
		MaxRequestBodySize: int(d.cfg.MaxBodyBytes),
		// ReadTimeout runs from a request's first byte (a new connection's
		// opening): the headers must be in by then. headerReceived then
		// gives the body its own deadline. Neither moves as bytes trickle
		// in.
		ReadTimeout:   d.cfg.HTTPHeaderTimeout,
		IdleTimeout:   d.cfg.HTTPIdleTimeout,
		NoDefaultDate: true,
		Logger:        fasthttpLogger{d.log.With("listener", "http")},
	}
}

// listenHTTP binds PORT on HTTP_HOST behind the connection caps, and TLS
// when HTTP_TLS_CERT_FILE is set.
func (d *Daemon) listenHTTP() (net.Listener, error) {
	addr := net.JoinHostPort(d.cfg.HTTPHost, strconv.Itoa(d.cfg.Port))
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen PORT %s: %w", addr, err)
	}
	refused := d.ingest.RejectedCounters(metrics.HTTP, metrics.ReasonTooManyConnections, metrics.ReasonTooManyConnectionsPerIP)
	var reply []byte
	if d.cfg.HTTPTLS == nil {
		// Plain HTTP: say why, in one write that fits any send buffer.
		reply = []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\n\r\ntoo many connections\n")
	}
	limited := connlimit.Wrap(ln, connlimit.Limits{Total: d.cfg.MaxConnections, PerIP: d.cfg.MaxConnectionsPerIP},
		func(r metrics.Reason) { refused[r].Inc() }, reply)
	if d.cfg.HTTPTLS == nil {
		return limited, nil
	}
	// The handshake runs on the connection's first read, under
	// ReadTimeout, in the connection's own goroutine.
	return tls.NewListener(limited, d.cfg.HTTPTLS), nil
}

// headerReceived runs when a request's headers are in, before its body is
// read. It gives the body its deadline: HTTP_HEADER_TIMEOUT plus its
// length at HTTP_BODY_MIN_RATE (MAX_BODY_BYTES for a chunked body).
//
// An ingest request whose token will be refused is rewritten to have no
// body (Content-Length 0, no Transfer-Encoding, no Expect) and to close
// the connection after its answer: fasthttp reads none of the body, the
// source answers it as always (401 or 403, counted), and the unread body
// goes with the connection. A wrong token costs no body read.
func (d *Daemon) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	ingest := h.IsPost() && d.mounted[string(requestPath(h))] != nil
	if ingest && d.refusedBeforeBody(h) {
		h.SetContentLength(0)
		h.Del(fasthttp.HeaderExpect)
		h.SetConnectionClose()
		return fasthttp.RequestConfig{ReadTimeout: d.cfg.HTTPHeaderTimeout}
	}
	n := int64(h.ContentLength())
	switch {
	case n == -1: // chunked
		n = d.cfg.MaxBodyBytes
	case n < 0:
		n = 0
	}
	n = min(n, d.cfg.MaxBodyBytes) // a longer body is refused at MAX_BODY_BYTES
	rc := fasthttp.RequestConfig{
		ReadTimeout: d.cfg.HTTPHeaderTimeout + time.Duration(float64(n)/float64(d.cfg.HTTPBodyMinRate)*float64(time.Second)),
	}
	// The memory budget: reserve the body before it is read, or read none
	// of it and answer 503 (admission.go).
	if n > 0 && ingest && !d.admission.admit(h, n, rc.ReadTimeout) {
		h.SetContentLength(0)
		h.Del(fasthttp.HeaderExpect)
		h.SetConnectionClose()
		return fasthttp.RequestConfig{ReadTimeout: d.cfg.HTTPHeaderTimeout}
	}
	return rc
}

// refusedBeforeBody reports whether h, a POST to an ingest route, has an
// Authorization the source will refuse (no known token, or the admin
// token, which cannot write) while tokens are enabled. Sources
// authenticate before they look at the body, so answering such a request
// without its body answers it as the source would.
func (d *Daemon) refusedBeforeBody(h *fasthttp.RequestHeader) bool {
	if !d.cfg.Tokens.Enabled() {
		return false
	}
	_, g, ok := d.cfg.Tokens.Authorize(string(h.Peek("Authorization")))
	return !ok || g.Admin
}

// requestPath is the path of h's request URI as sent (not decoded): the
// routes are plain ASCII, and a request that spells one otherwise is
// simply read whole and answered by the route.
func requestPath(h *fasthttp.RequestHeader) []byte {
	uri := h.RequestURI()
	if i := bytes.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

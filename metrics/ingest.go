package metrics

import "github.com/prometheus/client_golang/prometheus"

// Transport label values of the ingest metrics.
const (
	SyslogTCP = "syslog_tcp"
	SyslogUDP = "syslog_udp"
	SyslogTLS = "syslog_tls"
	HTTP      = "http"
	OTLPHTTP  = "otlp_http"
	// Router is the transport label of what the router refuses after a
	// source accepted it (reason rate_limit): the limit is per app, not
	// per transport.
	Router = "router"
)

// Reason is why ingest refused a message, a frame or a request (or cut a
// message: ReasonTruncated): the reason label of
// sluice_ingest_rejected_total, one type for every source.
type Reason uint8

// The reasons. ReasonNone is no rejection and has no label.
const (
	ReasonNone                 Reason = iota
	ReasonMalformed                   // malformed (including an invalid app name)
	ReasonBadOctetCount               // bad_octet_count
	ReasonInvalidUTF8                 // invalid_utf8
	ReasonUnknownToken                // unknown_token (syslog APP-NAME)
	ReasonForbiddenApp                // forbidden_app
	ReasonTruncated                   // truncated: kept, but cut to the limit
	ReasonTooLarge                    // too_large
	ReasonIdleTimeout                 // idle_timeout
	ReasonBadGzip                     // bad_gzip
	ReasonUnsupportedMediaType        // unsupported_media_type
	ReasonUnauthorized                // unauthorized
	ReasonEmptyBody                   // empty_body
	ReasonMsgCountMismatch            // msg_count_mismatch
	ReasonBackpressure                // backpressure
	ReasonClosed                      // closed
	ReasonLatin1                      // latin1_converted: kept, converted to UTF-8
	ReasonDefaultApp                  // default_app: kept under the default app
	ReasonKernelDrop                  // kernel_drop: UDP datagrams the kernel dropped
	ReasonFrameTimeout                // frame_timeout: a TCP frame not completed in time

	// Connection caps (issue 10): a connection refused at accept.
	ReasonTooManyConnections      // too_many_connections: the listener's MAX_CONNECTIONS
	ReasonTooManyConnectionsPerIP // too_many_connections_per_ip: MAX_CONNECTIONS_PER_IP

	// OTLP (issue 14).
	ReasonMissingApp // missing_app: OTLP records whose resource names no app
	// Rate limit (issue 10).
	ReasonRateLimit // rate_limit: over APP_RATE_LIMIT (transport "router")

	// Memory budget (issue 10).
	ReasonMemoryBudget // memory_budget: a request refused (503) to stay within the memory budget
	NumReasons
)

var reasonNames = [NumReasons]string{
	ReasonMalformed:            "malformed",
	ReasonBadOctetCount:        "bad_octet_count",
	ReasonInvalidUTF8:          "invalid_utf8",
	ReasonUnknownToken:         "unknown_token",
	ReasonForbiddenApp:         "forbidden_app",
	ReasonTruncated:            "truncated",
	ReasonTooLarge:             "too_large",
	ReasonIdleTimeout:          "idle_timeout",
	ReasonBadGzip:              "bad_gzip",
	ReasonUnsupportedMediaType: "unsupported_media_type",
	ReasonUnauthorized:         "unauthorized",
	ReasonEmptyBody:            "empty_body",
	ReasonMsgCountMismatch:     "msg_count_mismatch",
	ReasonBackpressure:         "backpressure",
	ReasonClosed:               "closed",
	ReasonLatin1:               "latin1_converted",
	ReasonDefaultApp:           "default_app",
	ReasonKernelDrop:           "kernel_drop",
	ReasonFrameTimeout:         "frame_timeout",

	ReasonTooManyConnections:      "too_many_connections",
	ReasonTooManyConnectionsPerIP: "too_many_connections_per_ip",

	ReasonMissingApp: "missing_app",
	ReasonRateLimit:  "rate_limit",

	ReasonMemoryBudget: "memory_budget",
}

// String is the label value; "" for ReasonNone.
func (r Reason) String() string {
	if r >= NumReasons {
		return "unknown"
	}
	return reasonNames[r]
}

// Ingest counts what the listeners accept and reject.
type Ingest struct {
	// Messages counts messages handed to the router, by transport.
	Messages *prometheus.CounterVec // labels: transport
	// Rejected counts messages (or frames, or requests where no message
	// could be read) refused, by transport and reason. Reasons are short
	// snake_case words: malformed (including an APP-NAME that is not a
	// valid app name), bad_octet_count, invalid_utf8, unknown_token,
	// forbidden_app, truncated (the message was kept but cut), too_large,
	// idle_timeout, bad_gzip, unsupported_media_type, unauthorized,
	// empty_body, msg_count_mismatch, backpressure, closed. A line or frame
	// counts once; an HTTP request refused as a whole counts once.
	// Syslog also counts here what it kept but altered or could not see:
	// latin1_converted (bytes that were not UTF-8 read as Latin-1),
	// default_app (no app in the message: SYSLOG_DEFAULT_APP), frame_timeout
	// (a connection that did not finish a frame in time), and, for UDP,
	// kernel_drop (datagrams the kernel dropped, its SO_RXQ_OVFL count).
	// Connections refused at accept count once each, by listener
	// (transport http for PORT): too_many_connections (MAX_CONNECTIONS),
	// too_many_connections_per_ip (MAX_CONNECTIONS_PER_IP).
	// OTLP counts missing_app: records whose resource names no app.
	// The router counts rate_limit (APP_RATE_LIMIT) under transport
	// "router".
	Rejected *prometheus.CounterVec // labels: transport, reason
	// Connections is the number of open syslog TCP connections.
	Connections prometheus.Gauge
}

// RejectedCounters resolves the Rejected counters of transport for the
// reasons a source can count, once, so its hot path needs no label lookup.
// Only those series are created (a scrape shows them at 0); the others are
// nil.
func (m *Ingest) RejectedCounters(transport string, reasons ...Reason) [NumReasons]prometheus.Counter {
	var out [NumReasons]prometheus.Counter
	for _, r := range reasons {
		if r != ReasonNone && r < NumReasons {
			out[r] = m.Rejected.WithLabelValues(transport, r.String())
		}
	}
	return out
}

// NewIngest creates the ingest collectors and registers them on reg (which
// may be nil in tests that do not scrape).
func NewIngest(reg prometheus.Registerer) *Ingest {
	m := &Ingest{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_ingest_messages_total",
			Help: "Messages accepted by ingest and handed to the router, by transport.",
		}, []string{"transport"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_ingest_rejected_total",
			Help: "Messages, frames or requests rejected or altered by ingest, by transport and reason.",
		}, []string{"transport", "reason"}),
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_ingest_tcp_connections",
			Help: "Open syslog TCP connections.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Messages, m.Rejected, m.Connections)
	}
	return m
}

package metrics

import "github.com/prometheus/client_golang/prometheus"

// Transport label values of the ingest metrics.
const (
	SyslogTCP = "syslog_tcp"
	SyslogUDP = "syslog_udp"
	SyslogTLS = "syslog_tls"
	HTTP      = "http"
	OTLPHTTP  = "otlp_http"
)

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
	Rejected *prometheus.CounterVec // labels: transport, reason
	// Connections is the number of open syslog TCP connections.
	Connections prometheus.Gauge
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

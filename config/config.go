package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "time/tzdata" // SYSLOG_TIMEZONE works on hosts without a zone database

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/ingest/otlp"
)

// Config is every setting of sluiced.
type Config struct {
	Port          int    // PORT
	SyslogTCPAddr string // SYSLOG_TCP_ADDR; "" turns the listener off
	SyslogUDPAddr string // SYSLOG_UDP_ADDR; "" turns the listener off
	SyslogTLSAddr string // SYSLOG_TLS_ADDR; "" (default) is off
	TLSCertFile   string // TLS_CERT_FILE
	TLSKeyFile    string // TLS_KEY_FILE
	// TLSCert is the loaded TLS_CERT_FILE/TLS_KEY_FILE pair, nil unless
	// SYSLOG_TLS_ADDR is set.
	TLSCert         *tls.Certificate
	SyslogIdle      time.Duration // SYSLOG_IDLE_TIMEOUT
	MaxBodyBytes    int64         // MAX_BODY_BYTES
	MaxMessageBytes int           // MAX_MESSAGE_BYTES
	BufferLines     int           // BUFFER_LINES
	BufferBytes     int64         // BUFFER_BYTES
	MemoryLimit     int64         // MEMORY_LIMIT
	TailBuffer      int           // TAIL_BUFFER
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT
	LogLevel        string        // LOG_LEVEL
	PprofAddr       string        // PPROF_ADDR; "" is off
	Tokens          *auth.Tokens  // TOKENS and ADMIN_TOKEN

	// Syslog dialects and UDP (issue 9).
	SyslogTimezone   *time.Location // SYSLOG_TIMEZONE
	SyslogDefaultApp string         // SYSLOG_DEFAULT_APP
	SyslogUDPRcvbuf  int            // SYSLOG_UDP_RCVBUF

	// OTLP/HTTP logs ingest (POST /v1/logs).
	OTLPAppAttribute string // OTLP_APP_ATTRIBUTE
	OTLPMaxRecords   int    // OTLP_MAX_RECORDS

	// Drains holds the DRAIN_<NAME> variables: name (lower case) to URL.
	// The drains package parses and validates the URLs.
	Drains map[string]string

	// Tails (read path).
	TailBufferBytes int64 // TAIL_BUFFER_BYTES
	MaxTails        int   // MAX_TAILS
	MaxTailsPerApp  int   // MAX_TAILS_PER_APP

	// Listener hardening (issue 10): connection caps, HTTP deadlines, HTTPS.
	HTTPHost            string        // HTTP_HOST; "" is every interface
	MaxConnections      int           // MAX_CONNECTIONS, per listener
	MaxConnectionsPerIP int           // MAX_CONNECTIONS_PER_IP, per listener
	HTTPHeaderTimeout   time.Duration // HTTP_HEADER_TIMEOUT
	HTTPBodyMinRate     int64         // HTTP_BODY_MIN_RATE, bytes per second
	HTTPIdleTimeout     time.Duration // HTTP_IDLE_TIMEOUT
	HTTPTLSCertFile     string        // HTTP_TLS_CERT_FILE
	HTTPTLSKeyFile      string        // HTTP_TLS_KEY_FILE
	HTTPTLSClientCAFile string        // HTTP_TLS_CLIENT_CA_FILE
	// HTTPTLS is PORT's TLS configuration made from the three files above,
	// nil when PORT serves plain HTTP.
	HTTPTLS *tls.Config

	// Cluster mode on Kafka (issue 12); see cluster.go.
	Cluster Cluster
	// Per-app rate limit (issue 10).
	AppRateLimit int // APP_RATE_LIMIT: messages/s per app; 0 is off
	AppRateBurst int // APP_RATE_BURST: 0 means AppRateLimit

	// Memory budget (issue 10; README "Memory").
	MaxInflightBodyBytes int64 // MAX_INFLIGHT_BODY_BYTES
}

// Var describes one environment variable.
type Var struct {
	Name    string
	Default string
	Help    string
}

// Vars is the documented configuration, in README order.
var Vars = []Var{
	{"PORT", "8080", "HTTP port: POST /logs, GET /apps/{app}/logs, /healthz, /metrics, /drains."},
	{"SYSLOG_TCP_ADDR", ":5514", "Syslog TCP listen address (RFC 6587 octet-counted or LF framing, RFC 5424/3164). Empty turns it off."},
	{"SYSLOG_UDP_ADDR", ":5514", "Syslog UDP listen address (one message per datagram). Empty turns it off."},
	{"SYSLOG_TLS_ADDR", "", "Syslog over TLS listen address (RFC 5425, e.g. :6514; same framings as TCP). Needs TLS_CERT_FILE and TLS_KEY_FILE."},
	{"TLS_CERT_FILE", "", "PEM certificate (chain) of the syslog TLS listener."},
	{"TLS_KEY_FILE", "", "PEM private key of the syslog TLS listener."},
	{"SYSLOG_IDLE_TIMEOUT", "5m", "A syslog TCP connection that sends nothing for this long is closed and counted (reason idle_timeout); so is one that takes this long to finish a frame it started (a trickle; reason frame_timeout)."},
	// Listener hardening (issue 10).
	{"HTTP_HOST", "", "Address PORT binds (e.g. 127.0.0.1); empty is every interface."},
	{"MAX_CONNECTIONS", "10000", "Open connections each listener (PORT, syslog TCP, syslog TLS) accepts; more are closed at once and counted (reason too_many_connections)."},
	{"MAX_CONNECTIONS_PER_IP", "1000", "Open connections per client address (an IPv4 address or an IPv6 /64) per listener; more are closed at once and counted (reason too_many_connections_per_ip)."},
	{"HTTP_HEADER_TIMEOUT", "10s", "Time an HTTP request's headers must arrive in, from its first byte (or the connection's opening); also the grace before HTTP_BODY_MIN_RATE applies. A trickle does not extend it."},
	{"HTTP_BODY_MIN_RATE", "64KiB", "Slowest average rate (bytes per second) an HTTP body may arrive at: the body must be complete HTTP_HEADER_TIMEOUT + length / rate after the headers (MAX_BODY_BYTES stands for the length of a chunked body)."},
	{"HTTP_IDLE_TIMEOUT", "2m", "An HTTP keep-alive connection waiting this long for its next request is closed."},
	{"HTTP_TLS_CERT_FILE", "", "PEM certificate (chain): PORT serves HTTPS. Needs HTTP_TLS_KEY_FILE. (TLS_CERT_FILE is the syslog TLS listener's.)"},
	{"HTTP_TLS_KEY_FILE", "", "PEM private key of HTTPS on PORT."},
	{"HTTP_TLS_CLIENT_CA_FILE", "", "PEM CA certificate(s): HTTPS on PORT then requires a client certificate signed by one of them."},
	{"MAX_BODY_BYTES", FormatSize(ingest.DefaultMaxBodyBytes), "Largest HTTP ingest body, after gzip decompression; larger bodies get 413."},
	{"MAX_MESSAGE_BYTES", FormatSize(sluice.DefaultMaxMessageBytes), "Longest message text (the MSG, not the header); longer ones are truncated to it and counted (reason truncated). A syslog frame may be 8KiB longer for its header and structured data."},
	// OTLP/HTTP logs ingest.
	{"OTLP_APP_ATTRIBUTE", "service.name", "Resource attribute that names the app of OTLP log records (POST /v1/logs); with TOKENS the token's app wins and a different value gets 403."},
	{"OTLP_MAX_RECORDS", strconv.Itoa(otlp.DefaultMaxRecords), "Most log records in one OTLP request; a request with more gets 413 (reason too_large) before it is decoded (a body of tiny records decodes into ~100x its size)."},
	{"BUFFER_LINES", strconv.Itoa(buffer.DefaultLines), "Lines kept per app in its ring (what `sluice logs` reads)."},
	{"BUFFER_BYTES", FormatSize(buffer.DefaultBytesPerApp), "Bytes kept per app in its ring."},
	{"MEMORY_LIMIT", FormatSize(buffer.DefaultMemoryLimit), "Bytes kept in all rings together; the oldest lines of the least recently written apps go first."},
	{"TAIL_BUFFER", strconv.Itoa(buffer.DefaultTailBuffer), "Lines a tail client may fall behind the app's newest line; further behind it is sent an L11 line and the stream ends."},
	{"TAIL_BUFFER_BYTES", FormatSize(buffer.DefaultTailBufferBytes), "Bytes a tail client may fall behind, likewise."},
	{"MAX_TAILS", strconv.Itoa(buffer.DefaultMaxTails), "Open tails (`tail=1` reads) in all; more get 429 with Retry-After."},
	{"MAX_TAILS_PER_APP", strconv.Itoa(buffer.DefaultMaxTailsPerApp), "Open tails per app; more get 429 with Retry-After."},
	// Memory budget (README "Memory").
	{"MAX_INFLIGHT_BODY_BYTES", "32MiB", "Memory all HTTP and OTLP ingest requests in flight hold together (bodies as read and decompressed, decoded messages); one that would go over gets 503 with Retry-After, one that never fits 413. Reserved out of the memory budget, MEMORY_LIMIT × 1.5 + 64MiB."},
	{"SHUTDOWN_TIMEOUT", "10s", "On SIGTERM, how long to finish in-flight frames and flush drains before exiting."},
	{"LOG_LEVEL", "info", "Level of sluiced's own JSON logs on stdout: debug, info, warn, error."},
	{"PPROF_ADDR", "", "When set (e.g. 127.0.0.1:6060), serve Go's net/http/pprof profiles there. Keep it on loopback."},
	{"SYSLOG_TIMEZONE", "UTC", "IANA time zone (e.g. Europe/Berlin) of syslog timestamps that carry no UTC offset (RFC 3164)."},
	{"SYSLOG_DEFAULT_APP", "syslog", "App of a syslog message that names none (RFC 3164 TAG missing, empty or digits only); counted (reason default_app). Not used with TOKENS."},
	{"SYSLOG_UDP_RCVBUF", "8MiB", "Receive buffer (SO_RCVBUF) of the syslog UDP socket; the kernel may cap it (see net.core.rmem_max; sluiced logs the size it got)."},
	{"TOKENS", "", "Per-app tokens, token=app[:source],… When set, every ingest and read is authenticated."},
	{"ADMIN_TOKEN", "", "A token that may read every app."},
	// Cluster mode on Kafka (issue 12).
	{"BUS_URL", "", "Cluster mode: kafka://host:port[,host:port…]/topic (options compression=, acks=all|one, partitions=N for a topic sluiced creates, default 64; timeout=D, how long ingest waits for the brokers before answering 429, default 30s; tls=1; SASL/PLAIN from user:pass@). Unset: one process, no bus."},
	{"ROLE", "all", "Cluster mode: all (ingest, rings, drains), ingest (sources publish to the bus; no rings or drains) or router (consumes the bus: rings, drains, reads; no sources)."},
	{"ADVERTISE_URL", "", "Cluster mode: how other sluiced processes reach this one's HTTP port (default http://<hostname>:$PORT); carried in the Kafka consumer group."},
	{"BUS_GROUP", "sluice", "Cluster mode: the Kafka consumer group of the router processes."},
	{"CLUSTER_SECRET", "", "Cluster mode: shared secret that proves a proxied read comes from a member (HMAC); required when a process proxies reads."},
	{"BUS_REPLAY", "15m", "Cluster mode: look-back of the ring rebuild when this process takes over a partition (BUFFER_LINES per app at most)."},
	// Per-app rate limit (issue 10).
	{"APP_RATE_LIMIT", "0", "Messages per second each app may send (all transports together); the excess is dropped, counted (sluice_ingest_rejected_total{transport=\"router\",reason=\"rate_limit\"}) and reported in the app's stream as an L15 line within a second. 0 turns it off."},
	{"APP_RATE_BURST", "", "Messages an app that has been quiet may send at once above APP_RATE_LIMIT; empty means APP_RATE_LIMIT."},
	{"DRAIN_<NAME>", "", "A drain URL (http, https, kafka, elasticsearch, syslog, syslog+tls, udpsyslog); one variable per drain."},
}

// Load reads the configuration from environ (os.Environ() form). It
// returns every problem found, joined.
func Load(environ []string) (Config, error) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	get := func(name string) string {
		if v, ok := env[name]; ok {
			return v
		}
		for _, d := range Vars {
			if d.Name == name {
				return d.Default
			}
		}
		return ""
	}
	var errs []error
	bad := func(name, val, why string) {
		errs = append(errs, fmt.Errorf("%s %q: %s", name, val, why))
	}
	var c Config

	if v := get("PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			bad("PORT", v, "want a port number 0-65535")
		}
		c.Port = p
	} else {
		bad("PORT", v, "must not be empty")
	}
	addr := func(name string) string {
		v := get(name)
		if v == "" {
			return ""
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			bad(name, v, "want host:port or :port")
			return v
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad(name, v, "invalid port")
		}
		_ = host
		return v
	}
	c.SyslogTCPAddr = addr("SYSLOG_TCP_ADDR")
	c.SyslogUDPAddr = addr("SYSLOG_UDP_ADDR")
	c.PprofAddr = addr("PPROF_ADDR")
	c.SyslogTLSAddr = addr("SYSLOG_TLS_ADDR")
	c.TLSCertFile, c.TLSKeyFile = get("TLS_CERT_FILE"), get("TLS_KEY_FILE")
	switch {
	case c.SyslogTLSAddr == "":
	case c.TLSCertFile == "" || c.TLSKeyFile == "":
		bad("SYSLOG_TLS_ADDR", c.SyslogTLSAddr, "needs TLS_CERT_FILE and TLS_KEY_FILE")
	default:
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			bad("TLS_CERT_FILE", c.TLSCertFile, "cannot load it with TLS_KEY_FILE: "+err.Error())
		} else {
			c.TLSCert = &cert
		}
	}

	dur := func(name string, min time.Duration) time.Duration {
		v := get(name)
		d, err := time.ParseDuration(v)
		if err != nil {
			bad(name, v, "want a duration such as 500ms, 10s or 5m")
			return 0
		}
		if d < min {
			bad(name, v, fmt.Sprintf("must be at least %s", min))
		}
		return d
	}
	c.SyslogIdle = dur("SYSLOG_IDLE_TIMEOUT", time.Millisecond)
	c.ShutdownTimeout = dur("SHUTDOWN_TIMEOUT", 0)

	size := func(name string, min, max int64) int64 {
		v := get(name)
		n, err := ParseSize(v)
		if err != nil {
			bad(name, v, err.Error())
			return 0
		}
		if n < min || n > max {
			bad(name, v, fmt.Sprintf("must be between %d and %d bytes", min, max))
		}
		return n
	}
	c.MaxBodyBytes = size("MAX_BODY_BYTES", 1024, 1<<30)
	c.MaxMessageBytes = int(size("MAX_MESSAGE_BYTES", 128, 16<<20))
	c.BufferBytes = size("BUFFER_BYTES", 1024, 2<<30)
	c.MemoryLimit = size("MEMORY_LIMIT", 64<<10, 1<<42)

	count := func(name string, min, max int) int {
		v := get(name)
		n, err := strconv.Atoi(v)
		if err != nil {
			bad(name, v, "want a whole number")
			return 0
		}
		if n < min || n > max {
			bad(name, v, fmt.Sprintf("must be between %d and %d", min, max))
		}
		return n
	}
	c.BufferLines = count("BUFFER_LINES", 1, 10_000_000)
	c.TailBuffer = count("TAIL_BUFFER", 1, 10_000_000)
	c.TailBufferBytes = size("TAIL_BUFFER_BYTES", 1024, 1<<31)
	c.MaxTails = count("MAX_TAILS", 1, 1_000_000)
	c.MaxTailsPerApp = count("MAX_TAILS_PER_APP", 1, 1_000_000)

	loadHardening(&c, get, bad, dur, count, size)

	// Memory budget.
	c.MaxInflightBodyBytes = size("MAX_INFLIGHT_BODY_BYTES", 1<<20, 1<<40)

	// Syslog dialects and UDP (issue 9).
	if v := get("SYSLOG_TIMEZONE"); v == "" || v == "UTC" {
		c.SyslogTimezone = time.UTC
	} else if loc, err := time.LoadLocation(v); err != nil || v == "Local" {
		bad("SYSLOG_TIMEZONE", v, "want an IANA time zone name such as UTC or Europe/Berlin")
	} else {
		c.SyslogTimezone = loc
	}
	c.SyslogDefaultApp = get("SYSLOG_DEFAULT_APP")
	if !auth.ValidName(c.SyslogDefaultApp) {
		bad("SYSLOG_DEFAULT_APP", c.SyslogDefaultApp, "want a valid app name")
	}
	c.SyslogUDPRcvbuf = int(size("SYSLOG_UDP_RCVBUF", 0, 1<<30))

	// OTLP/HTTP logs ingest.
	c.OTLPAppAttribute = strings.TrimSpace(get("OTLP_APP_ATTRIBUTE"))
	if c.OTLPAppAttribute == "" {
		bad("OTLP_APP_ATTRIBUTE", get("OTLP_APP_ATTRIBUTE"), "must name a resource attribute")
	}
	c.OTLPMaxRecords = count("OTLP_MAX_RECORDS", 1, 10_000_000)

	// Per-app rate limit (issue 10).
	c.AppRateLimit = count("APP_RATE_LIMIT", 0, 1_000_000_000)
	if v := get("APP_RATE_BURST"); v != "" {
		c.AppRateBurst = count("APP_RATE_BURST", 1, 1_000_000_000)
		if c.AppRateLimit == 0 {
			bad("APP_RATE_BURST", v, "needs APP_RATE_LIMIT")
		}
	}

	c.LogLevel = strings.ToLower(get("LOG_LEVEL"))
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", get("LOG_LEVEL"), "want debug, info, warn or error")
	}

	toks, err := auth.Parse(get("TOKENS"), get("ADMIN_TOKEN"))
	if err != nil {
		errs = append(errs, err)
	}
	c.Tokens = toks

	c.Cluster, errs = loadCluster(get, c.Port, errs)

	c.Drains = make(map[string]string)
	for k, v := range env {
		name, ok := strings.CutPrefix(k, "DRAIN_")
		if !ok {
			continue
		}
		if name == "" || strings.Trim(strings.ToUpper(name), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			errs = append(errs, fmt.Errorf("%s: drain names use letters, digits and _ only", k))
			continue
		}
		c.Drains[strings.ToLower(name)] = v
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return c, errors.Join(errs...)
}

// DrainNames returns the configured drain names in sorted order.
func (c *Config) DrainNames() []string {
	names := make([]string, 0, len(c.Drains))
	for n := range c.Drains {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

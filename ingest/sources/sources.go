package sources

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/ingest/httpin"
	"github.com/sluice-logs/sluice/ingest/otlp"
	"github.com/sluice-logs/sluice/ingest/syslog"
	"github.com/sluice-logs/sluice/metrics"
)

// Kind is a kind of source; its value is the source's Name (the transport
// label of the ingest metrics).
type Kind string

// The kinds of source.
const (
	SyslogTCP Kind = metrics.SyslogTCP // ingest.Listener
	SyslogUDP Kind = metrics.SyslogUDP // ingest.Listener
	SyslogTLS Kind = metrics.SyslogTLS // ingest.Listener
	HTTP      Kind = metrics.HTTP      // ingest.Mounted at /logs
	OTLPHTTP  Kind = metrics.OTLPHTTP  // ingest.Mounted at /v1/logs
)

// Spec is one source to build.
type Spec struct {
	Kind Kind
	// Var is the variable that turned the source on (SYSLOG_TCP_ADDR), for
	// errors; PORT for a mounted source.
	Var string
	// Addr is the listen address of a Listener, "" for a mounted source.
	Addr string
	// Limits, from the configuration.
	MaxMessageBytes int
	MaxBodyBytes    int64         // HTTP
	IdleTimeout     time.Duration // TCP and TLS
	TLS             *tls.Config   // TLS
	// Syslog dialects (syslog and logplex-1 bodies) and UDP.
	Timezone      *time.Location // of timestamps without an offset; nil is UTC
	DefaultApp    string         // app of a message that names none
	UDPReadBuffer int            // SO_RCVBUF of the UDP socket (syslog.Config.UDPReadBuffer)
	AppAttribute  string         // OTLP: the resource attribute that names the app
	MaxRecords    int            // OTLP: the most log records in one request
	// Connection caps of a TCP or TLS listener (MAX_CONNECTIONS,
	// MAX_CONNECTIONS_PER_IP).
	MaxConnections, MaxConnectionsPerIP int
}

// Specs lists the sources cfg turns on, in start order: syslog TCP, UDP
// and TLS (each when its address is set), then HTTP POST /logs (always; it
// is served on PORT).
func Specs(cfg config.Config) []Spec {
	base := Spec{
		MaxConnections:      cfg.MaxConnections,
		MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
		MaxMessageBytes:     cfg.MaxMessageBytes,
		Timezone:            cfg.SyslogTimezone,
		DefaultApp:          cfg.SyslogDefaultApp,
	}
	var out []Spec
	add := func(k Kind, envVar, addr string) *Spec {
		s := base
		s.Kind, s.Var, s.Addr = k, envVar, addr
		out = append(out, s)
		return &out[len(out)-1]
	}
	if cfg.SyslogTCPAddr != "" {
		add(SyslogTCP, "SYSLOG_TCP_ADDR", cfg.SyslogTCPAddr).IdleTimeout = cfg.SyslogIdle
	}
	if cfg.SyslogUDPAddr != "" {
		add(SyslogUDP, "SYSLOG_UDP_ADDR", cfg.SyslogUDPAddr).UDPReadBuffer = cfg.SyslogUDPRcvbuf
	}
	if cfg.SyslogTLSAddr != "" {
		s := add(SyslogTLS, "SYSLOG_TLS_ADDR", cfg.SyslogTLSAddr)
		s.IdleTimeout = cfg.SyslogIdle
		if cfg.TLSCert != nil {
			s.TLS = &tls.Config{Certificates: []tls.Certificate{*cfg.TLSCert}, MinVersion: tls.VersionTLS12}
		}
	}
	add(HTTP, "PORT", "").MaxBodyBytes = cfg.MaxBodyBytes
	otlpSpec := add(OTLPHTTP, "PORT", "")
	otlpSpec.MaxBodyBytes, otlpSpec.AppAttribute = cfg.MaxBodyBytes, cfg.OTLPAppAttribute
	otlpSpec.MaxRecords = cfg.OTLPMaxRecords
	return out
}

// New builds the source of spec around deps.
func New(spec Spec, deps ingest.Deps) (ingest.Source, error) {
	if deps.Publisher == nil {
		return nil, fmt.Errorf("source %s: no Publisher", spec.Kind)
	}
	log := func(listener string) *slog.Logger {
		if deps.Logger == nil {
			return nil
		}
		return deps.Logger.With("listener", listener)
	}
	switch spec.Kind {
	case SyslogTCP, SyslogUDP, SyslogTLS:
		c := syslog.Config{
			Addr:            spec.Addr,
			MaxMessageBytes: spec.MaxMessageBytes,
			IdleTimeout:     spec.IdleTimeout,
			Tokens:          deps.Tokens,
			Publisher:       deps.Publisher,
			Metrics:         deps.Metrics,
			Logger:          log("syslog"),
			Timezone:        spec.Timezone,
			DefaultApp:      spec.DefaultApp,
			UDPReadBuffer:   spec.UDPReadBuffer,

			MaxConnections:      spec.MaxConnections,
			MaxConnectionsPerIP: spec.MaxConnectionsPerIP,
		}
		switch spec.Kind {
		case SyslogUDP:
			return syslog.NewUDP(c), nil
		case SyslogTLS:
			if spec.TLS == nil {
				return nil, fmt.Errorf("source %s (%s %q): no TLS certificate", spec.Kind, spec.Var, spec.Addr)
			}
			c.TLS = spec.TLS
		}
		return syslog.NewTCP(c), nil
	case HTTP:
		return httpin.New(httpin.Config{
			Publisher:       deps.Publisher,
			Tokens:          deps.Tokens,
			Metrics:         deps.Metrics,
			MaxBodyBytes:    spec.MaxBodyBytes,
			MaxMessageBytes: spec.MaxMessageBytes,
			Logger:          log("http"),
			Timezone:        spec.Timezone,
			DefaultApp:      spec.DefaultApp,
			Bodies:          deps.Bodies,
		}), nil
	case OTLPHTTP:
		return otlp.New(otlp.Config{
			Publisher:       deps.Publisher,
			Tokens:          deps.Tokens,
			Metrics:         deps.Metrics,
			MaxBodyBytes:    spec.MaxBodyBytes,
			MaxMessageBytes: spec.MaxMessageBytes,
			AppAttribute:    spec.AppAttribute,
			MaxRecords:      spec.MaxRecords,
			Logger:          log(string(OTLPHTTP)),
			Bodies:          deps.Bodies,
		}), nil
	}
	return nil, fmt.Errorf("source %q: unknown kind", spec.Kind)
}

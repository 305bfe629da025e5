package syslog

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/testcert"
	"github.com/sluice-logs/sluice/metrics"
)

// TestConnectionCaps: past MaxConnectionsPerIP from one address, or
// MaxConnections in all, a TCP or TLS connection is closed at accept
// (before a TLS handshake) and counted; other addresses are still served,
// and a closed connection frees its place.
func TestConnectionCaps(t *testing.T) {
	ca := testcert.NewCA(t, "caps")
	leaf := ca.Server(t)
	for _, c := range []struct {
		name      string
		transport string
		tls       *tls.Config
	}{
		{"tcp", metrics.SyslogTCP, nil},
		{"tls", metrics.SyslogTLS, leaf.ServerConfig()},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			cfg, m := testConfig(rec)
			cfg.TLS, cfg.MaxConnections, cfg.MaxConnectionsPerIP = c.tls, 4, 2
			addr := start(t, NewTCP(cfg)).String()
			dial := func(from string) net.Conn {
				t.Helper()
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
				conn, err := d.DialContext(t.Context(), "tcp", addr)
				if err != nil {
					t.Fatalf("dial from %s: %v", from, err)
				}
				t.Cleanup(func() { conn.Close() })
				return conn
			}
			refusedAtOnce := func(conn net.Conn) bool {
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := io.ReadAll(conn) // nil (EOF) or a reset: closed by the server
				var ne net.Error
				return !errors.As(err, &ne) || !ne.Timeout()
			}
			a1, _ := dial("127.0.0.2"), dial("127.0.0.2")
			waitFor(t, "2 connections", func() bool { return value(m.Connections) == 2 })
			if !refusedAtOnce(dial("127.0.0.2")) {
				t.Fatal("a third connection from 127.0.0.2 was kept")
			}
			waitFor(t, "per-IP refusal counted", func() bool { return rejected(m, c.transport, "too_many_connections_per_ip") == 1 })
			dial("127.0.0.3")
			dial("127.0.0.4")
			waitFor(t, "4 connections", func() bool { return value(m.Connections) == 4 })
			if !refusedAtOnce(dial("127.0.0.5")) {
				t.Fatal("a fifth connection was kept")
			}
			waitFor(t, "total refusal counted", func() bool { return rejected(m, c.transport, "too_many_connections") == 1 })
			a1.Close()
			waitFor(t, "a place freed", func() bool { return value(m.Connections) == 3 })
			// 127.0.0.2 may connect again, and is served.
			conn := dial("127.0.0.2")
			if c.tls != nil {
				conn = tls.Client(conn, ca.ClientConfig())
			}
			if _, err := io.WriteString(conn, octetFrame(msg("web", "after the cap"))); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the message", func() bool { return len(rec.texts()) == 1 })
		})
	}
}

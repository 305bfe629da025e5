package syslog

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/ingest/sourcetest"
	"github.com/sluice-logs/sluice/internal/testcert"
)

func sourceConfig(deps ingest.Deps) Config {
	return Config{Addr: "127.0.0.1:0", Publisher: deps.Publisher, Metrics: deps.Metrics, Logger: deps.Logger}
}

// streamHarness is the suite's harness for a TCP or TLS server. Send writes
// on one client connection per source, which stays open until the test
// ends, so Shutdown must read what the socket holds rather than wait for
// EOF.
func streamHarness(newSrv func(ingest.Deps) ingest.Source, dial func(t *testing.T, addr string) net.Conn) sourcetest.Harness {
	conns := make(map[string]net.Conn) // one client connection per source
	return sourcetest.Harness{
		New: func(t *testing.T, deps ingest.Deps) ingest.Source { return newSrv(deps) },
		Send: func(t *testing.T, addr string, msgs []sluice.Message) {
			c, ok := conns[addr]
			if !ok {
				c = dial(t, addr)
				conns[addr] = c
			}
			var b []byte
			for _, m := range msgs {
				b = append(b, octetFrame(msg(m.App, m.Text))...)
			}
			if _, err := c.Write(b); err != nil {
				t.Fatalf("write: %v", err)
			}
		},
		SendBad: func(t *testing.T, addr string) string {
			if _, err := dial(t, addr).Write([]byte(msg("a/b", "x") + "\n")); err != nil { // not a valid app name
				t.Fatalf("write: %v", err)
			}
			return "malformed"
		},
		Dial:    dial,
		Partial: []byte(octetFrame(msg("web", "trickled"))),
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTCPConformance(t *testing.T) {
	sourcetest.Run(t, streamHarness(func(deps ingest.Deps) ingest.Source { return NewTCP(sourceConfig(deps)) }, dialTCP))
}

func TestTLSConformance(t *testing.T) {
	ca := testcert.NewCA(t, "syslog conformance")
	leaf := ca.Server(t)
	dial := func(t *testing.T, addr string) net.Conn {
		t.Helper()
		d := &tls.Dialer{Config: ca.ClientConfig()}
		c, err := d.DialContext(t.Context(), "tcp", addr)
		if err != nil {
			t.Fatalf("dial tls: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sourcetest.Run(t, streamHarness(func(deps ingest.Deps) ingest.Source {
		c := sourceConfig(deps)
		c.TLS = leaf.ServerConfig()
		return NewTCP(c)
	}, dial))
}

func TestUDPConformance(t *testing.T) {
	send := func(t *testing.T, addr string, datagrams ...string) {
		c, err := (&net.Dialer{}).DialContext(t.Context(), "udp", addr)
		if err != nil {
			t.Fatalf("dial udp: %v", err)
		}
		defer c.Close()
		for _, d := range datagrams {
			if _, err := c.Write([]byte(d)); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
	}
	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T, deps ingest.Deps) ingest.Source { return NewUDP(sourceConfig(deps)) },
		Send: func(t *testing.T, addr string, msgs []sluice.Message) {
			var ds []string
			for _, m := range msgs {
				ds = append(ds, msg(m.App, m.Text))
			}
			send(t, addr, ds...)
		},
		SendBad: func(t *testing.T, addr string) string {
			send(t, addr, msg("a/b", "x")) // not a valid app name
			return "malformed"
		},
	})
}

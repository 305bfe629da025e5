package syslog

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/ingest/sourcetest"
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
	cert, pool := testCert(t)
	dial := func(t *testing.T, addr string) net.Conn {
		t.Helper()
		d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
		c, err := d.DialContext(t.Context(), "tcp", addr)
		if err != nil {
			t.Fatalf("dial tls: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sourcetest.Run(t, streamHarness(func(deps ingest.Deps) ingest.Source {
		c := sourceConfig(deps)
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
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

// testCert makes a self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sluice test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

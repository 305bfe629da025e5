package syslogdrain_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/sluice-logs/sluice/internal/testcert"
)

// testPKI is a CA and a server certificate for 127.0.0.1 made for one
// test, also written as PEM files for rsyslog.
type testPKI struct {
	pool                      *x509.CertPool // trusts the CA
	server                    tls.Certificate
	caFile, certFile, keyFile string
}

func newPKI(t testing.TB, name string) testPKI {
	t.Helper()
	ca := testcert.NewCA(t, name)
	leaf := ca.Server(t)
	p := testPKI{pool: ca.Pool(), server: leaf.TLS, caFile: ca.WriteFile(t)}
	p.certFile, p.keyFile = leaf.WriteFiles(t)
	return p
}

// serverTLS is the receiver's TLS configuration.
func (p testPKI) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
}

// clientTLS is the drain's: it trusts this CA only.
func (p testPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
}

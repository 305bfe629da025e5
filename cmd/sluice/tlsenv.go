package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// clientTLS is the TLS configuration of sluice's connections to the
// router (https:// and syslog+tls://), from the environment:
// SLUICE_CA_FILE adds PEM CA certificates to the system roots (for a
// router whose certificate a private CA signed), SLUICE_CERT_FILE and
// SLUICE_KEY_FILE are a client certificate (for a router with
// HTTP_TLS_CLIENT_CA_FILE). nil when none is set: the defaults.
func clientTLS(getenv func(string) string) (*tls.Config, error) {
	caFile, certFile, keyFile := getenv("SLUICE_CA_FILE"), getenv("SLUICE_CERT_FILE"), getenv("SLUICE_KEY_FILE")
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, usageErrorf("SLUICE_CA_FILE: %v", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("SLUICE_CA_FILE %q: no PEM certificate in it", caFile)
		}
		c.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, usageErrorf("SLUICE_CERT_FILE and SLUICE_KEY_FILE go together")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, usageErrorf("SLUICE_CERT_FILE %q: %v", certFile, fmt.Errorf("load with SLUICE_KEY_FILE: %w", err))
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

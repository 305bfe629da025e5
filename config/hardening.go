package config

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"time"
)

// loadHardening reads the listener hardening variables of issue 10: the
// connection caps, the HTTP deadlines, the address PORT binds and HTTPS on
// PORT. get, bad and the parsers are Load's.
func loadHardening(c *Config, get func(string) string, bad func(name, val, why string),
	dur func(string, time.Duration) time.Duration, count func(string, int, int) int, size func(string, int64, int64) int64,
) {
	c.HTTPHost = get("HTTP_HOST")
	if c.HTTPHost != "" && net.ParseIP(c.HTTPHost) == nil && c.HTTPHost != "localhost" {
		bad("HTTP_HOST", c.HTTPHost, "want an IP address such as 127.0.0.1 or ::, or empty for every interface")
	}
	c.MaxConnections = count("MAX_CONNECTIONS", 1, 10_000_000)
	c.MaxConnectionsPerIP = count("MAX_CONNECTIONS_PER_IP", 1, 10_000_000)
	c.HTTPHeaderTimeout = dur("HTTP_HEADER_TIMEOUT", 100*time.Millisecond)
	c.HTTPBodyMinRate = size("HTTP_BODY_MIN_RATE", 1, 1<<40)
	c.HTTPIdleTimeout = dur("HTTP_IDLE_TIMEOUT", 100*time.Millisecond)

	c.HTTPTLSCertFile, c.HTTPTLSKeyFile = get("HTTP_TLS_CERT_FILE"), get("HTTP_TLS_KEY_FILE")
	c.HTTPTLSClientCAFile = get("HTTP_TLS_CLIENT_CA_FILE")
	switch {
	case c.HTTPTLSCertFile == "" && c.HTTPTLSKeyFile == "":
		if c.HTTPTLSClientCAFile != "" {
			bad("HTTP_TLS_CLIENT_CA_FILE", c.HTTPTLSClientCAFile, "needs HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE")
		}
		return
	case c.HTTPTLSCertFile == "" || c.HTTPTLSKeyFile == "":
		bad("HTTP_TLS_CERT_FILE", c.HTTPTLSCertFile, "HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together")
		return
	}
	cert, err := tls.LoadX509KeyPair(c.HTTPTLSCertFile, c.HTTPTLSKeyFile)
	if err != nil {
		bad("HTTP_TLS_CERT_FILE", c.HTTPTLSCertFile, "cannot load it with HTTP_TLS_KEY_FILE: "+err.Error())
		return
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f := c.HTTPTLSClientCAFile; f != "" {
		pem, err := os.ReadFile(f)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			bad("HTTP_TLS_CLIENT_CA_FILE", f, "cannot read it: "+err.Error())
			return
		case !pool.AppendCertsFromPEM(pem):
			bad("HTTP_TLS_CLIENT_CA_FILE", f, "holds no PEM certificate")
			return
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	c.HTTPTLS = tc
}

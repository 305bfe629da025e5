package config

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/testcert"
)

func TestHardeningDefaults(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPHost != "" || c.MaxConnections != 10000 || c.MaxConnectionsPerIP != 1000 || c.HTTPHeaderTimeout != 10*time.Second ||
		c.HTTPBodyMinRate != 64<<10 || c.HTTPIdleTimeout != 2*time.Minute || c.HTTPTLS != nil {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestHardeningErrors(t *testing.T) {
	ca := testcert.NewCA(t, "config")
	cert, key := ca.Server(t).WriteFiles(t)
	caFile := ca.WriteFile(t)
	for _, c := range []struct {
		name string
		env  []string
		want string // "" is no error
	}{
		{"https", []string{"HTTP_TLS_CERT_FILE=" + cert, "HTTP_TLS_KEY_FILE=" + key}, ""},
		{"https with client CA", []string{"HTTP_TLS_CERT_FILE=" + cert, "HTTP_TLS_KEY_FILE=" + key, "HTTP_TLS_CLIENT_CA_FILE=" + caFile}, ""},
		{"cert without key", []string{"HTTP_TLS_CERT_FILE=" + cert}, "HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together"},
		{"key as cert", []string{"HTTP_TLS_CERT_FILE=" + key, "HTTP_TLS_KEY_FILE=" + key}, "cannot load it"},
		{"client CA without cert", []string{"HTTP_TLS_CLIENT_CA_FILE=" + caFile}, "needs HTTP_TLS_CERT_FILE"},
		{"client CA not PEM", []string{"HTTP_TLS_CERT_FILE=" + cert, "HTTP_TLS_KEY_FILE=" + key, "HTTP_TLS_CLIENT_CA_FILE=" + key}, "no PEM certificate"},
		{"client CA missing", []string{"HTTP_TLS_CERT_FILE=" + cert, "HTTP_TLS_KEY_FILE=" + key, "HTTP_TLS_CLIENT_CA_FILE=/nonexistent"}, "cannot read it"},
		{"bad host", []string{"HTTP_HOST=example.com:80"}, `HTTP_HOST "example.com:80"`},
		{"zero caps", []string{"MAX_CONNECTIONS=0", "MAX_CONNECTIONS_PER_IP=x"}, `MAX_CONNECTIONS "0"`},
		{"bad timeouts", []string{"HTTP_HEADER_TIMEOUT=1ms", "HTTP_IDLE_TIMEOUT=soon", "HTTP_BODY_MIN_RATE=0"}, `HTTP_HEADER_TIMEOUT "1ms"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(c.env)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case c.want == "" && cfg.HTTPTLS == nil:
				t.Fatal("no TLS configuration")
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Load: %v, want %q", err, c.want)
			}
			if strings.Contains(c.name, "client CA") && c.want == "" && cfg.HTTPTLS.ClientAuth != tls.RequireAndVerifyClientCert {
				t.Fatalf("client auth %v", cfg.HTTPTLS.ClientAuth)
			}
		})
	}
}

package testcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/testcert"
)

func TestHandshake(t *testing.T) {
	ca := testcert.NewCA(t, "handshake")
	other := testcert.NewCA(t, "other")
	cases := []struct {
		name    string
		server  testcert.Leaf
		trust   *testcert.CA
		wantErr bool
	}{
		{"trusted", ca.Server(t), ca, false},
		{"wrong CA", ca.Server(t), other, true},
		{"expired", ca.Server(t, testcert.Expired()), ca, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", tc.server.ServerConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					_ = c.(*tls.Conn).Handshake()
					c.Close()
				}
			}()
			d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: tc.trust.ClientConfig()}
			c, err := d.DialContext(t.Context(), "tcp", ln.Addr().String())
			if err == nil {
				c.Close()
			}
			var unknown x509.UnknownAuthorityError
			var invalid x509.CertificateInvalidError
			switch {
			case !tc.wantErr && err != nil:
				t.Fatalf("handshake: %v", err)
			case tc.wantErr && !errors.As(err, &unknown) && !errors.As(err, &invalid):
				t.Fatalf("handshake: got %v, want a verification error", err)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	ca := testcert.NewCA(t, "files")
	certFile, keyFile := ca.Server(t).WriteFiles(t)
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatalf("load: %v", err)
	}
	if p := x509.NewCertPool(); !p.AppendCertsFromPEM(ca.PEM()) {
		t.Fatal("CA PEM does not parse")
	}
}

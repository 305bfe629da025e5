package daemon_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
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
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestSyslogTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	r := start(t, "SYSLOG_TLS_ADDR=127.0.0.1:0", "TLS_CERT_FILE="+certFile, "TLS_KEY_FILE="+keyFile, "SYSLOG_IDLE_TIMEOUT=2s")
	addr := r.d.SyslogTLSAddr().String()

	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	if _, err := c.Write([]byte(octet("<190>1 - h tlsapp web.1 - - over tls one", "<190>1 - h tlsapp web.1 - - over tls two"))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	equal(t, r.waitLines("tlsapp", "", 2), []string{"app[web.1]: over tls one", "app[web.1]: over tls two"})
	waitFor(t, func() bool { return metric(t, r, `sluice_ingest_messages_total{transport="syslog_tls"}`) == 2 })

	// A client that speaks plain syslog to the TLS port gets nothing in,
	// and costs the others nothing.
	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write([]byte(octet("<190>1 - h tlsapp web.1 - - plaintext")))
	c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("tls dial after a plaintext client: %v", err)
	}
	c.Write([]byte(octet("<190>1 - h tlsapp web.1 - - over tls three")))
	c.Close()
	got := r.waitLines("tlsapp", "", 3)
	if got[2] != "app[web.1]: over tls three" || len(got) != 3 {
		t.Fatalf("lines %q", got)
	}
}

func TestSyslogTLSConfigErrors(t *testing.T) {
	bin := binaries(t)
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"no files", []string{"SYSLOG_TLS_ADDR=:0"}, "needs TLS_CERT_FILE and TLS_KEY_FILE"},
		{"missing file", []string{"SYSLOG_TLS_ADDR=:0", "TLS_CERT_FILE=/nonexistent.pem", "TLS_KEY_FILE=/nonexistent.key"}, `TLS_CERT_FILE "/nonexistent.pem"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runSluiced(bin, c.env, "check-config")
			if err == nil || !containsLine(out, c.want) {
				t.Fatalf("err %v, output:\n%s", err, out)
			}
		})
	}
}

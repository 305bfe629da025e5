package daemon_test

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/sluice-logs/sluice/internal/testcert"
)

func TestSyslogTLS(t *testing.T) {
	ca := testcert.NewCA(t, "syslog tls")
	certFile, keyFile := ca.Server(t).WriteFiles(t)
	pool := ca.Pool()
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

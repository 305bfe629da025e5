package daemon_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/testcert"
)

// httpsClient trusts roots and presents certs.
func httpsClient(roots *x509.CertPool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12},
	}}
}

// do sends one request and returns its status and body, or the error.
func do(c *http.Client, method, url, body string) (int, string, error) {
	req, _ := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestHTTPS: with HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE, PORT speaks
// HTTPS only; a client that trusts another CA, or meets an expired
// certificate, cannot connect.
func TestHTTPS(t *testing.T) {
	ca := testcert.NewCA(t, "https")
	other := testcert.NewCA(t, "other")
	start1 := func(t *testing.T, leaf testcert.Leaf) string {
		cert, key := leaf.WriteFiles(t)
		r := start(t, "HTTP_TLS_CERT_FILE="+cert, "HTTP_TLS_KEY_FILE="+key)
		return "https://" + r.d.HTTPAddr().String()
	}
	base := start1(t, ca.Server(t))
	good := httpsClient(ca.Pool())
	if code, body, err := do(good, "POST", base+"/logs?app=tls", "over https\n"); err != nil || code != 204 {
		t.Fatalf("POST over https: %d %q %v", code, body, err)
	}
	if code, body, err := do(good, "GET", base+"/apps/tls/logs", ""); err != nil || code != 200 || !strings.Contains(body, "over https") {
		t.Fatalf("GET over https: %d %q %v", code, body, err)
	}
	for _, c := range []struct {
		name string
		base string
		cl   *http.Client
	}{
		{"wrong CA", base, httpsClient(other.Pool())},
		{"expired certificate", start1(t, ca.Server(t, testcert.Expired())), good},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := do(c.cl, "GET", c.base+"/healthz", "")
			var unknown x509.UnknownAuthorityError
			var invalid x509.CertificateInvalidError
			if !errors.As(err, &unknown) && !errors.As(err, &invalid) {
				t.Fatalf("GET /healthz: %v, want a certificate verification error", err)
			}
		})
	}
	t.Run("plain HTTP to the HTTPS port", func(t *testing.T) {
		code, _, err := do(http.DefaultClient, "GET", "http"+strings.TrimPrefix(base, "https")+"/healthz", "")
		if err == nil && code < 400 {
			t.Fatalf("plain HTTP answered %d", code)
		}
	})
}

// TestHTTPSClientCertificates: with HTTP_TLS_CLIENT_CA_FILE, only clients
// with a valid certificate from that CA are served.
func TestHTTPSClientCertificates(t *testing.T) {
	ca := testcert.NewCA(t, "server")
	clients := testcert.NewCA(t, "clients")
	other := testcert.NewCA(t, "other")
	cert, key := ca.Server(t).WriteFiles(t)
	r := start(t, "HTTP_TLS_CERT_FILE="+cert, "HTTP_TLS_KEY_FILE="+key, "HTTP_TLS_CLIENT_CA_FILE="+clients.WriteFile(t))
	base := "https://" + r.d.HTTPAddr().String()
	for _, c := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"client certificate", []tls.Certificate{clients.Client(t, "agent").TLS}, true},
		{"no client certificate", nil, false},
		{"client certificate of another CA", []tls.Certificate{other.Client(t, "agent").TLS}, false},
		{"expired client certificate", []tls.Certificate{clients.Client(t, "agent", testcert.Expired()).TLS}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, err := do(httpsClient(ca.Pool(), c.certs...), "GET", base+"/healthz", "")
			switch {
			case c.ok && (err != nil || code != 200):
				t.Fatalf("GET /healthz: %d %q %v", code, body, err)
			case !c.ok && err == nil:
				t.Fatalf("GET /healthz answered %d without a valid client certificate", code)
			}
		})
	}
}

// TestHTTPSCLI: `sluice ship` and `sluice logs` reach an HTTPS router that
// requires client certificates, with SLUICE_CA_FILE, SLUICE_CERT_FILE and
// SLUICE_KEY_FILE; without the CA they refuse the router.
func TestHTTPSCLI(t *testing.T) {
	bin := binaries(t)
	ca := testcert.NewCA(t, "server")
	clients := testcert.NewCA(t, "clients")
	cert, key := ca.Server(t).WriteFiles(t)
	r := start(t, "HTTP_TLS_CERT_FILE="+cert, "HTTP_TLS_KEY_FILE="+key, "HTTP_TLS_CLIENT_CA_FILE="+clients.WriteFile(t))
	ccert, ckey := clients.Client(t, "cli").WriteFiles(t)
	env := append(os.Environ(), "SLUICE_URL=https://"+r.d.HTTPAddr().String(),
		"SLUICE_CA_FILE="+ca.WriteFile(t), "SLUICE_CERT_FILE="+ccert, "SLUICE_KEY_FILE="+ckey)
	run := func(env []string, stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin+"/sluice", args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	if out, err := run(env, "shipped over mtls\n", "ship", "--app", "cli"); err != nil {
		t.Fatalf("sluice ship: %v\n%s", err, out)
	}
	out, err := run(env, "", "logs", "--app", "cli")
	if err != nil || !strings.Contains(out, "shipped over mtls") {
		t.Fatalf("sluice logs: %v\n%s", err, out)
	}
	// Without SLUICE_CA_FILE the router's certificate is not trusted.
	var noCA []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SLUICE_CA_FILE=") {
			noCA = append(noCA, kv)
		}
	}
	if out, err := run(noCA, "", "logs", "--app", "cli"); err == nil || !strings.Contains(out, "certificate") {
		t.Fatalf("sluice logs without SLUICE_CA_FILE: %v\n%s", err, out)
	}
}

package syslogdrain_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains/draintest"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// rsyslog is an rsyslogd process started for one test: its own config,
// work directory and pid file in t.TempDir(), listening on a loopback
// port it picked itself, writing "APP-NAME|PROCID|HOSTNAME|MSG" lines to
// a file.
type rsyslog struct {
	dir, out string
	port     int
}

// startRsyslog starts rsyslogd with input (the imptcp or imtcp lines).
// It skips the test when rsyslogd is missing, unless CI=true.
func startRsyslog(t *testing.T, pki *testPKI) *rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("rsyslogd is required under CI (scripts/debian-deps.sh installs rsyslog and rsyslog-gnutls): %v", errNoRsyslog)
		}
		t.Skip("rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls, or scripts/debian-deps.sh); skipping the rsyslog receiver tests")
	}
	dir := t.TempDir()
	r := &rsyslog{dir: dir, out: filepath.Join(dir, "out.log")}
	portFile := filepath.Join(dir, "port")
	var conf strings.Builder
	fmt.Fprintf(&conf, "global(workDirectory=%q maxMessageSize=\"64k\"", dir)
	if pki != nil {
		fmt.Fprintf(&conf, " defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q",
			pki.caFile, pki.certFile, pki.keyFile)
	}
	conf.WriteString(")\n")
	if pki != nil {
		conf.WriteString(`module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")` + "\n")
		fmt.Fprintf(&conf, "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"0\" listenPortFileName=%q ruleset=\"out\")\n", portFile)
	} else {
		conf.WriteString(`module(load="imptcp")` + "\n")
		fmt.Fprintf(&conf, "input(type=\"imptcp\" address=\"127.0.0.1\" port=\"0\" listenPortFileName=%q ruleset=\"out\")\n", portFile)
	}
	conf.WriteString(`template(name="fields" type="string" string="%app-name%|%procid%|%hostname%|%msg%\n")` + "\n")
	fmt.Fprintf(&conf, "ruleset(name=\"out\") { action(type=\"omfile\" file=%q template=\"fields\") }\n", r.out)
	confFile := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-n", "-f", confFile, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	var mu sync.Mutex
	cmd.Stderr = lockedWriter{&mu, &stderr}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rsyslogd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			mu.Lock()
			t.Logf("rsyslogd output:\n%s\nconfig:\n%s", stderr.String(), conf.String())
			mu.Unlock()
		}
	})
	eventually.True(t, "rsyslogd to write its listening port", func() bool {
		select {
		case <-exited:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("rsyslogd exited: %s\nconfig:\n%s", stderr.String(), conf.String())
		default:
		}
		b, err := os.ReadFile(portFile)
		if err != nil {
			return false
		}
		r.port, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && r.port > 0
	})
	eventually.True(t, "rsyslogd to accept connections", func() bool {
		c, err := net.DialTimeout("tcp", r.addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (r *rsyslog) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// lines returns the output file's lines.
func (r *rsyslog) lines() []string {
	b, err := os.ReadFile(r.out)
	if err != nil {
		return nil
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// waitLines waits until the file has at least n lines and returns them.
func (r *rsyslog) waitLines(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	eventually.True(t, fmt.Sprintf("%d lines from rsyslog", n), func() bool {
		got = r.lines()
		return len(got) >= n
	})
	return got
}

// rsyslogMessages is the test's traffic: numbered lines of two apps, with
// an LF inside one message and a line that looks like a frame.
func rsyslogMessages(tag string, n int) []sluice.Message {
	ms := draintest.Messages(tag, []string{"web", "api"}, n)
	ms[3].Text += "\nsecond line <14>1 - - - injected"
	ms[4].Text += " 12 <13>1 not a frame"
	return ms
}

// wantLine is what the template prints for m: rsyslog escapes LF on
// reception as #012.
func wantLine(m sluice.Message, app, host string) string {
	return app + "|" + m.Proc + "|" + host + "|" + strings.ReplaceAll(m.Text, "\n", "#012")
}

func TestRsyslogTCP(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		logplex     bool
	}{
		{"rfc5424", "", false},
		{"logplex", "?format=logplex&drain_token=d.f00", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := startRsyslog(t, nil)
			d, _ := newDrain(t, "syslog://"+rs.addr()+tc.query, nil, nil)
			const n = 1000
			msgs := rsyslogMessages("rs", n)
			for i := 0; i < n; i += 100 {
				if err := send(t, d, msgs[i:i+100]); err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			got := rs.waitLines(t, n)
			if len(got) != n {
				t.Fatalf("rsyslog wrote %d lines, want %d", len(got), n)
			}
			for i, line := range got {
				m := msgs[i]
				want := wantLine(m, m.App, m.Host)
				if tc.logplex { // the source in APP-NAME, the token in HOSTNAME
					want = wantLine(m, m.Source, "d.f00")
				}
				if line != want {
					t.Fatalf("line %d:\n got %q\nwant %q", i, line, want)
				}
			}
		})
	}
}

func TestRsyslogTLS(t *testing.T) {
	pki := newPKI(t, "rsyslog")
	rs := startRsyslog(t, &pki)
	t.Run("verified", func(t *testing.T) {
		d, _ := newDrain(t, "syslog+tls://"+rs.addr(), pki.clientTLS(), nil)
		const n = 300
		msgs := rsyslogMessages("tls", n)
		for i := 0; i < n; i += 50 {
			if err := send(t, d, msgs[i:i+50]); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		got := rs.waitLines(t, n)
		for i, line := range got[:n] {
			if want := wantLine(msgs[i], msgs[i].App, msgs[i].Host); line != want {
				t.Fatalf("line %d:\n got %q\nwant %q", i, line, want)
			}
		}
	})
	t.Run("wrong CA", func(t *testing.T) {
		before := len(rs.lines())
		other := newPKI(t, "other")
		var mu sync.Mutex
		var notes []sluice.Message
		notify := func(m sluice.Message) {
			mu.Lock()
			notes = append(notes, m)
			mu.Unlock()
		}
		d, _ := newDrain(t, "syslog+tls://"+rs.addr()+"?apps=web,api", other.clientTLS(), notify)
		msgs := rsyslogMessages("bad", 6)
		for range 3 {
			err := send(t, d, msgs)
			if err == nil || drainsIsPermanent(err) {
				t.Fatalf("send with an untrusted certificate: %v, want a retryable error", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(notes) != 2 { // web and api, once each: L14 is not repeated within a minute
			t.Fatalf("%d L14 notices, want one per app (2): %+v", len(notes), notes)
		}
		for _, m := range notes {
			if !strings.HasPrefix(m.Text, `Error L14 (certificate validation): error="`) ||
				!strings.Contains(m.Text, `uri="syslog+tls://`+rs.addr()) || m.Proc != "drain.test" {
				t.Errorf("L14 notice %+v", m)
			}
		}
		// A verified drain's line written after the failures arrives after
		// anything the failed drain could have delivered: none may be there.
		good, _ := newDrain(t, "syslog+tls://"+rs.addr(), pki.clientTLS(), nil)
		marker := draintest.Messages("marker", []string{"web"}, 1)
		if err := send(t, good, marker); err != nil {
			t.Fatal(err)
		}
		got := rs.waitLines(t, before+1)
		for _, line := range got[before:] {
			if strings.Contains(line, "bad ") {
				t.Fatalf("a message sent over the unverified connection arrived: %q", line)
			}
		}
	})
}

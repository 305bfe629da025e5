package syslog

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

// needTool returns the path of a real peer the test drives, skipping the
// test when it is missing outside CI and failing it under CI=true
// (scripts/debian-deps.sh installs it there).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (scripts/debian-deps.sh installs it): %v", name, err)
		}
		t.Skipf("%s is not installed; run scripts/debian-deps.sh (CI fails instead of skipping)", name)
	}
	return path
}

// checkNumbered checks that msgs are exactly "<prefix>1" … "<prefix>n" of
// app, in order.
func checkNumbered(t *testing.T, msgs []sluice.Message, app, prefix string, n int) {
	t.Helper()
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if want := prefix + strconv.Itoa(i+1); m.App != app || m.Text != want {
			t.Fatalf("message %d: app %q text %q, want %q %q (full %+v)", i+1, m.App, m.Text, app, want, m)
		}
	}
}

// TestRsyslogTemplates runs rsyslogd as its own process (own config, work
// directory and pid file; no imuxsock or imklog) reading 10,000 numbered
// lines from a file with imfile and forwarding them with omfwd to our TCP
// listener in each of its four stock templates: none lost, none changed,
// order kept.
func TestRsyslogTemplates(t *testing.T) {
	rsyslogd := needTool(t, "rsyslogd")
	const n = 10000
	for _, tc := range []struct{ template, framing string }{
		{"RSYSLOG_ForwardFormat", "traditional"},
		{"RSYSLOG_TraditionalForwardFormat", "traditional"},
		{"RSYSLOG_SyslogProtocol23Format", "octet-counted"},
		{"RSYSLOG_FileFormat", "traditional"},
	} {
		t.Run(tc.template, func(t *testing.T) {
			rec := &recorder{}
			cfg, _ := testConfig(rec)
			addr := start(t, NewTCP(cfg)).(*net.TCPAddr)

			dir := t.TempDir()
			var lines strings.Builder
			for i := 1; i <= n; i++ {
				fmt.Fprintf(&lines, "line %d\n", i)
			}
			input := filepath.Join(dir, "input.log")
			if err := os.WriteFile(input, []byte(lines.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imfile" mode="polling" PollingInterval="1")
input(type="imfile" File=%q Tag="numbered:" Facility="local0" Severity="info" freshStartTail="off")
action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp" template=%q TCP_Framing=%q
       action.resumeRetryCount="-1" action.resumeInterval="1")
`, dir, input, addr.Port, tc.template, tc.framing)
			confPath := filepath.Join(dir, "rsyslog.conf")
			if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cmd := exec.CommandContext(ctx, rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cancel()
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("rsyslogd output:\n%s", out.String())
				}
			})
			deadline := time.Now().Add(60 * time.Second)
			for len(rec.messages()) < n && time.Now().Before(deadline) {
				waitForChange(rec, 100*time.Millisecond)
			}
			checkNumbered(t, rec.messages(), "numbered", "line ", n)
			fac, sev := uint8(16), uint8(6) // local0.info
			if tc.template == "RSYSLOG_FileFormat" {
				fac, sev = 1, 5 // no PRI on the wire: user.notice
			}
			if m := rec.messages()[0]; m.Facility != fac || m.Severity != sev {
				t.Fatalf("facility/severity %d/%d, want %d/%d", m.Facility, m.Severity, fac, sev)
			}
		})
	}
}

// waitForChange returns when rec has more messages than now or after d.
func waitForChange(rec *recorder, d time.Duration) {
	before := len(rec.messages())
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(rec.messages()) == before && time.Now().Before(deadline) {
		<-tick.C
	}
}

// TestPythonSysLogHandler sends numbered lines with Python 3's
// logging.handlers.SysLogHandler over UDP and over TCP (which ends each
// message with NUL), with an ident-style format and with Python's default
// format (the message alone, which goes to the default app).
func TestPythonSysLogHandler(t *testing.T) {
	python := needTool(t, "python3")
	const n = 1000
	script := `
import logging, logging.handlers, socket, sys
host, port, kind, fmt, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
h = logging.handlers.SysLogHandler(address=(host, port),
    socktype=socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
if fmt == "ident":
    h.setFormatter(logging.Formatter("pyapp[%(process)d]: %(message)s"))
log = logging.getLogger("numbered")
log.propagate = False
log.addHandler(h)
log.setLevel(logging.INFO)
for i in range(1, n + 1):
    log.info("line %d", i)
h.close()
`
	for _, kind := range []string{"udp", "tcp"} {
		for _, format := range []string{"ident", "default"} {
			t.Run(kind+"/"+format, func(t *testing.T) {
				rec := &recorder{}
				cfg, _ := testConfig(rec)
				var addr net.Addr
				if kind == "udp" {
					addr = start(t, NewUDP(cfg))
				} else {
					addr = start(t, NewTCP(cfg))
				}
				host, port, _ := net.SplitHostPort(addr.String())
				out, err := exec.Command(python, "-c", script, host, port, kind, format, strconv.Itoa(n)).CombinedOutput()
				if err != nil {
					t.Fatalf("python: %v\n%s", err, out)
				}
				waitFor(t, "python's messages", func() bool { return len(rec.messages()) >= n })
				app := "pyapp"
				if format == "default" {
					app = DefaultApp
				}
				msgs := rec.messages()
				checkNumbered(t, msgs, app, "line ", n)
				if m := msgs[0]; m.Facility != 1 || m.Severity != 6 {
					t.Fatalf("facility/severity %d/%d, want 1/6 (user.info)", m.Facility, m.Severity)
				}
				if format == "ident" && msgs[0].Proc == "" {
					t.Fatalf("no proc in %+v", msgs[0])
				}
			})
		}
	}
}

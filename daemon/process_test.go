package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessLifecycle runs the real sluiced binary: it starts quickly,
// logs JSON events on stdout with the addresses it bound, serves, and on
// SIGTERM stops and exits 0.
func TestProcessLifecycle(t *testing.T) {
	bin := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin+"/sluiced")
	cmd.Env = []string{"PORT=0", "SYSLOG_TCP_ADDR=127.0.0.1:0", "SYSLOG_UDP_ADDR=", "SHUTDOWN_TIMEOUT=3s"}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	events := make(chan map[string]any, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("stdout line is not a JSON event: %q", sc.Text())
				continue
			}
			events <- ev
		}
	}()
	waitEvent := func(msg string) map[string]any {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stdout closed before %q", msg)
				}
				if ev["msg"] == msg {
					return ev
				}
			case <-ctx.Done():
				t.Fatalf("no %q event", msg)
			}
		}
	}
	ev := waitEvent("sluiced listening")
	httpAddr, _ := ev["http"].(string)
	tcpAddr, _ := ev["syslog_tcp"].(string)
	if httpAddr == "" || tcpAddr == "" || ev["syslog_udp"] != nil {
		t.Fatalf("listening event %v", ev)
	}
	r := &router{t: t, base: "http://" + strings.Replace(httpAddr, "[::]", "127.0.0.1", 1), tcp: tcpAddr}
	r.sendTCP(octet("<190>1 - h proc web.1 - - hello"))
	r.waitLines("proc", "", 1)

	// A connection with a frame in flight when SIGTERM arrives.
	c, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(octet("<190>1 - h proc web.1 - - in flight")))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitEvent("shut down")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluiced exited with %v, want 0", err)
	}
}

func TestVersionAndConfigErrors(t *testing.T) {
	bin := binaries(t)
	out, err := exec.Command(bin+"/sluiced", "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "sluiced ") || !strings.Contains(string(out), "commit") {
		t.Fatalf("-version: %v %q", err, out)
	}
	cmd := exec.Command(bin + "/sluiced")
	cmd.Env = []string{"PORT=http", "BUFFER_LINES=-1", "SYSLOG_TCP_ADDR=nope", "DRAIN_X=ftp://example"}
	out, err = cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("bad config exit %d, want 1: %s", code, out)
	}
	for _, want := range []string{`PORT "http"`, `BUFFER_LINES "-1"`, `SYSLOG_TCP_ADDR "nope"`, "DRAIN_X"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config error output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckDrains(t *testing.T) {
	bin := binaries(t)
	s := newSink(t)
	dead := newSink(t)
	deadURL := dead.srv.URL
	dead.srv.Close()
	for _, c := range []struct {
		name string
		env  []string
		code int
		want []string
	}{
		{"none", nil, 0, []string{"no drains configured"}},
		{"reachable", []string{"DRAIN_UP=" + s.srv.URL + "/logs"}, 0, []string{"ok", "up"}},
		{"one down", []string{"DRAIN_UP=" + s.srv.URL, "DRAIN_DOWN=" + deadURL}, 1, []string{"FAIL", "down"}},
		{"credentials redacted", []string{"DRAIN_SECRET=http://user:hunter2@" + strings.TrimPrefix(deadURL, "http://")}, 1, []string{"secret"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin+"/sluiced", "check-drains")
			cmd.Env = c.env
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Fatalf("exit %d, want %d:\n%s", code, c.code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "hunter2") {
				t.Fatalf("password printed:\n%s", out)
			}
		})
	}
}

func runSluiced(bin string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin+"/sluiced", args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func containsLine(out, want string) bool { return strings.Contains(out, want) }

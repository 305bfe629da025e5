package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBinary builds the real binary and runs it as a process against a
// router speaking the protocol, checking exit statuses and output.
func TestBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command(goTool, "build", "-o", bin, "-ldflags", "-X github.com/sluice-logs/sluice/version.Version=1.2.3 -X github.com/sluice-logs/sluice/version.Commit=abc1234", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	more := make(chan struct{})
	f := newFakeRouter(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") == "Bearer t.other":
			refuse(403, `token may not read app "web"`)(w, r)
			return
		case r.URL.Query().Get("tail") != "1":
			serve(lines(1, 2), endClean)(w, r)
			return
		}
		serve(lines(1, 1), endClean)(w, r) // flushed; the stream goes on
		select {
		case <-more:
			io.WriteString(w, logLine(2))
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			return
		}
		<-r.Context().Done()
	})
	environ := []string{"SLUICE_URL=" + f.srv.URL}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") && !strings.HasPrefix(kv, "NO_COLOR=") {
			environ = append(environ, kv)
		}
	}
	command := func(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(environ, extraEnv...)
		cmd.WaitDelay = 5 * time.Second
		return cmd
	}
	exitCode := func(t *testing.T, err error) int {
		t.Helper()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		}
		t.Fatalf("run sluice: %v", err)
		return -1
	}

	tests := []struct {
		name       string
		args       []string
		env        []string
		wantCode   int
		wantStdout string // exact, unless "" (then anything)
		wantStderr string // substring
	}{
		{"version", []string{"version"}, nil, 0, "", ""},
		{"missing app", []string{"logs", "-n", "1"}, nil, 2, "", "--app is required"},
		{"recent lines", []string{"logs", "-a", "web", "-n", "2"}, nil, 0, logLine(1) + logLine(2), ""},
		{"forbidden", []string{"logs", "-a", "web"}, []string{"SLUICE_TOKEN=t.other"}, 1, "", `cannot read app "web"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := command(ctx, tt.env, tt.args...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if code := exitCode(t, cmd.Run()); code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if tt.wantStdout != "" && stdout.String() != tt.wantStdout {
				t.Fatalf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
			if tt.name == "version" && !strings.HasPrefix(stdout.String(), "sluice 1.2.3 (commit abc1234, go") {
				t.Fatalf("version %q lacks the -ldflags values", stdout.String())
			}
		})
	}

	// tailProcess starts `sluice logs --tail` with stdout on a pipe and
	// returns once it printed its first line.
	tailProcess := func(t *testing.T) (*exec.Cmd, *os.File, *strings.Builder) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := command(ctx, nil, "logs", "-a", "web", "--tail")
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = pw, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		pr.SetReadDeadline(time.Now().Add(15 * time.Second))
		first, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil || first != logLine(1) {
			t.Fatalf("first line %q, %v; want %q", first, err, logLine(1))
		}
		return cmd, pr, &stderr
	}

	t.Run("stdout closed while tailing", func(t *testing.T) {
		cmd, pr, stderr := tailProcess(t)
		pr.Close() // sluice logs --tail | head -1
		close(more)
		if code := exitCode(t, cmd.Wait()); code != 0 {
			t.Fatalf("exit %d, want 0; stderr: %s", code, stderr.String())
		}
		if stderr.String() != "" {
			t.Fatalf("stderr %q, want nothing", stderr.String())
		}
	})
	t.Run("interrupt while tailing", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no SIGINT on windows")
		}
		cmd, pr, stderr := tailProcess(t)
		defer pr.Close()
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if code := exitCode(t, cmd.Wait()); code != 0 {
			t.Fatalf("exit %d, want 0; stderr: %s", code, stderr.String())
		}
	})
}

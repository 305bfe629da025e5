package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/eventually"
)

// appendLines appends "PREFIX i" lines for i in [from, to) to path.
func appendLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// countLines counts the ring's "PREFIX i" lines of app by i.
func countLines(t *testing.T, base, app, prefix string) map[int]int {
	t.Helper()
	n := map[int]int{}
	for _, l := range ringTexts(t, base, app) {
		_, text, _ := strings.Cut(l, ": ")
		if rest, ok := strings.CutPrefix(text, prefix+" "); ok {
			i, err := strconv.Atoi(rest)
			if err == nil {
				n[i]++
			}
		}
	}
	return n
}

// total is the number of lines counted, repeats included.
func total(n map[int]int) int {
	sum := 0
	for _, k := range n {
		sum += k
	}
	return sum
}

// waitAll waits until the ring of app holds every "PREFIX i", i < total.
func waitAll(t *testing.T, base, app, prefix string, total int) map[int]int {
	t.Helper()
	var n map[int]int
	eventually.True(t, fmt.Sprintf("%d %q lines of %s", total, prefix, app), func() bool {
		n = countLines(t, base, app, prefix)
		for i := 0; i < total; i++ {
			if n[i] == 0 {
				return false
			}
		}
		return true
	})
	return n
}

// startAgent runs `sluice agent` until the test ends (SIGTERM).
func startAgent(t *testing.T, url string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd, stderr := sluiceCmd(t, context.Background(), []string{"SLUICE_URL=" + url},
		append([]string{"agent", "--poll", "20ms", "--batch-wait", "10ms"}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	return cmd, stderr
}

func stopAgent(t *testing.T, cmd *exec.Cmd, stderr *syncBuffer) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitStatusOf(t, cmd.Wait()); code != 0 {
		t.Fatalf("agent exit %d: %s", code, stderr)
	}
}

func TestAgentProcess(t *testing.T) {
	base := startSluiced(t)

	t.Run("rotation by rename, new files, copytruncate", func(t *testing.T) {
		dir := t.TempDir()
		startAgent(t, base, "--glob", filepath.Join(dir, "*.log"), "--state", filepath.Join(dir, "state.json"))
		a := filepath.Join(dir, "rot.log")
		appendLines(t, a, "line", 0, 100)
		waitAll(t, base, "rot", "line", 100)
		// Rename: the writer still holds the old file and finishes there.
		if err := os.Rename(a, a+".1"); err != nil {
			t.Fatal(err)
		}
		appendLines(t, a+".1", "line", 100, 150)
		appendLines(t, a, "line", 150, 200)
		n := waitAll(t, base, "rot", "line", 200)
		// A new file.
		appendLines(t, filepath.Join(dir, "fresh.log"), "line", 0, 10)
		waitAll(t, base, "fresh", "line", 10)
		// copytruncate.
		c := filepath.Join(dir, "ct.log")
		appendLines(t, c, "line", 0, 50)
		waitAll(t, base, "ct", "line", 50)
		data, _ := os.ReadFile(c)
		os.WriteFile(c+".1", data, 0o644)
		if err := os.Truncate(c, 0); err != nil {
			t.Fatal(err)
		}
		appendLines(t, c, "line", 50, 60)
		nc := waitAll(t, base, "ct", "line", 60)
		for name, m := range map[string]map[int]int{"rot": n, "ct": nc} {
			for i, k := range m {
				if k != 1 {
					t.Errorf("%s line %d delivered %d times", name, i, k)
				}
			}
		}
	})

	t.Run("CRI partial lines and Kubernetes names", func(t *testing.T) {
		dir := t.TempDir()
		startAgent(t, base, "--glob", filepath.Join(dir, "*.log"))
		name := "web-7d4b9c8f6d-x2x9z_shop_server-" + strings.Repeat("ab", 32) + ".log"
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("2026-12-01T10:00:00.000000001Z stdout P hel\n"+
			"2026-12-01T10:00:00.000000002Z stdout P lo wor\n"+
			"2026-12-01T10:00:00.000000003Z stdout F ld\n"+
			"2026-12-01T10:00:01Z stderr F oops\n"), 0o644)
		ringHas(t, base, "web", "oops")
		got := strings.Join(ringTexts(t, base, "web"), "|")
		if got != "app[server]: hello world|app[server]: oops" {
			t.Fatalf("ring %q", got)
		}
	})

	t.Run("restart from the state file after kill -9", func(t *testing.T) {
		dir := t.TempDir()
		state := filepath.Join(dir, "state.json")
		p := filepath.Join(dir, "kill.log")
		const batch = 100
		args := []string{"--glob", filepath.Join(dir, "*.log"), "--state", state, "--batch-lines", strconv.Itoa(batch)}
		appendLines(t, p, "line", 0, 20000)
		cmd, _ := startAgent(t, base, args...)
		eventually.True(t, "some lines delivered", func() bool { return len(countLines(t, base, "kill", "line")) >= 2000 })
		cmd.Process.Kill() // in the middle of the file
		cmd.Wait()
		cmd2, _ := startAgent(t, base, args...)
		n := waitAll(t, base, "kill", "line", 20000)
		dups := 0
		for _, k := range n {
			dups += k - 1
		}
		t.Logf("kill -9 mid-file: %d lines repeated after restart", dups)
		// The state is written as each batch is acknowledged, before the
		// next is sent: at most the batch in flight is sent twice.
		if dups > batch {
			t.Fatalf("%d lines repeated after kill -9, want at most the batch in flight (%d)", dups, batch)
		}

		// Killed a second after the last delivery: nothing is repeated.
		// The second is the promise under test (the state is written at
		// most a second after an acknowledgement), not a wait for a
		// condition.
		before := countLines(t, base, "kill", "line")
		time.Sleep(time.Second)
		if got, want := total(countLines(t, base, "kill", "line")), total(before); got != want {
			t.Fatalf("lines were still being delivered (%d, then %d)", want, got)
		}
		cmd2.Process.Kill()
		cmd2.Wait()
		appendLines(t, p, "line", 20000, 20100)
		startAgent(t, base, args...)
		after := waitAll(t, base, "kill", "line", 20100)
		for i := 0; i < 20000; i++ {
			if after[i] != before[i] {
				t.Fatalf("line %d repeated after a kill a second after the last delivery", i)
			}
		}
	})

	t.Run("file deleted while read loses nothing", func(t *testing.T) {
		p := newProxy(t, base)
		p.setUp(false)
		dir := t.TempDir()
		f := filepath.Join(dir, "del.log")
		appendLines(t, f, "line", 0, 3000)
		startAgent(t, p.url(), "--glob", filepath.Join(dir, "*.log"), "--buffer-lines", "100", "--batch-lines", "50", "--retry-wait", "10ms")
		eventually.True(t, "the router refused the agent", func() bool { return p.refused.Load() >= 2 })
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
		p.setUp(true)
		waitAll(t, base, "del", "line", 3000)
	})

	t.Run("file removed while the agent was stopped is reported as L13", func(t *testing.T) {
		p := newProxy(t, base)
		p.setUp(false)
		dir := t.TempDir()
		state := filepath.Join(dir, "state.json")
		f := filepath.Join(dir, "gone.log")
		args := []string{"--glob", filepath.Join(dir, "*.log"), "--state", state, "--buffer-lines", "100", "--batch-lines", "50",
			"--retry-wait", "10ms", "--flush-timeout", "100ms"}
		appendLines(t, f, "line", 0, 1000)
		cmd, stderr := startAgent(t, p.url(), args...)
		eventually.True(t, "the router refused the agent", func() bool { return p.refused.Load() >= 2 })
		stopAgent(t, cmd, stderr)
		os.Remove(f)
		p.setUp(true)
		startAgent(t, p.url(), args...)
		eventually.True(t, "an L13 report", func() bool {
			for _, l := range ringTexts(t, base, "gone") {
				if strings.Contains(l, "Error L13: ") && strings.Contains(l, " unread bytes of ") && strings.Contains(l, "gone.log") {
					return true
				}
			}
			return false
		})
	})
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/eventually"
)

// TestShipProcess runs `sluice ship -- sh -c …` as a process against a real
// sluiced on loopback.
func TestShipProcess(t *testing.T) {
	base := startSluiced(t)
	env := []string{"SLUICE_URL=" + base}

	t.Run("every line in order, last words, exit status", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, stderr := sluiceCmd(t, ctx, env, "ship", "--app", "order", "--", "sh", "-c",
			`i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done; echo "last words" >&2; printf "no newline"; exit 7`)
		if code := exitStatusOf(t, cmd.Run()); code != 7 {
			t.Fatalf("exit %d, want 7; stderr %s", code, stderr)
		}
		got := ringTexts(t, base, "order")
		var out []string
		var sawErr bool
		for _, l := range got {
			switch {
			case l == "app[sh.1]: last words":
				sawErr = true
			case strings.HasPrefix(l, "app[sh.1]: line "):
				out = append(out, strings.TrimPrefix(l, "app[sh.1]: "))
			case l == "app[sh.1]: no newline":
			default:
				t.Errorf("unexpected line %q", l)
			}
		}
		if len(out) != 3000 || !sawErr || got[len(got)-1] == "" {
			t.Fatalf("%d stdout lines (want 3000), stderr line %v", len(out), sawErr)
		}
		for i, l := range out {
			if l != "line "+strconv.Itoa(i) {
				t.Fatalf("line %d is %q", i, l)
			}
		}
		if !strings.HasSuffix(strings.Join(got, "\n"), "no newline") && !sawErr {
			t.Fatal("unterminated last line missing")
		}
		if stderr.String() != "" {
			t.Fatalf("stderr %q, want nothing", stderr)
		}
	})

	t.Run("signal reaches the child", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, stderr := sluiceCmd(t, ctx, env, "ship", "--app", "sig", "--batch-wait", "20ms", "--", "sh", "-c",
			`trap 'echo "got TERM"; exit 9' TERM; echo ready; while :; do sleep 0.05; done`)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ringHas(t, base, "sig", "ready")
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exitStatusOf(t, cmd.Wait()); code != 9 {
			t.Fatalf("exit %d, want 9; stderr %s", code, stderr)
		}
		ringHas(t, base, "sig", "got TERM")
	})

	t.Run("killed child exits 128+signal", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, stderr := sluiceCmd(t, ctx, env, "ship", "--app", "kill", "--batch-wait", "20ms", "--", "sh", "-c", `echo ready; exec sleep 60`)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ringHas(t, base, "kill", "ready")
		cmd.Process.Signal(syscall.SIGINT)
		if code := exitStatusOf(t, cmd.Wait()); code != 128+int(syscall.SIGINT) {
			t.Fatalf("exit %d, want %d; stderr %s", code, 128+int(syscall.SIGINT), stderr)
		}
	})

	t.Run("stdin until EOF", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, stderr := sluiceCmd(t, ctx, env, "ship", "--app", "stdin", "--proc", "worker.2")
		cmd.Stdin = strings.NewReader("one\ntwo\nthree")
		if code := exitStatusOf(t, cmd.Run()); code != 0 {
			t.Fatalf("exit %d; stderr %s", code, stderr)
		}
		got := strings.Join(ringTexts(t, base, "stdin"), "|")
		if want := "app[worker.2]: one|app[worker.2]: two|app[worker.2]: three"; got != want {
			t.Fatalf("ring %q, want %q", got, want)
		}
	})

	t.Run("a grandchild holding the pipes does not hold sluice", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, stderr := sluiceCmd(t, ctx, env, "ship", "--app", "orphan", "--", "sh", "-c", `sleep 30 & echo bye; exit 4`)
		start := time.Now()
		if code := exitStatusOf(t, cmd.Run()); code != 4 {
			t.Fatalf("exit %d, want 4; stderr %s", code, stderr)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("sluice ship took %s: it waited for the grandchild", d)
		}
		ringHas(t, base, "orphan", "bye")
	})

	t.Run("missing command", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd, _ := sluiceCmd(t, ctx, env, "ship", "--app", "x", "--", "/nonexistent/cmd")
		if code := exitStatusOf(t, cmd.Run()); code != 127 {
			t.Fatalf("exit %d, want 127", code)
		}
	})
}

// TestShipRouterDown takes the router away behind a proxy while the child
// writes.
func TestShipRouterDown(t *testing.T) {
	base := startSluiced(t)
	p := newProxy(t, base)

	t.Run("block loses nothing", func(t *testing.T) {
		p.setUp(false)
		refusedBefore := p.refused.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd, stderr := sluiceCmd(t, ctx, []string{"SLUICE_URL=" + p.url()}, "ship", "--app", "block", "--block",
			"--buffer-lines", "40", "--batch-lines", "10", "--batch-wait", "10ms", "--max-attempts", "0", "--retry-wait", "20ms",
			"--flush-timeout", "2m",
			"--", "sh", "-c", `i=0; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done`)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The router is down for as long as it takes the shipper to be
		// refused several times (a few seconds with the backoff).
		eventually.True(t, "refused connections", func() bool { return p.refused.Load()-refusedBefore >= 8 })
		p.setUp(true)
		if code := exitStatusOf(t, cmd.Wait()); code != 0 {
			t.Fatalf("exit %d; stderr %s", code, stderr)
		}
		got := ringTexts(t, base, "block")
		if len(got) != 500 {
			t.Fatalf("%d lines in the ring, want 500; stderr %s", len(got), stderr)
		}
		for i, l := range got {
			if l != "app[sh.1]: line "+strconv.Itoa(i) {
				t.Fatalf("line %d is %q", i, l)
			}
		}
	})

	t.Run("drop counts and reports L12", func(t *testing.T) {
		p.setUp(false)
		refusedBefore := p.refused.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		gate := filepath.Join(t.TempDir(), "gate")
		cmd, stderr := sluiceCmd(t, ctx, []string{"SLUICE_URL=" + p.url()}, "ship", "--app", "drop", "--drop",
			"--buffer-lines", "20", "--batch-lines", "10", "--batch-wait", "10ms", "--max-attempts", "0", "--retry-wait", "20ms",
			"--", "sh", "-c", `i=0; while [ $i -lt 300 ]; do echo "line $i"; i=$((i+1)); done; while [ ! -e `+gate+` ]; do sleep 0.02; done; echo after`)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "refused connections", func() bool { return p.refused.Load()-refusedBefore >= 3 })
		p.setUp(true)
		ringHas(t, base, "drop", "line 299")
		os.WriteFile(gate, nil, 0o644)
		if code := exitStatusOf(t, cmd.Wait()); code != 0 {
			t.Fatalf("exit %d; stderr %s", code, stderr)
		}
		got := ringTexts(t, base, "drop")
		re := regexp.MustCompile(`^\w+\[ship\]: Error L12: (\d+) messages dropped since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$`)
		var dropped, delivered, last int
		last = -1
		for _, l := range got {
			if m := re.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				dropped += n
				continue
			}
			if l == "app[sh.1]: after" {
				continue
			}
			var i int
			if _, err := fmt.Sscanf(l, "app[sh.1]: line %d", &i); err != nil || i <= last {
				t.Fatalf("unexpected or out-of-order line %q after line %d", l, last)
			}
			last = i
			delivered++
		}
		if dropped == 0 || delivered+dropped != 300 {
			t.Fatalf("delivered %d + dropped %d (L12) != 300; ring:\n%s", delivered, dropped, strings.Join(got, "\n"))
		}
		if !strings.Contains(stderr.String(), "dropping the oldest lines") {
			t.Fatalf("stderr %q does not report the drops", stderr)
		}
	})
}

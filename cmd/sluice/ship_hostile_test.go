package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestShipSink runs `sluice ship` against a real HTTP server that answers
// as the test says: 429 with Retry-After, 500, and hostile child output.
func TestShipSink(t *testing.T) {
	run := func(t *testing.T, s *sink, args ...string) (int, string, int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd, stderr := sluiceCmd(t, ctx, []string{"SLUICE_URL=" + s.url}, append([]string{"ship", "--app", "web"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		peak := watchRSS(cmd.Process.Pid)
		code := exitStatusOf(t, cmd.Wait())
		return code, stderr.String(), peak()
	}

	t.Run("429 Retry-After is honoured", func(t *testing.T) {
		s := newSink(t, func(n int64) (int, string) {
			if n == 1 {
				return 429, "1"
			}
			return 204, ""
		})
		code, stderr, _ := run(t, s, "--", "sh", "-c", "echo one; echo two")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got := s.got()
		if len(got) != 2 || got[0].text != "one" || got[1].text != "two" {
			t.Fatalf("got %+v", got)
		}
		s.mu.Lock()
		gap := s.times[1].Sub(s.times[0])
		s.mu.Unlock()
		if gap < time.Second {
			t.Fatalf("retried after %s, want at least the 1s of Retry-After", gap)
		}
	})

	t.Run("bytes that look like structure are data", func(t *testing.T) {
		s := newSink(t, nil)
		code, stderr, _ := run(t, s, "--", "sh", "-c",
			`printf 'esc \033[31mred\033[0m\n'; printf 'nul \000 here\n'; printf 'cr\r\n'; printf '12 <13>1 - - - - - fake\n'; printf 'bad \377\376 utf8\n'; echo err >&2`)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		want := map[string]int{"esc \x1b[31mred\x1b[0m": 6, "nul \x00 here": 6, "cr": 6, "12 <13>1 - - - - - fake": 6, "bad \uFFFD utf8": 6, "err": 3}
		got := s.got()
		if len(got) != len(want) {
			t.Fatalf("got %d frames: %+v", len(got), got)
		}
		for _, f := range got {
			sev, ok := want[f.text]
			if !ok || f.severity != sev || f.app != "web" || f.proc != "sh.1" {
				t.Errorf("unexpected frame %+v", f)
			}
		}
	})

	t.Run("10 MB line without newline is split in order in bounded memory", func(t *testing.T) {
		s := newSink(t, nil)
		code, stderr, rss := run(t, s, "--buffer-bytes", "2MiB", "--block", "--", "sh", "-c",
			`head -c 10000000 /dev/zero | tr '\0' 'a'; echo; echo after`)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got := s.got()
		var total int
		for i, f := range got[:len(got)-1] {
			if len(f.text) > 64<<10 || strings.Trim(f.text, "a") != "" {
				t.Fatalf("part %d: %d bytes, not all 'a'", i, len(f.text))
			}
			total += len(f.text)
		}
		if total != 10000000 || got[len(got)-1].text != "after" {
			t.Fatalf("parts add up to %d bytes (want 10000000), last %q", total, got[len(got)-1].text)
		}
		if rss > 64<<20 {
			t.Fatalf("peak RSS %d MiB, want under 64", rss>>20)
		}
		t.Logf("%d parts, peak RSS %d MiB", len(got)-1, rss>>20)
	})

	t.Run("500 for a while: batches given up are reported as L13", func(t *testing.T) {
		s := newSink(t, func(n int64) (int, string) {
			if n <= 4 {
				return 500, ""
			}
			return 204, ""
		})
		code, stderr, _ := run(t, s, "--max-attempts", "2", "--retry-wait", "5ms", "--batch-lines", "5", "--batch-wait", "5ms",
			"--", "sh", "-c", `i=0; while [ $i -lt 20 ]; do echo "line $i"; i=$((i+1)); done`)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var lost, lines int
		for _, f := range s.got() {
			var n int
			if _, err := fmt.Sscanf(f.text, "Error L13: %d messages lost since", &n); err == nil {
				lost += n
				continue
			}
			lines++
		}
		if lost == 0 || lost+lines != 20 {
			t.Fatalf("L13 reports %d lost, %d lines delivered; want some lost and 20 in all", lost, lines)
		}
		if !strings.Contains(stderr, "gave up a batch") {
			t.Fatalf("stderr %q does not say a batch was given up", stderr)
		}
	})

	t.Run("500 forever: bounded memory, exits with the child's status", func(t *testing.T) {
		s := newSink(t, func(int64) (int, string) { return 500, "" })
		code, stderr, rss := run(t, s, "--max-attempts", "2", "--retry-wait", "1ms", "--buffer-bytes", "1MiB", "--flush-timeout", "2s",
			"--", "sh", "-c", `head -c 30000000 /dev/zero | tr '\0' 'a' | fold -w 1000; exit 3`)
		if code != 3 {
			t.Fatalf("exit %d, want 3: %s", code, stderr)
		}
		if rss > 64<<20 {
			t.Fatalf("peak RSS %d MiB, want under 64", rss>>20)
		}
		for _, want := range []string{"gave up a batch", "dropped"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if strings.Count(stderr, "\n") > 20 {
			t.Errorf("stderr is not rate limited:\n%s", stderr)
		}
	})
}

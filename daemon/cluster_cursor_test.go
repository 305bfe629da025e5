package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/bus"
)

// TestClusterTailResumesAcrossMove follows an app with `sluice logs
// --tail` through the process that does not own the app's partition,
// while lines keep being posted, and stops the owner (SIGTERM): the tail
// ends, the CLI reconnects with its last cursor (a bus position), the
// partition moves to the survivor, which rebuilds the app's ring from the
// bus, and the CLI prints every line exactly once, in order.
func TestClusterTailResumesAcrossMove(t *testing.T) {
	bin := binaries(t)
	brokers := newBus(t)
	const parts = 2
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=2", "CLUSTER_SECRET=test-secret-0123456789"}
	survivor := startMember(t, bin, env...)
	owner := startMember(t, bin, env...)
	own := owners(t, []*member{survivor, owner}, parts, 60*time.Second)
	app := ""
	for i := 0; app == ""; i++ {
		if a := fmt.Sprintf("mover%d", i); own[bus.PartitionOf(a, parts)] == 1 {
			app = a
		}
	}

	const first, total = 100, 400 // lines before the move, and in all
	post := func(i int) {
		t.Helper()
		if code := survivor.postNDJSON(fmt.Sprintf(`{"app":%q,"msg":"n=%d"}`+"\n", app, i)); code != 204 {
			t.Fatalf("POST line %d: %d", i, code)
		}
	}
	for i := range first {
		post(i)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cli := exec.CommandContext(ctx, bin+"/sluice", "logs", "--app", app, "--tail", "--num", "1", "--no-color")
	cli.Env = append(os.Environ(), "SLUICE_URL="+survivor.base)
	var stderr lockedBuffer // written by exec's copier, read here
	cli.Stderr = &stderr
	stdout, _ := cli.StdoutPipe()
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cli.Wait() })
	texts := make(chan string, total)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := sc.Text() // TIME app: n=I
			texts <- l[strings.LastIndex(l, ": ")+2:]
		}
		close(texts)
	}()
	// The tail prints the newest line, then new ones: wait for the last
	// of the lines posted, then check everything from there on.
	var got []string
	want := func(upto int) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for len(got) == 0 || got[len(got)-1] != fmt.Sprintf("n=%d", upto) {
			select {
			case s, ok := <-texts:
				if !ok {
					t.Fatalf("sluice logs ended; printed %q; stderr %s", got, stderr.String())
				}
				got = append(got, s)
			case <-deadline:
				t.Fatalf("no line n=%d from sluice logs; printed %d lines, last %q; stderr %s", upto, len(got), got[max(0, len(got)-3):], stderr.String())
			}
		}
	}
	want(first - 1)
	got = got[len(got)-1:]

	// The owner's lines carry bus cursors.
	resp, err := http.Get(survivor.base + "/apps/" + app + "/logs?num=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Get("Sluice-Cursor"); !strings.HasPrefix(c, "b") {
		t.Fatalf("Sluice-Cursor %q, want a bus cursor", c)
	}

	// Lines go on being posted while the owner stops and the partition
	// moves; the rest after the survivor owns every partition.
	posted := make(chan int, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		i := first
		for ; i < total-50 && ctx.Err() == nil; i++ {
			<-tick.C
			if code := survivor.postNDJSON(fmt.Sprintf(`{"app":%q,"msg":"n=%d"}`+"\n", app, i)); code != 204 {
				t.Errorf("POST line %d: %d", i, code)
				break
			}
		}
		posted <- i
	}()
	want(first + 20) // the move begins mid-stream
	if err := owner.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-owner.exit:
		owner.exit <- err // for the cleanup
	case <-time.After(60 * time.Second):
		t.Fatal("the owner did not exit after SIGTERM")
	}
	owners(t, []*member{survivor}, parts, 60*time.Second)
	next := <-posted
	if next != total-50 {
		t.Fatalf("posting stopped at %d", next)
	}
	for i := next; i < total; i++ {
		post(i)
	}
	want(total - 1)

	for i, s := range got {
		if w := fmt.Sprintf("n=%d", first-1+i); s != w {
			t.Fatalf("line %d printed is %q, want %q (a gap or a repeat); stderr %s", i, s, w, stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), "reconnecting") {
		t.Errorf("sluice logs did not reconnect (stderr %q): the tail was not moved", stderr.String())
	}
	t.Logf("%d lines printed once each across the move; sluice logs said: %s", len(got), strings.TrimSpace(stderr.String()))
}

// lockedBuffer is a bytes.Buffer written and read by different goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

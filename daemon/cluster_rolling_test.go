package daemon_test

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/eventually"
)

// TestClusterRollingRestart restarts each of three processes in turn with
// SIGTERM (the next only once the restarted one is a member again) while a
// client posts with retries: every message that got a 204 reaches the HTTP
// drain, and none twice (a process that leaves commits what it delivered).
// Each attempt carries its own id, so a client retry of a post whose 204
// was lost is not counted as a duplicate.
func TestClusterRollingRestart(t *testing.T) {
	bin := binaries(t)
	brokers := newBus(t)
	s := newSink(t)
	const parts = 12
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=12", "DRAIN_SINK=" + s.srv.URL + "?flush=20ms",
		"CLUSTER_SECRET=test-secret-0123456789"}
	var mu sync.Mutex
	ms := make([]*member, 3)
	for i := range ms {
		ms[i] = startMember(t, bin, env...)
	}
	owners(t, ms, parts, 60*time.Second)

	const maxMessages, apps = 5000, 15
	acked := map[string]bool{}
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		tick := time.NewTicker(3 * time.Millisecond) // paces the load; not a synchronisation
		defer tick.Stop()
		deadline := time.Now().Add(3 * time.Minute)
		i := 0
		defer func() { sent <- i }()
		for ; i < maxMessages; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for try := 0; ; try++ {
				if time.Now().After(deadline) {
					t.Errorf("message %d not accepted before the deadline", i)
					return
				}
				mu.Lock()
				m := ms[(i+try)%len(ms)]
				mu.Unlock()
				id := fmt.Sprintf("id%04d.%d", i, try)
				if m.postNDJSON(fmt.Sprintf(`{"app":"app%02d","msg":%q}`+"\n", i%apps, id)) == 204 {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
					break
				}
			}
		}
	}()
	for i := range ms {
		mu.Lock()
		m := ms[i]
		mu.Unlock()
		if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-m.exit:
			m.exit <- err
			if err != nil {
				t.Fatalf("SIGTERM: member %d exited with %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("SIGTERM: member %d did not exit", i)
		}
		n := startMember(t, bin, env...)
		mu.Lock()
		ms[i] = n
		cur := append([]*member(nil), ms...)
		mu.Unlock()
		owners(t, cur, parts, 60*time.Second)
	}
	close(stop)
	n := <-sent
	committedToEnd(t, brokers, "sluice", "logs", 60*time.Second)
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]int{}
	got := s.received()
	for _, l := range got {
		_, msg, _ := strings.Cut(l, " ")
		seen[msg]++
	}
	lost, dups := 0, 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for _, c := range seen {
		dups += c - 1
	}
	t.Logf("%d messages posted across 3 restarts, %d acknowledged, drain got %d (%d unique): %d lost, %d duplicates",
		n, len(acked), len(got), len(seen), lost, dups)
	if lost > 0 || dups > 0 {
		t.Errorf("rolling restart: %d acknowledged messages lost, %d duplicates; want none", lost, dups)
	}
	eventually.True(t, "every member is ready", func() bool {
		for _, m := range ms {
			if doc, err := m.cluster(); err != nil || !doc.Joined {
				return false
			}
		}
		return true
	})
}

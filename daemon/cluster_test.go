package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluice-logs/sluice/bus"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// member is one sluiced child process in cluster mode.
type member struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	exit chan error
}

// startMember runs sluiced with env (plus PORT=0 and no syslog) and waits
// for it to listen. The process is killed at the end of the test.
func startMember(t *testing.T, bin string, env ...string) *member {
	t.Helper()
	cmd := exec.Command(bin + "/sluiced")
	cmd.Env = append([]string{"PORT=0", "SYSLOG_TCP_ADDR=", "SYSLOG_UDP_ADDR=", "SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=info"}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &member{t: t, cmd: cmd, exit: make(chan error, 1)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-m.exit
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev["msg"] == "sluiced listening" {
				a, _ := ev["http"].(string)
				addr <- a
			}
			if testing.Verbose() {
				t.Logf("%d: %s", cmd.Process.Pid, sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		m.exit <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		_, port, _ := strings.Cut(a, "]:")
		if port == "" {
			_, port, _ = strings.Cut(a, ":")
		}
		m.base = "http://127.0.0.1:" + port
	case <-time.After(60 * time.Second):
		t.Fatal("sluiced did not start listening")
	}
	return m
}

type clusterDoc struct {
	Joined     bool  `json:"joined"`
	Generation int32 `json:"generation"`
	Partitions []struct {
		Partition int32 `json:"partition"`
	} `json:"partitions"`
}

func (m *member) cluster() (clusterDoc, error) {
	var doc clusterDoc
	resp, err := http.Get(m.base + "/cluster")
	if err != nil {
		return doc, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&doc)
	return doc, err
}

// owners waits until the members together own every one of n partitions,
// each once, and returns partition → member index.
func owners(t *testing.T, ms []*member, n int, within time.Duration) map[int32]int {
	t.Helper()
	var own map[int32]int
	eventually.Within(t, within, fmt.Sprintf("%d members own all %d partitions", len(ms), n), func() bool {
		own = map[int32]int{}
		gen := int32(-1)
		for i, m := range ms {
			doc, err := m.cluster()
			if err != nil || !doc.Joined || (gen >= 0 && doc.Generation != gen) {
				return false
			}
			gen = doc.Generation
			for _, p := range doc.Partitions {
				if _, dup := own[p.Partition]; dup {
					return false
				}
				own[p.Partition] = i
			}
		}
		return len(own) == n
	})
	return own
}

func (m *member) postNDJSON(body string) int {
	resp, err := http.Post(m.base+"/logs", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (m *member) logs(app string) []string {
	resp, err := http.Get(m.base + "/apps/" + app + "/logs?num=100000")
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return stripTimes(string(b))
}

func newBus(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// TestClusterThreeProcesses runs three sluiced processes on one bus (a
// 3-broker kfake): messages sent to each process reach the drain and the
// rings of the owner of their app's partition, in per-app order.
func TestClusterThreeProcesses(t *testing.T) {
	bin := binaries(t)
	brokers := newBus(t)
	s := newSink(t)
	const parts = 12
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=12", "DRAIN_SINK=" + s.srv.URL + "?flush=50ms"}
	var ms []*member
	for range 3 {
		ms = append(ms, startMember(t, bin, env...))
	}
	own := owners(t, ms, parts, 60*time.Second)

	const apps, per = 9, 30
	for i := range per {
		for a := range apps {
			m := ms[(i+a)%3] // every process ingests every app
			body := fmt.Sprintf(`{"app":"app%d","msg":"m%03d"}`+"\n", a, i)
			if code := m.postNDJSON(body); code != 204 {
				t.Fatalf("POST to member %d: %d", (i+a)%3, code)
			}
		}
	}
	eventually.Within(t, 30*time.Second, "the drain gets every message", func() bool { return len(s.received()) >= apps*per })
	own = owners(t, ms, parts, 30*time.Second)
	got := s.received()
	if len(got) != apps*per {
		t.Errorf("drain got %d messages, want %d", len(got), apps*per)
	}
	next := map[string]int{}
	for _, l := range got {
		app, msg, _ := strings.Cut(l, " ")
		if want := fmt.Sprintf("m%03d", next[app]); msg != want {
			t.Fatalf("drain: app %s got %s, want %s (per-app order)", app, msg, want)
		}
		next[app]++
	}
	for a := range apps {
		app := fmt.Sprintf("app%d", a)
		owner := ms[own[bus.PartitionOf(app, parts)]]
		lines := owner.logs(app)
		if len(lines) != per {
			t.Fatalf("owner's ring of %s: %d lines, want %d", app, len(lines), per)
		}
		for i, l := range lines {
			if !strings.HasSuffix(l, fmt.Sprintf("m%03d", i)) {
				t.Fatalf("owner's ring of %s line %d: %q", app, i, l)
			}
		}
	}

	// SIGTERM one member: it commits, leaves, and the others take its
	// partitions.
	if err := ms[2].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ms[2].exit:
		ms[2].exit <- err
		if err != nil {
			t.Fatalf("SIGTERM: sluiced exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM: sluiced did not exit")
	}
	owners(t, ms[:2], parts, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	<-ctx.Done() // nothing more may arrive: committed messages are not redelivered
	if n := len(s.received()); n != apps*per {
		t.Errorf("after a clean leave the drain has %d messages, want %d (no redelivery)", n, apps*per)
	}
}

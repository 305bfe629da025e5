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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-logs/sluice/bus"
	"github.com/sluice-logs/sluice/cluster"
	"github.com/sluice-logs/sluice/drains"
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
// each once, in one generation, each member some when there are enough
// partitions, and returns partition → member index.
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
			if len(doc.Partitions) == 0 && len(ms) <= n {
				return false // mid cooperative rebalance: a member gets its share next generation
			}
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
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=12", "DRAIN_SINK=" + s.srv.URL + "?flush=50ms",
		"CLUSTER_SECRET=test-secret-0123456789"}
	var ms []*member
	for range 3 {
		ms = append(ms, startMember(t, bin, env...))
	}
	owners(t, ms, parts, 60*time.Second)

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
	own := owners(t, ms, parts, 30*time.Second)
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
	// /drains?cluster=1 on any process sums every member's drains: the
	// cluster delivered each message once, and its accounting balances.
	{
		resp, err := http.Get(ms[1].base + "/drains?cluster=1")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Drains  []drains.Status `json:"drains"`
			Members []struct {
				URL    string          `json:"url"`
				Drains []drains.Status `json:"drains"`
				Error  string          `json:"error"`
			} `json:"members"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /drains?cluster=1: %d %v", resp.StatusCode, err)
		}
		if len(doc.Members) != 3 {
			t.Errorf("cluster /drains lists %d members, want 3: %+v", len(doc.Members), doc.Members)
		}
		for _, m := range doc.Members {
			if m.Error != "" || len(m.Drains) != 1 {
				t.Errorf("member %s: %d drains, error %q", m.URL, len(m.Drains), m.Error)
			}
		}
		req, _ := http.NewRequest("GET", ms[0].base+"/drains", nil)
		req.Header.Set(cluster.ProofHeader, "1700000000.forged")
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
			t.Errorf("/drains with a forged member proof: %v %v, want 403", resp, err)
		} else {
			resp.Body.Close()
		}
		if len(doc.Drains) != 1 || doc.Drains[0].Delivered != apps*per || !doc.Drains[0].Balanced() {
			t.Errorf("cluster /drains sum: %+v, want one drain with %d delivered, balanced", doc.Drains, apps*per)
		}
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

	// Every process answers every app's reads (proxied to the owner).
	for a := range apps {
		app := fmt.Sprintf("app%d", a)
		for i, m := range ms {
			if lines := m.logs(app); len(lines) != per {
				t.Fatalf("member %d's answer for %s: %d lines, want %d", i, app, len(lines), per)
			}
		}
	}
	// A tail on a process that does not own the app streams from the
	// owner: a line posted to a third process arrives.
	{
		owner := own[bus.PartitionOf("app0", parts)]
		reader, writer := ms[(owner+1)%3], ms[(owner+2)%3]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", reader.base+"/apps/app0/logs?tail=1&num=1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("proxied tail: %d", resp.StatusCode)
		}
		sc := bufio.NewScanner(resp.Body)
		if !sc.Scan() || !strings.HasSuffix(sc.Text(), fmt.Sprintf("m%03d", per-1)) {
			t.Fatalf("proxied tail: first line %q, want the newest", sc.Text())
		}
		if code := writer.postNDJSON(`{"app":"app0","msg":"live"}` + "\n"); code != 204 {
			t.Fatalf("POST live: %d", code)
		}
		if !sc.Scan() || !strings.HasSuffix(sc.Text(), "live") {
			t.Fatalf("proxied tail: got %q (%v), want the live line", sc.Text(), sc.Err())
		}
		cancel()
		resp.Body.Close()
		eventually.Within(t, 30*time.Second, "the drain gets the live line", func() bool { return len(s.received()) == apps*per+1 })
	}

	// A request that claims to come from a member without a valid proof
	// is refused.
	for _, proof := range []string{"1.00", "x", fmt.Sprintf("%d.%s", time.Now().Unix(), strings.Repeat("ab", 32))} {
		req, _ := http.NewRequest("GET", ms[0].base+"/apps/app0/logs", nil)
		req.Header.Set("Sluice-Cluster-Proof", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("forged proof %q: %d, want 403", proof, resp.StatusCode)
		}
	}
	if resp, err := http.Get(ms[1].base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz of a joined member: %v %v", resp, err)
	} else {
		resp.Body.Close()
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
	// The survivors resume at the group's committed offsets: once those
	// equal the end offsets (so everything was delivered and committed
	// again by whoever owns it now), the drain must have each message once
	// and no survivor may count a redelivery.
	committedToEnd(t, brokers, "sluice", "logs", 30*time.Second)
	if n := len(s.received()); n != apps*per+1 {
		t.Errorf("after a clean leave the drain has %d messages, want %d (no redelivery)", n, apps*per+1)
	}
	for i, m := range ms[:2] {
		if r := m.metric("sluice_bus_redelivered_total"); r != 0 {
			t.Errorf("member %d counted %v redelivered after a clean leave", i, r)
		}
	}
}

// committedToEnd waits until the group's committed offset of every
// partition of topic equals the partition's end offset, both read from the
// brokers.
func committedToEnd(t *testing.T, brokers, group, topic string, within time.Duration) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var last string
	defer func() {
		if t.Failed() {
			t.Log(last)
		}
	}()
	eventually.Within(t, within, "the group's committed offsets reach the end offsets", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil || ends.Error() != nil {
			last = fmt.Sprint("end offsets: ", err, ends.Error())
			return false
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil || committed.Error() != nil {
			last = fmt.Sprint("committed offsets: ", err, committed.Error())
			return false
		}
		ok := true
		ends.Each(func(e kadm.ListedOffset) {
			c, found := committed.Lookup(topic, e.Partition)
			if e.Offset > 0 && (!found || c.At != e.Offset) {
				last = fmt.Sprintf("partition %d: committed %d, end %d", e.Partition, c.At, e.Offset)
				ok = false
			}
		})
		return ok
	})
}

// metric reads one unlabelled series from the member's /metrics (0 when
// absent or the member is gone).
func (m *member) metric(name string) float64 {
	resp, err := http.Get(m.base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// TestClusterSIGKILL kills one of three processes under HTTP ingest with
// retries: every message that got a 204 reaches the HTTP drain at least
// once, duplicates are few, and the survivors own every partition soon.
func TestClusterSIGKILL(t *testing.T) {
	bin := binaries(t)
	brokers := newBus(t)
	s := newSink(t)
	es := newBulkSink(t)
	const parts = 12
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=12", "DRAIN_SINK=" + s.srv.URL + "?flush=20ms",
		"DRAIN_ES=elasticsearch://" + strings.TrimPrefix(es.srv.URL, "http://") + "?index=logs&flush=20ms",
		"CLUSTER_SECRET=test-secret-0123456789"}
	var ms []*member
	for range 3 {
		ms = append(ms, startMember(t, bin, env...))
	}
	owners(t, ms, parts, 60*time.Second)

	const total, apps = 900, 20
	alive := []*member{ms[0], ms[1], ms[2]}
	acked := map[string]bool{}
	var killedAt time.Time
	deadline := time.Now().Add(90 * time.Second)
	for i := range total {
		if i == total/3 {
			if err := ms[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killedAt = time.Now()
		}
		id := fmt.Sprintf("id%04d", i)
		body := fmt.Sprintf(`{"app":"app%02d","msg":%q}`+"\n", i%apps, id)
		for try := 0; ; try++ {
			if time.Now().After(deadline) {
				t.Fatalf("message %d not accepted before the deadline", i)
			}
			m := alive[(i+try)%len(alive)]
			if code := m.postNDJSON(body); code == 204 {
				acked[id] = true
				break
			}
			if !killedAt.IsZero() && m == ms[2] {
				alive = ms[:2] // the sender learns that one is gone
			}
		}
	}
	own := owners(t, ms[:2], parts, 60*time.Second)
	took := time.Since(killedAt)
	t.Logf("survivors own all %d partitions %s after the SIGKILL (%d, %d)", len(own), took.Round(10*time.Millisecond),
		countOwned(own, 0), countOwned(own, 1))

	unique := func() (map[string]int, int) {
		seen := map[string]int{}
		got := s.received()
		for _, l := range got {
			_, msg, _ := strings.Cut(l, " ")
			seen[msg]++
		}
		return seen, len(got)
	}
	eventually.Within(t, 60*time.Second, "every acknowledged message reaches the drain", func() bool {
		seen, _ := unique()
		for id := range acked {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	})
	seen, n := unique()
	dups := n - len(seen)
	redelivered := ms[0].metric("sluice_bus_redelivered_total") + ms[1].metric("sluice_bus_redelivered_total")
	t.Logf("acknowledged %d, delivered %d (%d unique, %d duplicates); survivors counted %v redelivered",
		len(acked), n, len(seen), dups, redelivered)
	// Duplicates come only from the dead process's uncommitted window
	// (commits every second).
	// The survivors rebuilt the dead process's apps' rings from the bus:
	// every app's history is readable, through either survivor.
	for a := range apps {
		app := fmt.Sprintf("app%02d", a)
		have := map[string]bool{}
		for _, l := range ms[a%2].logs(app) {
			have[l[strings.LastIndexByte(l, ' ')+1:]] = true
		}
		for i := a; i < total; i += apps {
			if id := fmt.Sprintf("id%04d", i); acked[id] && !have[id] {
				t.Fatalf("%s's history lacks %s after the takeover (%d lines)", app, id, len(have))
			}
		}
	}
	if redelivered < float64(dups) {
		t.Errorf("sluice_bus_redelivered_total %v is less than the %d duplicates (it is an upper bound)", redelivered, dups)
	}
	if dups > total/3 {
		t.Errorf("%d duplicates, more than the uncommitted window allows", dups)
	}
	if took > 30*time.Second {
		t.Errorf("survivors took %s to own every partition", took)
	}

	// Stable ids: every message has one Elasticsearch _id (its bus
	// position) on every delivery, and a Logplex-Frame-Id seen again names
	// the same messages.
	eventually.Within(t, 60*time.Second, "every acknowledged message reaches the elasticsearch drain", func() bool {
		got := es.deliveries()
		for id := range acked {
			if len(got[id]) == 0 {
				return false
			}
		}
		return true
	})
	again := es.checkStableIDs(t)
	s.mu.Lock()
	frames, reused := len(s.frames), len(s.reused)
	for id := range s.frames {
		if !strings.HasPrefix(id, "bus-") {
			t.Errorf("Logplex-Frame-Id %q is not derived from bus positions", id)
			break
		}
	}
	s.mu.Unlock()
	if reused > 0 {
		t.Errorf("%d of %d Logplex-Frame-Ids came again with other messages", reused, frames)
	}
	t.Logf("elasticsearch drain: %d messages delivered again, each with its first _id", again)
}

func countOwned(own map[int32]int, i int) int {
	n := 0
	for _, m := range own {
		if m == i {
			n++
		}
	}
	return n
}

// TestClusterRoles runs the process types apart: one ROLE=ingest process
// takes the posts (it has no drain and joins no group) and two
// ROLE=router processes deliver them and answer reads, also through the
// ingest process.
func TestClusterRoles(t *testing.T) {
	bin := binaries(t)
	brokers := newBus(t)
	s := newSink(t)
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=6", "DRAIN_SINK=" + s.srv.URL + "?flush=20ms",
		"CLUSTER_SECRET=test-secret-0123456789"}
	ingest := startMember(t, bin, append(env, "ROLE=ingest")...)
	routers := []*member{startMember(t, bin, append(env, "ROLE=router")...), startMember(t, bin, append(env, "ROLE=router")...)}
	owners(t, routers, 6, 60*time.Second)
	if doc, err := ingest.cluster(); err != nil || doc.Joined || len(doc.Partitions) != 0 {
		t.Fatalf("ingest process in the group: %+v %v", doc, err)
	}
	const n = 40
	for i := range n {
		if code := ingest.postNDJSON(fmt.Sprintf(`{"app":"app%d","msg":"r%02d"}`+"\n", i%4, i)); code != 204 {
			t.Fatalf("POST to the ingest process: %d", code)
		}
	}
	eventually.Within(t, 30*time.Second, "the routers deliver every message", func() bool { return len(s.received()) >= n })
	if got := len(s.received()); got != n {
		t.Errorf("drain got %d, want %d", got, n)
	}
	for a := range 4 {
		if lines := ingest.logs(fmt.Sprintf("app%d", a)); len(lines) != n/4 {
			t.Errorf("app%d read through the ingest process: %d lines, want %d", a, len(lines), n/4)
		}
	}
	// A router process takes no ingest.
	if code := routers[0].postNDJSON(`{"app":"x","msg":"y"}` + "\n"); code != 404 && code != 405 {
		t.Errorf("POST /logs to a router process: %d, want 404", code)
	}
}

// TestClusterIdleMember runs more processes than partitions: the one with
// no partition is a member of the group all the same, and ready.
func TestClusterIdleMember(t *testing.T) {
	bin := binaries(t)
	brokers := newBus(t)
	s := newSink(t)
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=1", "DRAIN_SINK=" + s.srv.URL + "?flush=20ms",
		"CLUSTER_SECRET=test-secret-0123456789"}
	ms := []*member{startMember(t, bin, env...), startMember(t, bin, env...)}
	own := owners(t, ms, 1, 60*time.Second)
	idle := ms[1-own[0]]
	for i, m := range ms {
		eventually.Within(t, 30*time.Second, fmt.Sprintf("member %d is ready", i), func() bool {
			resp, err := http.Get(m.base + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}
	if doc, err := idle.cluster(); err != nil || !doc.Joined || len(doc.Partitions) != 0 {
		t.Fatalf("the idle member's /cluster: %+v %v", doc, err)
	}
	// It ingests, and answers reads through the owner.
	if code := idle.postNDJSON(`{"app":"a","msg":"one"}` + "\n"); code != 204 {
		t.Fatalf("POST to the idle member: %d", code)
	}
	eventually.Within(t, 30*time.Second, "the owner delivers", func() bool { return len(s.received()) == 1 })
	if lines := idle.logs("a"); len(lines) != 1 || !strings.HasSuffix(lines[0], "one") {
		t.Fatalf("read through the idle member: %q", lines)
	}
}

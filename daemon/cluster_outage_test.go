package daemon_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-logs/sluice/internal/eventually"
)

// failProduce makes the brokers refuse every produce request with a
// retriable error while down is set: the bus is unreachable for writes.
func failProduce(c *kfake.Cluster, down *atomic.Bool) {
	c.ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		req := r.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = req.Version
		for _, t := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotEnoughReplicas.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
}

// TestClusterBusOutage refuses every write to the bus for a while: ingest
// answers 429 or 503 with Retry-After (never 204) soon after the produce
// timeout (timeout=1s; franz-go fails a record at its next retry, after a
// metadata refresh, which it spaces 5s apart: about 5s here), every message acknowledged before, during or after reaches the
// drain, and ingest resumes once the brokers accept writes again.
func TestClusterBusOutage(t *testing.T) {
	bin := binaries(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var down atomic.Bool
	failProduce(c, &down)
	brokers := strings.Join(c.ListenAddrs(), ",")
	s := newSink(t)
	env := []string{"BUS_URL=kafka://" + brokers + "/logs?partitions=4&timeout=1s", "DRAIN_SINK=" + s.srv.URL + "?flush=20ms",
		"CLUSTER_SECRET=test-secret-0123456789"}
	ms := []*member{startMember(t, bin, env...), startMember(t, bin, env...)}
	owners(t, ms, 4, 60*time.Second)

	acked := map[string]bool{}
	post := func(m *member, id string) (int, string, time.Duration) {
		start := time.Now()
		resp, err := http.Post(m.base+"/logs", "application/x-ndjson",
			strings.NewReader(fmt.Sprintf(`{"app":"app%s","msg":%q}`+"\n", id[len(id)-1:], id)))
		if err != nil {
			t.Fatalf("POST %s: %v", id, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode == 204 {
			acked[id] = true
		}
		return resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)
	}
	for i := range 20 {
		if code, _, _ := post(ms[i%2], fmt.Sprintf("before%02d", i)); code != 204 {
			t.Fatalf("POST before the outage: %d", code)
		}
	}

	down.Store(true)
	for i := range 2 { // one per member; each waits for the produce timeout
		code, retry, took := post(ms[i%2], fmt.Sprintf("during%02d", i))
		if (code != 429 && code != 503) || retry == "" {
			t.Errorf("POST while the bus refuses writes: %d Retry-After %q, want 429 or 503 with Retry-After", code, retry)
		}
		t.Logf("POST while the bus refuses writes: %d after %s", code, took.Round(time.Millisecond))
		if took > 10*time.Second {
			t.Errorf("POST while the bus refuses writes took %s (timeout=1s)", took)
		}
	}
	for _, m := range ms {
		if doc, err := m.cluster(); err != nil || !doc.Joined {
			t.Errorf("a member left the group during the outage: %+v %v", doc, err)
		}
	}

	down.Store(false)
	i := 0
	eventually.Within(t, 30*time.Second, "ingest accepts again after the outage", func() bool {
		i++
		code, _, _ := post(ms[i%2], fmt.Sprintf("after%02d", i))
		return code == 204
	})
	for j := range 20 {
		if code, _, _ := post(ms[j%2], fmt.Sprintf("later%02d", j)); code != 204 {
			t.Fatalf("POST after the outage: %d", code)
		}
	}
	eventually.Within(t, 30*time.Second, "every acknowledged message reaches the drain", func() bool {
		seen := map[string]bool{}
		for _, l := range s.received() {
			_, msg, _ := strings.Cut(l, " ")
			seen[msg] = true
		}
		for id := range acked {
			if !seen[id] {
				return false
			}
		}
		return true
	})
	t.Logf("%d acknowledged; %d posts refused before ingest resumed", len(acked), i-1)
}

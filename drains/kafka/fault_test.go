package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/internal/eventually"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		permanent bool
	}{
		{"message too large", kafkago.MessageSizeTooLarge, true},
		{"record list too large", kafkago.RecordListTooLarge, true},
		{"invalid topic", kafkago.InvalidTopic, true},
		{"topic authorization", kafkago.TopicAuthorizationFailed, true},
		{"cluster authorization", kafkago.ClusterAuthorizationFailed, true},
		{"sasl authentication", fmt.Errorf("sasl: %w", kafkago.SASLAuthenticationFailed), true},
		{"unsupported compression", kafkago.UnsupportedCompressionType, true},
		{"wrapped too large", kafkago.MessageTooLargeError{}, true},
		{"already permanent", fmt.Errorf("%w: x", drains.ErrPermanent), true},
		{"leader not available", kafkago.LeaderNotAvailable, false},
		{"not leader", kafkago.NotLeaderForPartition, false},
		{"not enough replicas", kafkago.NotEnoughReplicas, false},
		{"not enough replicas after append", kafkago.NotEnoughReplicasAfterAppend, false},
		{"request timed out", kafkago.RequestTimedOut, false},
		{"unknown topic", kafkago.UnknownTopicOrPartition, false},
		{"throttled", kafkago.ThrottlingQuotaExceeded, false},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"eof", errors.New("unexpected EOF"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("logs", tt.err)
			if got := drains.IsPermanent(err); got != tt.permanent {
				t.Fatalf("classify(%v) = %v: permanent %v, want %v", tt.err, err, got, tt.permanent)
			}
			if !errors.Is(err, tt.err) && !errors.As(err, new(kafkago.MessageTooLargeError)) {
				t.Fatalf("classify(%v) = %v does not wrap the cause", tt.err, err)
			}
			if !strings.Contains(err.Error(), `topic "logs"`) {
				t.Fatalf("classify(%v) = %v: no context", tt.err, err)
			}
		})
	}
}

// failProduce makes the next produce request fail with code for every
// partition it carries, and returns the partitions it failed (readable
// once the Send returned).
func failProduce(c *kfake.Cluster, code int16, keep bool) *atomic.Int32 {
	var calls atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if keep {
			c.KeepControl()
		}
		calls.Add(1)
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return &calls
}

func TestProduceErrors(t *testing.T) {
	needFake(t)
	tests := []struct {
		name      string
		code      kafkago.Error
		permanent bool
	}{
		{"message too large", kafkago.MessageSizeTooLarge, true},
		{"topic authorization failed", kafkago.TopicAuthorizationFailed, true},
		{"invalid record", kafkago.InvalidRecord, true},
		{"not enough replicas", kafkago.NotEnoughReplicas, false},
		{"request timed out", kafkago.RequestTimedOut, false},
		{"not leader", kafkago.NotLeaderForPartition, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t, 1)
			d := newDrain(t, tg.config(), testOptions())
			send(t, d, makeBatch([]string{"web"}, 0, 3)) // topic exists, metadata cached
			calls := failProduce(tg.cluster, int16(tt.code), false)
			err := d.Send(context.Background(), makeBatch([]string{"web", "api"}, 3, 10))
			if calls.Load() != 1 {
				t.Fatalf("%d produce requests were failed, want 1", calls.Load())
			}
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			var be *drains.BatchError
			if errors.As(err, &be) {
				t.Fatalf("Send: %v: want a whole-batch error (one partition, all failed)", err)
			}
			if drains.IsPermanent(err) != tt.permanent || !errors.Is(err, tt.code) {
				t.Fatalf("Send: %v: want permanent=%v wrapping %v", err, tt.permanent, tt.code)
			}
			// The broker recovers: the next Send goes through.
			send(t, d, makeBatch([]string{"web"}, 13, 3))
		})
	}
}

// TestPartialFailure fails one partition's produce request of a batch that
// spans several partitions: Send reports exactly that partition's messages
// in a BatchError, and the rest is delivered.
func TestPartialFailure(t *testing.T) {
	needFake(t)
	tg := newTarget(t, 4)
	d := newDrain(t, tg.config(), testOptions())
	apps := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"}
	if err := d.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	failProduce(tg.cluster, int16(kafkago.NotEnoughReplicas), false)
	batch := makeBatch(apps, 0, 80)
	err := d.Send(context.Background(), batch)
	var be *drains.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Send: %v, want a *drains.BatchError", err)
	}
	if len(be.Failed) == 0 || len(be.Failed) == len(batch) {
		t.Fatalf("%d of %d messages failed, want some but not all", len(be.Failed), len(batch))
	}
	failedApps := map[string]bool{}
	var delivered []sluice.Message
	for i, m := range batch {
		if err, ok := be.Failed[i]; ok {
			if drains.IsPermanent(err) || !errors.Is(err, kafkago.NotEnoughReplicas) {
				t.Fatalf("message %d: %v, want retryable not enough replicas", i, err)
			}
			failedApps[m.App] = true
			continue
		}
		delivered = append(delivered, m)
	}
	for _, m := range delivered {
		if failedApps[m.App] {
			t.Fatalf("app %s both failed and delivered: its partition is all-or-nothing", m.App)
		}
	}
	checkRecords(t, consume(t, tg.brokers, tg.topic, len(delivered)), delivered, FormatRFC5424)
}

func TestTooLarge(t *testing.T) {
	tg := newTarget(t, 2)
	cfg := tg.config()
	cfg.MaxBytes = 2048
	d := newDrain(t, cfg, testOptions())

	t.Run("one of several", func(t *testing.T) {
		batch := makeBatch([]string{"web", "api"}, 0, 10)
		batch[4].Text += strings.Repeat("x", 4096)
		err := d.Send(context.Background(), batch)
		var be *drains.BatchError
		if !errors.As(err, &be) || len(be.Failed) != 1 || !drains.IsPermanent(be.Failed[4]) {
			t.Fatalf("Send: %v, want a BatchError failing message 4 permanently", err)
		}
		want := append(append([]sluice.Message(nil), batch[:4]...), batch[5:]...)
		checkRecords(t, consume(t, tg.brokers, tg.topic, len(want)), want, FormatRFC5424)
	})
	t.Run("all", func(t *testing.T) {
		batch := makeBatch([]string{"web"}, 100, 2)
		for i := range batch {
			batch[i].Text += strings.Repeat("x", 4096)
		}
		err := d.Send(context.Background(), batch)
		var be *drains.BatchError
		if !errors.As(err, &be) || len(be.Failed) != 2 || !drains.IsPermanent(be.Failed[0]) || !drains.IsPermanent(be.Failed[1]) {
			t.Fatalf("Send: %v, want a BatchError failing both messages permanently", err)
		}
	})
}

// TestBrokerDownAtStart: Sends fail with a retryable error while nothing
// listens, and succeed once a broker starts on the address.
func TestBrokerDownAtStart(t *testing.T) {
	needFake(t)
	addr := freeAddr(t)
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	opts := testOptions()
	opts.Timeout = time.Second
	d := newDrain(t, Config{Brokers: []string{addr}, Topic: "logs"}, opts)
	batch := makeBatch([]string{"web", "api"}, 0, 20)

	for i := 0; i < 2; i++ {
		err := d.Send(context.Background(), batch)
		if err == nil || drains.IsPermanent(err) {
			t.Fatalf("Send with no broker: %v, want a retryable error", err)
		}
	}
	if err := d.Check(context.Background()); err == nil {
		t.Fatal("Check with no broker succeeded")
	}

	c := newCluster(t, kfake.Ports(port), kfake.DefaultNumPartitions(2))
	sendEventually(t, d, batch)
	checkRecords(t, consume(t, c.ListenAddrs(), "logs", len(batch)), batch, FormatRFC5424)
}

// sendEventually retries Send (as a Worker would) until it succeeds or a
// deadline passes. Every failure must be retryable.
func sendEventually(t *testing.T, d *Drain, batch []sluice.Message) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := d.Send(context.Background(), batch)
		if err == nil {
			return
		}
		if drains.IsPermanent(err) {
			t.Fatalf("Send: %v, want only retryable errors", err)
		}
		var be *drains.BatchError
		if errors.As(err, &be) {
			t.Fatalf("Send: partial failure %v; this helper resends whole batches", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Send still failing after the deadline: %v", err)
		}
		<-tick.C
	}
}

// TestBrokerHangs: a broker that holds a produce request. Send returns
// when its ctx ends, with a retryable error, while kafka-go still holds the
// records; the next Sends must not overwrite those bytes (the race
// detector watches) and go through once the broker answers again.
//
// Nothing here depends on timing: the broker's produce handler sleeps
// (kfake SleepControl) until the test releases it, the hung Send's ctx is
// cancelled only once the handler holds the request, and the outcome is
// read after the release. (It used a 200 ms ctx and a 1 s drain timeout,
// and flaked under -cover ./... when dialing took longer than that.)
func TestBrokerHangs(t *testing.T) {
	needFake(t)
	tg := newTarget(t, 1)
	d := newDrain(t, tg.config(), testOptions())
	send(t, d, makeBatch([]string{"web"}, 0, 5))

	held := make(chan struct{})    // closed when the broker holds the request
	release := make(chan struct{}) // closed by the test: the broker answers
	var releaseOnce sync.Once
	unhold := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unhold) // before the cluster closes (cleanups run last first)
	var holding atomic.Bool
	tg.cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !holding.CompareAndSwap(false, true) {
			return nil, nil, false // only the first request is held
		}
		tg.cluster.DropControl()
		close(held)
		tg.cluster.SleepControl(func() { <-release })
		return nil, nil, false // then handled as usual: the records are written
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hung := make(chan error, 1)
	go func() { hung <- d.Send(ctx, makeBatch([]string{"web"}, 5, 5)) }()
	select {
	case <-held:
	case err := <-hung:
		t.Fatalf("Send returned %v before the broker held its request", err)
	}
	cancel()
	if err := <-hung; err == nil || drains.IsPermanent(err) {
		t.Fatalf("Send to a hung broker: %v, want a retryable error", err)
	}

	unhold()
	next := makeBatch([]string{"web"}, 10, 5)
	sendEventually(t, d, next)
	// The held request was written once the broker answered it, before
	// next: 15 records, each of the three batches whole.
	recs := consume(t, tg.brokers, tg.topic, 15)
	got := map[string]bool{}
	for _, r := range recs {
		got[seqOf(t, string(r.Value))] = true
	}
	for seq := 0; seq < 15; seq++ {
		if !got[strconv.Itoa(seq)] {
			t.Fatalf("message seq=%d missing after the broker recovered (got %d records)", seq, len(recs))
		}
	}
}

// TestBrokerRestartThroughWorker stops the broker in the middle of a
// stream and starts it again on the same port with the same data: the
// drain reconnects, and a policy=block Worker loses nothing.
func TestBrokerRestartThroughWorker(t *testing.T) {
	needFake(t)
	dir := t.TempDir()
	clusterOpts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3), kfake.DataDir(dir)}
	c1, err := kfake.NewCluster(clusterOpts...)
	if err != nil {
		t.Fatal(err)
	}
	addr := c1.ListenAddrs()[0]
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)

	opts := testOptions()
	opts.Policy = drains.PolicyBlock
	opts.Queue, opts.Batch, opts.Flush, opts.Timeout = 200, 50, 10*time.Millisecond, time.Second
	d, err := New(Config{Brokers: []string{addr}, Topic: "logs"}, opts, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	w := drains.NewWorker(drains.WorkerConfig{
		Name: "kafka", Kind: "kafka", URL: "kafka://" + addr + "/logs", Drain: d, Options: opts,
		Logger: testLogger(t), Metrics: drains.NewMetrics(prometheus.NewRegistry()),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	w.Start()

	const n = 2000
	apps := []string{"web", "worker", "api", "cron"}
	all := makeBatch(apps, 0, n)
	produced := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		for i := 0; i < n; i += 25 {
			if err := w.Enqueue(ctx, all[i:min(i+25, n)]); err != nil {
				produced <- err
				return
			}
		}
		produced <- nil
	}()

	eventually.True(t, "some deliveries", func() bool { return w.Status().Delivered >= 500 })
	c1.Close()
	eventually.True(t, "the worker to notice the broker is gone", func() bool { return w.Status().Retries > 0 })
	// Not checked here: Status().Balanced() while an Enqueue is blocked
	// (drains.Worker counts a message as received before it waits for
	// room; reported to the lead). It is checked after Stop below.
	c2, err := kfake.NewCluster(append(clusterOpts, kfake.Ports(port))...)
	if err != nil {
		t.Fatalf("restart kfake on port %d: %v", port, err)
	}
	defer c2.Close()

	if err := <-produced; err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	r := w.Stop(ctx)
	if r.Received != n || r.Delivered != n || r.Undelivered != 0 {
		t.Fatalf("Stop: %+v, want all %d received and delivered", r, n)
	}
	if s := w.Status(); !s.Balanced() || s.DroppedTotal() != 0 {
		t.Fatalf("status after Stop: %+v", s)
	}

	// At-least-once: a produce whose answer was lost is sent again, so
	// duplicates are allowed; losses and reordering (of first
	// occurrences) are not.
	recs := consume(t, c2.ListenAddrs(), "logs", n)
	seen := map[string]bool{}
	last := map[string]int{}
	for _, rec := range recs {
		seq := seqOf(t, string(rec.Value))
		if seen[seq] {
			continue
		}
		seen[seq] = true
		app := string(rec.Key)
		s, _ := strconv.Atoi(seq)
		if l, ok := last[app]; ok && s < l {
			t.Fatalf("app %s: seq=%d after seq=%d", app, s, l)
		}
		last[app] = s
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages in the topic, want %d", len(seen), n)
	}
	t.Logf("%d records for %d messages (%d duplicates), %d retries", len(recs), n, len(recs)-n, w.Status().Retries)
}

// TestSplitRequests: a partition's messages beyond max_bytes go in several
// produce requests, sent one after the other and delivered in order; when
// one fails, the later ones are not sent (they would overtake it) and the
// whole batch fails retryably.
func TestSplitRequests(t *testing.T) {
	needFake(t)
	tg := newTarget(t, 1)
	cfg := tg.config()
	cfg.MaxBytes = 2048
	d := newDrain(t, cfg, testOptions())
	var produces atomic.Int32
	tg.cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		produces.Add(1) // observe only: the broker handles the request
		return nil, nil, false
	})
	batch := makeBatch([]string{"web", "api"}, 0, 40) // ~5 KB of records: at least 3 requests
	send(t, d, batch)
	if n := produces.Load(); n < 3 {
		t.Fatalf("%d produce requests for ~5 KB with max_bytes 2048, want at least 3", n)
	}

	calls := failProduce(tg.cluster, int16(kafkago.NotEnoughReplicas), false)
	next := makeBatch([]string{"web", "api"}, 40, 40)
	err := d.Send(context.Background(), next)
	if calls.Load() != 1 {
		t.Fatalf("%d produce requests were failed, want 1", calls.Load())
	}
	var be *drains.BatchError
	if err == nil || drains.IsPermanent(err) || errors.As(err, &be) {
		t.Fatalf("Send: %v, want one retryable whole-batch error", err)
	}
	send(t, d, next)
	checkRecords(t, consume(t, tg.brokers, tg.topic, 80), append(batch, next...), FormatRFC5424)
}

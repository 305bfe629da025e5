package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/internal/eventually"
)

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testConfig(t *testing.T, c *kfake.Cluster, query string) Config {
	t.Helper()
	cfg, err := ParseURL("kafka://" + strings.Join(c.ListenAddrs(), ",") + "/sluice-bus?" + query)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// readAll consumes the whole topic (n records) directly.
func readAll(t *testing.T, cfg Config, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append(baseOpts(cfg), kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records before the deadline", len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func TestProducerPublishesKeyedInOrder(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(t, c, "partitions=8")
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := NewProducer(ctx, cfg, ProducerOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if p.Partitions() != 8 {
		t.Fatalf("partitions %d, want 8 (created)", p.Partitions())
	}
	const apps, per = 5, 40
	for i := range per {
		var batch []sluice.Message
		for a := range apps {
			batch = append(batch, sluice.Message{Time: time.Now(), App: fmt.Sprintf("app%d", a), Text: fmt.Sprintf("%d", i)})
		}
		if i%2 == 0 {
			err = p.Publish(ctx, batch)
		} else {
			err = p.TryPublish(batch)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(m.Produced); got != apps*per {
		t.Errorf("produced %v, want %d", got, apps*per)
	}
	next := map[string]int{}
	for _, r := range readAll(t, cfg, apps*per) {
		msg, err := Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != msg.App {
			t.Errorf("key %q, app %q", r.Key, msg.App)
		}
		if want := PartitionOf(msg.App, 8); r.Partition != want {
			t.Errorf("app %s on partition %d, want %d", msg.App, r.Partition, want)
		}
		if msg.Text != fmt.Sprint(next[msg.App]) {
			t.Fatalf("app %s: %q after %d (order)", msg.App, msg.Text, next[msg.App])
		}
		next[msg.App]++
	}

	// A second producer uses the topic as it is.
	cfg2 := cfg
	cfg2.Partitions = 3
	p2, err := NewProducer(ctx, cfg2, ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close(context.Background())
	if p2.Partitions() != 8 {
		t.Errorf("existing topic: partitions %d, want 8", p2.Partitions())
	}
}

// A bus that does not answer is backpressure: TryPublish refuses at once
// when the client's buffer is full, and nothing is lost once it answers.
func TestProducerBackpressure(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(t, c, "partitions=2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := NewProducer(ctx, cfg, ProducerOptions{MaxBuffered: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())

	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil, false
	})
	batch := make([]sluice.Message, 10)
	for i := range batch {
		batch[i] = sluice.Message{App: "a", Text: fmt.Sprint(i)}
	}
	first := make(chan error, 1)
	go func() { first <- p.Publish(ctx, batch) }()
	eventually.True(t, "the first batch fills the buffer", func() bool { return p.cl.BufferedProduceRecords() >= 10 })
	if err := p.TryPublish(batch[:1]); !errors.Is(err, sluice.ErrBackpressure) {
		t.Fatalf("TryPublish with a full buffer: %v, want ErrBackpressure", err)
	}
	select {
	case err := <-first:
		t.Fatalf("Publish returned %v before the brokers answered", err)
	default:
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := p.TryPublish(batch[:1]); err != nil {
		t.Fatal(err)
	}
	if got := len(readAll(t, cfg, 11)); got != 11 {
		t.Fatalf("read %d", got)
	}
}

package syslog

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/router"
)

// stuckDrain never delivers: Send waits until the Worker gives up on it.
type stuckDrain struct{}

func (stuckDrain) Send(ctx context.Context, _ []sluice.Message) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stuckDrain) Check(context.Context) error { return nil }
func (stuckDrain) Close(context.Context) error { return nil }

// countDrain counts what it delivers, per app.
type countDrain struct {
	mu  sync.Mutex
	got map[string]int
}

func (d *countDrain) Send(_ context.Context, batch []sluice.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range batch {
		d.got[strings.Clone(batch[i].App)]++ // the batch is reused after Send
	}
	return nil
}
func (d *countDrain) Check(context.Context) error { return nil }
func (d *countDrain) Close(context.Context) error { return nil }
func (d *countDrain) count(app string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got[app]
}

func appLines(s *buffer.Store, app string) uint64 {
	for _, a := range s.Apps(nil) {
		if a.Name == app {
			return a.Lines
		}
	}
	return 0
}

// TestUDPNeverWaitsOnABlockingDrain is row 4 of issue 10: one app's
// policy=block drain is full and stuck; UDP datagrams of another app must
// still reach its ring and the other drains, and the full drain drops the
// first app's excess, counted as udp_no_backpressure, with its accounting
// balanced. Before Offer, the UDP reader waited in Publish and the other
// app stored 0 of 1,000.
func TestUDPNeverWaitsOnABlockingDrain(t *testing.T) {
	store := buffer.New(buffer.Config{}, nil)
	defer store.Close()
	blockOpts := drains.DefaultOptions()
	blockOpts.Policy, blockOpts.Apps, blockOpts.Queue, blockOpts.Batch = drains.PolicyBlock, []string{"noisy"}, 10, 1
	stuck := drains.NewWorker(drains.WorkerConfig{Name: "stuck", Drain: stuckDrain{}, Options: blockOpts})
	all := &countDrain{got: map[string]int{}}
	allOpts := drains.DefaultOptions()
	allOpts.Flush = 10 * time.Millisecond
	other := drains.NewWorker(drains.WorkerConfig{Name: "all", Drain: all, Options: allOpts})
	for _, w := range []*drains.Worker{stuck, other} {
		w.Start()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			w.Stop(ctx)
		})
	}
	r := router.New(store, []*drains.Worker{stuck, other})
	cfg, _ := testConfig(r)
	addr := start(t, NewUDP(cfg))
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(app string, i int) {
		if _, err := c.Write([]byte(msg(app, "n"+strconv.Itoa(i)))); err != nil {
			t.Fatal(err)
		}
	}
	// Fill the blocking drain: 1 in flight (stuck in Send) + 10 queued,
	// and then some more that it must drop.
	const noisy = 50
	for i := range noisy {
		send("noisy", i)
	}
	waitFor(t, "the noisy app's datagrams in its ring", func() bool { return appLines(store, "noisy") == noisy })
	const quiet = 1000
	for i := range quiet {
		send("quiet", i)
		if i%100 == 99 { // keep the burst within the socket buffer
			want := uint64(i + 1)
			waitFor(t, "the quiet app's datagrams in its ring", func() bool { return appLines(store, "quiet") >= want })
		}
	}
	waitFor(t, "the quiet app's 1,000 datagrams in its ring", func() bool { return appLines(store, "quiet") == quiet })
	waitFor(t, "the quiet app's 1,000 datagrams in the other drain", func() bool { return all.count("quiet") == quiet })
	st := stuck.Status()
	if !st.Balanced() {
		t.Fatalf("stuck drain unbalanced: %+v", st)
	}
	if st.Received != noisy || st.Dropped[drains.ReasonUDPNoBackpressure] == 0 ||
		st.Dropped[drains.ReasonUDPNoBackpressure]+uint64(st.QueueMessages) != noisy {
		t.Fatalf("stuck drain: received %d, dropped %v, queued %d; want %d received, the excess dropped as %s",
			st.Received, st.Dropped, st.QueueMessages, noisy, drains.ReasonUDPNoBackpressure)
	}
	waitFor(t, "the noisy app's datagrams in the other drain", func() bool { return all.count("noisy") == noisy })
}

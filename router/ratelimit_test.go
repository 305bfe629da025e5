package router

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/buffer"
	"github.com/sluice-logs/sluice/drains"
)

// appBatch is n messages of app.
func appBatch(app string, n int) []sluice.Message {
	b := batchOf(n, 1)
	for i := range b {
		b[i].App = app
	}
	return b
}

// memDrain keeps the texts it delivers, per app.
type memDrain struct {
	mu  sync.Mutex
	got map[string][]string
}

func (d *memDrain) Send(_ context.Context, batch []sluice.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range batch {
		app := strings.Clone(batch[i].App)
		d.got[app] = append(d.got[app], strings.Clone(batch[i].Text))
	}
	return nil
}
func (d *memDrain) Check(context.Context) error { return nil }
func (d *memDrain) Close(context.Context) error { return nil }
func (d *memDrain) texts(app string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got[app]...)
}

func lines(s *buffer.Store, app string) []string {
	out := strings.TrimSpace(string(s.Last(nil, app, 1000, buffer.Filter{})))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// TestRateLimit: an app over APP_RATE_LIMIT loses its excess (counted as
// rate_limit), another app loses nothing, the limited app's stream (ring
// and drains) gets its L15 line within a second although it sends nothing
// more, and the bucket refills at the configured rate. Fake clock:
// testing/synctest.
func TestRateLimit(t *testing.T) {
	publishers := []struct {
		name    string
		publish func(r *Router, b []sluice.Message) error
	}{
		{"Publish", func(r *Router, b []sluice.Message) error { return r.Publish(context.Background(), b) }},
		{"TryPublish", (*Router).TryPublish},
		{"Offer", (*Router).Offer},
	}
	for _, pub := range publishers {
		t.Run(pub.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := buffer.New(buffer.Config{}, nil)
				defer store.Close()
				d := &memDrain{got: map[string][]string{}}
				o := drains.DefaultOptions()
				o.Flush = 10 * time.Millisecond
				w := drains.NewWorker(drains.WorkerConfig{Name: "mem", Drain: d, Options: o})
				w.Start()
				defer w.Stop(context.Background())
				r := New(store, []*drains.Worker{w})
				rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				r.LimitRate(RateLimit{PerSecond: 100, Burst: 10, Rejected: rejected})
				defer r.Close()

				// 25 of the runaway app interleaved with 5 of a calm one.
				var batch []sluice.Message
				batch = append(batch, appBatch("runaway", 20)...)
				batch = append(batch, appBatch("calm", 5)...)
				batch = append(batch, appBatch("runaway", 5)...)
				if err := pub.publish(r, batch); err != nil {
					t.Fatal(err)
				}
				if got := len(lines(store, "runaway")); got != 10 {
					t.Fatalf("runaway app: %d lines in its ring, want the burst of 10", got)
				}
				if got := len(lines(store, "calm")); got != 5 {
					t.Fatalf("calm app: %d lines in its ring, want 5", got)
				}
				if got := testutil.ToFloat64(rejected); got != 15 {
					t.Fatalf("rate_limit counted %v, want 15", got)
				}
				dropAt := time.Now()

				// Nothing more is sent; within a second the L15 line is in
				// the app's ring and drain.
				time.Sleep(ReportEvery)
				synctest.Wait()
				time.Sleep(50 * time.Millisecond) // the drain's flush
				synctest.Wait()
				want := "Error L15 (rate limit): 15 messages dropped since " + dropAt.UTC().Format(time.RFC3339) + "."
				ring := lines(store, "runaway")
				if len(ring) != 11 || !strings.HasSuffix(ring[10], want) {
					t.Fatalf("runaway ring after a second: %q, want an L15 line %q last", ring, want)
				}
				got := d.texts("runaway")
				if len(got) != 11 || got[10] != want {
					t.Fatalf("runaway drain after a second: %q, want %q last", got, want)
				}
				if n := len(d.texts("calm")); n != 5 || len(lines(store, "calm")) != 5 {
					t.Fatalf("calm app: %d delivered, want 5 and no notice", n)
				}
				// No drops, no new notice.
				time.Sleep(ReportEvery)
				synctest.Wait()
				if n := len(lines(store, "runaway")); n != 11 {
					t.Fatalf("a second L15 line without new drops (%d lines)", n)
				}

				// Refill: 100/s, so 50 ms later 5 more pass (the bucket
				// was full again after a second).
				if err := pub.publish(r, appBatch("runaway", 10)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
				if err := pub.publish(r, appBatch("runaway", 10)); err != nil {
					t.Fatal(err)
				}
				if got := len(lines(store, "runaway")); got != 11+10+5 {
					t.Fatalf("after the refill the ring holds %d lines, want %d", got, 11+10+5)
				}
			})
		})
	}
}

// TestRateLimitRefundsRefusedBatch: a batch that TryPublish refuses for
// backpressure spends no tokens and counts no drops: the sender will send
// it again.
func TestRateLimitRefundsRefusedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := buffer.New(buffer.Config{}, nil)
		defer store.Close()
		full := blockingWorker(t, "full", 1)
		r := New(store, []*drains.Worker{full})
		rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
		r.LimitRate(RateLimit{PerSecond: 10, Rejected: rejected})
		defer r.Close()
		if err := r.TryPublish(appBatch("a", 1)); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if err := r.TryPublish(appBatch("a", 20)); !errors.Is(err, sluice.ErrBackpressure) {
				t.Fatalf("TryPublish = %v, want ErrBackpressure", err)
			}
		}
		if got := testutil.ToFloat64(rejected); got != 0 {
			t.Fatalf("refused batches counted %v rate-limit drops, want 0", got)
		}
		// The 9 tokens left are all still there: a batch of 9 for another
		// router path (Offer) passes whole.
		if err := r.Offer(appBatch("a", 9)); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(rejected); got != 0 {
			t.Fatalf("tokens were spent by refused batches: %v dropped", got)
		}
	})
}

// TestRateLimitOffIsFree: without LimitRate (or with 0) the router keeps
// no limiter and starts no goroutine.
func TestRateLimitOffIsFree(t *testing.T) {
	store := buffer.New(buffer.Config{}, nil)
	defer store.Close()
	r := New(store, nil)
	r.LimitRate(RateLimit{})
	if r.lim != nil || r.stopLim != nil {
		t.Fatal("APP_RATE_LIMIT=0 made a limiter")
	}
	r.Close()
}

// BenchmarkPublishRateLimit measures what APP_RATE_LIMIT costs Publish:
// off (the router as before), on with room (every message checked, none
// dropped) for a batch of 400 messages over 100 interleaved apps (a lookup
// per message: the worst case) and of one app (one lookup per batch), and
// on while dropping nearly everything (the runaway app). One op is one
// batch of 400 messages.
func BenchmarkPublishRateLimit(b *testing.B) {
	cases := []struct {
		name  string
		batch []sluice.Message
		limit int
	}{
		{"off/100apps", batchOf(400, 100), 0},
		{"on/100apps", batchOf(400, 100), 1_000_000_000},
		{"off/1app", batchOf(400, 1), 0},
		{"on/1app", batchOf(400, 1), 1_000_000_000},
		{"on/dropping", batchOf(400, 1), 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			store := buffer.New(buffer.Config{}, nil)
			defer store.Close()
			r := New(store, nil)
			r.LimitRate(RateLimit{PerSecond: c.limit})
			defer r.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := r.Publish(context.Background(), c.batch); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*len(c.batch))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkLimiterDecide isolates the limiter's own cost per batch of 400
// messages (decide and commit, no ring): what APP_RATE_LIMIT adds to
// Publish when on.
func BenchmarkLimiterDecide(b *testing.B) {
	for _, apps := range []int{1, 100} {
		b.Run(strconv.Itoa(apps)+"apps", func(b *testing.B) {
			l := newLimiter(RateLimit{PerSecond: 1_000_000_000})
			batch := batchOf(400, apps)
			l.commit(l.decide(batch)) // create the buckets
			b.ReportAllocs()
			for b.Loop() {
				l.commit(l.decide(batch))
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// TestRateLimitForgetsQuietApps: the buckets of apps that have been quiet
// (and full again) for forgetAfter are dropped, so 100,000 apps that each
// sent once do not stay in memory.
func TestRateLimitForgetsQuietApps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := buffer.New(buffer.Config{}, nil)
		defer store.Close()
		r := New(store, nil)
		r.LimitRate(RateLimit{PerSecond: 10})
		defer r.Close()
		const apps = 1000
		if err := r.Publish(context.Background(), batchOf(apps, apps)); err != nil {
			t.Fatal(err)
		}
		buckets := func() (n int) {
			r.lim.buckets.Range(func(any, any) bool { n++; return true })
			return n
		}
		if n := buckets(); n != apps {
			t.Fatalf("%d buckets, want %d", n, apps)
		}
		time.Sleep(forgetAfter + 2*ReportEvery)
		synctest.Wait()
		if n := buckets(); n != 0 {
			t.Fatalf("%d buckets left after %s quiet, want 0", n, forgetAfter)
		}
	})
}

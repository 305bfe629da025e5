package router

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

// RateLimit configures the per-app rate limit (APP_RATE_LIMIT,
// APP_RATE_BURST).
type RateLimit struct {
	// PerSecond is the messages per second each app may send; 0 is off.
	PerSecond int
	// Burst is how many messages an app that has been quiet may send at
	// once; 0 means PerSecond.
	Burst int
	// Rejected counts the messages dropped (sluice_ingest_rejected_total
	// {transport="router",reason="rate_limit"}); nil counts nowhere.
	Rejected prometheus.Counter
	// Report is how often the L15 notices are written; 0 means a second.
	Report time.Duration
}

// ReportEvery is RateLimit.Report's default: an app that is being
// limited sees its L15 line within a second, even if it sends nothing
// more.
const ReportEvery = time.Second

// limiter is a token bucket per app, kept as GCRA's one number (the
// "theoretical arrival time", TAT): a message is allowed when the TAT is
// at most tau ahead of now, and moves it interval further. A bucket is one
// atomic word, so allowing a run of messages is one map lookup and one CAS,
// with no lock and no allocation.
type limiter struct {
	interval int64 // nanoseconds per message
	tau      int64 // burst × interval
	epoch    time.Time
	rejected prometheus.Counter
	report   time.Duration
	buckets  sync.Map // app name → *bucket
	plans    sync.Pool
}

type bucket struct {
	tat atomic.Int64 // nanoseconds since the limiter's epoch

	mu      sync.Mutex // guards what follows: the drops not yet reported
	dropped uint64
	since   time.Time
}

// run is one stretch of a batch with one app: taken messages were allowed
// (tokens spent), dropped ones were not.
type run struct {
	b       *bucket
	taken   int64
	dropped int64
}

// plan is what the limiter decided for one batch; pooled.
type plan struct {
	buf     []sluice.Message // the allowed ones, once some were dropped; reused across plans
	runs    []run
	dropped int64
}

func newLimiter(c RateLimit) *limiter {
	burst := c.Burst
	if burst <= 0 {
		burst = c.PerSecond
	}
	l := &limiter{
		interval: max(int64(time.Second)/int64(c.PerSecond), 1),
		epoch:    time.Now(),
		rejected: c.Rejected,
		report:   c.Report,
	}
	l.tau = int64(burst) * l.interval
	if l.report <= 0 {
		l.report = ReportEvery
	}
	l.plans.New = func() any { return new(plan) }
	return l
}

func (l *limiter) now() int64 { return int64(time.Since(l.epoch)) }

// bucket returns app's bucket, creating it on first use.
func (l *limiter) bucket(app string) *bucket {
	if b, ok := l.buckets.Load(app); ok {
		return b.(*bucket)
	}
	b, _ := l.buckets.LoadOrStore(string([]byte(app)), new(bucket)) // app may alias a read buffer
	return b.(*bucket)
}

// take spends up to n tokens of b and returns how many it could.
func (l *limiter) take(b *bucket, n, now int64) int64 {
	for {
		tat := b.tat.Load()
		base := max(tat, now)
		room := (l.tau - (base - now)) / l.interval
		k := min(n, room)
		if k <= 0 {
			return 0
		}
		if b.tat.CompareAndSwap(tat, base+k*l.interval) {
			return k
		}
	}
}

// decide spends the tokens batch needs, per run of one app, and returns
// the plan; p.messages(batch) is what may pass. Release the plan with commit (the batch was accepted) or refund
// (it was not).
func (l *limiter) decide(batch []sluice.Message) *plan {
	p := l.plans.Get().(*plan)
	now := l.now()
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].App == batch[i].App {
			j++
		}
		b := l.bucket(batch[i].App)
		n := int64(j - i)
		k := l.take(b, n, now)
		p.runs = append(p.runs, run{b: b, taken: k, dropped: n - k})
		if k < n && p.dropped == 0 { // the first drop: copy what was allowed so far
			p.buf = append(p.buf[:0], batch[:i]...)
		}
		p.dropped += n - k
		if p.dropped > 0 {
			p.buf = append(p.buf, batch[i:i+int(k)]...)
		}
		i = j
	}
	return p
}

// messages returns what the plan lets through of batch.
func (p *plan) messages(batch []sluice.Message) []sluice.Message {
	if p.dropped > 0 {
		return p.buf
	}
	return batch
}

// commit counts the plan's drops and releases it.
func (l *limiter) commit(p *plan) {
	if p.dropped > 0 {
		if l.rejected != nil {
			l.rejected.Add(float64(p.dropped))
		}
		wall := time.Now()
		for _, r := range p.runs {
			if r.dropped == 0 {
				continue
			}
			r.b.mu.Lock()
			if r.b.dropped == 0 {
				r.b.since = wall
			}
			r.b.dropped += uint64(r.dropped)
			r.b.mu.Unlock()
		}
	}
	l.release(p)
}

// refund gives back the tokens of a batch that was not accepted, and
// releases the plan.
func (l *limiter) refund(p *plan) {
	for _, r := range p.runs {
		if r.taken > 0 {
			r.b.tat.Add(-r.taken * l.interval)
		}
	}
	l.release(p)
}

func (l *limiter) release(p *plan) {
	clear(p.runs) // drop the bucket pointers
	p.runs = p.runs[:0]
	clear(p.buf) // drop the references into the caller's buffers
	p.buf = p.buf[:0]
	if cap(p.buf) > 4096 {
		p.buf = nil // one huge batch does not pin its copy
	}
	p.dropped = 0
	l.plans.Put(p)
}

// notices takes the unreported drops of every app as L15 lines, and
// forgets the buckets that have been full and quiet for idle.
func (l *limiter) notices(now time.Time, idle time.Duration) []sluice.Message {
	var out []sluice.Message
	mono := l.now()
	l.buckets.Range(func(k, v any) bool {
		b := v.(*bucket)
		b.mu.Lock()
		n, since := b.dropped, b.since
		b.dropped = 0
		b.mu.Unlock()
		if n > 0 {
			out = append(out, sluice.Message{
				Time:     now,
				App:      k.(string),
				Source:   "sluice",
				Proc:     "router",
				Text:     sluice.DropNotice("L15", "rate limit", n, since),
				Facility: sluice.DefaultFacility,
				Severity: 3, // error
			})
		} else if mono-b.tat.Load() > int64(idle) {
			// A racing take on a forgotten bucket is lost: that app may
			// get one burst more.
			l.buckets.Delete(k)
		}
		return true
	})
	return out
}

// forgetAfter is how long a full, quiet bucket is kept: the map holds the
// apps that sent in the last minute, not every app ever seen.
const forgetAfter = time.Minute

// LimitRate turns on the per-app rate limit for every later Publish,
// TryPublish and Offer, and starts the goroutine that writes each limited
// app's `Error L15 (rate limit): N messages dropped since <time>.` line
// into its ring and drains every c.Report (a second). Call it once, before
// the router is used; Close stops the goroutine. PerSecond <= 0 leaves the
// router unlimited, at no cost.
func (r *Router) LimitRate(c RateLimit) {
	if c.PerSecond <= 0 {
		return
	}
	r.lim = newLimiter(c)
	ctx, cancel := context.WithCancel(context.Background())
	r.stopLim = cancel
	r.limDone = make(chan struct{})
	go r.reportDrops(ctx)
}

// reportDrops is the L15 goroutine.
func (r *Router) reportDrops(ctx context.Context) {
	defer close(r.limDone)
	tick := time.NewTicker(r.lim.report)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if msgs := r.lim.notices(now, forgetAfter); len(msgs) > 0 {
				r.notify(msgs)
			}
		}
	}
}

// notify puts router notices into the rings and the drains, never
// waiting: a full policy=block drain drops them, counted (there is no
// sender to push back).
func (r *Router) notify(msgs []sluice.Message) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return
	}
	r.store.Append(msgs)
	drains.OfferAll(r.workers, msgs)
}

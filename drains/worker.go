package drains

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
)

// The Worker's code is split by concern, each file with its own part of
// the state machine:
//
//   - queue.go: the bounded queue and the backpressure policy (what enters,
//     what is dropped to make room); it returns what it dropped, one
//     message per step, and never counts.
//   - enqueue.go: the producers' side (Enqueue, TryEnqueue, waiting for room
//     under policy=block) and the counting of what the queue dropped.
//   - deliver.go: the goroutine: batching by size and age, Send, settling
//     the outcome of each message.
//   - retry.go: backoff, deadlines and the failure state (up, retrying,
//     down).
//   - notices.go: the in-band L10 notices, per app and aggregated, under
//     the batch limits.
//   - status.go: drop reasons, Status and Report.

// WorkerConfig is what NewWorker needs.
type WorkerConfig struct {
	Name    string // the NAME of DRAIN_<NAME>, lower case; the metrics label
	Kind    string // the drain kind (http, kafka, elasticsearch), for Status
	URL     string // already redacted (use Redact)
	Drain   Drain
	Options Options
	Logger  *slog.Logger // nil: discard
	Metrics *Metrics     // shared by all workers; nil: no metrics
	// Notify is called, from the Worker's goroutine, with each in-band L10
	// message once it has been delivered, so that the router puts it in
	// the app's ring. It must not block for long. May be nil.
	Notify func(m sluice.Message)
	// MinBackoff and MaxBackoff bound the retry waits (zero: 100ms, 30s).
	MinBackoff, MaxBackoff time.Duration
}

// Worker gives one Drain a bounded queue and one goroutine that batches,
// sends, retries and accounts. See the package documentation.
//
// Enqueue, HasRoom, Need, Wants, Policy and Status are safe for concurrent
// use. Start and Stop are called once each, by the owner.
type Worker struct {
	cfg   WorkerConfig
	opts  Options
	apps  map[string]struct{} // nil: every app
	log   *slog.Logger
	epoch time.Time
	hist  prometheus.Observer

	wake   chan struct{} // capacity 1: "look at the queue"
	stopCh chan struct{} // closed by Stop
	done   chan struct{} // closed when the goroutine returns

	// cancel ends the goroutine's sends and waits when Stop's ctx ends.
	cancel   context.CancelFunc
	stopOnce sync.Once
	report   Report

	mu       sync.Mutex
	q        queue
	started  bool
	closed   bool      // Stop was called: Enqueue refuses
	deadline time.Time // Stop's deadline, if any
	space    chan struct{}
	waiters  int
	notices  notices // drops not yet reported in-band (notices.go)
	seq      uint64
	stats    stats
}

// stats are the Worker's counters and failure state (status.go, retry.go),
// guarded by Worker.mu.
type stats struct {
	received     uint64
	delivered    uint64
	dropped      [numReasons]uint64
	retries      uint64
	state        string
	fails        int
	failingSince time.Time
	lastErr      string
	lastDelivery time.Time
}

// NewWorker returns a Worker for cfg.Drain. Zero Options fields take their
// defaults. Call Start to run it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	opts := cfg.Options.withDefaults()
	w := &Worker{
		cfg:     cfg,
		opts:    opts,
		q:       newQueue(opts),
		log:     cfg.Logger.With("drain", cfg.Name),
		epoch:   time.Now(),
		wake:    make(chan struct{}, 1),
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
		space:   make(chan struct{}),
		notices: notices{apps: make(map[string]*dropRec)},
		stats:   stats{state: StateUp},
	}
	if len(w.opts.Apps) > 0 {
		w.apps = make(map[string]struct{}, len(w.opts.Apps))
		for _, a := range w.opts.Apps {
			w.apps[a] = struct{}{}
		}
	}
	if cfg.Metrics != nil {
		w.hist = cfg.Metrics.add(w)
	}
	return w
}

// Name returns the drain's name.
func (w *Worker) Name() string { return w.cfg.Name }

// Start starts the Worker's goroutine. Stop waits for it.
func (w *Worker) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.closed {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.run(ctx)
}

// Wants reports whether the drain takes app's messages (apps=).
func (w *Worker) Wants(app string) bool {
	if w.apps == nil {
		return true
	}
	_, ok := w.apps[app]
	return ok
}

// Policy returns the backpressure policy.
func (w *Worker) Policy() Policy { return w.opts.Policy }

// Stop stops taking messages, delivers what is queued until ctx ends
// (retrying as usual), then gives up on the rest (counted as dropped,
// reason shutdown) and closes the drain. Later calls return the same
// Report.
func (w *Worker) Stop(ctx context.Context) Report {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		if d, ok := ctx.Deadline(); ok {
			w.deadline = d
		}
		started := w.started
		w.mu.Unlock()
		close(w.stopCh)
		if started {
			select {
			case <-w.done:
			case <-ctx.Done():
				w.cancel()
				<-w.done
			}
			w.cancel()
		} else {
			var b batch
			w.mu.Lock()
			w.giveUpLocked(&b)
			w.mu.Unlock()
		}
		cerr := w.cfg.Drain.Close(ctx)
		w.mu.Lock()
		w.stats.state = StateStopped
		r := w.reportLocked(cerr)
		w.mu.Unlock()
		if cerr != nil {
			w.log.Warn("drain close failed", "url", w.cfg.URL, "err", cerr)
		}
		if r.Undelivered > 0 {
			w.log.Warn("drain stopped with undelivered messages", "url", w.cfg.URL, "undelivered", r.Undelivered)
		}
		w.report = r
	})
	return w.report
}

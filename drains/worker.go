package drains

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains/retryafter"
)

// Drop reasons, the values of the reason label and the keys of
// Status.Dropped.
const (
	ReasonQueueFull = "queue_full" // the oldest queued message made room (policy=drop)
	ReasonTooLarge  = "too_large"  // one message larger than queue_bytes
	ReasonPermanent = "permanent"  // the destination refused it (ErrPermanent)
	ReasonShutdown  = "shutdown"   // still queued when Stop's deadline passed
)

type reason int

const (
	queueFull reason = iota
	tooLarge
	permanent
	shutdown
	numReasons
)

var reasonNames = [numReasons]string{ReasonQueueFull, ReasonTooLarge, ReasonPermanent, ReasonShutdown}

// Worker states, Status.State.
const (
	StateUp       = "up"       // the last attempt succeeded (or none was made yet)
	StateRetrying = "retrying" // the last attempts failed; retrying
	StateDown     = "down"     // failing for downAfterFails attempts or downAfter
	StateStopped  = "stopped"  // Stop has returned
)

const (
	downAfterFails = 5
	downAfter      = 30 * time.Second
)

// Backoff defaults: full jitter over an exponential ceiling.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

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

	mu            sync.Mutex
	q             ring
	started       bool
	closed        bool      // Stop was called: Enqueue refuses
	deadline      time.Time // Stop's deadline, if any
	space         chan struct{}
	waiters       int
	inflight      int // messages in the in-flight batch (notices excluded)
	inflightBytes int64
	drops         map[string]*dropRec // per app, not yet reported in-band
	received      uint64
	delivered     uint64
	dropped       [numReasons]uint64
	retries       uint64
	state         string
	fails         int
	failingSince  time.Time
	lastErr       string
	lastDelivery  time.Time
	seq           uint64
}

type dropRec struct {
	n     uint64
	since time.Time
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
	w := &Worker{
		cfg:    cfg,
		opts:   cfg.Options.withDefaults(),
		log:    cfg.Logger.With("drain", cfg.Name),
		epoch:  time.Now(),
		wake:   make(chan struct{}, 1),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
		space:  make(chan struct{}),
		drops:  make(map[string]*dropRec),
		state:  StateUp,
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

// Need returns how many of batch's messages the drain wants and their
// bytes, the arguments of HasRoom.
func (w *Worker) Need(batch []sluice.Message) (n int, bytes int64) {
	for i := range batch {
		if w.Wants(batch[i].App) {
			n++
			bytes += int64(batch[i].Size())
		}
	}
	return n, bytes
}

// HasRoom reports whether n messages of the given bytes would enter the
// queue now without waiting. It is always true with policy=drop (room is
// made by dropping the oldest) and false once the Worker is stopping.
func (w *Worker) HasRoom(n int, bytes int64) bool {
	if w.opts.Policy == PolicyDrop {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	return w.q.n+w.inflight+n <= w.opts.Queue && w.q.bytes+w.inflightBytes+bytes <= w.opts.QueueBytes
}

// Enqueue copies the messages of batch that the drain wants into its queue,
// in order. With policy=drop it never blocks: the oldest queued messages
// are dropped (and counted) to make room. With policy=block it waits for
// room, and returns ctx.Err() if ctx ends first, with the batch partly
// accepted. After Stop it returns sluice.ErrClosed and takes nothing.
// A message larger than queue_bytes is dropped (reason too_large).
func (w *Worker) Enqueue(ctx context.Context, batch []sluice.Message) error {
	return w.enqueue(ctx, batch)
}

// TryEnqueue is Enqueue that never waits: with policy=block it takes all
// of the wanted messages of batch or, when the queue lacks room for them,
// none, and returns sluice.ErrBackpressure. With policy=drop it is Enqueue.
// Unlike HasRoom followed by Enqueue, the check and the copy are atomic.
func (w *Worker) TryEnqueue(batch []sluice.Message) error {
	if w.opts.Policy != PolicyBlock {
		return w.Enqueue(context.Background(), batch)
	}
	return TryEnqueueAll([]*Worker{w}, batch)
}

// TryEnqueueAll is TryEnqueue over several workers at once, all or
// nothing: either every worker takes its wanted messages of batch, or none
// takes any and the error says why (sluice.ErrBackpressure when one of
// them lacks room, sluice.ErrClosed when one is stopping). It never waits
// for room. The workers' locks are taken in the order of ws, so every
// caller must pass its workers in one fixed order (the router's), each
// worker once.
func TryEnqueueAll(ws []*Worker, batch []sluice.Message) error {
	for i, w := range ws {
		w.mu.Lock()
		var err error
		switch {
		case w.closed:
			err = sluice.ErrClosed
		case w.opts.Policy == PolicyBlock && !w.roomLocked(batch):
			err = sluice.ErrBackpressure
		}
		if err != nil {
			for _, u := range ws[:i+1] {
				u.mu.Unlock()
			}
			return err
		}
	}
	enq := time.Now()
	for _, w := range ws {
		// Everything fits: enqueueLocked never waits, never fails.
		accepted, _ := w.enqueueLocked(context.Background(), batch, enq)
		w.mu.Unlock()
		if accepted > 0 {
			w.signal()
		}
	}
	return nil
}

// roomLocked reports whether the wanted messages of batch that are not too
// large for the queue fit in it now, all of them.
func (w *Worker) roomLocked(batch []sluice.Message) bool {
	var n int
	var bytes int64
	for i := range batch {
		if size := int64(batch[i].Size()); w.Wants(batch[i].App) && size <= w.opts.QueueBytes {
			n++
			bytes += size
		}
	}
	return w.q.n+w.inflight+n <= w.opts.Queue && w.q.bytes+w.inflightBytes+bytes <= w.opts.QueueBytes
}

func (w *Worker) enqueue(ctx context.Context, batch []sluice.Message) error {
	now := time.Now()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return sluice.ErrClosed
	}
	accepted, err := w.enqueueLocked(ctx, batch, now)
	w.mu.Unlock()
	if accepted > 0 {
		w.signal()
	}
	return err
}

// enqueueLocked copies the wanted messages of batch into the queue. With
// policy=block it waits for room (unlocking w.mu meanwhile) and returns
// early when ctx ends or the Worker stops. start is when the call began,
// the messages' enqueue time.
func (w *Worker) enqueueLocked(ctx context.Context, batch []sluice.Message, start time.Time) (accepted int, err error) {
	enq := int64(start.Sub(w.epoch))
	var now time.Time // wall clock of drops, read once
	for i := range batch {
		m := &batch[i]
		if w.apps != nil && !w.Wants(m.App) {
			continue
		}
		size := int64(m.Size())
		// received counts a message together with its outcome (queued or
		// dropped), under the same lock, so Status always balances.
		if size > w.opts.QueueBytes {
			if now.IsZero() {
				now = time.Now()
			}
			w.received++
			w.dropLocked(m.App, tooLarge, now)
			continue
		}
		for !w.fitsLocked(size) {
			if w.opts.Policy == PolicyDrop {
				if w.q.n == 0 {
					break // all in flight: the new message is the one dropped
				}
				if now.IsZero() {
					now = time.Now()
				}
				old := w.q.oldest()
				osize := int64(old.Size())
				w.dropLocked(old.App, queueFull, now)
				w.q.pop(osize)
				continue
			}
			if err := w.waitRoomLocked(ctx); err != nil {
				return accepted, err
			}
		}
		if !w.fitsLocked(size) {
			if now.IsZero() {
				now = time.Now()
			}
			w.received++
			w.dropLocked(m.App, queueFull, now)
			continue
		}
		w.received++
		w.q.grow(w.opts.Queue)
		w.q.push(m, size, enq)
		accepted++
	}
	return accepted, nil
}

// waitRoomLocked waits, with w.mu unlocked, until the goroutine frees room
// in the queue, ctx ends or the Worker stops (policy=block).
func (w *Worker) waitRoomLocked(ctx context.Context) error {
	w.waiters++
	ch := w.space
	w.mu.Unlock()
	w.signal()
	var err error
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	case <-w.stopCh:
		err = sluice.ErrClosed
	}
	w.mu.Lock()
	w.waiters--
	if err == nil && w.closed {
		err = sluice.ErrClosed
	}
	return err
}

func (w *Worker) fitsLocked(size int64) bool {
	return w.q.n+w.inflight < w.opts.Queue && w.q.bytes+w.inflightBytes+size <= w.opts.QueueBytes
}

// dropLocked counts one dropped message of app. Queue overflows are
// remembered per app for the in-band L10 report.
func (w *Worker) dropLocked(app string, r reason, now time.Time) {
	w.dropped[r]++
	if r != queueFull && r != tooLarge {
		return
	}
	d, ok := w.drops[app]
	if !ok {
		// app may view a queue buffer that is about to be reused.
		d = &dropRec{since: now}
		w.drops[strings.Clone(app)] = d
	}
	d.n++
}

// signal wakes the goroutine without blocking.
func (w *Worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// freedLocked wakes the Enqueue calls waiting for room.
func (w *Worker) freedLocked() {
	if w.waiters > 0 {
		close(w.space)
		w.space = make(chan struct{})
	}
}

// run is the Worker's goroutine: it owns the in-flight batch.
func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var b batch
	s := sendState{timer: time.NewTimer(time.Hour)}
	s.timer.Stop()
	for {
		w.mu.Lock()
		stopping := w.closed
		if w.q.n == 0 && len(w.drops) == 0 {
			w.mu.Unlock()
			if stopping {
				return
			}
			select {
			case <-w.wake:
			case <-w.stopCh:
			}
			continue
		}
		if !stopping && w.waiters == 0 && w.q.n < w.opts.Batch && w.q.bytes < w.opts.BatchBytes {
			wait := w.opts.Flush - w.ageLocked()
			if wait > 0 {
				w.mu.Unlock()
				timer.Reset(wait)
				select {
				case <-w.wake:
				case <-timer.C:
				case <-w.stopCh:
				}
				timer.Stop()
				continue
			}
		}
		w.takeLocked(&b)
		w.mu.Unlock()

		w.deliver(ctx, &b, &s)
		if ctx.Err() != nil {
			// Stop's deadline passed: what is left will not be delivered.
			w.mu.Lock()
			w.giveUpLocked(&b)
			w.mu.Unlock()
			return
		}
	}
}

// ageLocked returns how long the oldest queued message (or unreported
// drop) has waited.
func (w *Worker) ageLocked() time.Duration {
	now := time.Since(w.epoch)
	var age time.Duration
	if w.q.n > 0 {
		age = now - time.Duration(w.q.enq[w.q.head])
	}
	for _, d := range w.drops {
		if a := time.Since(d.since); a > age {
			age = a
		}
	}
	return age
}

// takeLocked fills b: one L10 notice per app with unreported drops, then
// the oldest queued messages up to the batch limits.
func (w *Worker) takeLocked(b *batch) {
	b.reset()
	if len(w.drops) > 0 {
		now := time.Now()
		proc := "drain." + w.cfg.Name
		for app, d := range w.drops {
			i := b.slot()
			b.msgs[i] = sluice.Message{
				Time:     now,
				App:      app,
				Source:   "sluice",
				Proc:     proc,
				Text:     sluice.DropNotice("L10", "output buffer overflow", d.n, d.since),
				Facility: sluice.DefaultFacility,
				Severity: 3, // error
			}
			b.enq[i] = int64(time.Since(w.epoch))
		}
		b.notes = len(b.msgs)
		clear(w.drops)
	}
	for taken := 0; w.q.n > 0 && taken < w.opts.Batch; taken++ {
		size := int64(w.q.oldest().Size())
		if taken > 0 && b.bytes+size > w.opts.BatchBytes {
			break
		}
		b.takeFrom(&w.q, size)
	}
	w.inflight = len(b.msgs) - b.notes
	w.inflightBytes = b.bytes
	w.seq++
	b.id = w.seq
}

// giveUpLocked counts the in-flight batch and the queue as undelivered.
func (w *Worker) giveUpLocked(b *batch) {
	w.dropped[shutdown] += uint64(w.inflight + w.q.n)
	w.inflight, w.inflightBytes = 0, 0
	for w.q.n > 0 {
		w.q.pop(0)
	}
	w.q.bytes = 0
	b.reset()
	clear(w.drops)
	w.freedLocked()
}

// sendState is the scratch space of deliver, owned by the goroutine.
type sendState struct {
	timer  *time.Timer
	retry  []bool
	notify []sluice.Message
}

// deliver sends b until every message is delivered or dropped, or ctx
// ends (Stop's deadline).
func (w *Worker) deliver(ctx context.Context, b *batch, s *sendState) {
	attempt := 0
	for len(b.msgs) > 0 {
		w.mu.Lock()
		deadline := w.deadline
		w.mu.Unlock()
		sctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
		if !deadline.IsZero() {
			sctx, cancel = withEarlierDeadline(sctx, cancel, deadline)
		}
		err := w.cfg.Drain.Send(WithBatchID(sctx, b.id), b.msgs)
		cancel()

		if n := len(b.msgs); cap(s.retry) < n {
			s.retry = make([]bool, n)
		} else {
			s.retry = s.retry[:n]
			clear(s.retry)
		}
		clear(s.notify)
		s.notify = s.notify[:0]
		again := w.settle(b, err, s.retry, &s.notify)
		if w.cfg.Notify != nil {
			for _, m := range s.notify {
				w.cfg.Notify(m)
			}
		}
		if !again {
			return
		}
		b.keep(s.retry)
		wait := w.backoff(attempt, err)
		attempt++
		s.timer.Reset(wait)
		select {
		case <-s.timer.C:
		case <-ctx.Done():
			s.timer.Stop()
			return
		}
	}
}

func withEarlierDeadline(ctx context.Context, cancel context.CancelFunc, d time.Time) (context.Context, context.CancelFunc) {
	if cur, ok := ctx.Deadline(); ok && !d.Before(cur) {
		return ctx, cancel
	}
	c2, cancel2 := context.WithDeadline(ctx, d)
	return c2, func() { cancel2(); cancel() }
}

// settle accounts the outcome of one Send of b. It marks in retry the
// positions to send again and reports whether there are any.
func (w *Worker) settle(b *batch, err error, retry []bool, notify *[]sluice.Message) bool {
	var be *BatchError
	partial := errors.As(err, &be)
	whole := err != nil && !partial && IsPermanent(err) // whole batch permanent
	now := time.Now()
	mono := int64(time.Since(w.epoch))

	w.mu.Lock()
	defer w.mu.Unlock()
	nDelivered, nRetry := 0, 0
	var bytes int64
	for i := range b.msgs {
		var ferr error
		switch {
		case err == nil:
		case partial:
			ferr = be.Failed[i]
		default:
			ferr = err
		}
		fatal := ferr != nil && (whole || IsPermanent(ferr))
		isNote := i < b.notes
		switch {
		case ferr == nil:
			nDelivered++
			if isNote {
				*notify = append(*notify, b.msgs[i])
				continue
			}
			size := int64(b.msgs[i].Size())
			w.delivered++
			w.inflight--
			w.inflightBytes -= size
			if w.hist != nil {
				w.hist.Observe(float64(mono-b.enq[i]) / 1e9)
			}
		case fatal:
			if isNote {
				continue // a refused notice is not retried; the counts stay in metrics
			}
			size := int64(b.msgs[i].Size())
			w.dropped[permanent]++
			w.inflight--
			w.inflightBytes -= size
		default:
			retry[i] = true
			nRetry++
			if !isNote {
				bytes += int64(b.msgs[i].Size())
			}
		}
	}
	b.bytes = bytes
	if nDelivered > 0 {
		w.lastDelivery = now
	}
	if nRetry < len(b.msgs) {
		w.freedLocked()
	}
	if err == nil {
		if w.state != StateUp {
			w.log.Info("drain delivering again", "url", w.cfg.URL, "after_failures", w.fails)
		}
		w.state, w.fails = StateUp, 0
		return false
	}
	w.lastErr = err.Error()
	if w.fails == 0 {
		w.failingSince = now
	}
	w.fails++
	prev := w.state
	w.state = StateRetrying
	if w.fails >= downAfterFails || now.Sub(w.failingSince) > downAfter {
		w.state = StateDown
	}
	if nRetry > 0 {
		w.retries++
	}
	if w.state != prev || w.fails == 1 {
		w.log.Warn("drain send failed", "url", w.cfg.URL, "state", w.state,
			"failures", w.fails, "retrying", nRetry, "err", err)
	}
	return nRetry > 0
}

// backoff returns the wait before retry number attempt+1: full jitter over
// min(MaxBackoff, MinBackoff·2^attempt), but at least what a RetryAfter
// error asked for.
func (w *Worker) backoff(attempt int, err error) time.Duration {
	ceil := w.cfg.MaxBackoff
	if attempt < 30 {
		if c := w.cfg.MinBackoff << attempt; c > 0 && c < ceil {
			ceil = c
		}
	}
	d := rand.N(ceil) + 1
	var ra *RetryAfter
	if errors.As(err, &ra) && ra.After > d {
		d = min(ra.After, retryafter.Max)
	}
	return d
}

// Report is what Stop returns.
type Report struct {
	Name      string
	Received  uint64
	Delivered uint64
	// Dropped counts every dropped message by reason, including
	// "shutdown": the Undelivered ones.
	Dropped map[string]uint64
	// Undelivered is how many messages were still queued (or in flight)
	// when Stop's ctx ended.
	Undelivered uint64
	// CloseErr is the error of Drain.Close, if any.
	CloseErr error
}

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
		w.state = StateStopped
		r := Report{
			Name:        w.cfg.Name,
			Received:    w.received,
			Delivered:   w.delivered,
			Dropped:     w.droppedMapLocked(),
			Undelivered: w.dropped[shutdown],
			CloseErr:    cerr,
		}
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

func (w *Worker) droppedMapLocked() map[string]uint64 {
	m := make(map[string]uint64, numReasons)
	for r, n := range w.dropped {
		m[reasonNames[r]] = n
	}
	return m
}

// Status is a JSON-able snapshot of a Worker, for GET /drains.
//
// Received = Delivered + sum(Dropped) + QueueMessages holds in every
// snapshot.
type Status struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Kind   string `json:"kind,omitempty"`
	State  string `json:"state"`
	Policy string `json:"policy"`
	// QueueMessages and QueueBytes include the in-flight batch.
	QueueMessages int               `json:"queue_messages"`
	QueueBytes    int64             `json:"queue_bytes"`
	Received      uint64            `json:"received"`
	Delivered     uint64            `json:"delivered"`
	Dropped       map[string]uint64 `json:"dropped"`
	Retries       uint64            `json:"retries"`
	LastError     string            `json:"last_error,omitempty"`
	LastDelivery  time.Time         `json:"last_delivery,omitzero"`
}

// DroppedTotal sums Dropped over the reasons.
func (s Status) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// Balanced reports whether the accounting invariant holds in s.
func (s Status) Balanced() bool {
	return s.Received == s.Delivered+s.DroppedTotal()+uint64(s.QueueMessages)
}

// Status returns a consistent snapshot of the Worker's counters.
func (w *Worker) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Status{
		Name:          w.cfg.Name,
		URL:           w.cfg.URL,
		Kind:          w.cfg.Kind,
		State:         w.state,
		Policy:        w.opts.Policy.String(),
		QueueMessages: w.q.n + w.inflight,
		QueueBytes:    w.q.bytes + w.inflightBytes,
		Received:      w.received,
		Delivered:     w.delivered,
		Dropped:       w.droppedMapLocked(),
		Retries:       w.retries,
		LastError:     w.lastErr,
		LastDelivery:  w.lastDelivery,
	}
}

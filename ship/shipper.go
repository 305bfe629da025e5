package ship

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-logs/sluice"
)

// Policy is what Add does when the buffer is full.
type Policy uint8

const (
	// PolicyDrop drops the oldest buffered lines and reports them (L12).
	PolicyDrop Policy = iota
	// PolicyBlock makes Add wait for room.
	PolicyBlock
)

// Defaults of Config, log-shuttle's design point for batching.
const (
	DefaultBatchLines  = 500
	DefaultBatchWait   = 250 * time.Millisecond
	DefaultBufferLines = 10000
	DefaultBufferBytes = 16 << 20
	DefaultMaxAttempts = 10
	DefaultBackoffBase = 100 * time.Millisecond
	DefaultBackoffCap  = 10 * time.Second
	// DefaultMaxLineBytes is the router's default MAX_MESSAGE_BYTES:
	// longer lines are split into parts of at most this many bytes.
	DefaultMaxLineBytes = sluice.DefaultMaxMessageBytes
)

// Config configures a Shipper. Zero fields take the defaults above.
type Config struct {
	Transport   Transport
	BatchLines  int
	BatchWait   time.Duration
	BufferLines int
	BufferBytes int
	Policy      Policy
	// MaxAttempts is how many failed attempts give a batch up; 0 is
	// DefaultMaxAttempts, negative retries forever.
	MaxAttempts int
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// NoticeSource and NoticeProc label the L12/L13 lines (default
	// "sluice" and "ship").
	NoticeSource, NoticeProc string
	// OnAck, when set, is called with the new Acked value each time it
	// advances, from the sending goroutine.
	OnAck func(seq uint64)
	// Errors receives the Shipper's own errors; nil discards them.
	Errors *ErrLog
}

// Stats are a Shipper's counters since New.
type Stats struct {
	Added, Delivered, Dropped, Lost uint64
	Requests, Retries               uint64
}

// entry is one buffered line.
type entry struct {
	msg     sluice.Message // owns its strings
	seq     uint64
	size    int
	arrived time.Time
}

// loss is a count of lines of one app not delivered since a time.
type loss struct {
	n     uint64
	since time.Time
}

// Shipper buffers, batches and sends messages through a Transport.
type Shipper struct {
	cfg Config
	tr  Transport

	mu      sync.Mutex
	queue   []entry // not yet in a batch; queue[head:] is live
	head    int
	lines   int // queued + in flight
	bytes   int
	seq     uint64 // last sequence given out
	closing bool
	dropped map[string]*loss // L12 to report, by app
	notes   []sluice.Message // other in-band reports (Report), bounded
	lost    map[string]*loss // L13 to report, by app
	stats   Stats

	work  chan struct{} // wakes the sender; capacity 1
	space chan struct{} // wakes blocked Adds; closed and replaced on release

	acked  atomic.Uint64
	cancel context.CancelFunc
	done   chan struct{}
}

// New starts a Shipper. Close it to flush and stop.
func New(cfg Config) (*Shipper, error) {
	if cfg.Transport == nil {
		return nil, errors.New("ship: no transport")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.BatchLines, DefaultBatchLines)
	def(&cfg.BufferLines, DefaultBufferLines)
	def(&cfg.BufferBytes, DefaultBufferBytes)
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = DefaultBatchWait
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffCap <= 0 {
		cfg.BackoffCap = DefaultBackoffCap
	}
	if cfg.BufferLines < cfg.BatchLines {
		cfg.BufferLines = cfg.BatchLines
	}
	if cfg.NoticeSource == "" {
		cfg.NoticeSource = "sluice"
	}
	if cfg.NoticeProc == "" {
		cfg.NoticeProc = "ship"
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Shipper{cfg: cfg, tr: cfg.Transport, dropped: map[string]*loss{}, lost: map[string]*loss{},
		work: make(chan struct{}, 1), space: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s, nil
}

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("ship: shipper closed")

// Add buffers m (copying its strings) and returns its sequence number. With
// PolicyBlock it waits while the buffer is full, returning ctx.Err() if ctx
// ends first; with PolicyDrop it never waits.
func (s *Shipper) Add(ctx context.Context, m *sluice.Message) (uint64, error) {
	size := m.Size()
	s.mu.Lock()
	for {
		if s.closing {
			s.mu.Unlock()
			return 0, ErrClosed
		}
		if s.lines < s.cfg.BufferLines && (s.bytes+size <= s.cfg.BufferBytes || s.lines == 0) {
			break
		}
		if s.cfg.Policy == PolicyDrop {
			if !s.dropOldestLocked() {
				// Everything buffered is in flight: this line goes.
				s.seq++
				s.stats.Added++
				s.countDropLocked(m.App, 1)
				seq := s.seq
				s.mu.Unlock()
				s.cfg.Errors.Printf("drop", "buffer full (%d lines, %d bytes): dropping the oldest lines", s.cfg.BufferLines, s.cfg.BufferBytes)
				return seq, nil
			}
			continue
		}
		wait := s.space
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		s.mu.Lock()
	}
	s.seq++
	s.stats.Added++
	s.queue = append(s.queue, entry{msg: m.Clone(), seq: s.seq, size: size, arrived: time.Now()})
	s.lines++
	s.bytes += size
	seq := s.seq
	n := len(s.queue) - s.head
	s.mu.Unlock()
	if n == 1 || n >= s.cfg.BatchLines {
		s.wake()
	}
	return seq, nil
}

func (s *Shipper) wake() {
	select {
	case s.work <- struct{}{}:
	default:
	}
}

// dropOldestLocked drops the oldest queued line, reporting false when none
// is queued.
func (s *Shipper) dropOldestLocked() bool {
	if s.head == len(s.queue) {
		return false
	}
	e := &s.queue[s.head]
	s.countDropLocked(e.msg.App, 1)
	s.lines--
	s.bytes -= e.size
	*e = entry{}
	s.head++
	s.compactLocked()
	s.cfg.Errors.Printf("drop", "buffer full (%d lines, %d bytes): dropping the oldest lines", s.cfg.BufferLines, s.cfg.BufferBytes)
	return true
}

func (s *Shipper) countDropLocked(app string, n uint64) {
	s.stats.Dropped += n
	addLoss(s.dropped, app, n, time.Now())
}

func addLoss(m map[string]*loss, app string, n uint64, since time.Time) {
	if l, ok := m[app]; ok {
		l.n += n
		if since.Before(l.since) {
			l.since = since
		}
		return
	}
	m[app] = &loss{n: n, since: since}
}

// maxNotes bounds the reports queued with Report.
const maxNotes = 100

// Report queues an in-band error line for app (source and proc as the
// L12/L13 lines), sent at the head of the next batch. At most maxNotes wait;
// more are written to Errors only.
func (s *Shipper) Report(app, text string) {
	s.mu.Lock()
	full := len(s.notes) >= maxNotes
	if !full {
		s.notes = append(s.notes, s.notice(app, time.Now(), text))
	}
	s.mu.Unlock()
	s.cfg.Errors.Printf("report", "%s: %s", app, text)
	if !full {
		s.wake()
	}
}

// Acked is the highest sequence number up to which every line is done:
// delivered, or dropped or given up (and then reported in-band).
func (s *Shipper) Acked() uint64 { return s.acked.Load() }

// Stats returns the counters.
func (s *Shipper) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Buffered is the number of lines and bytes held, queued or in flight.
func (s *Shipper) Buffered() (lines, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines, s.bytes
}

// Close stops taking lines and sends what is buffered. If ctx ends first,
// sending stops and the lines not delivered are counted lost; the error then
// says how many.
func (s *Shipper) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.wake()
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
	}
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for _, l := range s.lost {
		n += l.n
	}
	for _, l := range s.dropped {
		n += l.n
	}
	if n > 0 {
		return fmt.Errorf("%d lines were dropped or lost and not reported to the router", n)
	}
	return nil
}

// run is the sending goroutine: it forms batches in order and sends each
// until delivered or given up.
func (s *Shipper) run(ctx context.Context) {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var b batch
	quiet := false // the last batch held only notices and failed
	for {
		s.mu.Lock()
		n := len(s.queue) - s.head
		closing := s.closing
		notices := len(s.dropped) + len(s.lost) + len(s.notes)
		var age time.Duration
		if n > 0 {
			age = time.Since(s.queue[s.head].arrived)
		}
		s.mu.Unlock()
		if ctx.Err() != nil {
			s.abandon()
			return
		}
		if n == 0 && (notices == 0 || quiet) {
			if closing {
				return
			}
			select {
			case <-s.work:
			case <-ctx.Done():
			}
			continue
		}
		if n > 0 && n < s.cfg.BatchLines && !closing && age < s.cfg.BatchWait {
			timer.Reset(s.cfg.BatchWait - age)
			select {
			case <-s.work:
			case <-timer.C:
			case <-ctx.Done():
			}
			timer.Stop()
			continue
		}
		s.take(&b)
		quiet = !s.deliver(ctx, &b) && b.lines == 0
	}
}

// batch is the batch being sent: the L12/L13 notices first, then lines.
type batch struct {
	msgs    []sluice.Message
	lines   int // lines of the queue (the rest are notices)
	bytes   int
	lastSeq uint64
	// reported are the notices this batch carries, to put back if it is
	// given up.
	dropped, lost map[string]*loss
	notes         []sluice.Message
}

// take moves up to BatchLines queued lines, and the pending notices, into b.
func (s *Shipper) take(b *batch) {
	b.msgs = b.msgs[:0]
	b.lines, b.bytes = 0, 0
	s.mu.Lock()
	defer s.mu.Unlock()
	b.dropped, s.dropped = s.dropped, map[string]*loss{}
	b.lost, s.lost = s.lost, map[string]*loss{}
	now := time.Now()
	for app, l := range b.dropped {
		b.msgs = append(b.msgs, s.notice(app, now, "Error L12: "+strconv.FormatUint(l.n, 10)+" messages dropped since "+l.since.UTC().Format(time.RFC3339)+"."))
	}
	for app, l := range b.lost {
		b.msgs = append(b.msgs, s.notice(app, now, "Error L13: "+strconv.FormatUint(l.n, 10)+" messages lost since "+l.since.UTC().Format(time.RFC3339)+"."))
	}
	b.notes, s.notes = s.notes, nil
	b.msgs = append(b.msgs, b.notes...)
	end := min(len(s.queue), s.head+s.cfg.BatchLines)
	for i := s.head; i < end; i++ {
		e := &s.queue[i]
		b.msgs = append(b.msgs, e.msg)
		b.lines++
		b.bytes += e.size
		b.lastSeq = e.seq
		*e = entry{}
	}
	s.head = end
	if b.lines == 0 {
		b.lastSeq = s.seq // only notices: every line so far is done
	}
	s.compactLocked()
}

// compactLocked moves the live entries to the front of the queue once the
// dead ones before them outnumber them, so the slice never grows beyond
// about twice the buffered lines however many pass through it.
func (s *Shipper) compactLocked() {
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	} else if s.head > len(s.queue)/2 && s.head >= 64 {
		k := copy(s.queue, s.queue[s.head:])
		clear(s.queue[k:])
		s.queue, s.head = s.queue[:k], 0
	}
}

func (s *Shipper) notice(app string, now time.Time, text string) sluice.Message {
	return sluice.Message{Time: now, App: app, Source: s.cfg.NoticeSource, Proc: s.cfg.NoticeProc,
		Text: text, Facility: sluice.DefaultFacility, Severity: 3}
}

// deliver sends b until it is delivered or given up, then releases its room
// in the buffer and advances Acked. It reports whether b was delivered.
func (s *Shipper) deliver(ctx context.Context, b *batch) bool {
	err := s.send(ctx, b)
	s.mu.Lock()
	if err != nil {
		now := time.Now()
		for app, l := range b.dropped {
			addLoss(s.dropped, app, l.n, l.since)
		}
		for app, l := range b.lost {
			addLoss(s.lost, app, l.n, l.since)
		}
		s.notes = append(b.notes, s.notes...)
		if len(s.notes) > maxNotes {
			s.notes = s.notes[:maxNotes]
		}
		counts := map[string]uint64{}
		for _, m := range b.msgs[len(b.msgs)-b.lines:] {
			counts[m.App]++
		}
		for app, n := range counts {
			addLoss(s.lost, app, n, now)
		}
		s.stats.Lost += uint64(b.lines)
	} else {
		s.stats.Delivered += uint64(b.lines)
	}
	s.lines -= b.lines
	s.bytes -= b.bytes
	// A batch cut short by Close's deadline is neither delivered nor
	// reported: Acked stays behind it, so the agent reads it again.
	stopped := err != nil && ctx.Err() != nil
	if !stopped && b.lastSeq > s.acked.Load() {
		s.acked.Store(b.lastSeq) // before Adds wake up, so they see it
	}
	close(s.space)
	s.space = make(chan struct{})
	s.mu.Unlock()
	if err != nil && !stopped {
		s.cfg.Errors.Printf("giveup", "gave up a batch of %d lines: %v", b.lines, err)
	}
	if !stopped && s.cfg.OnAck != nil {
		s.cfg.OnAck(s.acked.Load())
	}
	clear(b.msgs)
	return err == nil
}

// abandon counts everything still queued as lost when sending was stopped.
func (s *Shipper) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for i := s.head; i < len(s.queue); i++ {
		addLoss(s.lost, s.queue[i].msg.App, 1, now)
		s.stats.Lost++
	}
	s.queue, s.head = nil, 0
	s.lines, s.bytes = 0, 0
}

// send tries b until delivered, permanently refused, out of attempts or
// ctx ends.
func (s *Shipper) send(ctx context.Context, b *batch) error {
	failures := 0
	for {
		s.mu.Lock()
		s.stats.Requests++
		s.mu.Unlock()
		err := s.tr.Send(ctx, b.msgs)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait time.Duration
		var ra *RetryAfterError
		switch {
		case errors.Is(err, ErrPermanent):
			return err
		case errors.As(err, &ra):
			wait = ra.After
			s.cfg.Errors.Printf("busy", "router busy, retrying after %s: %v", wait, err)
		default:
			failures++
			if s.cfg.MaxAttempts > 0 && failures >= s.cfg.MaxAttempts {
				return fmt.Errorf("after %d attempts: %w", failures, err)
			}
			wait = s.backoff(failures)
			s.cfg.Errors.Printf("send", "sending a batch of %d lines failed, retrying: %v", b.lines, err)
		}
		s.mu.Lock()
		s.stats.Retries++
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// backoff is the full-jitter wait before retry number n (1-based).
func (s *Shipper) backoff(n int) time.Duration {
	d := s.cfg.BackoffBase
	for i := 1; i < n && d < s.cfg.BackoffCap; i++ {
		d *= 2
	}
	d = min(d, s.cfg.BackoffCap)
	return rand.N(d + 1)
}

package drains

import "time"

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
	udpNoBackpressure // OfferAll, offer.go
	numReasons
)

var reasonNames = [numReasons]string{ReasonQueueFull, ReasonTooLarge, ReasonPermanent, ReasonShutdown, ReasonUDPNoBackpressure}

// Worker states, Status.State.
const (
	StateUp       = "up"       // the last attempt succeeded (or none was made yet)
	StateRetrying = "retrying" // the last attempts failed; retrying
	StateDown     = "down"     // failing for downAfterFails attempts or downAfter
	StateStopped  = "stopped"  // Stop has returned
)

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

func (w *Worker) reportLocked(closeErr error) Report {
	return Report{
		Name:        w.cfg.Name,
		Received:    w.stats.received,
		Delivered:   w.stats.delivered,
		Dropped:     w.droppedMapLocked(),
		Undelivered: w.stats.dropped[shutdown],
		CloseErr:    closeErr,
	}
}

func (w *Worker) droppedMapLocked() map[string]uint64 {
	m := make(map[string]uint64, numReasons)
	for r, n := range w.stats.dropped {
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
	n, bytes := w.q.held()
	return Status{
		Name:          w.cfg.Name,
		URL:           w.cfg.URL,
		Kind:          w.cfg.Kind,
		State:         w.stats.state,
		Policy:        w.opts.Policy.String(),
		QueueMessages: n,
		QueueBytes:    bytes,
		Received:      w.stats.received,
		Delivered:     w.stats.delivered,
		Dropped:       w.droppedMapLocked(),
		Retries:       w.stats.retries,
		LastError:     w.stats.lastErr,
		LastDelivery:  w.stats.lastDelivery,
	}
}

// Received is how many messages the Worker has taken (queued or dropped
// at once): the position after the last one, for Settled.
func (w *Worker) Received() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats.received
}

// Settled returns the position before which every message the Worker
// received is settled: delivered, or dropped and counted. A position from
// Received is settled once Settled reaches it. Cluster mode commits bus
// offsets with it; it costs nothing on the delivery path.
func (w *Worker) Settled() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.q.low(w.stats.received)
}

package drains

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports every Worker's counters, labelled drain=<name> (never the
// URL). It is a prometheus.Collector that reads each Worker's Status at
// scrape time, so the exported counters always satisfy the accounting
// invariant together and the hot path updates no extra atomics. Only the
// delivery latency histogram is observed as messages are delivered.
//
// One Metrics is shared by all workers; it is safe for concurrent use. A
// Worker created with the name of an earlier one replaces it.
type Metrics struct {
	mu      sync.Mutex
	workers map[string]*Worker

	delivery *prometheus.HistogramVec

	received, delivered, dropped, retries *prometheus.Desc
	queueMsgs, queueBytes, up             *prometheus.Desc
}

// NewMetrics creates the drain collectors and registers them on reg (nil:
// not registered, for tests that do not scrape).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	d := []string{"drain"}
	m := &Metrics{
		workers: make(map[string]*Worker),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_drain_delivery_seconds",
			Help:    "Time from Enqueue to the destination's acknowledgement, per delivered message.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, d),
		received:   prometheus.NewDesc("sluice_drain_received_total", "Messages the drain took from the router (in-band L10 notices excluded).", d, nil),
		delivered:  prometheus.NewDesc("sluice_drain_delivered_total", "Messages the destination acknowledged.", d, nil),
		dropped:    prometheus.NewDesc("sluice_drain_dropped_total", "Messages dropped, by reason: queue_full, too_large, permanent, shutdown, udp_no_backpressure.", []string{"drain", "reason"}, nil),
		retries:    prometheus.NewDesc("sluice_drain_retries_total", "Send attempts that failed and were retried.", d, nil),
		queueMsgs:  prometheus.NewDesc("sluice_drain_queue_messages", "Messages queued, including the batch in flight.", d, nil),
		queueBytes: prometheus.NewDesc("sluice_drain_queue_bytes", "Payload bytes queued, including the batch in flight.", d, nil),
		up:         prometheus.NewDesc("sluice_drain_up", "1 unless the drain is down (failing for 5 attempts or 30s) or stopped.", d, nil),
	}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// add registers w and returns its latency observer.
func (m *Metrics) add(w *Worker) prometheus.Observer {
	m.mu.Lock()
	m.workers[w.cfg.Name] = w
	m.mu.Unlock()
	return m.delivery.WithLabelValues(w.cfg.Name)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.received, m.delivered, m.dropped, m.retries, m.queueMsgs, m.queueBytes, m.up} {
		ch <- d
	}
	m.delivery.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	ws := make([]*Worker, 0, len(m.workers))
	for _, w := range m.workers {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].cfg.Name < ws[j].cfg.Name })
	for _, w := range ws {
		s := w.Status()
		name := s.Name
		ch <- prometheus.MustNewConstMetric(m.received, prometheus.CounterValue, float64(s.Received), name)
		ch <- prometheus.MustNewConstMetric(m.delivered, prometheus.CounterValue, float64(s.Delivered), name)
		for _, r := range reasonNames {
			ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(s.Dropped[r]), name, r)
		}
		ch <- prometheus.MustNewConstMetric(m.retries, prometheus.CounterValue, float64(s.Retries), name)
		ch <- prometheus.MustNewConstMetric(m.queueMsgs, prometheus.GaugeValue, float64(s.QueueMessages), name)
		ch <- prometheus.MustNewConstMetric(m.queueBytes, prometheus.GaugeValue, float64(s.QueueBytes), name)
		up := 1.0
		if s.State == StateDown || s.State == StateStopped {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, up, name)
	}
	m.delivery.Collect(ch)
}

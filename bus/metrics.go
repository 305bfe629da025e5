package bus

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the bus's Prometheus series. A nil *Metrics counts nowhere.
type Metrics struct {
	Produced      prometheus.Counter
	ProduceErrors prometheus.Counter
	Consumed      prometheus.Counter
	Redelivered   prometheus.Counter
	BadRecords    prometheus.Counter
	Rebalances    prometheus.Counter
	Lag           *prometheus.GaugeVec
	Commits       prometheus.Counter
}

// NewMetrics registers the bus metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Produced: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_bus_produced_total",
			Help: "Messages the brokers acknowledged on the bus."}),
		ProduceErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_bus_produce_errors_total",
			Help: "Messages the bus failed to take (the sender was answered with an error and may retry)."}),
		Consumed: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_bus_consumed_total",
			Help: "Messages consumed from the bus and published to this process's rings and drains."}),
		Redelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_bus_redelivered_total",
			Help: "Messages consumed again after a partition moved to this process: those between the previous owner's last commit and the partition's end at the takeover, which that owner may have delivered already (an upper bound of the duplicates)."}),
		BadRecords: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_bus_bad_records_total",
			Help: "Records on the bus that are not Sluice messages; skipped."}),
		Rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_bus_rebalances_total",
			Help: "Partition assignments this process received."}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_bus_lag_messages",
			Help: "Messages on the bus past what this process consumed, per owned partition."}, []string{"partition"}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_bus_commits_total",
			Help: "Offset commits of this process."}),
	}
	if reg != nil {
		reg.MustRegister(m.Produced, m.ProduceErrors, m.Consumed, m.Redelivered, m.BadRecords, m.Rebalances, m.Lag, m.Commits)
	}
	return m
}

type counter = prometheus.Counter

func (m *Metrics) add(c func(*Metrics) counter, n int) {
	if m != nil && n > 0 {
		c(m).Add(float64(n))
	}
}

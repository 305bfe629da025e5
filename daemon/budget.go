package daemon

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/drains/open"
	"github.com/sluice-logs/sluice/internal/budget"
	"github.com/sluice-logs/sluice/tail"
)

// MemoryPlan is the arithmetic of the process memory budget (README
// "Memory"): MEMORY_LIMIT × 1.5 + 64 MiB, out of which are reserved the
// rings (MEMORY_LIMIT, and up to MEMORY_LIMIT/8 of chunks they keep for
// reuse), the HTTP request bodies in flight (MAX_INFLIGHT_BODY_BYTES), the
// tails (MAX_TAILS × tail.SessionBytes), every drain's queue_bytes (its
// queue and the batch in flight; L10 notices go into queues and rings, so
// are counted there) and the syslog UDP receive buffer (kernel memory,
// charged to the cgroup). What is left is the Go runtime's headroom.
func MemoryPlan(cfg config.Config, drains []open.Spec) budget.Plan {
	p := budget.Plan{Total: budget.Total(cfg.MemoryLimit)}
	p.Add("rings (MEMORY_LIMIT)", cfg.MemoryLimit)
	p.Add("ring chunks kept for reuse (MEMORY_LIMIT/8)", cfg.MemoryLimit/8)
	p.Add("request bodies (MAX_INFLIGHT_BODY_BYTES)", cfg.MaxInflightBodyBytes)
	p.Add(fmt.Sprintf("tails (MAX_TAILS %d × %s)", cfg.MaxTails, budget.Size(tail.SessionBytes)),
		int64(cfg.MaxTails)*tail.SessionBytes)
	for _, d := range drains {
		p.Add(fmt.Sprintf("drain %s (queue_bytes)", d.Name), d.Options.QueueBytes)
	}
	if cfg.SyslogUDPAddr != "" {
		p.Add("UDP receive buffer (SYSLOG_UDP_RCVBUF)", int64(cfg.SyslogUDPRcvbuf))
	}
	return p
}

// nonGoMemory is what sluiced's resident memory holds outside the Go
// runtime's accounting: the binary's text and data pages (about 12 MiB
// measured) and what the runtime has freed but not yet returned to the
// kernel (its scavenger lags the limit by a few MiB).
const nonGoMemory = 24 << 20

// GoMemLimit is the Go runtime's soft memory limit for the plan: the whole
// budget less what the runtime does not see, the kernel's share (the UDP
// receive buffer) and the binary's pages.
func GoMemLimit(cfg config.Config, p budget.Plan) int64 {
	limit := p.Total - nonGoMemory
	if cfg.SyslogUDPAddr != "" {
		limit -= int64(cfg.SyslogUDPRcvbuf)
	}
	return limit
}

// registerBudget exports the plan and the body pool's use.
func registerBudget(reg prometheus.Registerer, p budget.Plan, bodies *budget.Pool) {
	reserved := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_memory_reserved_bytes",
		Help: "The memory budget's fixed reservations, by part (README: Memory).",
	}, []string{"part"})
	for _, l := range p.Lines {
		reserved.WithLabelValues(l.What).Set(float64(l.Bytes))
	}
	reg.MustRegister(reserved,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_memory_budget_bytes",
			Help: "The process memory budget, MEMORY_LIMIT × 1.5 + 64MiB.",
		}, func() float64 { return float64(p.Total) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_inflight_body_bytes",
			Help: "Memory HTTP and OTLP ingest requests in flight hold, bounded by MAX_INFLIGHT_BODY_BYTES.",
		}, func() float64 { return float64(bodies.Used()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sluice_inflight_body_bytes_peak",
			Help: "The most sluice_inflight_body_bytes has been.",
		}, func() float64 { return float64(bodies.Peak()) }),
	)
}

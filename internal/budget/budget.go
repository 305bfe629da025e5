package budget

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Headroom is what the budget adds to MEMORY_LIMIT × 1.5: the Go runtime's
// own memory (stacks, GC metadata, the binary) and slack.
const Headroom = 64 << 20

// Total is the process budget for a MEMORY_LIMIT: MEMORY_LIMIT × 1.5 +
// Headroom.
func Total(memoryLimit int64) int64 { return memoryLimit + memoryLimit/2 + Headroom }

// Line is one fixed reservation of a Plan.
type Line struct {
	What  string // "rings (MEMORY_LIMIT)", "drain web (queue_bytes)", …
	Bytes int64
}

// Plan is the arithmetic of the budget: the total and what is reserved
// out of it.
type Plan struct {
	Total int64
	Lines []Line
}

// Add appends a reservation.
func (p *Plan) Add(what string, bytes int64) { p.Lines = append(p.Lines, Line{what, bytes}) }

// Reserved is the sum of the reservations.
func (p *Plan) Reserved() int64 {
	var n int64
	for _, l := range p.Lines {
		n += l.Bytes
	}
	return n
}

// Check returns an error showing the arithmetic when the reservations
// exceed the total.
func (p *Plan) Check() error {
	if r := p.Reserved(); r > p.Total {
		return fmt.Errorf("memory budget exceeded: %s; lower one of them or raise MEMORY_LIMIT", p.String())
	}
	return nil
}

// String writes the arithmetic on one line: "rings (MEMORY_LIMIT) 64MiB +
// … = 150MiB of 160MiB (MEMORY_LIMIT × 1.5 + 64MiB)".
func (p *Plan) String() string {
	var b strings.Builder
	for i, l := range p.Lines {
		if i > 0 {
			b.WriteString(" + ")
		}
		fmt.Fprintf(&b, "%s %s", l.What, Size(l.Bytes))
	}
	fmt.Fprintf(&b, " = %s of %s (MEMORY_LIMIT × 1.5 + %s)", Size(p.Reserved()), Size(p.Total), Size(Headroom))
	return b.String()
}

// Size formats n bytes as the configuration writes sizes: 64MiB, 1.5GiB,
// 300KiB, 17B.
func Size(n int64) string {
	units := []struct {
		s string
		v int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n >= u.v {
			if n%u.v == 0 {
				return fmt.Sprintf("%d%s", n/u.v, u.s)
			}
			return fmt.Sprintf("%.1f%s", float64(n)/float64(u.v), u.s)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// Pool is a reservation drawn from while serving. The zero value is not
// usable; a nil *Pool is unlimited (Grow always succeeds).
type Pool struct {
	limit int64
	used  atomic.Int64
	peak  atomic.Int64
}

// NewPool returns a pool of limit bytes.
func NewPool(limit int64) *Pool { return &Pool{limit: limit} }

// Limit is the pool's size.
func (p *Pool) Limit() int64 { return p.limit }

// Used is what leases hold now.
func (p *Pool) Used() int64 { return p.used.Load() }

// Peak is the most the leases ever held at once.
func (p *Pool) Peak() int64 { return p.peak.Load() }

// take adds n to the pool's use unless that goes over the limit.
func (p *Pool) take(n int64) bool {
	for {
		u := p.used.Load()
		if u+n > p.limit {
			return false
		}
		if p.used.CompareAndSwap(u, u+n) {
			for pk := p.peak.Load(); u+n > pk && !p.peak.CompareAndSwap(pk, u+n); pk = p.peak.Load() {
			}
			return true
		}
	}
}

// Lease is what one request holds of a pool. The zero value of a Lease
// made by Pool.Lease holds nothing.
type Lease struct {
	p     *Pool
	n     int64
	never bool // the last failed Grow asked for more than the whole pool
}

// Lease starts a lease on p (p may be nil: unlimited).
func (p *Pool) Lease() Lease { return Lease{p: p} }

// Grow takes n bytes more, or reports false (taking nothing) when the pool
// has not that much left.
func (l *Lease) Grow(n int64) bool {
	if n <= 0 {
		return true
	}
	if l.p != nil && !l.p.take(n) {
		l.never = l.n+n > l.p.limit
		return false
	}
	l.n += n
	return true
}

// Never reports whether the last Grow that failed asked for more than the
// whole pool: the request can never be served (413), rather than not now
// (503).
func (l *Lease) Never() bool { return l.never }

// GrowTo grows the lease to hold at least n bytes.
func (l *Lease) GrowTo(n int64) bool { return l.Grow(n - l.n) }

// Held is what the lease holds.
func (l *Lease) Held() int64 { return l.n }

// Release gives back everything the lease holds; the lease may grow again.
func (l *Lease) Release() {
	if l.p != nil && l.n != 0 {
		l.p.used.Add(-l.n)
	}
	l.n, l.never = 0, false
}

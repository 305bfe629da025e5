package load

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Framing is how syslog frames are delimited on a TCP stream (RFC 6587).
type Framing int

const (
	// Octet is octet counting: "LEN SP MSG".
	Octet Framing = iota
	// LF is non-transparent framing: "MSG\n".
	LF
)

// ParseFraming reads "octet" or "lf".
func ParseFraming(s string) (Framing, error) {
	switch s {
	case "octet", "octet-counted":
		return Octet, nil
	case "lf", "LF":
		return LF, nil
	}
	return 0, fmt.Errorf("framing %q: want octet or lf", s)
}

// Options shape the generated messages.
type Options struct {
	// Apps is the number of distinct apps (APP-NAME app-00000 …); at least 1.
	Apps int
	// Size is the target length of one unframed message in bytes; the
	// text is padded or cut to reach it. Zero means 150.
	Size int
	// Count is the number of distinct messages in the pool. Zero means
	// max(16384, Apps) rounded up to a multiple of 500 (one logplex batch).
	Count int
	// Seed makes the pool reproducible.
	Seed uint64
}

// Pool is a set of pre-generated RFC 5424 messages. Message i belongs to
// app i % Apps.
type Pool struct {
	Apps int
	msgs [][]byte
}

// AppName is the APP-NAME of app i.
func AppName(i int) string { return fmt.Sprintf("app-%05d", i) }

var (
	methods = []string{"GET", "POST", "PUT", "DELETE"}
	paths   = []string{"/api/v1/items", "/api/v1/users", "/login", "/assets/app.js", "/healthz", "/api/v2/orders"}
	procs   = []string{"web.1", "web.2", "worker.1", "router", "web.3"}
	status  = []int{200, 200, 200, 201, 204, 301, 404, 500}
)

// NewPool generates the messages.
func NewPool(o Options) *Pool {
	if o.Apps < 1 {
		o.Apps = 1
	}
	if o.Size <= 0 {
		o.Size = 150
	}
	if o.Count <= 0 {
		o.Count = max(16384, o.Apps)
		o.Count = (o.Count + 499) / 500 * 500
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5105e))
	base := time.Date(2026, 11, 25, 20, 29, 46, 0, time.UTC)
	p := &Pool{Apps: o.Apps, msgs: make([][]byte, o.Count)}
	arena := make([]byte, 0, o.Count*(o.Size+8))
	for i := range p.msgs {
		start := len(arena)
		arena = appendMessage(arena, rng, i, AppName(i%o.Apps), base.Add(time.Duration(i)*time.Microsecond), o.Size)
		p.msgs[i] = arena[start:len(arena):len(arena)]
	}
	return p
}

// appendMessage writes one message such as
//
//	<134>1 2026-11-25T20:29:46.000042+00:00 host-07 app-00042 web.1 - [req@32473 id="…" status="200"] GET /api/v1/items/8812 200 12ms bytes=5123 …
func appendMessage(b []byte, rng *rand.Rand, i int, app string, t time.Time, size int) []byte {
	start := len(b)
	sev := 6
	st := status[rng.IntN(len(status))]
	if st >= 500 {
		sev = 3
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(1*8+sev), 10)
	b = append(b, ">1 "...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000000-07:00")
	b = fmt.Appendf(b, " host-%02d %s %s - [req@32473 id=\"%08x\" status=\"%d\"] ",
		rng.IntN(16), app, procs[rng.IntN(len(procs))], rng.Uint32(), st)
	b = fmt.Appendf(b, "%s %s/%d %d %dms bytes=%d seq=%d",
		methods[rng.IntN(len(methods))], paths[rng.IntN(len(paths))], rng.IntN(10000), st,
		rng.IntN(900)+1, rng.IntN(100000), i)
	const pad = " user=u1234 region=eu-west-1 agent=Mozilla/5.0 (X11; Linux x86_64) trace=4bf92f3577b34da6a3ce929d0e0e4736"
	for j := 0; len(b)-start < size; j++ {
		b = append(b, pad[j%len(pad)])
	}
	return b
}

// Len is the number of messages in the pool.
func (p *Pool) Len() int { return len(p.msgs) }

// Message returns message i (unframed). The caller must not modify it.
func (p *Pool) Message(i int) []byte { return p.msgs[i%len(p.msgs)] }

// App returns the app of message i.
func (p *Pool) App(i int) string { return AppName(i % len(p.msgs) % p.Apps) }

// Framed lays the pool out as one contiguous buffer of frames and returns
// it with ends[i], the offset just past frame i.
func (p *Pool) Framed(f Framing) (buf []byte, ends []int) {
	n := 0
	for _, m := range p.msgs {
		n += len(m) + 8
	}
	buf = make([]byte, 0, n)
	ends = make([]int, len(p.msgs))
	for i, m := range p.msgs {
		buf = AppendFrame(buf, f, m)
		ends[i] = len(buf)
	}
	return buf, ends
}

// AppendFrame appends msg framed as f.
func AppendFrame(dst []byte, f Framing, msg []byte) []byte {
	if f == LF {
		dst = append(dst, msg...)
		return append(dst, '\n')
	}
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

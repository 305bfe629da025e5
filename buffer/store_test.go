package buffer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-logs/sluice"
)

var t0 = time.Date(2026, 11, 25, 20, 29, 46, 123456789, time.UTC)

func msg(app, proc, text string) sluice.Message {
	return sluice.Message{Time: t0, App: app, Source: "app", Proc: proc, Text: text}
}

func line(m sluice.Message) string { return string(sluice.AppendLine(nil, &m)) }

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	l := strings.SplitAfter(string(b), "\n")
	return l[:len(l)-1]
}

func TestLineFormatMatchesAppendLine(t *testing.T) {
	cases := []sluice.Message{
		{Time: t0, Source: "app", Proc: "web.1", Text: "hello"},
		{Time: t0, Source: "", Proc: "", Text: ""},
		{Time: t0.In(time.FixedZone("X", 5*3600)), Source: "router", Proc: "web", Text: "héllo wörld ✓"},
		{Time: time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC), Source: "app", Text: "before epoch"},
		{Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Source: "app", Text: "zero year 1"},
		{Time: time.Time{}, Source: "app", Text: "zero time"},
		{Time: time.Date(12000, 1, 1, 0, 0, 0, 1000, time.UTC), Source: "app", Text: "far future"},
		{Time: time.Date(2026, 1, 1, 0, 0, 0, 999, time.UTC), Source: "app", Proc: "p", Text: "sub-µs"},
		// Bytes that look like structure are shown, one message one line.
		{Time: t0, Source: "app", Proc: "web.1", Text: "first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected"},
		{Time: t0, Source: "app", Proc: "web.1\r\n", Text: "\x1b]52;c;ZWNobyBwd25lZA==\a\x1b]0;title\x1b\\\x1b[2J\u009b\u202e\x7f\xff"},
	}
	for i, m := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s := New(Config{}, nil)
			m.App = "a"
			s.Append([]sluice.Message{m})
			got := string(s.Last(nil, "a", 10, Filter{}))
			if want := line(m); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

// model is the obvious implementation of a ring's bounds, to check the
// compact one against.
type model struct {
	lines    []sluice.Message
	maxLines int
	maxBytes int
	bytes    int
}

func (m *model) put(msg sluice.Message) {
	src := msg.Source
	if src == "" {
		src = "app"
	}
	hdr := tsLen + len(src) + 3
	if msg.Proc != "" {
		hdr += len(msg.Proc) + 2
	}
	if hdr+len(msg.Text) > m.maxBytes {
		room := m.maxBytes - hdr
		for room > 0 && (msg.Text[room]&0xC0) == 0x80 {
			room--
		}
		msg.Text = msg.Text[:room]
	}
	size := len(line(msg))
	for len(m.lines) >= m.maxLines {
		m.evict()
	}
	for len(m.lines) > 0 && m.bytes+size > m.maxBytes {
		m.evict()
	}
	m.lines = append(m.lines, msg)
	m.bytes += size
}

func (m *model) evict() {
	m.bytes -= len(line(m.lines[0]))
	m.lines = m.lines[1:]
}

func (m *model) last(n int, f Filter) string {
	var out []string
	for i := len(m.lines) - 1; i >= 0 && len(out) < n; i-- {
		l := m.lines[i]
		src := l.Source
		if src == "" {
			src = "app"
		}
		if f.Source != "" && src != f.Source {
			continue
		}
		if f.Ps != "" && l.Proc != f.Ps && !strings.HasPrefix(l.Proc, f.Ps+".") {
			continue
		}
		out = append(out, line(l))
	}
	var b strings.Builder
	for i := len(out) - 1; i >= 0; i-- {
		b.WriteString(out[i])
	}
	return b.String()
}

func randMsg(rng *rand.Rand, app string, i int) sluice.Message {
	sources := []string{"", "app", "router", "heroku"}
	procs := []string{"", "web", "web.1", "web.12", "webby", "worker.3", "w"}
	var text strings.Builder
	fmt.Fprintf(&text, "#%d ", i)
	for n := rng.IntN(300); n > 0; n-- {
		if rng.IntN(10) == 0 {
			text.WriteString("é✓")
		} else {
			text.WriteByte(byte('a' + rng.IntN(26)))
		}
	}
	return sluice.Message{
		Time:   time.Unix(1_700_000_000+int64(i/7), int64(rng.IntN(1e9))),
		App:    app,
		Source: sources[rng.IntN(len(sources))],
		Proc:   procs[rng.IntN(len(procs))],
		Text:   text.String(),
	}
}

func TestRingAgainstModel(t *testing.T) {
	filters := []Filter{{}, {Ps: "web"}, {Ps: "web.1"}, {Source: "router"}, {Source: "app", Ps: "worker"}, {Ps: "nope"}}
	cases := []struct {
		name     string
		lines    int
		maxBytes int64
	}{
		{"lines bound", 7, 1 << 20},
		{"bytes bound", 1000, 3000},
		{"both, tiny", 3, 400},
		{"one line", 1, 1 << 20},
		{"bytes smaller than a line", 100, 120},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.lines)))
			s := New(Config{Lines: tc.lines, BytesPerApp: tc.maxBytes, MemoryLimit: 1 << 30}, nil)
			m := &model{maxLines: tc.lines, maxBytes: int(tc.maxBytes)}
			for i := 0; i < 600; {
				batch := make([]sluice.Message, 1+rng.IntN(9))
				for j := range batch {
					batch[j] = randMsg(rng, "a", i)
					m.put(batch[j])
					i++
				}
				s.Append(batch)
				if i%5 == 0 {
					for _, f := range filters {
						for _, n := range []int{0, 1, 3, 1 << 20} {
							got := string(s.Last(nil, "a", n, f))
							if want := m.last(n, f); got != want {
								t.Fatalf("after %d: Last(%d, %+v):\ngot  %q\nwant %q", i, n, f, got, want)
							}
						}
					}
				}
			}
			st := s.Stats()
			if st.Lines != int64(len(m.lines)) || st.LineBytes != int64(m.bytes) {
				t.Fatalf("stats %+v, model %d lines %d bytes", st, len(m.lines), m.bytes)
			}
			if st.LineBytes > tc.maxBytes || st.Lines > int64(tc.lines) {
				t.Fatalf("bounds exceeded: %+v", st)
			}
		})
	}
}

func TestFilterPs(t *testing.T) {
	s := New(Config{}, nil)
	s.Append([]sluice.Message{
		msg("a", "web", "1"), msg("a", "web.1", "2"), msg("a", "webby", "3"),
		msg("a", "web.2", "4"), msg("a", "", "5"), msg("a", "worker.1", "6"),
		{Time: t0, App: "a", Source: "router", Proc: "web.1", Text: "7"},
	})
	cases := []struct {
		f    Filter
		n    int
		want []string
	}{
		{Filter{Ps: "web"}, 100, []string{"1", "2", "4", "7"}},
		{Filter{Ps: "web"}, 2, []string{"4", "7"}},
		{Filter{Ps: "web.1"}, 100, []string{"2", "7"}},
		{Filter{Ps: "webby"}, 100, []string{"3"}},
		{Filter{Ps: "we"}, 100, nil},
		{Filter{Source: "router"}, 100, []string{"7"}},
		{Filter{Source: "app", Ps: "web"}, 100, []string{"1", "2", "4"}},
		{Filter{}, 3, []string{"5", "6", "7"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v/%d", tc.f, tc.n), func(t *testing.T) {
			var got []string
			for _, l := range lines(s.Last(nil, "a", tc.n, tc.f)) {
				got = append(got, l[strings.LastIndex(l, " ")+1:len(l)-1])
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEvictionMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := New(Config{Lines: 5, BytesPerApp: 1 << 20}, reg)
	for i := 0; i < 12; i++ {
		s.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint(i))})
	}
	if got := len(lines(s.Last(nil, "a", 100, Filter{}))); got != 5 {
		t.Fatalf("kept %d lines, want 5", got)
	}
	for _, c := range []struct {
		name, reason string
		want         float64
	}{
		{"sluice_buffer_evicted_total", "app_lines", 7},
		{"sluice_buffer_evicted_total", "app_bytes", 0},
		{"sluice_buffer_evicted_total", "memory", 0},
		{"sluice_buffer_lines", "", 5},
		{"sluice_buffer_apps", "", 1},
	} {
		if got := metric(t, reg, c.name, c.reason); got != c.want {
			t.Fatalf("%s{%s} = %v, want %v", c.name, c.reason, got, c.want)
		}
	}
}

// limitedStore returns a store whose memory limit holds about three apps
// of 40 KiB, its registry, and fill, which writes 40 KiB to an app.
func limitedStore() (s *Store, reg *prometheus.Registry, fill func(app string)) {
	reg = prometheus.NewRegistry()
	s = New(Config{Lines: 100000, BytesPerApp: 40 << 10, MemoryLimit: 128 << 10}, reg)
	text := strings.Repeat("x", 200)
	return s, reg, func(app string) {
		for i := 0; i < 200; i++ {
			s.Append([]sluice.Message{msg(app, "web.1", text)})
		}
	}
}

func TestMemoryLimitEvictsLeastRecentlyWritten(t *testing.T) {
	const limit = 128 << 10
	s, reg, fill := limitedStore()
	count := func(app string) int { return len(lines(s.Last(nil, app, 1<<20, Filter{}))) }
	fill("a")
	fill("b")
	fill("c")
	full := count("c")
	if st := s.Stats(); st.Apps != 3 || count("a") != full {
		t.Fatalf("before the limit: %+v", st)
	}
	fill("d")
	if m := s.Stats().Memory; m > limit {
		t.Fatalf("memory %d over the limit %d", m, limit)
	}
	if got := count("a"); got != 0 {
		t.Fatalf("least recently written app a still has %d lines", got)
	}
	if count("c") != full || count("d") != full {
		t.Fatalf("c or d lost lines while b had some: b %d, c %d, d %d, full %d", count("b"), count("c"), count("d"), full)
	}
	// Writing a again makes it the most recent: b loses lines before c.
	fill("a")
	if count("b") >= full || count("c") != full || count("a") != full {
		t.Fatalf("b %d, c %d, a %d lines, full %d: b should go first", count("b"), count("c"), count("a"), full)
	}
	if got := metric(t, reg, "sluice_buffer_evicted_total", "memory"); got == 0 {
		t.Fatalf("no memory evictions counted")
	}
}

// TestMemoryLimitForgetsEmptiedApps: an app the limit emptied keeps its
// ring (its next lines need no allocation) until memory is reclaimed again
// with the app still empty; then it is forgotten.
func TestMemoryLimitForgetsEmptiedApps(t *testing.T) {
	const limit = 128 << 10
	s, reg, fill := limitedStore()
	known := func(app string) bool {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.apps.get(app) != nil
	}
	for _, app := range []string{"a", "b", "c", "d"} {
		fill(app)
	}
	if n := len(lines(s.Last(nil, "a", 1<<20, Filter{}))); n != 0 || !known("a") {
		t.Fatalf("after d: a has %d lines, known %v; want 0 lines, still known", n, known("a"))
	}
	fill("e")
	fill("f")
	if known("a") {
		t.Fatalf("a, empty through two reclaims, is still known")
	}
	checkMemory(t, s)
	if m := s.Stats().Memory; m > limit {
		t.Fatalf("memory %d over the limit %d", m, limit)
	}
	if got := metric(t, reg, "sluice_buffer_apps", ""); got != float64(s.Stats().Apps) || got > 5 {
		t.Fatalf("sluice_buffer_apps = %v, Stats().Apps = %d", got, s.Stats().Apps)
	}
	// What reclaim freed waits for the next lines in this store's free
	// list, bounded by MemoryLimit/8.
	if free := metric(t, reg, "sluice_buffer_free_bytes", ""); free <= 0 || free > float64(s.free.maxFree)*chunkSize {
		t.Fatalf("sluice_buffer_free_bytes = %v", free)
	}
}

func TestManyAppsStayUnderMemoryLimit(t *testing.T) {
	const limit = 256 << 10
	s := New(Config{MemoryLimit: limit}, nil)
	for i := 0; i < 2000; i++ {
		s.Append([]sluice.Message{msg(fmt.Sprintf("app-%d", i), "web.1", "hello")})
		if m := s.mem.Load(); m > limit+8<<10 {
			t.Fatalf("after app %d memory is %d", i, m)
		}
	}
	st := s.Stats()
	if st.Apps == 0 || st.Apps >= 2000 {
		t.Fatalf("apps %d: want some apps forgotten, the newest kept", st.Apps)
	}
	if got := len(s.Last(nil, "app-1999", 10, Filter{})); got == 0 {
		t.Fatalf("newest app lost its line")
	}
	checkMemory(t, s)
}

func TestMixedBatchKeepsOrderPerApp(t *testing.T) {
	s := New(Config{}, nil)
	var batch []sluice.Message
	for i := 0; i < 300; i++ {
		batch = append(batch, msg(fmt.Sprintf("app-%d", i%7), "", fmt.Sprint(i)))
	}
	s.Append(batch)
	for a := 0; a < 7; a++ {
		var want strings.Builder
		for i := a; i < 300; i += 7 {
			want.WriteString(line(batch[i]))
		}
		if got := string(s.Last(nil, fmt.Sprintf("app-%d", a), 1000, Filter{})); got != want.String() {
			t.Fatalf("app-%d: got %q, want %q", a, got, want.String())
		}
	}
}

func TestAppendCopies(t *testing.T) {
	s := New(Config{}, nil)
	buf := []byte("web.1 hello")
	m := sluice.Message{Time: t0, App: "a", Proc: unsafeStr(buf[:5]), Text: unsafeStr(buf[6:])}
	s.Append([]sluice.Message{m})
	copy(buf, "XXXXXXXXXXX")
	if got := string(s.Last(nil, "a", 1, Filter{Ps: "web"})); !strings.HasSuffix(got, "app[web.1]: hello\n") {
		t.Fatalf("ring aliases the caller's buffer: %q", got)
	}
}

func TestAppendSteadyStateDoesNotAllocate(t *testing.T) {
	s := New(Config{Lines: 100}, nil)
	batch := make([]sluice.Message, 16)
	for i := range batch {
		batch[i] = msg("a", "web.1", strings.Repeat("y", 90+i))
	}
	mixed := make([]sluice.Message, 16)
	for i := range mixed {
		mixed[i] = msg(fmt.Sprint("m", i%4), "web.1", strings.Repeat("y", 90+i))
	}
	for i := 0; i < 100; i++ {
		s.Append(batch)
		s.Append(mixed)
	}
	if n := testing.AllocsPerRun(200, func() { s.Append(batch) }); n != 0 {
		t.Fatalf("Append of one app allocates %.1f times per call", n)
	}
	if n := testing.AllocsPerRun(200, func() { s.Append(mixed) }); n > 0 && !raceEnabled {
		t.Fatalf("Append of a mixed batch allocates %.1f times per call", n)
	}
}

// TestAppendUnderMemoryLimitDoesNotAllocate: with more apps than the
// limit holds, reclaim empties rings and they fill again; the chunks and
// rings are reused, also across garbage collections.
func TestAppendUnderMemoryLimitDoesNotAllocate(t *testing.T) {
	s := New(Config{MemoryLimit: 4 << 20}, nil)
	batches := make([][]sluice.Message, 50)
	for i := range batches {
		batches[i] = make([]sluice.Message, 64)
		for j := range batches[i] {
			batches[i][j] = msg(fmt.Sprintf("app-%d", (i*64+j)%500), "web.1", strings.Repeat("z", 150))
		}
	}
	k := 0
	next := func() {
		s.Append(batches[k%len(batches)])
		k++
	}
	for range 2000 { // ~20 MiB: the limit is passed several times over
		next()
	}
	runtime.GC()
	runtime.GC()
	if n := testing.AllocsPerRun(500, next); n != 0 && !raceEnabled {
		t.Fatalf("Append under the memory limit allocates %.2f times per batch of 64", n)
	}
	if m := s.Stats().Memory; m > 4<<20 {
		t.Fatalf("memory %d over the limit", m)
	}
	checkMemory(t, s)
}

// subscribe subscribes or fails the test.
func subscribe(t testing.TB, s *Store, app string, o Options) *Subscription {
	t.Helper()
	sub, err := s.Subscribe(app, o)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// next calls Next with a deadline; it fails the test on any error but want.
func next(t *testing.T, sub *Subscription, want error) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := sub.Next(ctx, nil)
	if !errors.Is(err, want) {
		t.Fatalf("Next: %v, want %v", err, want)
	}
	return lines(b)
}

func TestSubscriptionBacklogThenNext(t *testing.T) {
	s := New(Config{}, nil)
	for i := 0; i < 5; i++ {
		s.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint("old", i))})
	}
	sub := subscribe(t, s, "a", Options{Filter: Filter{Ps: "web"}, Last: 2})
	defer sub.Close()
	if c := sub.Position(); c.Seq != 3 {
		t.Fatalf("position %v, want seq 3", c)
	}
	s.Append([]sluice.Message{msg("a", "web.2", "new1"), msg("a", "worker.1", "skip"), msg("a", "web", "new2")})
	got := next(t, sub, nil)
	want := []string{"old3", "old4", "new1", "new2"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i, w := range want {
		if !strings.HasSuffix(got[i], w+"\n") {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// TestSubscribeDuringAppendNoGapNoDuplicate subscribes while writers append
// numbered lines: what Next gives must be exactly the lines in order.
func TestSubscribeDuringAppendNoGapNoDuplicate(t *testing.T) {
	s := New(Config{Lines: 100000, BytesPerApp: 1 << 30, TailBuffer: 100000, TailBufferBytes: 1 << 30}, nil)
	const total = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		for i := 0; i < total; i += 4 {
			if i == 2000 {
				close(started)
			}
			s.Append([]sluice.Message{msg("a", "", fmt.Sprint(i)), msg("a", "", fmt.Sprint(i+1)),
				msg("a", "", fmt.Sprint(i+2)), msg("a", "", fmt.Sprint(i+3))})
		}
	}()
	<-started
	sub := subscribe(t, s, "a", Options{Last: total})
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	var buf []byte
	for len(got) < total {
		var err error
		buf, err = sub.Next(ctx, buf[:0])
		if err != nil {
			t.Fatalf("after %d lines: %v", len(got), err)
		}
		got = append(got, lines(buf)...)
	}
	wg.Wait()
	for i, l := range got {
		if want := fmt.Sprintf(": %d\n", i); !strings.HasSuffix(l, want) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

// TestSubscriberBehindGetsL11AndEnds: a subscriber more than TailBuffer
// lines (or TailBufferBytes) behind, or whose unread lines the ring
// evicted, gets an L11 line that counts what it missed, and ErrBehind.
func TestSubscriberBehindGetsL11AndEnds(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		last    int
		written int
		missed  int
	}{
		{"lines", Config{TailBuffer: 4}, 0, 10, 10},
		{"bytes", Config{TailBufferBytes: 300}, 0, 10, 10},
		{"evicted by the ring", Config{Lines: 3, TailBuffer: 100}, 0, 10, 10},
		{"backlog evicted before read", Config{Lines: 5, TailBuffer: 100}, 5, 3, 8},
		{"within bounds", Config{TailBuffer: 10}, 0, 10, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s := New(tc.cfg, reg)
			for i := 0; i < 5; i++ {
				s.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint("old", i))})
			}
			sub := subscribe(t, s, "a", Options{Last: tc.last})
			defer sub.Close()
			for i := 0; i < tc.written; i++ {
				s.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint(i))})
			}
			if tc.missed == 0 {
				if got := next(t, sub, nil); len(got) != tc.written {
					t.Fatalf("got %q", got)
				}
				return
			}
			got := next(t, sub, ErrBehind)
			want := fmt.Sprintf(" sluice[tail]: Error L11 (Tail buffer overflow): %d messages dropped since ", tc.missed)
			if len(got) != 1 || !strings.Contains(got[0], want) {
				t.Fatalf("got %q, want one line with %q", got, want)
			}
			if n := metric(t, reg, "sluice_tail_dropped_total", ""); n != float64(tc.missed) {
				t.Fatalf("sluice_tail_dropped_total %v", n)
			}
			if n := metric(t, reg, "sluice_tail_behind_total", ""); n != 1 {
				t.Fatalf("sluice_tail_behind_total %v", n)
			}
			// It goes on after the newest line, should it be read again.
			if c := sub.Position(); c.Seq != uint64(5+tc.written) {
				t.Fatalf("position %v", c)
			}
		})
	}
}

// TestResumeAfterCursor reads on from a cursor: exactly the lines after it,
// from the oldest held when the cursor is of another epoch, with an L11
// line when the ring lost some of them.
func TestResumeAfterCursor(t *testing.T) {
	s := New(Config{Lines: 10}, nil)
	for i := 0; i < 8; i++ {
		s.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint(i))})
	}
	_, cur := s.Read(nil, "a", Options{Last: 3})
	if cur.Seq != 8 || cur.Epoch == 0 {
		t.Fatalf("cursor %v", cur)
	}
	at := func(seq uint64) Cursor { return Cursor{Epoch: cur.Epoch, Seq: seq} }
	for i := 8; i < 20; i++ { // lines 8..19; the ring holds 10..19 (seq 11..20)
		s.Append([]sluice.Message{msg("a", "web.1", fmt.Sprint(i))})
	}
	cases := []struct {
		name  string
		o     Options
		want  string // line texts, space separated; L11 for the notice
		until uint64
	}{
		{"held", Options{After: at(15)}, "15 16 17 18 19", 20},
		{"held, limit", Options{After: at(15), Limit: 2}, "15 16", 17},
		{"at the end", Options{After: at(20)}, "", 20},
		{"in the future", Options{After: at(99)}, "", 20},
		{"just before the oldest", Options{After: at(10)}, "10 11 12 13 14 15 16 17 18 19", 20},
		{"older than held", Options{After: at(7)}, "L11:3 10 11 12 13 14 15 16 17 18 19", 20},
		{"other epoch", Options{After: Cursor{Epoch: cur.Epoch + 2, Seq: 3}}, "10 11 12 13 14 15 16 17 18 19", 20},
		{"events", Options{After: at(18), Events: true}, "ev:19:18 ev:20:19", 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(how string, b []byte) {
				var got []string
				for _, l := range lines(b) {
					_, text, _ := strings.Cut(l, "]: ")
					text = strings.TrimSuffix(text, "\n")
					if strings.HasPrefix(text, "Error L11") {
						text = "L11:" + strings.Fields(text)[5]
					}
					if strings.HasPrefix(l, "id: ") {
						id, _ := ParseCursor(strings.TrimPrefix(strings.TrimSuffix(l, "\n"), "id: "))
						got = append(got, fmt.Sprintf("ev:%d", id.Seq))
						continue
					}
					if strings.HasPrefix(l, "data: ") || l == "\n" {
						if l != "\n" {
							got[len(got)-1] += ":" + text
						}
						continue
					}
					got = append(got, text)
				}
				if g := strings.Join(got, " "); g != tc.want {
					t.Fatalf("%s: got %q, want %q", how, g, tc.want)
				}
			}
			b, end := s.Read(nil, "a", tc.o)
			check("Read", b)
			if end != at(tc.until) {
				t.Fatalf("Read cursor %v, want %v", end, at(tc.until))
			}
			if tc.o.Limit > 0 {
				return
			}
			sub := subscribe(t, s, "a", tc.o)
			defer sub.Close()
			if tc.want == "" {
				return
			}
			check("Next", []byte(strings.Join(next(t, sub, nil), "")))
		})
	}
	if _, err := ParseCursor(cur.String()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "x", "1:", ":1", "0:1", "1:-1", "zzzzzzzzzzzzzzzzz:1", "1:1:1"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

func TestTailCaps(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Config{MaxTails: 3, MaxTailsPerApp: 2}, reg)
	a1 := subscribe(t, s, "a", Options{})
	subscribe(t, s, "a", Options{})
	if _, err := s.Subscribe("a", Options{}); !errors.Is(err, ErrTooManyTails) || !strings.Contains(err.Error(), "MAX_TAILS_PER_APP") {
		t.Fatalf("third tail of a: %v", err)
	}
	subscribe(t, s, "b", Options{})
	if _, err := s.Subscribe("c", Options{}); !errors.Is(err, ErrTooManyTails) || !strings.Contains(err.Error(), "(MAX_TAILS)") {
		t.Fatalf("fourth tail: %v", err)
	}
	a1.Close()
	subscribe(t, s, "c", Options{})
	if n := metric(t, reg, "sluice_tail_rejected_total", "max_tails_per_app"); n != 1 {
		t.Fatalf("rejected max_tails_per_app %v", n)
	}
}

func TestSubscriptionClose(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Config{}, reg)
	sessions := func() float64 { return metric(t, reg, "sluice_tail_sessions", "") }
	cases := []struct {
		name  string
		close func(*Subscription)
	}{
		{"Subscription.Close", func(sub *Subscription) { sub.Close() }},
		{"Store.Close", func(*Subscription) { s.Close() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub := subscribe(t, s, "quiet", Options{})
			if got := sessions(); got != 1 {
				t.Fatalf("sessions %v", got)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := sub.Next(context.Background(), nil)
				errc <- err
			}()
			tc.close(sub)
			select {
			case err := <-errc:
				if !errors.Is(err, io.EOF) {
					t.Fatalf("Next: %v, want io.EOF", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Next did not return after Close")
			}
			sub.Close()
			if got := sessions(); got != 0 {
				t.Fatalf("sessions %v after close", got)
			}
		})
	}
	if _, err := subscribe(t, s, "x", Options{}).Next(context.Background(), nil); !errors.Is(err, io.EOF) {
		t.Fatalf("Subscribe after Store.Close: %v", err)
	}
	// An app that only had a watcher is forgotten when it leaves.
	if st := s.Stats(); st.Apps != 0 {
		t.Fatalf("apps %d", st.Apps)
	}
}

func TestNextHonoursContext(t *testing.T) {
	s := New(Config{}, nil)
	sub := subscribe(t, s, "a", Options{})
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sub.Next(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next: %v", err)
	}
}

func TestConcurrentAppendSubscribeAndReclaim(t *testing.T) {
	s := New(Config{Lines: 50, MemoryLimit: 128 << 10, TailBuffer: 8}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(7, 9))
	pool := make([]sluice.Message, 512)
	for i := range pool {
		pool[i] = randMsg(rng, fmt.Sprint("app-", rng.IntN(40)), i)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000 && ctx.Err() == nil; i++ {
				k := (i * 8 * (w + 1)) % (len(pool) - 8)
				s.Append(pool[k : k+8])
			}
		}()
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := 0; i < 200 && ctx.Err() == nil; i++ {
				sub := subscribe(t, s, fmt.Sprint("app-", i%40), Options{Filter: Filter{Ps: "web"}, Last: 10})
				c, stop := context.WithTimeout(ctx, time.Millisecond)
				buf, _ = sub.Next(c, buf[:0])
				stop()
				sub.Close()
				buf = s.Last(buf[:0], fmt.Sprint("app-", i%40), 5, Filter{Source: "router"})
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Sessions != 0 {
		t.Fatalf("sessions %d", st.Sessions)
	}
	if st.Memory > 128<<10+64<<10 {
		t.Fatalf("memory %d", st.Memory)
	}
	checkMemory(t, s)
}

// checkMemory fails unless the store's memory count is the sum of its
// rings' memory (call it when nothing else runs).
func checkMemory(t *testing.T, s *Store) {
	t.Helper()
	var sum int64
	for r := range s.apps.all() {
		sum += r.mem
	}
	if got := s.mem.Load(); got != sum {
		t.Fatalf("store counts %d bytes of memory, its rings hold %d", got, sum)
	}
}

func unsafeStr(b []byte) string { return unsafe.String(&b[0], len(b)) }

// metric reads one sample from reg: name, and the reason label when given.
func metric(t *testing.T, reg prometheus.Gatherer, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != reason) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{%s}", name, reason)
	return 0
}

// TestRingLayout keeps the ring struct at 256 bytes, a size class aligned
// to cache lines, so that an Append to one of many apps misses on as few
// lines as possible.
func TestRingLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("layout tuned for 64-bit platforms")
	}
	if n := unsafe.Sizeof(ring{}); n != 256 {
		t.Fatalf("ring is %d bytes, want 256 (adjust the padding)", n)
	}
}

// TestLinesSpanningChunks covers records (header and line) that straddle
// chunks or are longer than a chunk, read back by Last, Backlog and Next.
func TestLinesSpanningChunks(t *testing.T) {
	for _, lines := range []int{1, 3, 50} {
		t.Run(fmt.Sprint("lines=", lines), func(t *testing.T) {
			s := New(Config{Lines: lines, MemoryLimit: 1 << 30}, nil)
			m := &model{maxLines: lines, maxBytes: 1 << 20}
			sub := subscribe(t, s, "a", Options{Filter: Filter{Ps: "web"}})
			defer sub.Close()
			var want []string
			for i, n := range []int{0, 1, 500, 1000, 1023, 1024, 1025, 2500, 7, 4000, 990, 3, 1100} {
				batch := make([]sluice.Message, 1+i%3)
				for j := range batch {
					// Escapes and multi-byte characters land on chunk
					// boundaries somewhere among these lengths.
					text := strings.Repeat(string(rune('a'+i))+"\n\u009b€", n/5+j)
					batch[j] = msg("a", fmt.Sprint("web.", j), text)
					m.put(batch[j])
					want = append(want, line(batch[j]))
				}
				s.Append(batch)
				for _, k := range []int{1, 2, 1 << 20} {
					if got, w := string(s.Last(nil, "a", k, Filter{})), m.last(k, Filter{}); got != w {
						t.Fatalf("after %d: Last(%d): got %d bytes, want %d", i, k, len(got), len(w))
					}
				}
			}
			var got []byte
			for {
				var err error
				got, err = sub.Next(context.Background(), got)
				if errors.Is(err, ErrBehind) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(got) >= len(strings.Join(want, "")) {
					break
				}
			}
			if lines >= 50 && string(got) != strings.Join(want, "") {
				t.Fatalf("Next: got %d bytes, want %d", len(got), len(strings.Join(want, "")))
			}
			if lines < 50 && !strings.Contains(string(got), "Error L11") {
				t.Fatalf("Next: want an L11 line for the lines the ring evicted")
			}
		})
	}
}

func TestApps(t *testing.T) {
	s := New(Config{Lines: 2}, nil)
	s.Append([]sluice.Message{msg("a", "web", "1"), msg("b", "web", "2"), msg("a", "web", "3"), msg("a", "web", "4")})
	got := s.Apps(nil)
	slices.SortFunc(got, func(x, y AppStat) int { return strings.Compare(x.Name, y.Name) })
	want := []AppStat{{"a", 3}, {"b", 1}} // Lines counts what arrived, not what the ring still holds
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Apps = %v, want %v", got, want)
	}
}

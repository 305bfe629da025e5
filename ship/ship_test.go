package ship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/internal/eventually"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 30 ", 30 * time.Second, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"999999", maxRetryAfter, true},
		{now.Add(2 * time.Second).Format(http.TimeFormat), 2 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("got %s %v, want %s %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBackoffIsFullJitterUnderTheCap(t *testing.T) {
	s := &Shipper{cfg: Config{BackoffBase: 100 * time.Millisecond, BackoffCap: time.Second}}
	for n := 1; n < 40; n++ {
		for range 50 {
			d := s.backoff(n)
			ceil := min(100*time.Millisecond<<min(n-1, 20), time.Second)
			if d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %s, want within [0, %s]", n, d, ceil)
			}
		}
	}
}

func TestErrLogOncePerKindPerInterval(t *testing.T) {
	var b bytes.Buffer
	l := NewErrLog(&b, "sluice ship", time.Minute)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	l.Printf("send", "a")
	l.Printf("send", "b")
	l.Printf("drop", "c")
	now = now.Add(time.Minute)
	l.Printf("send", "d")
	want := "sluice ship: a\nsluice ship: c\nsluice ship: d (and 1 more like it since 1m0s)\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestReadLines(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes, 2-byte runes
	tests := []struct {
		name, in string
		max      int
		want     []string
	}{
		{"lines", "a\nb\r\nc", 128, []string{"a", "b", "c"}},
		{"empty lines kept", "\n\nx\n", 128, []string{"", "", "x"}},
		{"split between runes", long + "\nz\n", 17, nil},
		{"invalid utf-8", "a\xffb\n", 128, []string{"a\uFFFDb"}},
		{"control bytes are data", "\x1b[1m\x00\n", 128, []string{"\x1b[1m\x00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := ReadLines(strings.NewReader(tt.in), tt.max, time.Second, nil, func(s string, _ bool) error {
				if !utf8.ValidString(s) {
					t.Errorf("invalid UTF-8 part %q", s)
				}
				got = append(got, strings.Clone(s))
				return nil
			}, false)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if strings.Join(got[:len(got)-1], "") != long || got[len(got)-1] != "z" {
					t.Fatalf("parts %q do not add up", got)
				}
				for _, p := range got {
					if len(p) > tt.max {
						t.Fatalf("part of %d bytes > %d", len(p), tt.max)
					}
				}
				return
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// gate is a Transport that refuses until opened and records what it
// delivered.
type gate struct {
	mu   sync.Mutex
	open bool
	got  []string
}

func (g *gate) Send(_ context.Context, msgs []sluice.Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		return errors.New("router down")
	}
	for _, m := range msgs {
		g.got = append(g.got, m.Text)
	}
	return nil
}

func (g *gate) Close() error { return nil }

// TestDropAccounting checks added = delivered + dropped (reported as L12)
// with the buffer full while the router is down.
func TestDropAccounting(t *testing.T) {
	g := &gate{}
	s, err := New(Config{Transport: g, BatchLines: 5, BatchWait: time.Millisecond, BufferLines: 10,
		MaxAttempts: -1, BackoffBase: time.Millisecond, BackoffCap: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 100 {
		m := sluice.Message{App: "a", Text: "line " + strings.Repeat("x", i%3)}
		if _, err := s.Add(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if lines, _ := s.Buffered(); lines > 10 {
			t.Fatalf("%d lines buffered, bound is 10", lines)
		}
	}
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	var reported, lines int
	for _, txt := range g.got {
		var n int
		if _, err := fmt.Sscanf(txt, "Error L12: %d messages dropped since", &n); err == nil {
			reported += n
		} else {
			lines++
		}
	}
	if st.Added != 100 || uint64(lines) != st.Delivered || uint64(reported) != st.Dropped || st.Delivered+st.Dropped != 100 {
		t.Fatalf("stats %+v, delivered %d lines and reported %d dropped", st, lines, reported)
	}
	eventually.True(t, "acked everything", func() bool { return s.Acked() == 100 })
}

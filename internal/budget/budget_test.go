package budget

import (
	"strings"
	"sync"
	"testing"
)

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  int64
		lines  []Line
		err    []string
		reserv int64
	}{
		{"fits", 64 << 20, []Line{{"rings (MEMORY_LIMIT)", 64 << 20}, {"request bodies (MAX_INFLIGHT_BODY_BYTES)", 32 << 20}}, nil, 96 << 20},
		{"exactly", 64 << 20, []Line{{"rings", 160 << 20}}, nil, 160 << 20},
		{"over", 64 << 20, []Line{{"rings (MEMORY_LIMIT)", 64 << 20}, {"drain web (queue_bytes)", 100 << 20}},
			[]string{"rings (MEMORY_LIMIT) 64MiB + drain web (queue_bytes) 100MiB = 164MiB of 160MiB (MEMORY_LIMIT × 1.5 + 64MiB)"}, 164 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan{Total: Total(tc.limit), Lines: tc.lines}
			if p.Reserved() != tc.reserv {
				t.Errorf("reserved %d, want %d", p.Reserved(), tc.reserv)
			}
			err := p.Check()
			if (err != nil) != (tc.err != nil) {
				t.Fatalf("Check: %v", err)
			}
			for _, want := range tc.err {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[int64]string{17: "17B", 1024: "1KiB", 1536: "1.5KiB", 64 << 20: "64MiB", 3 << 29: "1.5GiB"} {
		if got := Size(in); got != want {
			t.Errorf("Size(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestLease(t *testing.T) {
	p := NewPool(100)
	a, b := p.Lease(), p.Lease()
	if !a.Grow(60) || !a.GrowTo(70) || a.Held() != 70 {
		t.Fatalf("a holds %d", a.Held())
	}
	if b.Grow(31) || b.Never() {
		t.Fatal("b took more than is left, or thinks it never could")
	}
	if c := p.Lease(); c.Grow(101) || !c.Never() {
		t.Fatal("more than the pool: not refused for good")
	}
	if b.Held() != 0 || p.Used() != 70 {
		t.Fatalf("a failed Grow took something: b %d, pool %d", b.Held(), p.Used())
	}
	if !b.Grow(30) || p.Used() != 100 || p.Peak() != 100 {
		t.Fatalf("pool %d peak %d", p.Used(), p.Peak())
	}
	a.Release()
	b.Release()
	if p.Used() != 0 {
		t.Fatalf("released, pool still holds %d", p.Used())
	}
	var unlimited *Pool
	l := unlimited.Lease()
	if !l.Grow(1 << 40) {
		t.Fatal("a nil pool refused")
	}
	l.Release()
}

// Many leases growing and releasing at once never take the pool over its
// limit, and give everything back.
func TestPoolConcurrent(t *testing.T) {
	p := NewPool(1000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				l := p.Lease()
				for l.Grow(7) {
					if u := p.Used(); u > 1000 {
						t.Errorf("pool holds %d, over 1000", u)
						return
					}
					if l.Held() > 300 {
						break
					}
				}
				l.Release()
			}
		}()
	}
	wg.Wait()
	if p.Used() != 0 || p.Peak() > 1000 {
		t.Fatalf("used %d peak %d", p.Used(), p.Peak())
	}
}

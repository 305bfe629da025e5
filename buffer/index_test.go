package buffer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluice-logs/sluice"
)

// TestAppIndex checks the index against a Go map through random puts and
// deletes (deletes shift slots back), with get, lookupBatch and all.
func TestAppIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := newAppIndex()
	want := map[string]*ring{}
	names := make([]string, 3000)
	for i := range names {
		names[i] = fmt.Sprintf("app-%d", i)
	}
	var batch []sluice.Message
	for step := range 40000 {
		name := names[rng.IntN(len(names))]
		if r, ok := want[name]; ok && rng.IntN(3) == 0 {
			x.del(r)
			delete(want, name)
		} else if !ok {
			r := newRing(name)
			x.put(r)
			want[name] = r
		}
		if x.len() != len(want) {
			t.Fatalf("step %d: len %d, want %d", step, x.len(), len(want))
		}
		if step%1000 != 0 {
			continue
		}
		for _, n := range names {
			if got := x.get(n); got != want[n] {
				t.Fatalf("step %d: get(%q) = %p, want %p", step, n, got, want[n])
			}
		}
		seen := 0
		for r := range x.all() {
			if want[r.app] != r {
				t.Fatalf("step %d: all yields %q, which is not in the index", step, r.app)
			}
			seen++
		}
		if seen != len(want) {
			t.Fatalf("step %d: all yields %d rings, want %d", step, seen, len(want))
		}
		// Runs of one app, and apps in and out of the index.
		batch = batch[:0]
		for range 500 {
			n := names[rng.IntN(len(names))]
			for range 1 + rng.IntN(3) {
				batch = append(batch, sluice.Message{App: n})
			}
		}
		rings := make([]*ring, len(batch))
		x.lookupBatch(batch, rings, make([]uint64, len(batch)))
		for i, m := range batch {
			if rings[i] != want[m.App] {
				t.Fatalf("step %d: lookupBatch [%d] %q = %p, want %p", step, i, m.App, rings[i], want[m.App])
			}
		}
	}
}

// TestAppIndexCollision gives two apps the same hash: lookups must still
// compare names.
func TestAppIndexCollision(t *testing.T) {
	x := newAppIndex()
	a, b := newRing("a"), newRing("b")
	// b first, under a's hash, as a 64-bit collision would put it: the
	// first slot with a's hash then holds b.
	x.insert(appSlot{x.hash("a"), b})
	x.n++
	x.put(a)
	batch := []sluice.Message{{App: "a"}, {App: "b"}}
	rings := make([]*ring, 2)
	x.lookupBatch(batch, rings, make([]uint64, 2))
	if rings[0] != a {
		t.Fatalf("a found %p, want %p", rings[0], a)
	}
	if x.find("a", x.hash("a")) != a {
		t.Fatalf("find(a) is not a")
	}
}

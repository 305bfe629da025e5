package buffer

import (
	"hash/maphash"
	"iter"
	"unsafe"

	"github.com/sluice-logs/sluice"
)

// appIndex maps app names to rings: open addressing with linear probing,
// each slot the name's hash beside the ring. It replaces a Go map so that a
// batch's lookups can be split in passes (lookupBatch) whose cache misses
// overlap instead of coming one after the other: with 10,000 apps the map
// lookup was a sixth of sluiced's CPU, nearly all of it waiting for memory.
//
// It is not safe for concurrent use; the Store guards it with its mutex
// (lookups under the read lock).
type appIndex struct {
	seed  maphash.Seed
	slots []appSlot // len a power of two, at most half full
	n     int
}

type appSlot struct {
	hash uint64 // of the name; 0 only in empty slots
	r    *ring
}

func newAppIndex() appIndex {
	return appIndex{seed: maphash.MakeSeed(), slots: make([]appSlot, 16)}
}

func (x *appIndex) hash(app string) uint64 {
	h := maphash.String(x.seed, app)
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	return h
}

// get returns app's ring, or nil.
func (x *appIndex) get(app string) *ring {
	return x.find(app, x.hash(app))
}

// find is get with the hash already computed.
func (x *appIndex) find(app string, h uint64) *ring {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &x.slots[i]
		if sl.hash == h && sl.r.app == app {
			return sl.r
		}
		if sl.hash == 0 {
			return nil
		}
	}
}

// put adds r, whose app must not be in the index yet.
func (x *appIndex) put(r *ring) {
	if 2*(x.n+1) > len(x.slots) {
		old := x.slots
		x.slots = make([]appSlot, 2*len(old))
		for _, sl := range old {
			if sl.hash != 0 {
				x.insert(sl)
			}
		}
	}
	x.insert(appSlot{x.hash(r.app), r})
	x.n++
}

func (x *appIndex) insert(s appSlot) {
	mask := uint64(len(x.slots) - 1)
	i := s.hash & mask
	for x.slots[i].hash != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

// del removes r if the index holds it. The slots after it in its probe run
// are shifted back, so lookups need no tombstones.
func (x *appIndex) del(r *ring) {
	mask := uint64(len(x.slots) - 1)
	i := x.hash(r.app) & mask
	for x.slots[i].r != r {
		if x.slots[i].hash == 0 {
			return
		}
		i = (i + 1) & mask
	}
	x.n--
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		sl := x.slots[j]
		if sl.hash == 0 {
			break
		}
		// sl may fill the hole at i if its home is not in (i, j].
		if home := sl.hash & mask; (j-home)&mask >= (j-i)&mask {
			x.slots[i] = sl
			i = j
		}
	}
	x.slots[i] = appSlot{}
}

// len returns the number of apps.
func (x *appIndex) len() int { return x.n }

// all yields every ring, in no particular order.
func (x *appIndex) all() iter.Seq[*ring] {
	return func(yield func(*ring) bool) {
		for _, sl := range x.slots {
			if sl.hash != 0 && !yield(sl.r) {
				return
			}
		}
	}
}

// lookupBatch sets rings[i] to the ring of batch[i].App, or nil. It
// works in passes over the batch (hash and prefetch each slot; read the
// slots and prefetch each candidate ring; compare the names), so that the
// cache misses of different apps overlap. A run of one app is looked up
// once. rings and hashes (scratch) are as long as the batch.
func (x *appIndex) lookupBatch(batch []sluice.Message, rings []*ring, hashes []uint64) {
	mask := uint64(len(x.slots) - 1)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(x.slots)))
	prev := ""
	for i := range batch {
		app := batch[i].App
		if i > 0 && app == prev {
			hashes[i] = 0 // same as i-1
			continue
		}
		prev = app
		h := x.hash(app)
		hashes[i] = h
		prefetch(base + uintptr(h&mask)*unsafe.Sizeof(appSlot{}))
	}
	for i := range batch {
		h := hashes[i]
		if h == 0 {
			continue
		}
		var r *ring
		for j := h & mask; ; j = (j + 1) & mask {
			sl := &x.slots[j]
			if sl.hash == h {
				r = sl.r
				break
			}
			if sl.hash == 0 {
				break
			}
		}
		rings[i] = r
		if r != nil {
			prefetch(uintptr(unsafe.Pointer(r)))
		}
	}
	for i := range batch {
		if hashes[i] == 0 {
			rings[i] = rings[i-1]
			continue
		}
		// The first slot with the same hash is almost always the app; if
		// not (a 64-bit collision), look it up properly.
		if r := rings[i]; r != nil && r.app != batch[i].App {
			rings[i] = x.find(batch[i].App, hashes[i])
		}
	}
}

package drains_test

import (
	"testing"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

func TestAppendBusBatchID(t *testing.T) {
	at := func(ps ...[2]int64) []sluice.Message {
		var b []sluice.Message
		for _, p := range ps {
			b = append(b, sluice.Message{App: "a", Text: "x", Pos: sluice.MakeBusPos(int32(p[0]), p[1])})
		}
		return b
	}
	noPos := append(at([2]int64{1, 5}), sluice.Message{App: "a", Text: "L10 notice"})
	tests := []struct {
		name  string
		batch []sluice.Message
		want  string // "" = no id
	}{
		{"empty", nil, ""},
		{"single process", []sluice.Message{{App: "a"}}, ""},
		{"a notice in the batch", noPos, ""},
		{"one", at([2]int64{0, 0}), "bus-0.0-0.0-1-"},
		{"two partitions", at([2]int64{3, 7}, [2]int64{11, 1 << 47}), "bus-3.7-11.140737488355328-2-"},
		{"max partition", at([2]int64{65535, 0}), "bus-65535.0-65535.0-1-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := drains.AppendBusBatchID(nil, tt.batch)
			if tt.want == "" {
				if ok || len(got) != 0 {
					t.Fatalf("id %q for a batch without positions", got)
				}
				return
			}
			if !ok || len(got) <= len(tt.want) || string(got[:len(tt.want)]) != tt.want {
				t.Fatalf("id %q, want prefix %q", got, tt.want)
			}
			again, _ := drains.AppendBusBatchID([]byte("x"), tt.batch)
			if string(again[1:]) != string(got) {
				t.Errorf("same batch, ids %q and %q", got, again[1:])
			}
		})
	}
	// Same first, last and count, another message in between: another id.
	a, _ := drains.AppendBusBatchID(nil, at([2]int64{1, 1}, [2]int64{1, 2}, [2]int64{1, 4}))
	b, _ := drains.AppendBusBatchID(nil, at([2]int64{1, 1}, [2]int64{1, 3}, [2]int64{1, 4}))
	if string(a) == string(b) {
		t.Errorf("different batches share the id %q", a)
	}
}

func TestBusPos(t *testing.T) {
	for _, p := range [][2]int64{{0, 0}, {1, 1}, {63, 1<<48 - 2}, {65535, 12345}} {
		pos := sluice.MakeBusPos(int32(p[0]), p[1])
		if pos == 0 || pos.Partition() != int32(p[0]) || pos.Offset() != p[1] {
			t.Errorf("MakeBusPos(%d, %d) = %#x: partition %d offset %d", p[0], p[1], uint64(pos), pos.Partition(), pos.Offset())
		}
	}
}

package httpdrain_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-logs/sluice"
)

// TestFrameIDFromBusPositions: in cluster mode the Frame-Id comes from the
// messages' bus positions, so two drains (two processes) sending the same
// batch send the same id; without positions it stays per drain.
func TestFrameIDFromBusPositions(t *testing.T) {
	s := newSink(t, nil)
	batch := msgs("web", 0, 3)
	for i := range batch {
		batch[i].Pos = sluice.MakeBusPos(4, int64(100+i))
	}
	var ids []string
	for range 2 {
		d, _ := open(t, s.URL())
		if err := send(t, d, batch); err != nil {
			t.Fatal(err)
		}
		d.Close(context.Background())
	}
	d, _ := open(t, s.URL())
	defer d.Close(context.Background())
	if err := send(t, d, msgs("web", 0, 3)); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.requests() {
		ids = append(ids, r.header.Get("Logplex-Frame-Id"))
	}
	if len(ids) != 3 || ids[0] != ids[1] || !strings.HasPrefix(ids[0], "bus-4.100-4.102-3-") {
		t.Fatalf("Frame-Ids %q: want the same bus-4.100-4.102-3-… twice", ids)
	}
	if strings.HasPrefix(ids[2], "bus-") {
		t.Errorf("Frame-Id %q for messages without positions", ids[2])
	}
}

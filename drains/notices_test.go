package drains_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/internal/eventually"
)

var noticeCount = regexp.MustCompile(`^Error L10 \(output buffer overflow\): (\d+) messages (of other apps )?dropped since `)

// TestWorkerNoticesSummarised: drops of more than MaxNoticeApps apps while
// the only batch is held give one L10 line per app for MaxNoticeApps apps
// and one aggregate line for the rest, sent under batch=4 like messages;
// only the per-app lines reach Notify.
func TestWorkerNoticesSummarised(t *testing.T) {
	d := &memDrain{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	var notified atomic.Int32
	w, _ := newWorker(t, d, drains.Options{Queue: 4, Batch: 4, Flush: time.Millisecond},
		func(sluice.Message) { notified.Add(1) })
	w.Start()
	if err := w.Enqueue(context.Background(), msgs("a", 0, 4)); err != nil {
		t.Fatal(err)
	}
	<-d.entered // the first batch is held: the queue is all in flight
	const others = 50
	apps := drains.MaxNoticeApps + others
	for i := range apps {
		if err := w.Enqueue(context.Background(), msgs(fmt.Sprintf("app%d", i), 0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if st := w.Status(); st.Dropped[drains.ReasonQueueFull] != uint64(apps) {
		t.Fatalf("status %+v: want %d dropped", st, apps)
	}
	close(d.gate)
	reported := func() (perApp, aggregate int, sum uint64) {
		for _, m := range d.read() {
			sm := noticeCount.FindStringSubmatch(m.Text)
			if sm == nil {
				continue
			}
			n, _ := strconv.ParseUint(sm[1], 10, 64)
			sum += n
			if sm[2] != "" {
				aggregate++
				if m.App != drains.SummaryApp || n != others {
					t.Errorf("aggregate line %+v, want app %s and %d drops", m, drains.SummaryApp, others)
				}
			} else {
				perApp++
			}
		}
		return perApp, aggregate, sum
	}
	eventually.True(t, "every drop reported", func() bool { _, _, sum := reported(); return sum >= uint64(apps) })
	stop(t, w)
	perApp, aggregate, sum := reported()
	if perApp != drains.MaxNoticeApps || aggregate != 1 || sum != uint64(apps) {
		t.Fatalf("%d per-app lines, %d aggregate, %d drops reported; want %d, 1, %d", perApp, aggregate, sum, drains.MaxNoticeApps, apps)
	}
	d.mu.Lock()
	for i, b := range d.batches {
		if len(b) > 4 {
			t.Errorf("batch %d has %d lines, over batch=4", i+1, len(b))
		}
	}
	d.mu.Unlock()
	if n := notified.Load(); n != drains.MaxNoticeApps {
		t.Fatalf("Notify called %d times, want %d (not for the aggregate line)", n, drains.MaxNoticeApps)
	}
}

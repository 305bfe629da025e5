package drains

import (
	"strconv"
	"strings"
	"time"

	"github.com/sluice-logs/sluice"
)

// In-band L10 notices. A drain with policy=drop reports what its queue
// dropped as "Error L10 (output buffer overflow): N messages dropped since
// T." lines, sent to the drain (and, once delivered, to the app's ring via
// Notify). They obey the same limits as messages:
//
//   - One line per app per interval: drops are counted per app until the
//     next batch is taken; that batch carries one line per app.
//   - At most MaxNoticeApps apps have a line of their own at a time. The
//     drops of any further app are summed into one aggregate line, "Error
//     L10 (output buffer overflow): N messages of other apps dropped since
//     T (…).", sent to the drain with app SummaryApp and not put in any
//     ring (it belongs to no app). The per-app counts are in
//     sluice_drain_dropped_total only. So an outage of a drain that
//     serves 100,000 apps costs at most MaxNoticeApps+1 lines, not 100,000.
//   - Notices count against batch and batch_bytes like messages; those
//     that do not fit wait for the next batch. While messages are queued,
//     notices take at most half of a batch, so that they never hold the
//     messages back.
//
// A notice the destination refuses for good is not retried (the counts stay
// in the metrics); one that failed retryably is retried with its batch.

// MaxNoticeApps is how many apps get an L10 line of their own per
// interval; the drops of any further app go into one aggregate line.
const MaxNoticeApps = 100

// SummaryApp is the app of the aggregate L10 line.
const SummaryApp = "sluice"

// notices are the drops not yet reported in-band, guarded by Worker.mu.
type notices struct {
	apps  map[string]*dropRec // at most MaxNoticeApps
	other dropRec             // drops of apps beyond MaxNoticeApps
}

type dropRec struct {
	n     uint64
	since time.Time
}

func (ns *notices) pending() bool { return len(ns.apps) > 0 || ns.other.n > 0 }

// add records one dropped message of app. app may view memory that is
// about to be reused: it is cloned when it becomes a key.
func (ns *notices) add(app string, now time.Time) {
	rec, ok := ns.apps[app]
	if !ok {
		if len(ns.apps) >= MaxNoticeApps {
			if ns.other.n == 0 {
				ns.other.since = now
			}
			ns.other.n++
			return
		}
		rec = &dropRec{since: now}
		ns.apps[strings.Clone(app)] = rec
	}
	rec.n++
}

// oldest returns when the oldest unreported drop happened (zero: none).
func (ns *notices) oldest() time.Time {
	var t time.Time
	for _, d := range ns.apps {
		if t.IsZero() || d.since.Before(t) {
			t = d.since
		}
	}
	if ns.other.n > 0 && (t.IsZero() || ns.other.since.Before(t)) {
		t = ns.other.since
	}
	return t
}

func (ns *notices) reset() {
	clear(ns.apps)
	ns.other = dropRec{}
}

// takeNoticesLocked puts into the empty batch b as many pending notices as
// fit in at most maxN lines and maxBytes bytes (at least one), removing
// them from the pending ones, and returns the bytes they take.
func (w *Worker) takeNoticesLocked(b *batch, maxN int, maxBytes int64, enq int64) int64 {
	now := time.Now()
	proc := "drain." + w.cfg.Name
	var bytes int64
	fits := func(m *sluice.Message) bool {
		size := int64(m.Size())
		if len(b.msgs) >= maxN || (len(b.msgs) > 0 && bytes+size > maxBytes) {
			return false
		}
		bytes += size
		i := b.slot()
		b.msgs[i] = *m
		b.enq[i] = enq
		return true
	}
	for app, d := range w.notices.apps {
		m := noticeMessage(now, app, proc, sluice.DropNotice("L10", "output buffer overflow", d.n, d.since))
		if !fits(&m) {
			break
		}
		delete(w.notices.apps, app)
	}
	if o := w.notices.other; o.n > 0 {
		m := noticeMessage(now, SummaryApp, proc, summaryNotice(o.n, o.since))
		if fits(&m) {
			w.notices.other = dropRec{}
			b.summary = true
		}
	}
	b.notes = len(b.msgs)
	return bytes
}

func noticeMessage(now time.Time, app, proc, text string) sluice.Message {
	return sluice.Message{
		Time:     now,
		App:      app,
		Source:   "sluice",
		Proc:     proc,
		Text:     text,
		Facility: sluice.DefaultFacility,
		Severity: 3, // error
	}
}

// summaryNotice is the text of the aggregate L10 line.
func summaryNotice(n uint64, since time.Time) string {
	b := make([]byte, 0, 160)
	b = append(b, "Error L10 (output buffer overflow): "...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, " messages of other apps dropped since "...)
	b = since.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, " (one line per app for the first "...)
	b = strconv.AppendInt(b, MaxNoticeApps, 10)
	b = append(b, " apps; per-app counts are in the drain's metrics)."...)
	return string(b)
}

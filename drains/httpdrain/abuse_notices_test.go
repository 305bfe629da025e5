package httpdrain_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// limitedEndpoint is a real HTTP endpoint on loopback that, like many log
// services, refuses a body over 1 MiB with 413, and answers 503 while down.
type limitedEndpoint struct {
	down atomic.Bool

	mu        sync.Mutex
	posts     []int // lines per accepted POST
	maxBody   int
	tooLarge  int
	delivered []sluice.Message
}

const endpointLimit = 1 << 20

func (e *limitedEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, endpointLimit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		e.mu.Lock()
		e.tooLarge++
		e.mu.Unlock()
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if e.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	msgs, err := parseLogplex(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.posts = append(e.posts, len(msgs))
	e.maxBody = max(e.maxBody, len(body))
	e.delivered = append(e.delivered, msgs...)
	e.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

var droppedN = regexp.MustCompile(`^Error L10 \(output buffer overflow\): (\d+) messages (?:of other apps )?dropped since `)

// TestWorkerNoticesObeyBatchLimits is issue 10's row 5: 100,000 apps write
// one message each into a policy=drop drain during an outage. The L10
// notices must go out under batch and batch_bytes like any message, at
// most one per app and, beyond the per-app limit, one aggregate line, and
// they must account for every dropped message. (Before, the first POST
// after the outage carried one notice per app, 100,100 lines / 26 MB, and
// an endpoint with a 1 MiB limit answered 413: all of it was lost.)
func TestWorkerNoticesObeyBatchLimits(t *testing.T) {
	apps := 100_000
	if testing.Short() {
		apps = 10_000
	}
	const batch, queue = 100, 100
	e := &limitedEndpoint{}
	e.down.Store(true)
	srv := httptest.NewServer(e) // 127.0.0.1
	t.Cleanup(srv.Close)

	var mu sync.Mutex
	notified := 0
	w := worker(t, srv.URL+"/?policy=drop&queue="+strconv.Itoa(queue)+"&batch="+strconv.Itoa(batch)+"&flush=10ms&timeout=10s",
		func(sluice.Message) { mu.Lock(); notified++; mu.Unlock() })
	w.Start()
	defer stop(t, w)

	msgs := make([]sluice.Message, 1000)
	now := time.Now()
	for i := 0; i < apps; i += len(msgs) {
		for j := range msgs {
			msgs[j] = sluice.Message{Time: now, App: "app-" + strconv.Itoa(i+j), Source: "app", Proc: "web.1",
				Text: "GET /items/" + strconv.Itoa(i+j) + " 200", Facility: sluice.DefaultFacility, Severity: sluice.DefaultSeverity}
		}
		if err := w.Enqueue(context.Background(), msgs); err != nil {
			t.Fatal(err)
		}
	}
	st := w.Status()
	dropped := st.Dropped[drains.ReasonQueueFull]
	if want := uint64(apps - queue); dropped != want {
		t.Fatalf("dropped %d during the outage, want %d (status %+v)", dropped, want, st)
	}
	e.down.Store(false)

	// Every dropped message is reported by the notices delivered, and
	// every queued message delivered.
	reported := func() (notices int, sum uint64, real int) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, m := range e.delivered {
			if sm := droppedN.FindStringSubmatch(m.Text); sm != nil && m.Proc == "drain.test" {
				n, _ := strconv.ParseUint(sm[1], 10, 64)
				sum += n
				notices++
			} else {
				real++
			}
		}
		return notices, sum, real
	}
	eventually.Within(t, 2*time.Minute, "every drop reported and every queued message delivered (or a loss)", func() bool {
		_, sum, real := reported()
		e.mu.Lock()
		lost := e.tooLarge > 0
		e.mu.Unlock()
		return (sum >= dropped && real >= queue) || lost || w.Status().Dropped[drains.ReasonPermanent] > 0
	})
	notices, sum, real := reported()
	st = w.Status()
	e.mu.Lock()
	posts, maxBody, tooLarge := append([]int(nil), e.posts...), e.maxBody, e.tooLarge
	e.mu.Unlock()
	t.Logf("%d apps: %d POSTs, largest %d bytes; %d notices for %d drops; %d messages", apps, len(posts), maxBody, notices, sum, real)

	if tooLarge > 0 {
		t.Errorf("%d POSTs over the endpoint's 1 MiB limit (413)", tooLarge)
	}
	for i, n := range posts {
		if n > batch {
			t.Errorf("POST %d carried %d lines, over batch=%d", i+1, n, batch)
		}
	}
	if sum != dropped || real != queue {
		t.Errorf("delivered notices report %d drops (want %d) and %d messages (want %d)", sum, dropped, real, queue)
	}
	// Summarised: at most MaxNoticeApps per-app lines and one aggregate
	// line per batch, and a small fraction of the apps in all.
	if notices > len(posts)*(drains.MaxNoticeApps+1) || notices > apps/100 {
		t.Errorf("%d notices in %d POSTs for %d apps: not summarised", notices, len(posts), apps)
	}
	if !st.Balanced() || st.Delivered != uint64(queue) || st.Dropped[drains.ReasonPermanent] != 0 {
		t.Errorf("status %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if notified >= notices {
		t.Errorf("Notify called %d times for %d notices; the aggregate line belongs to no app's ring", notified, notices)
	}
}

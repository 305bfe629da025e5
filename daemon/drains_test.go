package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// sink is a real HTTP server receiving a drain's logplex-1 batches.
type sink struct {
	srv *httptest.Server

	mu     sync.Mutex
	msgs   []string // the MSG part of every frame, in arrival order
	status int      // answer; 0 means 204
	gate   chan struct{}
	frames map[string][]string // Logplex-Frame-Id: the first request's messages
	reused map[string]bool     // Frame-Ids that came again with other messages
}

func newSink(t *testing.T) *sink {
	s := &sink{frames: map[string][]string{}, reused: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		gate, status := s.gate, s.status
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var got []string
		for len(body) > 0 {
			sp := strings.IndexByte(string(body), ' ')
			n, err := strconv.Atoi(string(body[:max(sp, 0)]))
			if sp < 0 || err != nil || sp+1+n > len(body) {
				t.Errorf("bad logplex frame in %q", body)
				w.WriteHeader(400)
				return
			}
			frame := string(body[sp+1 : sp+1+n])
			body = body[sp+1+n:]
			// <PRI>1 TS HOST APP PROC MSGID SD MSG: the message after the 7th space.
			parts := strings.SplitN(frame, " ", 8)
			if len(parts) == 8 {
				got = append(got, parts[3]+" "+parts[7])
			}
		}
		if c := r.Header.Get("Logplex-Msg-Count"); c != strconv.Itoa(len(got)) {
			t.Errorf("Logplex-Msg-Count %q for %d frames", c, len(got))
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, got...)
		if id := r.Header.Get("Logplex-Frame-Id"); s.frames[id] == nil {
			s.frames[id] = got
		} else if strings.Join(s.frames[id], "\n") != strings.Join(got, "\n") {
			s.reused[id] = true
		}
		s.mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

func (s *sink) set(status int, gate chan struct{}) {
	s.mu.Lock()
	s.status, s.gate = status, gate
	s.mu.Unlock()
}

type drainStatus struct {
	Name      string            `json:"name"`
	Received  uint64            `json:"received"`
	Delivered uint64            `json:"delivered"`
	Dropped   map[string]uint64 `json:"dropped"`
	Queued    uint64            `json:"queue_messages"`
}

// drainsStatus reads GET /drains and checks the accounting equation of
// every drain.
func (r *router) drainsStatus() map[string]drainStatus {
	r.t.Helper()
	code, body := r.get("/drains", "")
	if code != 200 {
		r.t.Fatalf("/drains: %d %s", code, body)
	}
	var doc struct {
		Drains []drainStatus `json:"drains"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		r.t.Fatalf("/drains: %v\n%s", err, body)
	}
	out := map[string]drainStatus{}
	for _, d := range doc.Drains {
		var dropped uint64
		for _, n := range d.Dropped {
			dropped += n
		}
		if d.Received != d.Delivered+dropped+d.Queued {
			r.t.Fatalf("drain %s: received %d != delivered %d + dropped %d + queued %d", d.Name, d.Received, d.Delivered, dropped, d.Queued)
		}
		out[d.Name] = d
	}
	return out
}

func TestHTTPDrainDelivers(t *testing.T) {
	s := newSink(t)
	r := start(t, "DRAIN_WEB="+s.srv.URL+"/?batch=7&flush=20ms&apps=da,db")
	var msgs []string
	for i := 0; i < 50; i++ {
		msgs = append(msgs, fmt.Sprintf("<190>1 - h %s p - - m%d", []string{"da", "db", "other"}[i%3], i))
	}
	r.sendTCP(octet(msgs...))
	waitFor(t, func() bool { return len(s.received()) >= 34 && r.drainsStatus()["web"].Delivered == 34 })
	var want []string
	for i := 0; i < 50; i++ {
		if i%3 != 2 {
			want = append(want, fmt.Sprintf("%s m%d", []string{"da", "db"}[i%3], i))
		}
	}
	equal(t, s.received(), want)
	st := r.drainsStatus()["web"]
	if st.Received != 34 || st.Delivered != 34 {
		t.Fatalf("status %+v", st)
	}
}

func TestHTTPDrainDropReportsL10(t *testing.T) {
	s := newSink(t)
	s.set(503, nil)
	r := start(t, "DRAIN_SLOW="+s.srv.URL+"/?queue=5&batch=5&flush=10ms")
	var msgs []string
	for i := 0; i < 40; i++ {
		msgs = append(msgs, fmt.Sprintf("<190>1 - h l10 p - - m%d", i))
	}
	r.sendTCP(octet(msgs...))
	r.waitLines("l10", "", 40) // the ring is not held back by the dead drain
	waitFor(t, func() bool { return r.drainsStatus()["slow"].Dropped["queue_full"] > 0 })
	s.set(0, nil)
	waitFor(t, func() bool {
		st := r.drainsStatus()["slow"]
		return st.Queued == 0 && st.Delivered+st.Dropped["queue_full"] == 40
	})
	got := s.received()
	if len(got) == 0 || !strings.HasPrefix(got[0], "l10 Error L10 (output buffer overflow): ") {
		t.Fatalf("first delivered line %q, want the L10 report", got)
	}
	lines := r.waitLines("l10", "&source=sluice", 1)
	if !strings.Contains(lines[0], "Error L10 (output buffer overflow)") {
		t.Fatalf("ring lacks the L10 line: %q", lines)
	}
}

func TestHTTPDrainBlockPushesBack(t *testing.T) {
	s := newSink(t)
	gate := make(chan struct{})
	s.set(0, gate)
	r := start(t, "DRAIN_B="+s.srv.URL+"/?policy=block&queue=10&batch=5&flush=10ms&apps=blk")
	accepted := 0
	var saw429 bool
	for i := 0; i < 100 && !saw429; i++ {
		code, body := r.post("/logs?app=blk", "text/plain", "", []byte(fmt.Sprintf("b%d\n", i)))
		switch code {
		case 204:
			accepted++
		case 429:
			saw429 = true
		default:
			t.Fatalf("POST: %d %s", code, body)
		}
	}
	if !saw429 {
		t.Fatalf("no 429 after %d accepted messages", accepted)
	}
	// Apps not routed to the blocked drain keep flowing.
	if code, _ := r.post("/logs?app=free", "text/plain", "", []byte("still flowing\n")); code != 204 {
		t.Fatalf("other app: %d", code)
	}
	close(gate)
	waitFor(t, func() bool { return len(s.received()) == accepted })
	st := r.drainsStatus()["b"]
	if len(st.Dropped) != 0 && sum(st.Dropped) != 0 {
		t.Fatalf("policy=block dropped %v", st.Dropped)
	}
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// TestDeadDrainDoesNotHoldOthersBack: with policy=drop, a drain whose
// endpoint hangs neither slows the rings nor the healthy drain beside it.
func TestDeadDrainDoesNotHoldOthersBack(t *testing.T) {
	healthy := newSink(t)
	stuck := newSink(t)
	gate := make(chan struct{})
	stuck.set(0, gate)
	defer close(gate)
	r := start(t, "DRAIN_OK="+healthy.srv.URL+"/?batch=50&flush=10ms",
		"DRAIN_STUCK="+stuck.srv.URL+"/?queue=100&batch=50&flush=10ms&timeout=30s", "BUFFER_LINES=5000")
	var msgs []string
	for i := 0; i < 3000; i++ {
		msgs = append(msgs, fmt.Sprintf("<190>1 - h iso p - - m%d", i))
	}
	r.sendTCP(octet(msgs...))
	r.waitLines("iso", "", 3000)
	// The sink sees a batch a moment before the worker hears it was taken.
	waitFor(t, func() bool { return len(healthy.received()) == 3000 && r.drainsStatus()["ok"].Delivered == 3000 })
	st := r.drainsStatus()
	if st["ok"].Delivered != 3000 || st["ok"].Dropped["queue_full"] != 0 {
		t.Fatalf("healthy drain %+v", st["ok"])
	}
	if st["stuck"].Dropped["queue_full"] == 0 {
		t.Fatalf("stuck drain dropped nothing: %+v", st["stuck"])
	}
}

package httpdrain_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/go-syslog/v3/rfc5424"
	"github.com/sluice-logs/sluice"
)

// request is one POST the sink received.
type request struct {
	header http.Header
	body   []byte // decompressed
	msgs   []sluice.Message
}

// sink is a real HTTP endpoint on loopback that decodes what drains post.
// respond, when set, picks the status (and headers) of the nth request
// (1-based); a 2xx request's messages are recorded as delivered.
type sink struct {
	t       testing.TB
	mu      sync.Mutex
	n       int
	reqs    []request
	msgs    []sluice.Message
	respond func(n int, w http.ResponseWriter) int
	srv     *httptest.Server
	count   bool // benchmark mode: count messages only
	counted int
}

func newSink(t testing.TB, respond func(n int, w http.ResponseWriter) int) *sink {
	s := &sink{t: t, respond: respond}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// startOn serves s on addr (an address a previous sink or listener used).
func startOn(t testing.TB, s *sink, addr string) {
	t.Helper()
	var l net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		l, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		<-tick.C // the port is still being released
	}
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	t.Cleanup(s.srv.Close)
}

func (s *sink) URL() string { return s.srv.URL }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.count {
		// Benchmark mode: trust the header, discard the body.
		n, _ := strconv.Atoi(r.Header.Get("Logplex-Msg-Count"))
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.counted += n
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msgs []sluice.Message
	switch r.Header.Get("Content-Type") {
	case "application/logplex-1":
		msgs, err = parseLogplex(b)
	case "application/x-ndjson":
		msgs, err = parseNDJSON(b)
	default:
		err = fmt.Errorf("unexpected content type %q", r.Header.Get("Content-Type"))
	}
	if err != nil {
		s.t.Errorf("sink: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c := r.Header.Get("Logplex-Msg-Count"); c != strconv.Itoa(len(msgs)) {
		s.t.Errorf("sink: Logplex-Msg-Count %q for %d messages", c, len(msgs))
	}
	s.mu.Lock()
	s.n++
	n := s.n
	s.reqs = append(s.reqs, request{header: r.Header.Clone(), body: b, msgs: msgs})
	s.mu.Unlock()
	status := http.StatusNoContent
	if s.respond != nil {
		status = s.respond(n, w) // may block (a slow endpoint)
	}
	if status >= 200 && status < 300 {
		s.mu.Lock()
		s.msgs = append(s.msgs, msgs...)
		s.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (s *sink) delivered() []sluice.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sluice.Message(nil), s.msgs...)
}

func (s *sink) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// parseLogplex splits octet-counted frames and parses each as RFC 5424.
func parseLogplex(b []byte) ([]sluice.Message, error) {
	var out []sluice.Message
	p := rfc5424.NewMachine()
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return nil, fmt.Errorf("frame %d: no octet count", len(out)+1)
		}
		n, err := strconv.Atoi(string(b[:sp]))
		if err != nil || n <= 0 || sp+1+n > len(b) {
			return nil, fmt.Errorf("frame %d: bad octet count %q", len(out)+1, b[:sp])
		}
		frame := b[sp+1 : sp+1+n]
		b = b[sp+1+n:]
		sm, err := p.Parse(frame)
		if err != nil {
			return nil, fmt.Errorf("frame %d %q: %w", len(out)+1, frame, err)
		}
		m := sm.(*rfc5424.SyslogMessage)
		var msg sluice.Message
		str := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		msg.App, msg.Proc, msg.Host, msg.MsgID, msg.Text = str(m.Appname), str(m.ProcID), str(m.Hostname), str(m.MsgID), str(m.Message)
		if m.Timestamp != nil {
			msg.Time = *m.Timestamp
		}
		if m.Facility != nil {
			msg.Facility = *m.Facility
		}
		if m.Severity != nil {
			msg.Severity = *m.Severity
		}
		out = append(out, msg)
	}
	return out, nil
}

func parseNDJSON(b []byte) ([]sluice.Message, error) {
	var out []sluice.Message
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var v struct {
			Time     time.Time `json:"time"`
			App      string    `json:"app"`
			Source   string    `json:"source"`
			Proc     string    `json:"proc"`
			Host     string    `json:"host"`
			Severity uint8     `json:"severity"`
			Facility uint8     `json:"facility"`
			MsgID    string    `json:"msgid"`
			SD       string    `json:"structured_data"`
			Msg      string    `json:"msg"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
		out = append(out, sluice.Message{Time: v.Time, App: v.App, Source: v.Source, Proc: v.Proc, Host: v.Host,
			Severity: v.Severity, Facility: v.Facility, MsgID: v.MsgID, StructuredData: v.SD, Text: v.Msg})
	}
	return out, nil
}

package httpdrain_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/sluice-logs/sluice"
)

// lpxEntry is one entry as github.com/bmizerany/lpx's Reader gives it: six
// header fields cut at spaces, then the rest of the frame as the body.
type lpxEntry struct {
	PrivalVersion, Time, Hostname, Name, Procid, Msgid string
	Body                                               string
}

// readLPX reads a logplex-1 body the way lpx's Reader does (the module is
// not on the Go proxy, so its documented behaviour is written out here):
// the octet count up to a space; then PRI/VERSION, TIMESTAMP, HOSTNAME,
// APP-NAME, PROCID and MSGID, each read up to the next space (the space
// counted against the frame length, trailing spaces trimmed); the frame's
// remaining bytes are the body, read whole (LF and all). It does no other
// validation, which is why a strict RFC 5424 frame's "-" STRUCTURED-DATA
// shows up at the start of the body.
func readLPX(body []byte) ([]lpxEntry, error) {
	r := bufio.NewReader(bytes.NewReader(body))
	var out []lpxEntry
	for {
		l, err := r.ReadBytes(' ')
		if errors.Is(err, io.EOF) && len(l) == 0 {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		n, err := strconv.ParseInt(string(bytes.TrimRight(l, " ")), 10, 64)
		if err != nil {
			return out, err
		}
		var e lpxEntry
		for _, f := range []*string{&e.PrivalVersion, &e.Time, &e.Hostname, &e.Name, &e.Procid, &e.Msgid} {
			g, err := r.ReadBytes(' ')
			if err != nil {
				return out, err
			}
			n -= int64(len(g))
			*f = string(bytes.TrimRight(g, " "))
		}
		if n < 0 {
			return out, errors.New("header longer than the frame")
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return out, io.ErrUnexpectedEOF
		}
		e.Body = string(b)
		out = append(out, e)
	}
}

// rawSink records the bodies and headers of POSTs, answering 204.
type rawSink struct {
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func (s *rawSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	s.heads = append(s.heads, r.Header.Clone())
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// TestLogplexFormatReadByLPX sends Heroku-layout frames (format=logplex)
// and reads them back with an lpx reader: every field where Heroku's
// consumers expect it, the message body exactly (no "- " or SD in front),
// and LF inside a message kept inside its frame. Without format= (and
// with format=rfc5424) the strict frames show the SD "-" in lpx's body,
// the difference the issue describes.
func TestLogplexFormatReadByLPX(t *testing.T) {
	batch := []sluice.Message{
		{Source: "router", Proc: "-", Text: `at=info method=GET path="/" host=example.com status=200`},
		{Source: "app", Proc: "web.1", Text: "line with LF\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected"},
		{Source: "heroku", Proc: "web.1", Text: "State changed from starting to up"},
		{Source: "", Proc: "worker.2", Text: ""},
		{Source: "app", Proc: "web.1", Text: "[not sd] - 42 <13>1 looks like a header"},
	}
	for i := range batch {
		batch[i].App, batch[i].Facility, batch[i].Severity = "web", 1, 6
		batch[i].Time = msgs("web", i, 1)[0].Time
	}
	for _, tc := range []struct {
		query   string
		host    string
		bodyPfx string // what lpx sees in front of the message
	}{
		{"format=logplex&apps=web", "host", ""},
		{"", "h1", "- "},
		{"format=rfc5424", "h1", "- "},
	} {
		t.Run("query="+tc.query, func(t *testing.T) {
			s := &rawSink{}
			srv := httptest.NewServer(s)
			defer srv.Close()
			d, _ := open(t, srv.URL+"/?drain_token=d.tok&"+tc.query)
			defer d.Close(context.Background())
			in := append([]sluice.Message(nil), batch...)
			for i := range in {
				in[i].Host = "h1"
			}
			if err := send(t, d, in); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.bodies) != 1 {
				t.Fatalf("%d requests, want 1", len(s.bodies))
			}
			if got := s.heads[0].Get("Logplex-Drain-Token"); got != "d.tok" {
				t.Errorf("Logplex-Drain-Token %q, want d.tok", got)
			}
			got, err := readLPX(s.bodies[0])
			if err != nil {
				t.Fatalf("lpx reader: %v after %d entries, body %q", err, len(got), s.bodies[0])
			}
			if len(got) != len(in) {
				t.Fatalf("lpx read %d entries, want %d", len(got), len(in))
			}
			for i, e := range got {
				m := in[i]
				name := m.Source
				if name == "" {
					name = "app"
				}
				if tc.host != "host" { // strict RFC 5424: the app in APP-NAME
					name = m.App
				}
				want := lpxEntry{
					PrivalVersion: "<14>1",
					Time:          m.Time.Format(sluice.TimeLayout),
					Hostname:      tc.host,
					Name:          name,
					Procid:        m.Proc,
					Msgid:         "-",
					Body:          tc.bodyPfx + m.Text,
				}
				if tc.bodyPfx != "" && m.Text == "" {
					want.Body = "-"
				}
				if e != want {
					t.Errorf("entry %d:\n got %+v\nwant %+v", i, e, want)
				}
			}
		})
	}
}

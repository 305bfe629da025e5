package tail

import (
	"fmt"
	"testing"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/buffer"
)

// TestBusCursors: lines with bus positions (cluster mode) carry bus
// cursors in the header and the events, and after= or Last-Event-ID
// resumes by them; malformed ones are refused.
func TestBusCursors(t *testing.T) {
	e := start(t, buffer.Config{}, nil)
	for i := range 5 {
		m := msg("a", "web.1", fmt.Sprint("l", i))
		m.Pos = sluice.MakeBusPos(2, int64(100+10*i)) // l0 at 100 … l4 at 140
		e.store.Append([]sluice.Message{m})
	}
	l := func(i int) string { return line(msg("a", "web.1", fmt.Sprint("l", i))) }
	cases := []struct {
		name, path string
		header     []string
		status     int
		cursor     string
		body       string
	}{
		{"header", "/apps/a/logs?num=1", nil, 200, "b2.140", l(4)},
		{"after", "/apps/a/logs?after=b2.120", nil, 200, "b2.140", l(3) + l(4)},
		{"after, between lines", "/apps/a/logs?after=b2.115", nil, 200, "b2.140", l(2) + l(3) + l(4)},
		{"after, num", "/apps/a/logs?after=b2.100&num=1", nil, 200, "b2.110", l(1)},
		{"last-event-id", "/apps/a/logs", []string{"Last-Event-ID", "b2.130"}, 200, "b2.140", l(4)},
		{"events", "/apps/a/logs?num=1", []string{"Accept", "text/event-stream"}, 200, "",
			"id: b2.140\ndata: " + l(4) + "\n"},
		{"ahead", "/apps/a/logs?after=b2.999", nil, 200, "b2.140", ""},
		{"bad partition", "/apps/a/logs?after=b99999.1", nil, 400, "", ""},
		{"bad offset", "/apps/a/logs?after=b2.-5", nil, 400, "", ""},
		{"newline", "/apps/a/logs?after=b2.1%0Adata:%20x", nil, 400, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := e.get(t, tc.path, tc.header...)
			if status != tc.status || (status == 200 && body != tc.body) {
				t.Fatalf("status %d body %q, want %d %q", status, body, tc.status, tc.body)
			}
			if c := hdr.Get(CursorHeader); tc.cursor != "" && c != tc.cursor {
				t.Fatalf("cursor %q, want %q", c, tc.cursor)
			}
		})
	}
}

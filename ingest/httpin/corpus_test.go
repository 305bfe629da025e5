package httpin

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sluice-logs/sluice/internal/golden"
)

// TestCorpusLogplex posts every dialect of testdata/syslog as one
// application/logplex-1 body per case to an open router: every frame is
// accepted with the fields of the golden file.
func TestCorpusLogplex(t *testing.T) {
	s := startServer(t, serverOpts{defaultApp: "syslog", maxMessage: 64 << 10})
	total := 0
	for _, c := range golden.Cases(t, "syslog") {
		t.Run(c.Name, func(t *testing.T) {
			lines := golden.Lines(c.Input)
			var body []byte
			for _, l := range lines {
				body = append(body, frame(string(l))...)
			}
			resp := s.post(t, http.MethodPost, "", map[string]string{"Content-Type": ctLogplex}, body)
			if resp.status != http.StatusNoContent {
				t.Fatalf("status %d %q, want 204", resp.status, resp.body)
			}
			got := s.pub.got()[total:]
			total += len(lines)
			want := golden.Lines(c.Expected)
			if len(got) != len(want) {
				t.Fatalf("%d messages, want %d", len(got), len(want))
			}
			for i, m := range got {
				var w struct {
					App, Proc, Host, Text string
					Severity, Facility    uint8
				}
				if err := json.Unmarshal(want[i], &w); err != nil {
					t.Fatal(err)
				}
				if m.App != w.App || m.Proc != w.Proc || m.Host != w.Host || m.Text != w.Text ||
					m.Severity != w.Severity || m.Facility != w.Facility {
					t.Errorf("frame %d %q:\n got %+v\nwant %+v", i+1, lines[i], m, w)
				}
			}
		})
	}
}

package syslog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/internal/golden"
)

// GoldenReceived is the receive time of the golden cases: lines without a
// timestamp get it (written as "" in expected), lines without a year get
// the year around it.
var GoldenReceived = time.Date(2026, 12, 2, 12, 0, 0, 999999999, time.UTC)

// GoldenLine is one line of a syslog case's expected file.
type GoldenLine struct {
	App      string `json:"app"`
	Proc     string `json:"proc"`
	Host     string `json:"host"`
	Time     string `json:"time"` // RFC 3339 with its offset; "" for none
	Severity uint8  `json:"severity"`
	Facility uint8  `json:"facility"`
	Text     string `json:"text"`
}

func goldenLine(m *sluice.Message, received time.Time) []byte {
	l := GoldenLine{App: m.App, Proc: m.Proc, Host: m.Host, Severity: m.Severity, Facility: m.Facility, Text: m.Text}
	if !m.Time.Equal(received) {
		l.Time = m.Time.Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err)
	}
	return b
}

// TestGoldenDialects parses every line of testdata/syslog/*/input with the
// options sluiced uses by default (UTC, SYSLOG_DEFAULT_APP=syslog). Every
// line must be accepted: these are what real senders write.
func TestGoldenDialects(t *testing.T) {
	golden.Run(t, "syslog", func(t *testing.T, input []byte) []byte {
		p := Parser{DefaultApp: "syslog"}
		var out []byte
		for _, line := range golden.Lines(input) {
			var m sluice.Message
			if err := p.Parse(line, GoldenReceived, &m); err != nil {
				t.Errorf("Parse(%q): %v", line, err)
				continue
			}
			out = append(append(out, goldenLine(&m, GoldenReceived)...), '\n')
		}
		return out
	})
}

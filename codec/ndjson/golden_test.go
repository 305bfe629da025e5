package ndjson

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sluice-logs/sluice/internal/golden"
)

// goldenResult is one line of an ndjson case's expected file: for every
// non-blank input line (numbered from 1), either its known fields or why
// it was rejected. A msg longer than goldenMsgMax is cut there (msg_bytes
// keeps its length), so that a huge line's expected stays readable.
type goldenResult struct {
	Line      int    `json:"line"`
	Reject    string `json:"reject,omitempty"`
	Error     string `json:"error,omitempty"`
	App       string `json:"app,omitempty"`
	Msg       string `json:"msg,omitempty"`
	MsgBytes  int    `json:"msg_bytes"`
	Time      string `json:"time,omitempty"`
	Source    string `json:"source,omitempty"`
	Proc      string `json:"proc,omitempty"`
	Host      string `json:"host,omitempty"`
	Severity  string `json:"severity,omitempty"`
	HasApp    bool   `json:"has_app"`
	HasMsg    bool   `json:"has_msg"`
	TypeError string `json:"type_error,omitempty"`
}

const goldenMsgMax = 120

// TestGolden runs every case of testdata/ndjson through ParseLine, as
// ingest does (split at LF, blank lines skipped).
func TestGolden(t *testing.T) {
	golden.Run(t, "ndjson", func(t *testing.T, input []byte) []byte {
		var out []byte
		for n, line := range bytes.Split(input, []byte("\n")) {
			if IsBlank(line) {
				continue
			}
			var l Line
			r := goldenResult{Line: n + 1}
			if e := ParseLine(line, &l); !e.OK() {
				r.Reject, r.Error = e.Reason.String(), e.Error()
			} else {
				r.App, r.Msg, r.MsgBytes, r.Time = l.App, l.Msg, len(l.Msg), l.Time
				r.Source, r.Proc, r.Host, r.Severity = l.Source, l.Proc, l.Host, l.Severity
				r.HasApp, r.HasMsg = l.HasApp, l.HasMsg
				if len(r.Msg) > goldenMsgMax {
					r.Msg = r.Msg[:goldenMsgMax]
				}
				if !l.TypeErr.OK() {
					r.TypeError = l.TypeErr.Error()
				}
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(append(out, b...), '\n')
		}
		return out
	})
}

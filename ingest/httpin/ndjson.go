package httpin

import (
	"bytes"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/codec/ndjson"
	"github.com/sluice-logs/sluice/metrics"
)

// decodeNDJSON reads body as one JSON object per line (the format is
// codec/ndjson's; this is what ingest makes of it). Blank lines are
// skipped; a line that is not a valid object with string "app" and "msg"
// is rejected. Lines whose app the token may not write are recorded with
// r.forbid.
//
// JSON strings are unescaped in place, inside body: the handler owns the
// body for the duration of the request, and the messages alias it.
func (h *Handler) decodeNDJSON(r *request, body []byte, w writer, received time.Time) {
	var f ndjson.Line
	for n := 1; len(body) > 0 && !r.overBudget; n++ {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if ndjson.IsBlank(line) {
			continue
		}
		if e := ndjson.ParseLine(line, &f); !e.OK() {
			r.reject("line", n, ndjsonProblem(e))
			continue
		}
		if e := f.TypeErr; !e.OK() {
			r.reject("line", n, ndjsonProblem(e))
			continue
		}
		if !f.HasApp {
			r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: `missing "app"`})
			continue
		}
		if !f.HasMsg {
			r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: `missing "msg"`})
			continue
		}
		source := w.source
		if w.authed {
			if f.App != w.app {
				r.forbid(n, f.App)
				continue
			}
		} else {
			if !auth.ValidName(f.App) {
				r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid app name", detail: f.App})
				continue
			}
			if f.Source != "" {
				if !auth.ValidName(f.Source) {
					r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid source name", detail: f.Source})
					continue
				}
				source = f.Source
			}
		}
		t := received
		if f.Time != "" {
			var err error
			if t, err = time.Parse(time.RFC3339Nano, f.Time); err != nil {
				r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid time, want RFC 3339", detail: f.Time})
				continue
			}
		}
		sev := uint8(sluice.DefaultSeverity)
		if f.HasSev {
			var ok bool
			if sev, ok = ndjson.ParseSeverity(f.Severity); !ok {
				r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid severity", detail: f.Severity})
				continue
			}
		}
		m := r.add()
		m.Time = t
		m.App = f.App
		m.Source = source
		m.Proc = f.Proc
		m.Host = f.Host
		m.Facility = sluice.DefaultFacility
		m.Severity = sev
		m.Text = h.cut(r, f.Msg)
	}
}

// ndjsonProblem is e as the handler's rejection record.
func ndjsonProblem(e ndjson.Error) problem {
	return problem{reason: e.Reason, what: e.What, detail: e.Detail, at: e.At}
}

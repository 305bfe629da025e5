package httpin

import (
	"bytes"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/metrics"
)

// textWriter resolves the app of a text/plain request from its ?app=
// parameter and the token. With a token, ?app= may be left out (it defaults
// to the token's app). On a problem it returns the status, reason and text
// to answer with.
func textWriter(w writer, app string) (writer, int, metrics.Reason, string) {
	if w.authed {
		if app != "" && app != w.app {
			return w, fasthttp.StatusForbidden, metrics.ReasonForbiddenApp,
				"this token may not write to app " + quoteLimit(app)
		}
		return w, 0, metrics.ReasonNone, ""
	}
	switch {
	case app == "":
		return w, fasthttp.StatusBadRequest, metrics.ReasonMalformed, "text/plain needs the app in ?app="
	case !auth.ValidName(app):
		return w, fasthttp.StatusBadRequest, metrics.ReasonMalformed, "invalid app name " + quoteLimit(app)
	}
	w.app = app
	return w, 0, metrics.ReasonNone, ""
}

func quoteLimit(s string) string { return string(appendQuotedLimit(nil, s, 64)) }

// decodeText reads body as one message per line (LF or CRLF). Blank lines
// are skipped; a line that is not valid UTF-8 is rejected.
func (h *Handler) decodeText(r *request, body []byte, w writer, proc string, received time.Time) {
	for n := 1; len(body) > 0 && !r.overBudget; n++ {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			continue
		}
		if !utf8.Valid(line) {
			r.reject("line", n, problem{reason: metrics.ReasonInvalidUTF8, what: "invalid UTF-8"})
			continue
		}
		m := r.add()
		m.Time = received
		m.App = w.app
		m.Source = w.source
		m.Proc = proc
		m.Facility = sluice.DefaultFacility
		m.Severity = sluice.DefaultSeverity
		m.Text = h.cut(r, bytesString(line))
	}
}

// cut truncates a message text to MaxMessageBytes and counts it.
func (h *Handler) cut(r *request, s string) string {
	s, cut := truncate(s, h.maxMsg)
	if cut {
		r.counts[metrics.ReasonTruncated]++
	}
	return s
}

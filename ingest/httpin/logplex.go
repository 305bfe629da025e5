package httpin

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/codec/octet"
	syslogcodec "github.com/sluice-logs/sluice/codec/syslog"
	"github.com/sluice-logs/sluice/metrics"
)

// decodeLogplex reads body as octet-counted syslog frames (Logplex's
// application/logplex-1, as log-shuttle sends it). CR and LF bytes between
// frames are tolerated. A frame that cannot be parsed is rejected; a bad
// octet count ends the body, since no later frame boundary can be trusted
// (the frames before it are kept).
//
// With a token, an APP-NAME equal to the token itself (log-shuttle puts the
// token there) or "-" means the token's app; any other app than the token's
// is recorded with r.forbid.
//
// It returns a non-zero status and its text when the request must be
// refused as a whole: a Logplex-Msg-Count header that does not match the
// number of frames.
func (h *Handler) decodeLogplex(ctx *fasthttp.RequestCtx, r *request, body []byte, w writer, received time.Time) (int, string) {
	frames := 0
	broken := false
	r.parser.Location = h.tz
	r.parser.DefaultApp = ""
	if !w.authed {
		r.parser.DefaultApp = h.defApp
	}
	for n := 1; !r.overBudget; n++ {
		for len(body) > 0 && (body[0] == '\n' || body[0] == '\r') {
			body = body[1:]
		}
		if len(body) == 0 {
			break
		}
		frame, rest, err := octet.NextFrame(body)
		if err != nil {
			what := "bad octet count"
			if errors.Is(err, octet.ErrShortFrame) {
				what = "bad octet count: body ends inside the frame"
			}
			r.reject("frame", n, problem{reason: metrics.ReasonBadOctetCount, what: what})
			broken = true
			break
		}
		frames++
		body = rest
		m := r.add()
		if err := r.parser.Parse(frame, received, m); err != nil {
			r.unadd()
			p := problem{reason: metrics.ReasonMalformed, what: "invalid syslog message", err: err.Error()}
			if errors.Is(err, syslogcodec.ErrInvalidUTF8) {
				p = problem{reason: metrics.ReasonInvalidUTF8, what: "invalid UTF-8"}
			}
			r.reject("frame", n, p)
			continue
		}
		if n := r.parser.Notes(); n != 0 {
			if n&syslogcodec.NoteLatin1 != 0 {
				r.counts[metrics.ReasonLatin1]++
			}
			if n&syslogcodec.NoteDefaultApp != 0 {
				r.counts[metrics.ReasonDefaultApp]++
			}
		}
		if w.authed {
			if m.App != "" && m.App != w.token && m.App != w.app {
				r.forbid(n, m.App)
				r.unadd()
				continue
			}
			m.App = w.app
		} else {
			switch {
			case m.App == "":
				r.unadd()
				r.reject("frame", n, problem{reason: metrics.ReasonMalformed, what: "missing APP-NAME"})
				continue
			case !auth.ValidName(m.App):
				app := m.App
				r.unadd()
				r.reject("frame", n, problem{reason: metrics.ReasonMalformed, what: "invalid app name", detail: app})
				continue
			}
		}
		m.Source = w.source
		m.Text = h.cut(r, m.Text)
	}

	if id := ctx.Request.Header.Peek("Logplex-Frame-Id"); len(id) > 0 && h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.Debug("logplex request", "frame_id", string(id), "frames", frames)
	}
	hdr := ctx.Request.Header.Peek("Logplex-Msg-Count")
	if len(hdr) == 0 || broken || r.overBudget {
		// With broken framing the count cannot be checked; the bad octet
		// count is reported instead.
		return 0, ""
	}
	want, err := strconv.Atoi(bytesString(hdr))
	if err != nil || want < 0 {
		return fasthttp.StatusBadRequest, "msg_count_mismatch: bad Logplex-Msg-Count header " + quoteLimit(string(hdr))
	}
	if want != frames {
		return fasthttp.StatusBadRequest, "msg_count_mismatch: Logplex-Msg-Count is " + strconv.Itoa(want) +
			" but the body holds " + strconv.Itoa(frames) + " frames; nothing was accepted"
	}
	return 0, ""
}

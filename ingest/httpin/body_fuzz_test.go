package httpin

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/auth"
)

// bodyFuzzer is one Handler (and one gzip writer) reused by every input
// of a fuzz target: a fresh one per input makes each run slow enough that
// minimizing an input takes the whole -fuzzminimizetime.
type bodyFuzzer struct {
	rec *recorder
	h   *Handler
	zw  *gzip.Writer
	zb  bytes.Buffer
}

const fuzzMaxMsg = 256

func newBodyFuzzer() *bodyFuzzer {
	rec := &recorder{}
	z := &bodyFuzzer{rec: rec, h: New(Config{Publisher: rec, MaxMessageBytes: fuzzMaxMsg, MaxBodyBytes: 64 << 10})}
	z.zw = gzip.NewWriter(&z.zb)
	return z
}

// post posts body to the Handler in memory (a fasthttp.RequestCtx, no
// socket) and checks what any body must get: one of the documented
// statuses, never a panic, and only messages that are valid UTF-8, within
// MaxMessageBytes, of a valid app, one per frame or line at most.
func (z *bodyFuzzer) post(t *testing.T, contentType, query string, body []byte, count string, gzipped bool) {
	const maxMsg = fuzzMaxMsg
	rec, h := z.rec, z.h
	rec.mu.Lock()
	rec.msgs = rec.msgs[:0]
	rec.mu.Unlock()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/logs" + query)
	ctx.Request.Header.SetContentType(contentType)
	if count != "" {
		ctx.Request.Header.Set("Logplex-Msg-Count", count)
	}
	if gzipped {
		z.zb.Reset()
		z.zw.Reset(&z.zb)
		_, _ = z.zw.Write(body)
		_ = z.zw.Close()
		ctx.Request.Header.Set("Content-Encoding", "gzip")
		ctx.Request.SetBody(z.zb.Bytes())
	} else {
		ctx.Request.SetBody(body)
	}
	h.ServeHTTP(&ctx)
	switch st := ctx.Response.StatusCode(); st {
	case 204, 400, 413:
	default:
		t.Fatalf("%s %q: status %d (%s)", contentType, body, st, ctx.Response.Body())
	}
	msgs := rec.got()
	if ctx.Response.StatusCode() == 413 && len(msgs) > 0 {
		t.Fatalf("%s %q: 413 but %d messages published", contentType, body, len(msgs))
	}
	if len(msgs) > bytes.Count(body, []byte("\n"))+1 && contentType != "application/logplex-1" {
		t.Fatalf("%s %q: %d messages from %d lines", contentType, body, len(msgs), bytes.Count(body, []byte("\n"))+1)
	}
	for _, m := range msgs {
		if !utf8.ValidString(m.Text) || len(m.Text) > maxMsg || !auth.ValidName(m.App) {
			t.Fatalf("%s %q: bad message %+v", contentType, body, m)
		}
	}
}

// FuzzLogplexBody posts arbitrary application/logplex-1 bodies (octet
// frames of syslog messages), with or without a Logplex-Msg-Count and
// gzip.
func FuzzLogplexBody(f *testing.F) {
	frame := func(s string) string { return strconv.Itoa(len(s)) + " " + s }
	f.Add([]byte(frame("<13>1 2026-11-25T20:29:46Z host web web.1 - hello")), int16(1), false)
	f.Add([]byte(frame("<13>1 - - web - - - a")+"\n"+frame("<13>1 - - web - - - b\nc")), int16(2), true)
	f.Add([]byte("5 <13>1 - - web - - - too short"), int16(-1), false)
	f.Add([]byte("999999999 <13>"), int16(1), false)
	f.Add([]byte(frame("<13>1 - - ../.. - - - x")+frame("<13>Nov 25 20:29:46 host web[1]: rfc3164 \xff")), int16(2), false)
	f.Add([]byte(frame("<13>1 - - web - - [a b=\"\\]\"] x")), int16(0), true)
	z := newBodyFuzzer()
	f.Fuzz(func(t *testing.T, body []byte, count int16, gzipped bool) {
		c := ""
		if count >= 0 {
			c = strconv.Itoa(int(count))
		}
		z.post(t, "application/logplex-1", "", body, c, gzipped)
	})
}

// FuzzTextBody posts arbitrary text/plain bodies (one message per line,
// the app in ?app=), with or without gzip.
func FuzzTextBody(f *testing.F) {
	f.Add([]byte("one\r\ntwo\n\nthree\xff\n"+strings.Repeat("é", 300)), "web", false)
	f.Add([]byte("\x1b[31mred\x1b[0m <script>alert(1)</script>\n\x00nul"), "web", true)
	f.Add([]byte("x"), "..", false)
	f.Add([]byte("x"), "%2e%2e", false)
	z := newBodyFuzzer()
	f.Fuzz(func(t *testing.T, body []byte, app string, gzipped bool) {
		z.post(t, "text/plain", "?app="+app, body, "", gzipped)
	})
}

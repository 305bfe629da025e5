package ndjson

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/metrics"
)

var seeds = []string{
	`{"app":"web","msg":"hello"}`,
	`{"app":"web","msg":"a \"q\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 \ud800 \udc00x"}`,
	`  {"msg":"x","app":"web","time":"2026-11-25T20:29:46Z","severity":3,"proc":"web.1","host":"h","source":"s"}  `,
	`{"app":"web","msg":"x","severity":"warning","extra":{"a":[1,-2.5e+3,true,false,null,{"b":"c"}]}}`,
	`{"app":null,"msg":7}`,
	`{"a\u0070p":"web","msg":""}`,
	`{}`,
	`{"app":"web",}`,
	`{"app":"web" "msg":"x"}`,
	`{"app":"web","msg":"x"} trailing`,
	`[1,2,3]`,
	`{"app":"web","msg":"\x"}`,
	`{"app":"web","msg":"\u12"}`,
	`{"n":01}`, `{"n":1.}`, `{"n":-}`, `{"n":1e}`, `{"n":tru}`,
	"{\"app\":\"web\",\"msg\":\"tab\there\"}",
	`{"app":"web","msg":"x","app":"api"}`,
	`{"app":"web","msg":"x"}` + "\r",
	`{"app":"web","msg":"\u001b[31mred\u001b[0m\n<script>"}`,
	"{\"app\":\"web\",\"msg\":\"\xff\"}",
	`"just a string"`,
	``,
}

// FuzzParseLine checks the hand-written parser against encoding/json: the
// same lines are valid JSON objects, and the known fields decode to the
// same strings.
func FuzzParseLine(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return // split into lines first
		}
		var fields Line
		e := ParseLine(bytes.Clone(line), &fields)
		if !utf8.Valid(line) {
			if e.Reason != metrics.ReasonInvalidUTF8 {
				t.Fatalf("line %q: invalid UTF-8 gave %+v", line, e)
			}
			return
		}

		var obj map[string]json.RawMessage
		stdErr := json.Unmarshal(line, &obj)
		stdValid := json.Valid(line) && stdErr == nil && obj != nil
		if e.OK() != stdValid {
			t.Fatalf("line %q: parser ok = %v (%s), encoding/json valid object = %v (%v)",
				line, e.OK(), e.What, stdValid, stdErr)
		}
		if !stdValid {
			return
		}
		for key, got := range map[string]string{
			"app": fields.App, "msg": fields.Msg, "time": fields.Time,
			"source": fields.Source, "proc": fields.Proc, "host": fields.Host,
		} {
			raw, ok := obj[key]
			if !ok {
				if got != "" {
					t.Fatalf("line %q: %s = %q, but encoding/json has no such key", line, key, got)
				}
				continue
			}
			var want string
			if err := json.Unmarshal(raw, &want); err != nil {
				if string(raw) != "null" && fields.TypeErr.OK() {
					t.Fatalf("line %q: %s is %s, but no type error was recorded", line, key, raw)
				}
				continue
			}
			if got != want {
				t.Fatalf("line %q: %s = %q, encoding/json says %q", line, key, got, want)
			}
		}
	})
}

// FuzzRoundTrip: what AppendLine writes, ParseLine reads back, one line,
// with the same fields (invalid UTF-8 comes back as U+FFFD, as
// encoding/json writes it).
func FuzzRoundTrip(f *testing.F) {
	f.Add("web", "hello", "app", "web.1", "host", uint8(6))
	f.Add("web", "line\none\r\x1b[2J\u2028<b>&\"\\", "", "", "", uint8(0))
	f.Add("a", "\xff\xfe", "s", "p", "h", uint8(7))
	f.Fuzz(func(t *testing.T, app, msg, source, proc, host string, sev uint8) {
		m := sluice.Message{
			Time: time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC),
			App:  app, Text: msg, Source: source, Proc: proc, Host: host, Severity: sev % 8,
		}
		out := AppendLine(nil, &m)
		if bytes.IndexByte(out, '\n') != len(out)-1 {
			t.Fatalf("AppendLine(%+v) = %q: not one line", m, out)
		}
		var l Line
		if e := ParseLine(out[:len(out)-1], &l); !e.OK() || !l.TypeErr.OK() {
			t.Fatalf("ParseLine(%q): %v / %v", out, e, l.TypeErr)
		}
		if source == "" {
			source = "app"
		}
		valid := func(s string) string { return string([]rune(s)) } // U+FFFD for invalid bytes
		for _, c := range []struct{ name, got, want string }{
			{"app", l.App, valid(app)}, {"msg", l.Msg, valid(msg)}, {"source", l.Source, valid(source)},
			{"proc", l.Proc, valid(proc)}, {"host", l.Host, valid(host)},
		} {
			if c.got != c.want {
				t.Fatalf("%s: wrote %q, read %q (line %q)", c.name, c.want, c.got, out)
			}
		}
		if s, ok := ParseSeverity(l.Severity); !ok || s != m.Severity {
			t.Fatalf("severity: wrote %d, read %q", m.Severity, l.Severity)
		}
		if ts, err := time.Parse(time.RFC3339Nano, l.Time); err != nil || !ts.Equal(m.Time) {
			t.Fatalf("time: wrote %v, read %q (%v)", m.Time, l.Time, err)
		}
	})
}

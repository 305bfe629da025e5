package httpin

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-logs/sluice/codec/ndjson"
)

var ndjsonSeeds = []string{
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
	`"just a string"`,
	``,
}

// FuzzDecodeLines feeds arbitrary bodies to the NDJSON and text decoders:
// they never panic, every line is either accepted or rejected, and what is
// accepted is valid UTF-8, one line, and no longer than MaxMessageBytes.
func FuzzDecodeLines(f *testing.F) {
	for _, s := range ndjsonSeeds {
		f.Add([]byte(s + "\n" + s))
	}
	f.Add([]byte("one\r\ntwo\n\nthree\xff\n" + strings.Repeat("é", 100)))
	h := New(Config{Publisher: &recorder{}, MaxMessageBytes: 128})
	received := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		nonBlank := 0
		for _, line := range bytes.Split(body, []byte("\n")) {
			if !ndjson.IsBlank(line) {
				nonBlank++
			}
		}
		for _, name := range []string{"ndjson", "text"} {
			r := h.getRequest()
			b := bytes.Clone(body)
			if name == "ndjson" {
				h.decodeNDJSON(r, b, writer{source: "app"}, received)
			} else {
				h.decodeText(r, b, writer{app: "web", source: "app"}, "", received)
			}
			if name == "ndjson" && len(r.msgs)+r.problems != nonBlank {
				t.Fatalf("%s %q: %d accepted + %d rejected != %d non-blank lines", name, body, len(r.msgs), r.problems, nonBlank)
			}
			for _, m := range r.msgs {
				if !utf8.ValidString(m.Text) || len(m.Text) > 128 || m.App == "" {
					t.Fatalf("%s %q: bad message %+v", name, body, m)
				}
				if name == "text" && strings.ContainsAny(m.Text, "\n") {
					t.Fatalf("text %q: message spans lines: %q", body, m.Text)
				}
			}
			h.putRequest(r)
		}
	})
}

package sluice

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendJSON(t *testing.T) {
	m := Message{
		Time:           time.Date(2026, 11, 25, 21, 29, 46, 123456789, time.FixedZone("CET", 3600)),
		App:            "web",
		Proc:           "web.1",
		Host:           "h1",
		MsgID:          "req",
		StructuredData: `[meta id="1"]`,
		Facility:       3,
		Severity:       4,
	}
	tests := []struct{ name, text, want string }{
		{"plain", "hello", `"hello"`},
		{"quotes and backslash", `say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"controls", "a\tb\nc\rd\x00e\x1f", `"a\tb\nc\rd\u0000e\u001f"`},
		{"html", "<a href='x'>&</a>", `"\u003ca href='x'\u003e\u0026\u003c/a\u003e"`},
		{"unicode", "ünïcode ✓ 😀", `"ünïcode ✓ 😀"`},
		{"line separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"invalid utf-8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"empty", "", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := m
			m.Text = tt.text
			got := string(AppendJSON(nil, &m))
			want := `{"time":"2026-11-25T20:29:46.123456+00:00","app":"web","source":"app","proc":"web.1","host":"h1",` +
				`"severity":4,"facility":3,"msgid":"req","structured_data":"[meta id=\"1\"]","msg":` + tt.want + `}`
			if got != want {
				t.Fatalf("appendJSON\n got %s\nwant %s", got, want)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if utf8.ValidString(tt.text) && doc["msg"] != tt.text {
				t.Fatalf("msg round trip %q, want %q", doc["msg"], tt.text)
			}
		})
	}
}

// FuzzAppendJSONString checks that every string encodes to valid JSON that
// decodes to the string (with invalid UTF-8 replaced), as encoding/json
// would.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xfe", "ü😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := AppendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("AppendJSONString(%q) = %s: not JSON: %v", s, enc, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); got != want && utf8.ValidString(s) {
			t.Fatalf("round trip of %q = %q", s, got)
		}
		std, _ := json.Marshal(s)
		if string(std) != string(enc) {
			t.Fatalf("AppendJSONString(%q) = %s, encoding/json says %s", s, enc, std)
		}
	})
}

package sluice

import (
	"strings"
	"testing"
	"time"
)

func TestAppendDisplay(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "GET /index.html 200", "GET /index.html 200"},
		{"empty", "", ""},
		{"backslash kept", `C:\dir\x1b`, `C:\dir\x1b`},
		{"utf-8 kept", "héllo wörld ✓ 日本語 🎉", "héllo wörld ✓ 日本語 🎉"},
		{"lf", "first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected",
			`first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected`},
		{"crlf", "a\r\nb", `a\r\nb`},
		{"cr overwrite", "safe\rEVIL", `safe\rEVIL`},
		{"tab", "\tat com.example.Main", `\tat com.example.Main`},
		{"bel nul", "ding\a\x00", `ding\x07\x00`},
		{"esc csi clear", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"osc 52 clipboard", "\x1b]52;c;ZWNobyBwd25lZA==\a", `\x1b]52;c;ZWNobyBwd25lZA==\x07`},
		{"osc title st", "\x1b]0;owned\x1b\\", `\x1b]0;owned\x1b\`},
		{"del", "a\x7fb", `a\x7fb`},
		{"c1 csi", "a\u009b31mred", `a\u009b31mred`},
		{"c1 nel", "a\u0085b", `a\u0085b`},
		{"bidi override", "file\u202egnp.exe", `file\u202egnp.exe`},
		{"bidi isolate", "\u2066x\u2069", `\u2066x\u2069`},
		{"line separator", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"invalid utf-8", "a\xff\x9bb", `a\xff\x9bb`},
		{"truncated rune", "ab\xe2\x80", `ab\xe2\x80`},
		{"long clean then esc", strings.Repeat("x", 20) + "\x1b" + strings.Repeat("y", 9),
			strings.Repeat("x", 20) + `\x1b` + strings.Repeat("y", 9)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendDisplay(nil, tc.in)); got != tc.want {
				t.Fatalf("string: got %q, want %q", got, tc.want)
			}
			if got := string(AppendDisplay([]byte("p:"), []byte(tc.in))); got != "p:"+tc.want {
				t.Fatalf("bytes: got %q, want %q", got, "p:"+tc.want)
			}
			if got := NeedsDisplayEscape(tc.in); got != (tc.in != tc.want) {
				t.Fatalf("NeedsDisplayEscape = %v", got)
			}
			// Escaping is idempotent: a line already escaped passes as it is.
			if again := string(AppendDisplay(nil, tc.want)); again != tc.want {
				t.Fatalf("not idempotent: %q", again)
			}
		})
	}
}

// TestAppendDisplayEveryByte checks every single byte and every C1 and
// bidi code point in every position of a word (the fast path's lanes).
func TestAppendDisplayEveryByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 9; pos++ {
			in := strings.Repeat("a", pos) + string([]byte{byte(c)}) + strings.Repeat("b", 8)
			out := string(AppendDisplay(nil, in))
			printable := c >= 0x20 && c < 0x7F
			if printable != (out == in) {
				t.Fatalf("byte %#x at %d: %q", c, pos, out)
			}
			for _, b := range []byte(out) {
				if b < 0x20 || b >= 0x7F {
					t.Fatalf("byte %#x at %d: raw %#x left in %q", c, pos, b, out)
				}
			}
		}
	}
}

func FuzzAppendDisplay(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb", "\x1b]52;c;x\a", "\u009b", "\u202e", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendDisplay(nil, s)
		for i := 0; i < len(out); {
			n, esc := nextUnit(string(out[i:]))
			if esc {
				t.Fatalf("%q: escaped output %q still holds %q", s, out, out[i:i+n])
			}
			i += n
		}
		if string(AppendDisplay(nil, out)) != string(out) {
			t.Fatalf("%q: not idempotent", s)
		}
	})
}

func TestAppendLineOneLine(t *testing.T) {
	m := Message{
		Time: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Source: "app\n", Proc: "web.1\x1b",
		Text: "first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected",
	}
	got := string(AppendLine(nil, &m))
	want := `2026-12-02T00:00:00.000000+00:00 app\n[web.1\x1b]: first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected` + "\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func BenchmarkAppendDisplay(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"clean100", strings.Repeat("GET /api/v1/things?id=12345 status=200 ", 3)[:100]},
		{"utf8-100", strings.Repeat("héllo wörld ✓ ", 8)[:100]},
		{"dirty100", strings.Repeat("line\n\x1b[31m", 10)[:100]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, 1024)
			b.SetBytes(int64(len(bc.s)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendDisplay(dst[:0], bc.s)
			}
		})
	}
}

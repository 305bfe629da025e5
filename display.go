package sluice

import "unicode/utf8"

// Log text is data: on every read path one message is one line, and no byte
// of it reaches a reader's terminal as a control character. AppendDisplay
// is the one place that decides how.
//
// Escaped: LF as \n, CR as \r, TAB as \t; every other C0 control (ESC, BEL,
// NUL, …) and DEL as \xHH; the C1 controls U+0080-U+009F, the bidirectional
// embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the
// line and paragraph separators (U+2028, U+2029) as \uHHHH; a byte that is
// not part of valid UTF-8 as \xHH. Everything else, backslashes included,
// is kept as it is: the escaping is for display, not a reversible encoding.

// AppendDisplay appends s to dst with the characters above escaped. Text
// that needs no escaping (nearly all of it) is checked 8 bytes at a time.
func AppendDisplay[S string | []byte](dst []byte, s S) []byte {
	return appendDisplay(dst, viewString(s))
}

// NeedsDisplayEscape reports whether AppendDisplay would change s.
func NeedsDisplayEscape[S string | []byte](s S) bool {
	v := viewString(s)
	for i := cleanPrefix(v); i < len(v); {
		n, esc := nextUnit(v[i:])
		if esc {
			return true
		}
		i += n
	}
	return false
}

// viewString views s as a string without copying; the string is only read
// during the call.
func viewString[S string | []byte](s S) string {
	if b, ok := any(s).([]byte); ok {
		return unsafeString(b)
	}
	return string(s)
}

func appendDisplay(dst []byte, s string) []byte {
	i := cleanPrefix(s)
	dst = append(dst, s[:i]...)
	if i == len(s) {
		return dst
	}
	return appendEscaped(dst, s[i:])
}

const (
	lo7 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// cleanPrefix returns how many leading bytes of s are printable ASCII
// (0x20-0x7E), a word at a time, then byte by byte.
func cleanPrefix(s string) int {
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		// A byte's high bit ends up set when it is below 0x20 (the
		// subtraction borrows), is 0x7F (x^0x7F is 0, minus 1 borrows)
		// or is 0x80 or more. Borrows only spread upwards from a byte
		// that is flagged itself, so a clean word is never flagged.
		if ((x-0x20*lo7)|x|((x^0x7F*lo7)-lo7))&hi8 != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F {
			break
		}
	}
	return i
}

// nextUnit returns the length of the character (or invalid byte) at the
// start of s, which is not empty, and whether it must be escaped.
func nextUnit(s string) (int, bool) {
	c := s[0]
	if c < 0x80 {
		return 1, c < 0x20 || c == 0x7F
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n == 1 {
		return 1, true
	}
	return n, escapedRune(r)
}

func escapedRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9F) || (r >= 0x202A && r <= 0x202E) ||
		(r >= 0x2066 && r <= 0x2069) || r == 0x2028 || r == 0x2029
}

func appendEscaped(dst []byte, s string) []byte {
	for len(s) > 0 {
		if i := cleanPrefix(s); i > 0 {
			dst = append(dst, s[:i]...)
			s = s[i:]
			continue
		}
		n, esc := nextUnit(s)
		if !esc {
			dst = append(dst, s[:n]...)
			s = s[n:]
			continue
		}
		switch c := s[0]; {
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case n == 1:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		default:
			r, _ := utf8.DecodeRuneInString(s)
			dst = append(dst, '\\', 'u',
				hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
		}
		s = s[n:]
	}
	return dst
}

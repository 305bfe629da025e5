package ndjson

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/sluice-logs/sluice/metrics"
)

// Error says why a line was rejected: a metrics.Reason for
// sluice_ingest_rejected_total, a text, optionally a quoted detail and the
// 1-based byte offset in the line where the problem is (0: none).
type Error struct {
	Reason metrics.Reason
	What   string
	Detail string
	At     int
}

// OK reports whether e is no error.
func (e Error) OK() bool { return e.Reason == metrics.ReasonNone }

func (e Error) Error() string {
	s := e.What
	if e.Detail != "" {
		s += " " + strconv.Quote(e.Detail)
	}
	if e.At > 0 {
		s += " at byte " + strconv.Itoa(e.At)
	}
	return s
}

// IsBlank reports whether b holds only JSON whitespace: such lines are
// skipped, neither accepted nor rejected.
func IsBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// severities are the syslog severity names, by number, with aliases.
var severities = [8][]string{
	{"emerg", "emergency", "panic"},
	{"alert"},
	{"crit", "critical"},
	{"err", "error"},
	{"warning", "warn"},
	{"notice"},
	{"info", "informational"},
	{"debug"},
}

// ParseSeverity reads a severity name (case-insensitive, with the usual
// aliases: "warn", "err", "crit", "emergency", "panic", "informational") or
// a number 0-7.
func ParseSeverity(s string) (uint8, bool) {
	if len(s) == 1 && s[0] >= '0' && s[0] <= '7' {
		return s[0] - '0', true
	}
	switch s { // the usual spellings, without the case-folding loop
	case "info":
		return 6, true
	case "debug":
		return 7, true
	case "notice":
		return 5, true
	case "warning", "warn":
		return 4, true
	case "error", "err":
		return 3, true
	}
	for n, names := range severities {
		for _, name := range names {
			if strings.EqualFold(s, name) {
				return uint8(n), true
			}
		}
	}
	return 0, false
}

// Line holds the known fields of one NDJSON line. The strings alias the
// line (ParseLine unescapes them in place).
type Line struct {
	App, Msg, Time, Source, Proc, Host string
	Severity                           string // string content or number literal
	HasApp, HasMsg, HasSev             bool
	// TypeErr is the first known field with a value of the wrong type (the
	// line is still valid JSON); the caller decides whether that rejects
	// the line. Its Reason is metrics.ReasonNone when there is none.
	TypeErr Error
}

// MaxDepth is the deepest nesting accepted, as in encoding/json.
const MaxDepth = 10000

// ParseLine reads one JSON object (surrounded by optional whitespace) from
// the line b (without its newline) into f, which it resets. It checks that
// b is valid UTF-8 (ReasonInvalidUTF8) and the whole JSON grammar like
// encoding/json does (ReasonMalformed), and unescapes the strings of the
// known fields in place inside b: b is modified, and f's strings alias it.
// Unknown fields are skipped. Key matching is exact (encoding/json's is
// case-insensitive); of a key given twice, the last value wins, as in
// encoding/json. A null value leaves a known field unset. It does not
// allocate.
func ParseLine(b []byte, f *Line) Error {
	*f = Line{}
	if !utf8.Valid(b) {
		return Error{Reason: metrics.ReasonInvalidUTF8, What: "invalid UTF-8"}
	}
	s := jsonScanner{b: b}
	s.ws()
	if !s.expect('{') {
		return s.bad()
	}
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.ws()
			if s.peek() != '"' {
				return s.bad()
			}
			key, ok := s.str(true)
			if !ok {
				return s.bad()
			}
			s.ws()
			if !s.expect(':') {
				return s.bad()
			}
			s.ws()
			switch key {
			case "app":
				ok = s.stringField(f, key, &f.App, &f.HasApp)
			case "msg":
				ok = s.stringField(f, key, &f.Msg, &f.HasMsg)
			case "time":
				ok = s.stringField(f, key, &f.Time, nil)
			case "source":
				ok = s.stringField(f, key, &f.Source, nil)
			case "proc":
				ok = s.stringField(f, key, &f.Proc, nil)
			case "host":
				ok = s.stringField(f, key, &f.Host, nil)
			case "severity":
				switch c := s.peek(); {
				case c == '"':
					f.Severity, ok = s.str(true)
					f.HasSev = true
				case c == '-' || (c >= '0' && c <= '9'):
					f.Severity, ok = s.number()
					f.HasSev = true
				default:
					ok = s.typeMismatch(f, key)
				}
			default:
				ok = s.skip(1)
			}
			if !ok {
				return s.bad()
			}
			s.ws()
			c := s.peek()
			s.i++
			if c == ',' {
				continue
			}
			if c == '}' {
				break
			}
			s.i--
			return s.bad()
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return Error{Reason: metrics.ReasonMalformed, What: "invalid JSON: data after the object", At: s.i + 1}
	}
	return Error{}
}

// jsonScanner walks one line of JSON. Methods return false on a syntax
// error, leaving i at the offending byte.
type jsonScanner struct {
	b []byte
	i int
}

// bad describes the syntax error at s.i.
func (s *jsonScanner) bad() Error {
	if s.i >= len(s.b) {
		return Error{Reason: metrics.ReasonMalformed, What: "invalid JSON: unexpected end of line"}
	}
	_, size := utf8.DecodeRune(s.b[s.i:])
	return Error{Reason: metrics.ReasonMalformed, What: "invalid JSON: unexpected character",
		Detail: bytesString(s.b[s.i : s.i+size]), At: s.i + 1}
}

// peek returns the current byte, or 0 at the end.
func (s *jsonScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) expect(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// stringField reads the value of a known string field: a string sets *dst
// (and *has), null leaves it alone, any other value is recorded as a type
// error and skipped.
func (s *jsonScanner) stringField(f *Line, key string, dst *string, has *bool) bool {
	switch s.peek() {
	case '"':
		v, ok := s.str(true)
		*dst = v
		if has != nil {
			*has = true
		}
		return ok
	case 'n':
		return s.literal("null")
	}
	return s.typeMismatch(f, key)
}

// typeMismatch records that key has a value of the wrong type and skips it.
func (s *jsonScanner) typeMismatch(f *Line, key string) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	if f.TypeErr.Reason == metrics.ReasonNone {
		var what string // constants: no allocation per bad line
		switch key {
		case "app":
			what = `"app" must be a string`
		case "msg":
			what = `"msg" must be a string`
		case "time":
			what = `"time" must be a string`
		case "source":
			what = `"source" must be a string`
		case "proc":
			what = `"proc" must be a string`
		case "host":
			what = `"host" must be a string`
		default:
			what = `"severity" must be a name or a number`
		}
		f.TypeErr = Error{Reason: metrics.ReasonMalformed, What: what, At: s.i + 1}
	}
	return s.skip(1)
}

// str reads a string starting at the opening quote. With unescape, escape
// sequences are decoded in place (the result is never longer than its
// source) and the returned string aliases b; without, the string is only
// checked and "" is returned. Invalid surrogates become U+FFFD, as in
// encoding/json.
func (s *jsonScanner) str(unescape bool) (string, bool) {
	s.i++ // the opening quote
	start := s.i
	w := -1 // write position once an escape was seen
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end := s.i
			if w >= 0 {
				end = w
			}
			s.i++
			if !unescape {
				return "", true
			}
			return bytesString(s.b[start:end]), true
		case c == '\\':
			if w < 0 {
				w = s.i
			}
			s.i++
			if s.i >= len(s.b) {
				return "", false
			}
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/':
			case 'b':
				e = '\b'
			case 'f':
				e = '\f'
			case 'n':
				e = '\n'
			case 'r':
				e = '\r'
			case 't':
				e = '\t'
			case 'u':
				r, ok := hex4(s.b[s.i:])
				if !ok {
					return "", false
				}
				s.i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(-1), false
					if s.i+6 <= len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						r2, ok = hex4(s.b[s.i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != unicode.ReplacementChar {
						r = dec
						s.i += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				if unescape {
					w += utf8.EncodeRune(s.b[w:], r)
				}
				continue
			default:
				s.i -= 1
				return "", false
			}
			if unescape {
				s.b[w] = e
				w++
			}
		case c < 0x20:
			return "", false
		default:
			if w >= 0 && unescape {
				s.b[w] = c
				w++
			}
			s.i++
		}
	}
	return "", false
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number and returns its literal.
func (s *jsonScanner) number() (string, bool) {
	start := s.i
	s.expect('-')
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return "", false
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return "", false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return "", false
		}
	}
	return bytesString(s.b[start:s.i]), true
}

// digits skips one or more decimal digits.
func (s *jsonScanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *jsonScanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// skip checks and skips one value at nesting depth depth.
func (s *jsonScanner) skip(depth int) bool {
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.str(false)
		return ok
	case c == '{', c == '[':
		if depth >= MaxDepth {
			return false
		}
		s.i++
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.ws()
		if s.expect(closing) {
			return true
		}
		for {
			s.ws()
			if c == '{' {
				if s.peek() != '"' {
					return false
				}
				if _, ok := s.str(false); !ok {
					return false
				}
				s.ws()
				if !s.expect(':') {
					return false
				}
				s.ws()
			}
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.expect(',') {
				continue
			}
			return s.expect(closing)
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, ok := s.number()
		return ok
	}
	return false
}

// bytesString views b as a string without copying.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

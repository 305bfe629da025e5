package httpin

import (
	"bytes"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/metrics"
)

// decodeNDJSON reads body as one JSON object per line. Blank lines are
// skipped; a line that is not a valid object with string "app" and "msg"
// is rejected. Lines whose app the token may not write are recorded with
// r.forbid.
//
// JSON strings are unescaped in place, inside body: the handler owns the
// body for the duration of the request, and the messages alias it.
func (h *Handler) decodeNDJSON(r *request, body []byte, w writer, received time.Time) {
	var f jsonLine
	for n := 1; len(body) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if isBlank(line) {
			continue
		}
		if !utf8.Valid(line) {
			r.reject("line", n, problem{reason: metrics.ReasonInvalidUTF8, what: "invalid UTF-8"})
			continue
		}
		f = jsonLine{}
		if p := parseJSONLine(line, &f); p.reason != metrics.ReasonNone {
			r.reject("line", n, p)
			continue
		}
		if p := f.typeErr; p.reason != metrics.ReasonNone {
			r.reject("line", n, p)
			continue
		}
		if !f.hasApp {
			r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: `missing "app"`})
			continue
		}
		if !f.hasMsg {
			r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: `missing "msg"`})
			continue
		}
		source := w.source
		if w.authed {
			if f.app != w.app {
				r.forbid(n, f.app)
				continue
			}
		} else {
			if !auth.ValidName(f.app) {
				r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid app name", detail: f.app})
				continue
			}
			if f.source != "" {
				if !auth.ValidName(f.source) {
					r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid source name", detail: f.source})
					continue
				}
				source = f.source
			}
		}
		t := received
		if f.time != "" {
			var err error
			if t, err = time.Parse(time.RFC3339Nano, f.time); err != nil {
				r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid time, want RFC 3339", detail: f.time})
				continue
			}
		}
		sev := uint8(sluice.DefaultSeverity)
		if f.hasSev {
			var ok bool
			if sev, ok = parseSeverity(f.severity); !ok {
				r.reject("line", n, problem{reason: metrics.ReasonMalformed, what: "invalid severity", detail: f.severity})
				continue
			}
		}
		m := r.add()
		m.Time = t
		m.App = f.app
		m.Source = source
		m.Proc = f.proc
		m.Host = f.host
		m.Facility = sluice.DefaultFacility
		m.Severity = sev
		m.Text = h.cut(r, f.msg)
	}
}

func isBlank(b []byte) bool {
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

// parseSeverity reads a severity name (case-insensitive) or number 0-7.
func parseSeverity(s string) (uint8, bool) {
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

// jsonLine holds the fields of one NDJSON line. The strings alias the line.
type jsonLine struct {
	app, msg, time, source, proc, host string
	severity                           string // string content or number literal
	hasApp, hasMsg, hasSev             bool
	// typeErr is the first known field with a value of the wrong type. The
	// line is still valid JSON.
	typeErr problem
}

// maxJSONDepth is the deepest nesting accepted, as in encoding/json.
const maxJSONDepth = 10000

// parseJSONLine reads one JSON object (surrounded by optional whitespace)
// from b into f. It checks the whole JSON grammar like encoding/json does,
// except that it assumes b is valid UTF-8, and unescapes the strings of
// the known fields in place inside b. Unknown fields are skipped. Key
// matching is exact (encoding/json's is case-insensitive). A null value
// leaves a known field unset.
func parseJSONLine(b []byte, f *jsonLine) problem {
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
				ok = s.stringField(f, key, &f.app, &f.hasApp)
			case "msg":
				ok = s.stringField(f, key, &f.msg, &f.hasMsg)
			case "time":
				ok = s.stringField(f, key, &f.time, nil)
			case "source":
				ok = s.stringField(f, key, &f.source, nil)
			case "proc":
				ok = s.stringField(f, key, &f.proc, nil)
			case "host":
				ok = s.stringField(f, key, &f.host, nil)
			case "severity":
				switch c := s.peek(); {
				case c == '"':
					f.severity, ok = s.str(true)
					f.hasSev = true
				case c == '-' || (c >= '0' && c <= '9'):
					f.severity, ok = s.number()
					f.hasSev = true
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
		return problem{reason: metrics.ReasonMalformed, what: "invalid JSON: data after the object", at: s.i + 1}
	}
	return problem{}
}

// jsonScanner walks one line of JSON. Methods return false on a syntax
// error, leaving i at the offending byte.
type jsonScanner struct {
	b []byte
	i int
}

// bad describes the syntax error at s.i.
func (s *jsonScanner) bad() problem {
	if s.i >= len(s.b) {
		return problem{reason: metrics.ReasonMalformed, what: "invalid JSON: unexpected end of line"}
	}
	_, size := utf8.DecodeRune(s.b[s.i:])
	return problem{reason: metrics.ReasonMalformed, what: "invalid JSON: unexpected character",
		detail: bytesString(s.b[s.i : s.i+size]), at: s.i + 1}
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
func (s *jsonScanner) stringField(f *jsonLine, key string, dst *string, has *bool) bool {
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
func (s *jsonScanner) typeMismatch(f *jsonLine, key string) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	if f.typeErr.reason == metrics.ReasonNone {
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
		f.typeErr = problem{reason: metrics.ReasonMalformed, what: what, at: s.i + 1}
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
		if depth >= maxJSONDepth {
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

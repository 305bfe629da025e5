package syslog

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	gosyslog "github.com/influxdata/go-syslog/v3"
	"github.com/influxdata/go-syslog/v3/rfc3164"
	"github.com/influxdata/go-syslog/v3/rfc5424"

	"github.com/sluice-logs/sluice"
)

// ErrInvalidUTF8 is wrapped by Parse errors for messages that are not valid
// UTF-8 (the ingest reason invalid_utf8). Every other Parse error is a
// malformed message.
var ErrInvalidUTF8 = errors.New("message is not valid UTF-8")

// Static errors of the cheap rejections, so that a client that floods
// garbage costs no allocation per frame.
var (
	errEmpty        = errors.New("syslog: empty message")
	errNoPRI        = errors.New("syslog: expecting a priority value within angle brackets at the start")
	errUTF8RFC5424  = fmt.Errorf("rfc5424: %w", ErrInvalidUTF8)
	errUTF8RFC3164  = fmt.Errorf("rfc3164: %w", ErrInvalidUTF8)
	errNoStructured = errors.New("rfc5424: structured data not found after the header")
)

// Parse parses one syslog message, RFC 5424 or RFC 3164 (detected), into m. String fields of m may
// alias frame (see sluice.Message's ownership rule). received is used as m.Time when the message has
// no timestamp. m.Source is set to "app". Errors say what is wrong ("rfc5424: expecting a version value …").
//
// Trailing CR and LF bytes of frame are ignored, and a UTF-8 byte order mark
// at the start of the MSG is removed. RFC 3164 timestamps carry no year: the
// year of received (UTC) is used, or the year before when that would put the
// message more than a week into the future (a December line read in January).
// Errors for invalid UTF-8 wrap ErrInvalidUTF8.
func Parse(frame []byte, received time.Time, m *sluice.Message) error {
	*m = sluice.Message{}
	frame = trimEOL(frame)
	if len(frame) == 0 {
		return errEmpty
	}
	if frame[0] != '<' {
		return errNoPRI
	}
	if !isRFC5424(frame) {
		return parseRFC3164(frame, received, m)
	}
	switch parseFast(frame, received, m, false) {
	case fastOK:
		return nil
	case fastBadUTF8:
		*m = sluice.Message{}
		return errUTF8RFC5424
	}
	*m = sluice.Message{}
	err := parseRFC5424(frame, received, m)
	if err == nil || errors.Is(err, ErrInvalidUTF8) {
		return err
	}
	// Logplex (Heroku) writes no STRUCTURED-DATA at all:
	// "<190>1 2026-… host app web.1 - State changed". Accept that shape
	// when nothing else does.
	*m = sluice.Message{}
	if parseFast(frame, received, m, true) == fastOK {
		return nil
	}
	*m = sluice.Message{}
	return err
}

// trimEOL drops trailing CR and LF bytes.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// isRFC5424 reports whether the PRI is followed by a VERSION (1 to 3 digits,
// the first non-zero) and a space; RFC 3164 has a timestamp there.
func isRFC5424(b []byte) bool {
	i := 1
	for i < len(b) && i <= 4 && isDigit(b[i]) {
		i++
	}
	if i == 1 || i >= len(b) || b[i] != '>' {
		return false
	}
	i++
	if i >= len(b) || b[i] < '1' || b[i] > '9' {
		return false
	}
	for n := 0; n < 3 && i < len(b) && isDigit(b[i]); n++ {
		i++
	}
	return i < len(b) && b[i] == ' '
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// str views b as a string without copying; the Message ownership rule lets
// the strings alias the caller's frame.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

type fastResult uint8

const (
	fastOK       fastResult = iota
	fastFallback            // unusual input: let go-syslog decide
	fastBadUTF8             // well-formed header, MSG is not UTF-8
)

// parseFast parses a well-formed RFC 5424 message without allocating. It
// accepts a strict subset of what go-syslog accepts (VERSION 1 only, at
// most maxSDElements structured data elements, only the escapes \" \] \\)
// and answers fastFallback for anything else.
//
// With noSD, a message whose STRUCTURED-DATA is missing (neither "-" nor
// "[") is accepted, everything after the MSGID being the MSG: the Logplex
// shape, which go-syslog refuses.
func parseFast(b []byte, received time.Time, m *sluice.Message, noSD bool) fastResult {
	// PRI: "<" 0 or 1-191 without leading zeros ">".
	i := 1
	pri := 0
	for i < len(b) && isDigit(b[i]) && i < 4 {
		pri = pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || (b[1] == '0' && i > 2) || pri > 191 || i >= len(b) || b[i] != '>' {
		return fastFallback
	}
	i++
	// VERSION 1.
	if len(b) < i+2 || b[i] != '1' || b[i+1] != ' ' {
		return fastFallback
	}
	i += 2
	// TIMESTAMP.
	end := indexSpace(b, i)
	if end < 0 {
		return fastFallback
	}
	if end-i == 1 && b[i] == '-' {
		m.Time = received
	} else {
		t, ok := parseTimestamp(b[i:end])
		if !ok {
			return fastFallback
		}
		m.Time = t
	}
	i = end + 1
	var ok bool
	if m.Host, i, ok = headerField(b, i, 255); !ok {
		return fastFallback
	}
	if m.App, i, ok = headerField(b, i, 48); !ok {
		return fastFallback
	}
	if m.Proc, i, ok = headerField(b, i, 128); !ok {
		return fastFallback
	}
	if m.MsgID, i, ok = headerField(b, i, 32); !ok {
		return fastFallback
	}
	// STRUCTURED-DATA.
	switch {
	case i >= len(b):
		return fastFallback
	case noSD:
		if b[i] == '[' || (b[i] == '-' && (i+1 == len(b) || b[i+1] == ' ')) {
			return fastFallback // has SD: the strict parse decided
		}
		i-- // the space before the MSG
	case b[i] == '-':
		i++
	case b[i] != '[':
		return fastFallback
	default:
		end, res := scanSD(b, i)
		if res != fastOK {
			return res
		}
		m.StructuredData = str(b[i:end])
		i = end
	}
	// MSG.
	if i < len(b) {
		if b[i] != ' ' {
			return fastFallback
		}
		msg := b[i+1:]
		if !utf8.Valid(msg) {
			return fastBadUTF8
		}
		m.Text = str(trimBOM(msg))
	}
	m.Source = "app"
	m.Facility = uint8(pri / 8)
	m.Severity = uint8(pri % 8)
	return fastOK
}

// headerField reads one RFC 5424 header field of 1 to max printable
// US-ASCII characters ("-" is the NILVALUE, returned as "") followed by a
// space, starting at b[i]. It returns the field and the index after the
// space.
func headerField(b []byte, i, max int) (string, int, bool) {
	start := i
	for i < len(b) && b[i] > ' ' && b[i] < 127 {
		i++
	}
	n := i - start
	if n == 0 || n > max || i >= len(b) || b[i] != ' ' {
		return "", 0, false
	}
	if n == 1 && b[start] == '-' {
		return "", i + 1, true
	}
	return str(b[start:i]), i + 1, true
}

func indexSpace(b []byte, i int) int {
	for ; i < len(b); i++ {
		if b[i] == ' ' {
			return i
		}
	}
	return -1
}

var bom = []byte{0xEF, 0xBB, 0xBF}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == bom[0] && b[1] == bom[1] && b[2] == bom[2] {
		return b[3:]
	}
	return b
}

// maxSDElements bounds the elements the fast path checks for duplicate
// SD-IDs; messages with more go to go-syslog.
const maxSDElements = 8

// scanSD checks the STRUCTURED-DATA elements starting at b[i] == '[' and
// returns the index after the last one.
func scanSD(b []byte, i int) (int, fastResult) {
	var ids [maxSDElements][2]int
	n := 0
	for i < len(b) && b[i] == '[' {
		i++
		start := i
		for i < len(b) && isSDName(b[i]) {
			i++
		}
		if i-start < 1 || i-start > 32 || n == maxSDElements {
			return 0, fastFallback
		}
		for k := 0; k < n; k++ {
			if string(b[ids[k][0]:ids[k][1]]) == string(b[start:i]) {
				return 0, fastFallback // duplicate SD-ID: an error, go-syslog says which
			}
		}
		ids[n] = [2]int{start, i}
		n++
		for {
			if i >= len(b) {
				return 0, fastFallback
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ' ' {
				return 0, fastFallback
			}
			i++
			start := i
			for i < len(b) && isSDName(b[i]) {
				i++
			}
			if i-start < 1 || i-start > 32 || i+1 >= len(b) || b[i] != '=' || b[i+1] != '"' {
				return 0, fastFallback
			}
			i += 2
			for {
				if i >= len(b) {
					return 0, fastFallback
				}
				c := b[i]
				if c == '"' {
					i++
					break
				}
				switch {
				case c == '\\':
					if i+1 >= len(b) || (b[i+1] != '"' && b[i+1] != ']' && b[i+1] != '\\') {
						return 0, fastFallback
					}
					i += 2
				case c == ']':
					return 0, fastFallback
				case c < utf8.RuneSelf:
					i++
				default:
					r, size := utf8.DecodeRune(b[i:])
					if r == utf8.RuneError && size == 1 {
						return 0, fastBadUTF8
					}
					i += size
				}
			}
		}
	}
	return i, fastOK
}

// isSDName reports whether c may appear in an SD-NAME: printable US-ASCII
// except '=', ' ', ']' and '"'.
func isSDName(c byte) bool {
	return c > ' ' && c < 127 && c != '=' && c != ']' && c != '"'
}

// parseTimestamp parses an RFC 5424 TIMESTAMP (RFC 3339 with at most six
// fraction digits, upper-case T and Z) without allocating.
func parseTimestamp(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		start := i
		for i < len(b) && isDigit(b[i]) {
			nsec = nsec*10 + int(b[i]-'0')
			i++
		}
		n := i - start
		if n < 1 || n > 6 {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	rest := b[i:]
	var loc *time.Location
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
		loc = time.UTC
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		off := oh*60 + om
		if rest[0] == '-' {
			off = -off
		}
		loc = zone(off)
	default:
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// zones caches a time.Location per UTC offset in whole minutes
// (-23:59..+23:59), so that parsing a timestamp never allocates one.
var zones [2*24*60 - 1]*time.Location

func init() {
	for i := range zones {
		off := i - (24*60 - 1)
		if off == 0 {
			zones[i] = time.UTC
			continue
		}
		zones[i] = time.FixedZone("", off*60)
	}
}

func zone(offMinutes int) *time.Location { return zones[offMinutes+24*60-1] }

// The go-syslog machines keep state per parse; pool them.
var rfc5424Machines = sync.Pool{New: func() any { return rfc5424.NewMachine() }}

// parseRFC5424 is the slow path: go-syslog validates and extracts the
// header; the raw STRUCTURED-DATA text is cut out of frame by sdSpan.
func parseRFC5424(frame []byte, received time.Time, m *sluice.Message) error {
	mach := rfc5424Machines.Get().(gosyslog.Machine)
	res, err := mach.Parse(frame)
	rfc5424Machines.Put(mach)
	if err != nil {
		if !utf8.Valid(frame) {
			return errUTF8RFC5424
		}
		return fmt.Errorf("rfc5424: %w", err)
	}
	msg, ok := res.(*rfc5424.SyslogMessage)
	if !ok || msg.Priority == nil {
		return fmt.Errorf("rfc5424: unexpected parse result %T", res)
	}
	sdStart, sdEnd, ok := sdSpan(frame)
	if !ok {
		return errNoStructured
	}
	if sdEnd-sdStart != 1 || frame[sdStart] != '-' {
		m.StructuredData = str(frame[sdStart:sdEnd])
	}
	if msg.Timestamp != nil {
		m.Time = *msg.Timestamp
	} else {
		m.Time = received
	}
	m.Host = deref(msg.Hostname)
	m.App = deref(msg.Appname)
	m.Proc = deref(msg.ProcID)
	m.MsgID = deref(msg.MsgID)
	text := deref(msg.Message)
	if len(text) >= 3 && text[:3] == string(bom) {
		text = text[3:]
	}
	m.Text = text
	m.Source = "app"
	m.Facility = *msg.Priority / 8
	m.Severity = *msg.Priority % 8
	return nil
}

// sdSpan finds the STRUCTURED-DATA of a valid RFC 5424 message: header
// fields hold no spaces, so it starts after the sixth space, and it ends
// after the last ']' of its elements (values may hold escaped '"' and ']').
func sdSpan(b []byte) (start, end int, ok bool) {
	spaces := 0
	i := 0
	for ; i < len(b) && spaces < 6; i++ {
		if b[i] == ' ' {
			spaces++
		}
	}
	if spaces < 6 || i >= len(b) {
		return 0, 0, false
	}
	start = i
	if b[i] == '-' {
		return start, i + 1, true
	}
	inValue := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case inValue && c == '\\':
			i++
		case c == '"':
			inValue = !inValue
		case !inValue && c == ']':
			if i+1 >= len(b) || b[i+1] != '[' {
				return start, i + 1, true
			}
		}
	}
	return 0, 0, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// parseRFC3164 parses a BSD syslog line with go-syslog. The machine fixes
// the year when it is created, so it is created per call: RFC 3164 is the
// slow path.
func parseRFC3164(frame []byte, received time.Time, m *sluice.Message) error {
	now := received.UTC()
	mach := rfc3164.NewMachine(
		rfc3164.WithYear(rfc3164.Year{YYYY: now.Year()}),
		rfc3164.WithTimezone(time.UTC),
		rfc3164.WithRFC3339(),
	)
	res, err := mach.Parse(frame)
	if err != nil {
		return fmt.Errorf("rfc3164: %w", err)
	}
	msg, ok := res.(*rfc3164.SyslogMessage)
	if !ok || msg.Priority == nil {
		return fmt.Errorf("rfc3164: unexpected parse result %T", res)
	}
	text := strings.TrimPrefix(deref(msg.Message), string(bom))
	if !utf8.ValidString(text) {
		return errUTF8RFC3164
	}
	if msg.Timestamp != nil {
		m.Time = *msg.Timestamp
		// A Stamp timestamp ("Jan  2 15:04:05") has no year: a line from
		// late December read early in January belongs to last year.
		if isStamp(frame) && m.Time.Sub(now) > 7*24*time.Hour {
			m.Time = m.Time.AddDate(-1, 0, 0)
		}
	} else {
		m.Time = received
	}
	m.Host = deref(msg.Hostname)
	m.App = deref(msg.Appname)
	m.Proc = deref(msg.ProcID)
	m.Text = text
	m.Source = "app"
	m.Facility = *msg.Priority / 8
	m.Severity = *msg.Priority % 8
	return nil
}

// isStamp reports whether the timestamp after the PRI starts with a letter
// (a month name) rather than an RFC 3339 date.
func isStamp(b []byte) bool {
	for i := 1; i < len(b) && i < 6; i++ {
		if b[i] == '>' {
			return i+1 < len(b) && b[i+1] >= 'A' && b[i+1] <= 'Z'
		}
	}
	return false
}

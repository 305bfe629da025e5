package syslog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	gosyslog "github.com/influxdata/go-syslog/v3"
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
// A message that starts "<PRI>VERSION SP" is RFC 5424 and read strictly
// (an error says what is wrong with it). Anything else is read as RFC 3164
// in the dialects senders write (see rfc3164.go); only a '<' that starts no
// PRI is refused. Trailing CR, LF and NUL bytes of frame are ignored, and a
// UTF-8 byte order mark at the start of the MSG is removed. Timestamps
// without a UTC offset are read in UTC, and RFC 3164 timestamps without a
// year get the year that puts them nearest before received (see
// inferYear). Bytes that are not UTF-8 are read as Latin-1 and converted.
// A message whose app cannot be determined gets an empty m.App.
//
// A stream of messages is parsed faster by one Parser, which remembers the
// date of the last timestamp.
func Parse(frame []byte, received time.Time, m *sluice.Message) error {
	var p Parser
	return p.Parse(frame, received, m)
}

// Parser is Parse with a memory and options: it keeps the date and time to
// the minute of the last RFC 5424 timestamp it parsed, which consecutive
// messages of one stream share, and works out the instant of a new one only
// when that prefix changes. With zero options it parses exactly what Parse
// parses.
//
// The zero value is ready to use. A Parser is used by one goroutine at a
// time (one per connection or request).
type Parser struct {
	// Location reads timestamps that carry no UTC offset (RFC 3164); nil
	// means UTC.
	Location *time.Location
	// DefaultApp, when not empty, is the app of a message whose app cannot
	// be determined (an RFC 3164 TAG that is missing, empty or digits only,
	// an RFC 5424 APP-NAME of "-"); Notes then has NoteDefaultApp.
	DefaultApp string

	ts    tsCache
	notes Note
}

// Note tells what a Parser did to a message it accepted, so that the
// caller can count it.
type Note uint8

const (
	// NoteLatin1: bytes that are not UTF-8 were read as Latin-1 and
	// converted (the message then owns a copy and aliases nothing).
	NoteLatin1 Note = 1 << iota
	// NoteDefaultApp: the message named no app; DefaultApp was used.
	NoteDefaultApp
)

// Notes returns the Notes of the last message Parse accepted.
func (p *Parser) Notes() Note { return p.notes }

// Parse is the package's Parse, with the Parser's options.
func (p *Parser) Parse(frame []byte, received time.Time, m *sluice.Message) error {
	p.notes = 0
	err := p.parse(frame, received, m)
	if errors.Is(err, ErrInvalidUTF8) {
		err = p.parse(latin1(frame), received, m)
		if err == nil {
			p.notes |= NoteLatin1
		}
	}
	if err == nil && m.App == "" && p.DefaultApp != "" {
		m.App = p.DefaultApp
		p.notes |= NoteDefaultApp
	}
	return err
}

func (p *Parser) parse(frame []byte, received time.Time, m *sluice.Message) error {
	frame = trimEOL(frame)
	if len(frame) == 0 {
		*m = sluice.Message{}
		return errEmpty
	}
	if frame[0] != '<' || !isRFC5424(frame) {
		*m = sluice.Message{}
		if frame[0] != '<' && (frame[0] <= ' ' || frame[0] >= 0x7f) {
			// Without a PRI, a line must at least start like text.
			return errNoPRI
		}
		if !validUTF8(frame) {
			return errUTF8RFC3164
		}
		return p.parseRFC3164(frame, received, m)
	}
	// The fast path accepts only "<PRI>1 …", which isRFC5424 accepts too.
	switch p.fast(frame, received, m, false) {
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
	if p.fast(frame, received, m, true) == fastOK {
		return nil
	}
	*m = sluice.Message{}
	return err
}

// trimEOL drops trailing CR, LF and NUL bytes.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == 0) {
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

// fast parses a well-formed RFC 5424 message without allocating. It
// accepts a strict subset of what go-syslog accepts (VERSION 1 only, at
// most maxSDElements structured data elements, only the escapes \" \] \\)
// and answers fastFallback for anything else. It sets m only when it
// answers fastOK.
//
// With noSD, a message whose STRUCTURED-DATA is missing (neither "-" nor
// "[") is accepted, everything after the MSGID being the MSG: the Logplex
// shape, which go-syslog refuses.
func (p *Parser) fast(b []byte, received time.Time, m *sluice.Message, noSD bool) fastResult {
	// PRI: "<" 0 or 1-191 without leading zeros ">".
	i := 1
	pri := 0
	for i < len(b) && i < 4 && isDigit(b[i]) {
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
	t := received
	if i+1 < len(b) && b[i] == '-' && b[i+1] == ' ' {
		i += 2
	} else {
		var n int
		var ok bool
		t, n, ok = p.ts.parse(b[i:])
		i += n
		if !ok || i >= len(b) || b[i] != ' ' {
			return fastFallback
		}
		i++
	}
	host, i, ok := headerField(b, i, 255)
	if !ok {
		return fastFallback
	}
	app, i, ok := headerField(b, i, 48)
	if !ok {
		return fastFallback
	}
	proc, i, ok := headerField(b, i, 128)
	if !ok {
		return fastFallback
	}
	msgID, i, ok := headerField(b, i, 32)
	if !ok {
		return fastFallback
	}
	// STRUCTURED-DATA.
	sd := ""
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
		sd = str(b[i:end])
		i = end
	}
	// MSG.
	text := ""
	if i < len(b) {
		if b[i] != ' ' {
			return fastFallback
		}
		msg := b[i+1:]
		if !validUTF8(msg) {
			return fastBadUTF8
		}
		text = str(trimBOM(msg))
	}
	*m = sluice.Message{
		Time: t, App: app, Source: "app", Proc: proc, Host: host, MsgID: msgID,
		StructuredData: sd, Text: text, Facility: uint8(pri / 8), Severity: uint8(pri % 8),
	}
	return fastOK
}

// headerField reads one RFC 5424 header field of 1 to max printable
// US-ASCII characters ("-" is the NILVALUE, returned as "") followed by a
// space, starting at b[i]. It returns the field and the index after the
// space.
func headerField(b []byte, i, max int) (string, int, bool) {
	start := i
	for i < len(b) && b[i]-'!' < '~'-'!'+1 { // '!' <= b[i] <= '~'
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

// msbs has the top bit of every byte set.
const msbs = 0x8080808080808080

// validUTF8 is utf8.Valid with a fast path for the usual all-ASCII MSG:
// sixteen bytes at a time, and the last sixteen (or eight) again rather
// than byte by byte.
func validUTF8(b []byte) bool {
	n := len(b)
	var high uint64
	switch {
	case n >= 16:
		for i := 0; i+16 <= n; i += 16 {
			if (binary.LittleEndian.Uint64(b[i:])|binary.LittleEndian.Uint64(b[i+8:]))&msbs != 0 {
				return utf8.Valid(b)
			}
		}
		high = binary.LittleEndian.Uint64(b[n-16:]) | binary.LittleEndian.Uint64(b[n-8:])
	case n >= 8:
		high = binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[n-8:])
	default:
		for _, c := range b {
			high |= uint64(c)
		}
	}
	return high&msbs == 0 || utf8.Valid(b)
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
		for i < len(b) && sdName[b[i]] {
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
			for i < len(b) && sdName[b[i]] {
				i++
			}
			if i-start < 1 || i-start > 32 || i+1 >= len(b) || b[i] != '=' || b[i+1] != '"' {
				return 0, fastFallback
			}
			i += 2
			for {
				for i < len(b) && sdPlain[b[i]] {
					i++
				}
				if i >= len(b) {
					return 0, fastFallback
				}
				c := b[i]
				if c == '"' {
					i++
					break
				}
				switch c {
				case '\\':
					if i+1 >= len(b) || (b[i+1] != '"' && b[i+1] != ']' && b[i+1] != '\\') {
						return 0, fastFallback
					}
					i += 2
				case ']':
					return 0, fastFallback
				default: // c >= utf8.RuneSelf
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

// sdName holds the bytes that may appear in an SD-NAME: printable US-ASCII
// except '=', ' ', ']' and '"'. sdPlain holds the bytes that stand for
// themselves in a PARAM-VALUE: US-ASCII except '"', '\\' and ']'.
var sdName, sdPlain [256]bool

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		sdName[c] = c > ' ' && c < 127 && c != '=' && c != ']' && c != '"'
		sdPlain[c] = c != '"' && c != '\\' && c != ']'
	}
}

// tsCache remembers the first 16 bytes of the last timestamp parsed, its
// date and time to the minute ("2006-01-02T15:04"), and that minute as Unix
// seconds (read as UTC). Its zero value is empty.
type tsCache struct {
	key0, key1 uint64 // the 16 bytes, little-endian
	unix       int64
	valid      bool
}

// parse parses the RFC 5424 TIMESTAMP at the start of b: RFC 3339 with at
// most six fraction digits, upper-case T and Z. It returns the time and its
// length in bytes.
func (c *tsCache) parse(b []byte) (time.Time, int, bool) {
	if len(b) < 20 {
		return time.Time{}, 0, false
	}
	k0, k1 := binary.LittleEndian.Uint64(b[0:8]), binary.LittleEndian.Uint64(b[8:16])
	if !c.valid || k0 != c.key0 || k1 != c.key1 {
		unix, ok := minuteUnix(b)
		if !ok {
			return time.Time{}, 0, false
		}
		c.key0, c.key1, c.unix, c.valid = k0, k1, unix, true
	}
	s1, s0 := b[17]-'0', b[18]-'0'
	if b[16] != ':' || s1 > 5 || s0 > 9 {
		return time.Time{}, 0, false
	}
	sec := c.unix + int64(s1)*10 + int64(s0)
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		start := i
		for i < len(b) && i-start < 7 && isDigit(b[i]) {
			nsec = nsec*10 + int(b[i]-'0')
			i++
		}
		n := i - start
		if n < 1 || n > 6 {
			return time.Time{}, 0, false
		}
		nsec *= pow10[9-n]
	}
	if i >= len(b) {
		return time.Time{}, 0, false
	}
	if b[i] == 'Z' {
		return time.Unix(sec, int64(nsec)).In(time.UTC), i + 1, true
	}
	if len(b) < i+6 || (b[i] != '+' && b[i] != '-') || b[i+3] != ':' {
		return time.Time{}, 0, false
	}
	h1, h0, m1, m0 := b[i+1]-'0', b[i+2]-'0', b[i+4]-'0', b[i+5]-'0'
	if h1 > 2 || h0 > 9 || (h1 == 2 && h0 > 3) || m1 > 5 || m0 > 9 {
		return time.Time{}, 0, false
	}
	off := (int(h1)*10+int(h0))*60 + int(m1)*10 + int(m0)
	if b[i] == '-' {
		off = -off
	}
	return time.Unix(sec-int64(off)*60, int64(nsec)).In(zone(off)), i + 6, true
}

var pow10 = [...]int{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// minuteUnix checks "2006-01-02T15:04" at the start of b (at least 16
// bytes) and returns that minute as Unix seconds, read as UTC.
func minuteUnix(b []byte) (int64, bool) {
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 {
		return 0, false
	}
	return daysSinceEpoch(year, month, day)*86400 + int64(hour)*3600 + int64(minute)*60, true
}

// daysSinceEpoch is the number of days from 1970-01-01 to the given date of
// the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := int64(month) + 9
	if month > 2 {
		mp = int64(month) - 3
	}
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
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

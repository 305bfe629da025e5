package syslog

import (
	"time"
	"unicode/utf8"

	"github.com/sluice-logs/sluice"
)

// RFC 3164 ("BSD syslog") is a description of practice rather than a
// grammar, and senders differ. The reader below takes, after an optional
// <PRI> (without one, user.notice as RFC 3164 4.3.3 says a relay assumes):
//
//   - an optional TIMESTAMP: "Mmm dd hh:mm:ss" (also "Mmm  d"), with an
//     optional fraction, an optional year before the time ("Mmm dd yyyy
//     hh:mm:ss", network devices), a leading '*' or '.' (Cisco's "not in
//     sync") and a trailing ':'; or RFC 3339 with or without a fraction
//     and with or without a UTC offset (rsyslog's RSYSLOG_ForwardFormat);
//     or none at all;
//   - an optional HOSTNAME: after a TIMESTAMP, a first word that is not a
//     TAG (it does not end with ':' and has no "[pid]") is the host;
//   - the TAG: "app:", "app[pid]:", "app[pid]" without the colon, or,
//     after a host, a bare word; then the MSG.
//
// Without a TIMESTAMP only a word ending in ':' or holding "[pid]" is a TAG
// (Python's SysLogHandler, "<14>app[42]: text"); anything else is all MSG.
// A TAG that cannot name an app (empty, digits only as network devices
// number their messages, or characters an app name cannot hold) leaves
// m.App empty and keeps the TAG in the text, so nothing is lost.

// defaultPRI is user.notice, the PRI a relay gives a message without one.
const defaultPRI = 13

// parseRFC3164 reads b, which is not RFC 5424, valid UTF-8 or not (the
// caller converts and calls again).
func (p *Parser) parseRFC3164(b []byte, received time.Time, m *sluice.Message) error {
	pri := defaultPRI
	i := 0
	if b[0] == '<' {
		n := 0
		i = 1
		for i < len(b) && i < 5 && isDigit(b[i]) {
			n = n*10 + int(b[i]-'0')
			i++
		}
		if i == 1 || i >= len(b) || b[i] != '>' || n > 191 {
			return errNoPRI
		}
		pri = n
		i++
	}
	for i < len(b) && b[i] == ' ' {
		i++
	}
	t, n, hasTS := p.stamp(b[i:], received)
	if hasTS {
		k := i + n
		if k < len(b) && b[k] == ':' { // Cisco: "Dec  2 02:05:42.123: %LINK-…"
			k++
		}
		if k < len(b) && b[k] != ' ' {
			hasTS = false // "Dec  2 02:05:42x": not a timestamp after all
		} else {
			i = k
			for i < len(b) && b[i] == ' ' {
				i++
			}
		}
	}
	if !hasTS {
		t = received
	}
	rest := b[i:]
	host := ""
	tg := readTag(rest)
	if !tg.strong {
		if !hasTS {
			tg = tag{none: true}
		} else if w := wordLen(rest); w > 0 && isHostname(rest[:w]) {
			host = str(rest[:w])
			j := w
			for j < len(rest) && rest[j] == ' ' {
				j++
			}
			rest = rest[j:]
			tg = readTag(rest)
		} else {
			tg = tag{none: true}
		}
	}
	*m = sluice.Message{Time: t, Host: host, Source: "app", Facility: uint8(pri / 8), Severity: uint8(pri % 8)}
	switch {
	case tg.none:
		m.Text = str(trimBOM(rest))
	case tg.app == 0 && tg.strong:
		// An empty TAG (": text"): the text follows.
		m.Text = str(trimBOM(rest[tg.text:]))
	case !validApp(rest[:tg.app]):
		m.Text = str(trimBOM(rest)) // keep the TAG: it says something
	default:
		m.App = str(rest[:tg.app])
		m.Proc = str(rest[tg.procStart:tg.procEnd])
		m.Text = str(trimBOM(rest[tg.text:]))
	}
	return nil
}

// tag is where readTag found the parts of a TAG in b: the app is b[:app],
// the proc b[procStart:procEnd], the text starts at b[text].
type tag struct {
	app, procStart, procEnd, text int
	strong                        bool // ends with ':' or has "[pid]": surely a TAG
	none                          bool // no TAG at all
}

// maxProc bounds the "[pid]" of a TAG (RFC 5424 allows a PROCID of 128).
const maxProc = 128

// readTag reads the TAG at the start of b: a name up to a space, a '[' or a
// ':' that ends the word; then "[proc]"; then an optional ':'; then one
// optional space.
func readTag(b []byte) tag {
	i := 0
	for i < len(b) && b[i] != ' ' && b[i] != '[' && !(b[i] == ':' && (i+1 == len(b) || b[i+1] == ' ')) {
		i++
	}
	tg := tag{app: i}
	if i < len(b) && b[i] == '[' {
		j := i + 1
		for j < len(b) && j-i-1 <= maxProc && b[j] != ']' && b[j] > ' ' && b[j] != '[' {
			j++
		}
		if j < len(b) && b[j] == ']' && j > i+1 {
			tg.procStart, tg.procEnd = i+1, j
			tg.strong = true
			i = j + 1
		} else {
			// "name[" without a proper "]": a word, not a TAG with a pid.
			for i < len(b) && b[i] != ' ' {
				i++
			}
			tg.app = i
			tg.procStart, tg.procEnd = i, i
			return finishWord(b, tg, i)
		}
	} else {
		tg.procStart, tg.procEnd = i, i
	}
	if i < len(b) && b[i] == ':' {
		tg.strong = true
		i++
	} else if !tg.strong && i < len(b) && b[i] != ' ' {
		return finishWord(b, tg, i)
	}
	if i < len(b) && b[i] == ' ' {
		i++
	} else if i < len(b) && b[i] != ' ' {
		// "app[1]x": something glued to the TAG; the word is no TAG.
		if !tg.strong || b[i-1] != ':' {
			return finishWord(b, tag{app: tg.app, procStart: tg.app, procEnd: tg.app}, tg.app)
		}
	}
	tg.text = i
	return tg
}

// finishWord makes tg a bare word that ends at the next space.
func finishWord(b []byte, tg tag, i int) tag {
	for i < len(b) && b[i] != ' ' {
		i++
	}
	tg.app, tg.procStart, tg.procEnd, tg.strong = i, i, i, false
	if i < len(b) {
		i++
	}
	tg.text = i
	return tg
}

func wordLen(b []byte) int {
	i := 0
	for i < len(b) && b[i] != ' ' {
		i++
	}
	return i
}

// isHostname reports whether w can be a HOSTNAME: a name, an IPv4 or IPv6
// address (letters, digits, '.', '-', '_', ':', '%').
func isHostname(w []byte) bool {
	if len(w) > 255 {
		return false
	}
	for _, c := range w {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

// validApp reports whether a TAG names an app: 1 to 48 printable ASCII
// bytes other than "[]/?#%" (auth.ValidName's rule), not "-", not all
// digits.
func validApp(b []byte) bool {
	if len(b) == 0 || len(b) > 48 || (len(b) == 1 && b[0] == '-') {
		return false
	}
	digits := true
	for _, c := range b {
		if !appByte[c] {
			return false
		}
		digits = digits && isDigit(c)
	}
	return !digits
}

var hostByte, appByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		hostByte[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(byte(c)) ||
			c == '.' || c == '-' || c == '_' || c == ':' || c == '%'
		appByte[c] = c > ' ' && c < 127 && c != '[' && c != ']' && c != '/' && c != '?' && c != '#' && c != '%'
	}
}

// stamp reads an RFC 3164 TIMESTAMP in one of its dialects at the start of
// b and returns the time and its length.
func (p *Parser) stamp(b []byte, received time.Time) (time.Time, int, bool) {
	if len(b) == 0 {
		return time.Time{}, 0, false
	}
	if isDigit(b[0]) {
		if t, n, ok := p.ts.parse(b); ok {
			return t, n, true
		}
		return p.isoStamp(b)
	}
	i := 0
	if b[0] == '*' || b[0] == '.' {
		i++
	}
	return p.bsdStamp(b, i, received)
}

var months = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// bsdStamp reads "Mmm dd hh:mm:ss[.frac]" or "Mmm dd yyyy hh:mm:ss[.frac]"
// at b[i:].
func (p *Parser) bsdStamp(b []byte, i int, received time.Time) (time.Time, int, bool) {
	if len(b) < i+14 {
		return time.Time{}, 0, false
	}
	month := 0
	m0, m1, m2 := b[i]|0x20, b[i+1]|0x20, b[i+2]|0x20
	for k, name := range months {
		if name[0] == m0 && name[1] == m1 && name[2] == m2 {
			month = k + 1
			break
		}
	}
	if month == 0 || b[i+3] != ' ' {
		return time.Time{}, 0, false
	}
	i += 4
	if b[i] == ' ' {
		i++
	}
	day := 0
	for n := 0; n < 2 && i < len(b) && isDigit(b[i]); n++ {
		day = day*10 + int(b[i]-'0')
		i++
	}
	if day < 1 || day > 31 || i >= len(b) || b[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	year := -1
	if len(b) >= i+5 && b[i+4] == ' ' {
		y, ok := digits(b[i : i+4])
		if !ok {
			return time.Time{}, 0, false
		}
		year = y
		i += 5
	}
	hour, minute, sec, nsec, n, ok := clock(b[i:])
	if !ok {
		return time.Time{}, 0, false
	}
	i += n
	loc := p.location()
	if year >= 0 {
		if day > daysIn(month, year) {
			return time.Time{}, 0, false
		}
		return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), i, true
	}
	return inferYear(received.In(loc), month, day, hour, minute, sec, nsec, loc), i, true
}

// inferYear places a date without a year within the year around now: in
// now's year, unless that is more than a week ahead (a December line read
// in January: last year) or the next year's date is at most a week ahead (a
// January line read on December 31: next year).
func inferYear(now time.Time, month, day, hour, minute, sec, nsec int, loc *time.Location) time.Time {
	const week = 7 * 24 * time.Hour
	y := now.Year()
	if month == 2 && day == 29 {
		// Only leap years have the day: the nearest leap year not ahead.
		for y%4 != 0 || (y%100 == 0 && y%400 != 0) {
			y--
		}
		return time.Date(y, 2, 29, hour, minute, sec, nsec, loc)
	}
	t := time.Date(y, time.Month(month), day, hour, minute, sec, nsec, loc)
	if t.Sub(now) > week {
		return time.Date(y-1, time.Month(month), day, hour, minute, sec, nsec, loc)
	}
	if next := time.Date(y+1, time.Month(month), day, hour, minute, sec, nsec, loc); next.Sub(now) <= week {
		return next
	}
	return t
}

// clock reads "hh:mm:ss" with an optional fraction of 1 to 9 digits.
func clock(b []byte) (hour, minute, sec, nsec, n int, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return
	}
	h, ok1 := digits(b[0:2])
	mi, ok2 := digits(b[3:5])
	s, ok3 := digits(b[6:8])
	if !(ok1 && ok2 && ok3) || h > 23 || mi > 59 || s > 60 {
		return
	}
	if s == 60 {
		s = 59 // a leap second: time.Date would roll into the next minute
	}
	i := 8
	if i+1 < len(b) && b[i] == '.' && isDigit(b[i+1]) {
		i++
		start := i
		for i < len(b) && isDigit(b[i]) {
			if i-start < 9 {
				nsec = nsec*10 + int(b[i]-'0')
			}
			i++
		}
		if d := i - start; d < 9 {
			nsec *= pow10[9-d]
		}
	}
	return h, mi, s, nsec, i, true
}

// isoStamp reads an RFC 3339 timestamp in the forms the strict cache does
// not take: more than six fraction digits, a lower-case 't' or 'z', a space
// for the 'T', "+hhmm", or no offset at all (read in the Parser's
// Location).
func (p *Parser) isoStamp(b []byte) (time.Time, int, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
		return time.Time{}, 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	if !(ok1 && ok2 && ok3) || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return time.Time{}, 0, false
	}
	hour, minute, sec, nsec, n, ok := clock(b[11:])
	if !ok {
		return time.Time{}, 0, false
	}
	i := 11 + n
	loc := p.location()
	if i < len(b) {
		switch b[i] {
		case 'Z', 'z':
			loc = time.UTC
			i++
		case '+', '-':
			off, k, ok := utcOffset(b[i:])
			if !ok {
				return time.Time{}, 0, false
			}
			loc = zone(off)
			i += k
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), i, true
}

// utcOffset reads "+hh:mm", "+hhmm" or "+hh" in minutes.
func utcOffset(b []byte) (int, int, bool) {
	if len(b) < 3 {
		return 0, 0, false
	}
	h, ok := digits(b[1:3])
	if !ok || h > 23 {
		return 0, 0, false
	}
	n, mi := 3, 0
	switch {
	case len(b) >= 6 && b[3] == ':':
		mi, ok = digits(b[4:6])
		n = 6
	case len(b) >= 5 && isDigit(b[3]):
		mi, ok = digits(b[3:5])
		n = 5
	}
	if !ok || mi > 59 {
		return 0, 0, false
	}
	off := h*60 + mi
	if b[0] == '-' {
		off = -off
	}
	return off, n, true
}

func (p *Parser) location() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// latin1 returns b with every byte that is not part of valid UTF-8 read as
// Latin-1 (ISO 8859-1) and converted; valid UTF-8 sequences are kept.
func latin1(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			out = utf8.AppendRune(out, rune(b[i]))
			i++
			continue
		}
		out = append(out, b[i:i+size]...)
		i += size
	}
	return out
}

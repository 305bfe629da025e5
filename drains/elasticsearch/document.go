package elasticsearch

import (
	"strconv"
	"strings"
	"time"

	"github.com/sluice-logs/sluice"
)

// TimestampLayout is the layout of @timestamp: RFC 3339 with microseconds,
// in UTC ("2026-11-25T20:29:46.123456Z"), which Elasticsearch's default
// date format (strict_date_optional_time) reads.
const TimestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// maxSDParams bounds the structured data turned into an object; longer
// structured data is kept as the string structured_data (grouping the
// parameters is quadratic in their number).
const maxSDParams = 128

var severityNames = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

var facilityNames = [24]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// encoder turns messages into documents. Its scratch space is reused, so
// an encoder is not safe for concurrent use.
type encoder struct {
	sd      sdParser
	unquote []byte
	// The @timestamp up to the seconds' dot, of second tsSec.
	tsPrefix []byte
	tsSec    int64
}

// appendDocument appends m as one JSON document (no newline). It does not
// allocate when dst has room, except for structured data values that hold
// escapes.
func (e *encoder) appendDocument(dst []byte, m *sluice.Message) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = e.appendTimestamp(dst, m.Time)
	dst = append(dst, `","app":`...)
	dst = sluice.AppendJSONString(dst, m.App)
	dst = append(dst, `,"source":`...)
	if m.Source == "" {
		dst = append(dst, `"app"`...)
	} else {
		dst = sluice.AppendJSONString(dst, m.Source)
	}
	if m.Proc != "" {
		dst = append(dst, `,"proc":`...)
		dst = sluice.AppendJSONString(dst, m.Proc)
	}
	if m.Host != "" {
		dst = append(dst, `,"host":`...)
		dst = sluice.AppendJSONString(dst, m.Host)
	}
	dst = append(dst, `,"severity":"`...)
	if int(m.Severity) < len(severityNames) {
		dst = append(dst, severityNames[m.Severity]...)
	} else {
		dst = strconv.AppendUint(dst, uint64(m.Severity), 10)
	}
	dst = append(dst, `","facility":"`...)
	if int(m.Facility) < len(facilityNames) {
		dst = append(dst, facilityNames[m.Facility]...)
	} else {
		dst = strconv.AppendUint(dst, uint64(m.Facility), 10)
	}
	dst = append(dst, '"')
	if m.MsgID != "" {
		dst = append(dst, `,"msgid":`...)
		dst = sluice.AppendJSONString(dst, m.MsgID)
	}
	if m.StructuredData != "" && m.StructuredData != "-" {
		if e.sd.parse(m.StructuredData) {
			dst = append(dst, `,"sd":`...)
			dst = e.appendSD(dst)
		} else {
			dst = append(dst, `,"structured_data":`...)
			dst = sluice.AppendJSONString(dst, m.StructuredData)
		}
	}
	dst = append(dst, `,"message":`...)
	dst = sluice.AppendJSONString(dst, m.Text)
	return append(dst, '}')
}

// appendTimestamp appends t in TimestampLayout. The part up to the
// seconds is formatted once per second.
func (e *encoder) appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if sec := t.Unix(); sec != e.tsSec || len(e.tsPrefix) == 0 {
		e.tsPrefix = t.AppendFormat(e.tsPrefix[:0], "2006-01-02T15:04:05.")
		e.tsSec = sec
	}
	dst = append(dst, e.tsPrefix...)
	us := t.Nanosecond() / 1000
	var b [6]byte
	for i := 5; i >= 0; i-- {
		b[i] = byte('0' + us%10)
		us /= 10
	}
	dst = append(dst, b[:]...)
	return append(dst, 'Z')
}

// appendSD appends the structured data e.sd parsed as an object of
// objects. Elements with the same SD-ID are merged, and a parameter given
// more than once becomes an array of its values (Elasticsearch refuses
// duplicate keys), both in order of first appearance.
func (e *encoder) appendSD(dst []byte) []byte {
	p := &e.sd
	dst = append(dst, '{')
	for i, id := range p.ids {
		if p.firstID(i) != i {
			continue // merged into the first element with this id
		}
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = sluice.AppendJSONString(dst, id)
		dst = append(dst, ':', '{')
		first := true
		for j, pj := range p.params {
			if p.ids[pj.elem] != id || p.firstParam(j) != j {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = sluice.AppendJSONString(dst, pj.name)
			dst = append(dst, ':')
			n := 0
			for _, pk := range p.params[j+1:] {
				if pk.name == pj.name && p.ids[pk.elem] == id {
					n++
				}
			}
			if n == 0 {
				dst = e.appendSDValue(dst, pj.value)
				continue
			}
			dst = append(dst, '[')
			dst = e.appendSDValue(dst, pj.value)
			for _, pk := range p.params[j+1:] {
				if pk.name == pj.name && p.ids[pk.elem] == id {
					dst = append(dst, ',')
					dst = e.appendSDValue(dst, pk.value)
				}
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendSDValue appends a PARAM-VALUE as a JSON string, removing the
// backslashes of its escapes (\" \\ \]).
func (e *encoder) appendSDValue(dst []byte, raw string) []byte {
	if strings.IndexByte(raw, '\\') < 0 {
		return sluice.AppendJSONString(dst, raw)
	}
	u := e.unquote[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) && (raw[i+1] == '"' || raw[i+1] == '\\' || raw[i+1] == ']') {
			i++
			c = raw[i]
		}
		u = append(u, c)
	}
	e.unquote = u
	return sluice.AppendJSONString(dst, string(u))
}

// sdParser parses RFC 5424 STRUCTURED-DATA. The strings it keeps alias the
// input; its slices are reused by the next parse.
type sdParser struct {
	ids    []string
	params []sdParam
}

type sdParam struct {
	elem        int    // index into ids
	name, value string // value raw, escapes kept
}

// parse parses s, one or more SD-ELEMENTs ("[id name=\"value\" …]…"). It
// reports false when s is not well-formed structured data.
func (p *sdParser) parse(s string) bool {
	p.ids, p.params = p.ids[:0], p.params[:0]
	i := 0
	for i < len(s) {
		if s[i] != '[' {
			return false
		}
		i++
		start := i
		for i < len(s) && isSDName(s[i]) {
			i++
		}
		if i == start || i == len(s) {
			return false
		}
		elem := len(p.ids)
		p.ids = append(p.ids, s[start:i])
		for {
			if i == len(s) {
				return false
			}
			if s[i] == ']' {
				i++
				break
			}
			if s[i] != ' ' {
				return false
			}
			i++
			start = i
			for i < len(s) && isSDName(s[i]) {
				i++
			}
			if i == start || i+1 >= len(s) || s[i] != '=' || s[i+1] != '"' {
				return false
			}
			name := s[start:i]
			i += 2
			start = i
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return false
			}
			if len(p.params) == maxSDParams {
				return false
			}
			p.params = append(p.params, sdParam{elem: elem, name: name, value: s[start:i]})
			i++ // closing quote
		}
	}
	return len(p.ids) > 0
}

// isSDName reports whether c may appear in an SD-NAME: printable US-ASCII
// except '=', space, ']' and '"'.
func isSDName(c byte) bool {
	return c > ' ' && c < 0x7f && c != '=' && c != ']' && c != '"'
}

// firstID returns the index of the first element with the id of element i.
func (p *sdParser) firstID(i int) int {
	for j := 0; j < i; j++ {
		if p.ids[j] == p.ids[i] {
			return j
		}
	}
	return i
}

// firstParam returns the index of the first parameter with the name of
// parameter i in an element with the same id.
func (p *sdParser) firstParam(i int) int {
	pi := p.params[i]
	for j := 0; j < i; j++ {
		if p.params[j].name == pi.name && p.ids[p.params[j].elem] == p.ids[pi.elem] {
			return j
		}
	}
	return i
}

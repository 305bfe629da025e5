package httpdrain

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluice-logs/sluice"
)

// encode appends the body of batch in the drain's format.
func (d *Drain) encode(dst []byte, batch []sluice.Message) []byte {
	if d.cfg.Format == FormatNDJSON {
		for i := range batch {
			dst = AppendNDJSON(dst, &batch[i])
		}
		return dst
	}
	for i := range batch {
		d.frame = sluice.AppendRFC5424(d.frame[:0], &batch[i])
		dst = strconv.AppendInt(dst, int64(len(d.frame)), 10)
		dst = append(dst, ' ')
		dst = append(dst, d.frame...)
	}
	if cap(d.frame) > 1<<20 {
		d.frame = nil
	}
	return dst
}

// AppendNDJSON appends m as one JSON object and a newline:
// {"time","app","source","proc","host","severity","facility","msgid",
// "structured_data","msg"}; empty optional strings are left out. Time is
// RFC 3339 with nanoseconds, UTC.
func AppendNDJSON(dst []byte, m *sluice.Message) []byte {
	dst = append(dst, `{"time":"`...)
	dst = m.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","app":`...)
	dst = appendJSONString(dst, m.App)
	source := m.Source
	if source == "" {
		source = "app"
	}
	dst = append(dst, `,"source":`...)
	dst = appendJSONString(dst, source)
	if m.Proc != "" {
		dst = append(dst, `,"proc":`...)
		dst = appendJSONString(dst, m.Proc)
	}
	if m.Host != "" {
		dst = append(dst, `,"host":`...)
		dst = appendJSONString(dst, m.Host)
	}
	dst = append(dst, `,"severity":`...)
	dst = strconv.AppendUint(dst, uint64(m.Severity), 10)
	dst = append(dst, `,"facility":`...)
	dst = strconv.AppendUint(dst, uint64(m.Facility), 10)
	if m.MsgID != "" {
		dst = append(dst, `,"msgid":`...)
		dst = appendJSONString(dst, m.MsgID)
	}
	if m.StructuredData != "" {
		dst = append(dst, `,"structured_data":`...)
		dst = appendJSONString(dst, m.StructuredData)
	}
	dst = append(dst, `,"msg":`...)
	dst = appendJSONString(dst, m.Text)
	return append(dst, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; control characters, U+2028 and U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

package sluice

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends m as one JSON object with the fields time, app,
// source, proc, host, severity, facility, msgid, structured_data and msg.
// Every field is always present (empty strings for absent ones), so the
// documents of every drain that writes JSON (HTTP NDJSON, Kafka JSON) share
// one schema, and the HTTP ingest reads them back. Time uses TimeLayout.
// It does not allocate when dst has room.
func AppendJSON(dst []byte, m *Message) []byte {
	dst = append(dst, `{"time":"`...)
	dst = m.Time.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","app":`...)
	dst = AppendJSONString(dst, m.App)
	dst = append(dst, `,"source":`...)
	if m.Source == "" {
		dst = append(dst, `"app"`...)
	} else {
		dst = AppendJSONString(dst, m.Source)
	}
	dst = append(dst, `,"proc":`...)
	dst = AppendJSONString(dst, m.Proc)
	dst = append(dst, `,"host":`...)
	dst = AppendJSONString(dst, m.Host)
	dst = append(dst, `,"severity":`...)
	dst = strconv.AppendUint(dst, uint64(m.Severity), 10)
	dst = append(dst, `,"facility":`...)
	dst = strconv.AppendUint(dst, uint64(m.Facility), 10)
	dst = append(dst, `,"msgid":`...)
	dst = AppendJSONString(dst, m.MsgID)
	dst = append(dst, `,"structured_data":`...)
	dst = AppendJSONString(dst, m.StructuredData)
	dst = append(dst, `,"msg":`...)
	dst = AppendJSONString(dst, m.Text)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a quoted JSON string, escaping what
// encoding/json escapes (quotes, backslash, control characters, <, >, &,
// U+2028, U+2029) and replacing invalid UTF-8 with U+FFFD, so its output is
// byte for byte what encoding/json writes.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
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
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
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

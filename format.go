package sluice

import (
	"strconv"
	"time"
)

// TimeLayout is the timestamp layout of tail lines and of RFC 5424 lines
// written by drains: RFC 3339 with microseconds and a numeric offset, the
// way Logplex prints them (2026-11-25T20:29:46.123456+00:00).
const TimeLayout = "2006-01-02T15:04:05.000000-07:00"

// AppendLine appends m as a tail line, "TIMESTAMP SOURCE[PROC]: MESSAGE\n",
// with the timestamp in UTC. "[PROC]" is left out when Proc is empty. It
// does not allocate when dst has room.
func AppendLine(dst []byte, m *Message) []byte {
	dst = m.Time.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, ' ')
	if m.Source == "" {
		dst = append(dst, "app"...)
	} else {
		dst = append(dst, m.Source...)
	}
	if m.Proc != "" {
		dst = append(dst, '[')
		dst = append(dst, m.Proc...)
		dst = append(dst, ']')
	}
	dst = append(dst, ": "...)
	dst = append(dst, m.Text...)
	return append(dst, '\n')
}

// AppendRFC5424 appends m as one RFC 5424 message without framing:
// "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG". Empty header fields are
// written as the NILVALUE "-". APP-NAME carries the app, so a line written
// by one Sluice drain is routed to the same app by another Sluice's ingest.
func AppendRFC5424(dst []byte, m *Message) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendUint(dst, uint64(m.Facility)*8+uint64(m.Severity), 10)
	dst = append(dst, ">1 "...)
	dst = m.Time.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, m.Host, 255)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, m.App, 48)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, m.Proc, 128)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, m.MsgID, 32)
	dst = append(dst, ' ')
	if m.StructuredData == "" {
		dst = append(dst, '-')
	} else {
		dst = append(dst, m.StructuredData...)
	}
	if m.Text != "" {
		dst = append(dst, ' ')
		dst = append(dst, m.Text...)
	}
	return dst
}

// appendHeaderField writes an RFC 5424 header field: printable US-ASCII
// without spaces, at most max bytes, "-" when empty.
func appendHeaderField(dst []byte, s string, max int) []byte {
	if s == "" {
		return append(dst, '-')
	}
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// L10 and L11 are the in-band error lines of Logplex, kept word for word so
// that tools written for Logplex recognise them.

// DropNotice returns the text of an in-band drop report: code "L10" with
// what "output buffer overflow" (drains) or code "L11" with what "Tail
// buffer overflow" (tails).
func DropNotice(code, what string, n uint64, since time.Time) string {
	b := make([]byte, 0, 96)
	b = append(b, "Error "...)
	b = append(b, code...)
	b = append(b, " ("...)
	b = append(b, what...)
	b = append(b, "): "...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, " messages dropped since "...)
	b = since.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '.')
	return string(b)
}

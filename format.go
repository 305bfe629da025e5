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
// with the timestamp in UTC. "[PROC]" is left out when Proc is empty.
// SOURCE, PROC and MESSAGE go through AppendDisplay, so the line is exactly
// one line and carries no control character. It does not allocate when dst
// has room.
func AppendLine(dst []byte, m *Message) []byte {
	dst = appendTime(dst, m.Time)
	dst = append(dst, ' ')
	if m.Source == "" {
		dst = append(dst, "app"...)
	} else {
		dst = AppendDisplay(dst, m.Source)
	}
	if m.Proc != "" {
		dst = append(dst, '[')
		dst = AppendDisplay(dst, m.Proc)
		dst = append(dst, ']')
	}
	dst = append(dst, ": "...)
	dst = AppendDisplay(dst, m.Text)
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
	dst = appendTime(dst, m.Time)
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

// AppendLogplex appends m in the layout of Heroku's HTTPS drains
// (logplex_http_drain): "<PRI>1 TIMESTAMP HOST SOURCE PROCID - MSG". There
// is no STRUCTURED-DATA field: the "-" is the MSGID and everything after the
// next space is the message, which is how lpx-based receivers read it.
// APP-NAME is the source ("app", "router", "heroku"; "app" when empty), so
// the app itself is not in the frame: Heroku's consumers know it from the
// Logplex-Drain-Token header. Heroku writes the literal "host" as HOST;
// pass that, or the drain token. The space before MSG is written even when
// the message is empty, as Logplex does (an lpx reader needs it).
func AppendLogplex(dst []byte, m *Message, host string) []byte {
	dst = appendLogplexHeader(dst, m, host)
	dst = append(dst, " - "...)
	return append(dst, m.Text...)
}

// AppendLogplexSyslog appends m in the layout of Heroku's syslog drains
// (logplex_syslog_utils:to_msg, used by the TCP, TLS and UDP drains):
// "<PRI>1 TIMESTAMP TOKEN SOURCE PROCID - - MSG\n", with an empty MSGID and
// STRUCTURED-DATA, and a newline added unless MSG ends with one. TOKEN is
// the drain token Heroku puts in HOSTNAME (receivers such as Papertrail
// show it as the system name).
func AppendLogplexSyslog(dst []byte, m *Message, token string) []byte {
	dst = appendLogplexHeader(dst, m, token)
	dst = append(dst, " - - "...)
	dst = append(dst, m.Text...)
	if m.Text == "" || m.Text[len(m.Text)-1] != '\n' {
		dst = append(dst, '\n')
	}
	return dst
}

// appendLogplexHeader appends "<PRI>1 TIMESTAMP HOST SOURCE PROCID".
func appendLogplexHeader(dst []byte, m *Message, host string) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendUint(dst, uint64(m.Facility)*8+uint64(m.Severity), 10)
	dst = append(dst, ">1 "...)
	dst = appendTime(dst, m.Time)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, host, 255)
	dst = append(dst, ' ')
	src := m.Source
	if src == "" {
		src = "app"
	}
	dst = appendHeaderField(dst, src, 48)
	dst = append(dst, ' ')
	return appendHeaderField(dst, m.Proc, 128)
}

// appendTime appends t in UTC in TimeLayout: byte for byte what
// t.UTC().AppendFormat(dst, TimeLayout) appends, without interpreting the
// layout on every call.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	us := t.Nanosecond() / 1000
	var b [len("2006-01-02T15:04:05.000000+00:00")]byte
	put4(b[0:4], year)
	b[4] = '-'
	put2(b[5:7], int(month))
	b[7] = '-'
	put2(b[8:10], day)
	b[10] = 'T'
	put2(b[11:13], hour)
	b[13] = ':'
	put2(b[14:16], minute)
	b[16] = ':'
	put2(b[17:19], sec)
	b[19] = '.'
	for i := 25; i >= 20; i-- {
		b[i] = byte('0' + us%10)
		us /= 10
	}
	copy(b[26:], "+00:00")
	return append(dst, b[:]...)
}

func put2(b []byte, v int) {
	b[1] = byte('0' + v%10)
	b[0] = byte('0' + v/10)
}

func put4(b []byte, v int) {
	put2(b[2:4], v%100)
	put2(b[0:2], v/100)
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
	start := len(dst)
	dst = append(dst, s...)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; c < 33 || c > 126 {
			dst[i] = '_'
		}
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

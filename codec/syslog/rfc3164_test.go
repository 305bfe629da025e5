package syslog

import (
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

func TestRFC3164Dialects(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	now := time.Date(2026, 12, 2, 2, 10, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want sluice.Message
	}{
		{"rsyslog forward format", "<13>2026-12-02T02:03:42.981234+00:00 myhost fwdapp[99]: forwardformat test",
			sluice.Message{Time: utc(2026, 12, 2, 2, 3, 42, 981234000), Host: "myhost", App: "fwdapp", Proc: "99", Text: "forwardformat test"}},
		{"tag with pid, no colon", "<13>Dec  2 02:05:42 vm tagnc[4001] no colon with pid",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0), Host: "vm", App: "tagnc", Proc: "4001", Text: "no colon with pid"}},
		{"tag without pid or colon", "<13>Dec  2 02:05:42 vm tagnone no colon no pid",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0), Host: "vm", App: "tagnone", Text: "no colon no pid"}},
		{"python: no timestamp, no host", "<14>tag[42]: msg",
			sluice.Message{Time: now, App: "tag", Proc: "42", Text: "msg", Facility: 1, Severity: 6}},
		{"python: no tag", "<14>just a message",
			sluice.Message{Time: now, Text: "just a message", Facility: 1, Severity: 6}},
		{"timestamp, no host", "<13>Dec  2 02:05:42 app[7]: text",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0), App: "app", Proc: "7", Text: "text"}},
		{"year in the timestamp", "<13>Dec  2 2025 02:05:42 host app: text",
			sluice.Message{Time: utc(2025, 12, 2, 2, 5, 42, 0), Host: "host", App: "app", Text: "text"}},
		{"fraction and trailing colon, cisco", "<189>*Dec  2 02:05:42.123: %LINK-3-UPDOWN: Interface up",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 123000000), Text: "%LINK-3-UPDOWN: Interface up", Facility: 23, Severity: 5}},
		{"digits-only tag", "<189>123: *Dec  2 02:05:42: %SYS-5-CONFIG_I: Configured",
			sluice.Message{Time: now, Text: "123: *Dec  2 02:05:42: %SYS-5-CONFIG_I: Configured", Facility: 23, Severity: 5}},
		{"empty tag", "<13>Dec  2 02:05:42 host : text",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0), Host: "host", Text: "text"}},
		{"no pri, rfc3339 (RSYSLOG_FileFormat)", "2026-12-02T02:03:42.981234+01:00 myhost app[1]: file format",
			sluice.Message{Time: time.Date(2026, 12, 2, 2, 3, 42, 981234000, zone(60)), Host: "myhost", App: "app", Proc: "1", Text: "file format"}},
		{"rfc3339 without offset", "<13>2026-12-02T02:03:42 h app: x",
			sluice.Message{Time: utc(2026, 12, 2, 2, 3, 42, 0), Host: "h", App: "app", Text: "x"}},
		{"rfc3339 nine digits, +hhmm", "<13>2026-12-02T02:03:42.123456789+0100 h app: x",
			sluice.Message{Time: time.Date(2026, 12, 2, 2, 3, 42, 123456789, zone(60)), Host: "h", App: "app", Text: "x"}},
		{"ipv6 host", "<13>Dec  2 02:05:42 fe80::1 app: x",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0), Host: "fe80::1", App: "app", Text: "x"}},
		{"colon glued to text", "<13>Dec  2 02:05:42 h app:x y",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0), Host: "h", App: "app:x", Text: "y"}},
		{"timestamp only", "<13>Dec  2 02:05:42",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0)}},
		{"not a timestamp", "<13>Dec  2 02:05:42x y: z",
			sluice.Message{Time: now, Text: "Dec  2 02:05:42x y: z"}},
		{"path tag keeps its text", "<13>Dec  2 02:05:42 h /usr/sbin/cron[9]: run",
			sluice.Message{Time: utc(2026, 12, 2, 2, 5, 42, 0), Host: "h", Text: "/usr/sbin/cron[9]: run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m sluice.Message
			if err := Parse([]byte(tt.in), now, &m); err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			want := tt.want
			want.Source = "app"
			if want.Facility == 0 && want.Severity == 0 {
				want.Facility, want.Severity = 1, 5
			}
			if !equalMessage(m, want) {
				t.Fatalf("Parse(%q)\n got %+v\nwant %+v", tt.in, m, want)
			}
		})
	}
}

func TestInferYear(t *testing.T) {
	tests := []struct {
		name     string
		now      time.Time
		in       string
		wantYear int
	}{
		{"december line read in january", time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), "<13>Dec 31 23:59:59 h a: x", 2026},
		{"january line read on december 31", time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "<13>Jan  1 00:00:01 h a: x", 2027},
		{"same day", time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), "<13>Jun  1 11:00:00 h a: x", 2026},
		{"a few days ahead (clock skew)", time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), "<13>Jun  5 11:00:00 h a: x", 2026},
		{"months ago", time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), "<13>Mar  5 11:00:00 h a: x", 2026},
		{"leap day", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "<13>Feb 29 11:00:00 h a: x", 2024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m sluice.Message
			if err := Parse([]byte(tt.in), tt.now, &m); err != nil {
				t.Fatal(err)
			}
			if m.Time.Year() != tt.wantYear {
				t.Fatalf("Parse(%q) at %v: year %d, want %d", tt.in, tt.now, m.Time.Year(), tt.wantYear)
			}
		})
	}
}

func TestParserLocationAndDefaultApp(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	p := Parser{Location: ny, DefaultApp: "syslog"}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var m sluice.Message
	if err := p.Parse([]byte("<13>Dec  2 02:05:42 h a: x"), now, &m); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 2, 2, 5, 42, 0, ny); !m.Time.Equal(want) || p.Notes() != 0 {
		t.Fatalf("time %v notes %v, want %v and none", m.Time, p.Notes(), want)
	}
	if err := p.Parse([]byte("<13>2026-12-02T02:05:42Z h a: x"), now, &m); err != nil || m.Time != time.Date(2026, 12, 2, 2, 5, 42, 0, time.UTC) {
		t.Fatalf("an explicit offset must win over Location: %v %v", m.Time, err)
	}
	if err := p.Parse([]byte("<189>123: %LINK-3-UPDOWN: up \xe9"), now, &m); err != nil {
		t.Fatal(err)
	}
	if m.App != "syslog" || m.Text != "123: %LINK-3-UPDOWN: up é" || p.Notes() != NoteDefaultApp|NoteLatin1 {
		t.Fatalf("got app %q text %q notes %b", m.App, m.Text, p.Notes())
	}
	if err := p.Parse([]byte("<13>1 - h - - - - x"), now, &m); err != nil || m.App != "syslog" {
		t.Fatalf("rfc5424 NILVALUE app: %q %v", m.App, err)
	}
}

func TestRFC3164Allocs(t *testing.T) {
	frames := [][]byte{
		[]byte("<13>Dec  2 02:05:42 vm tagnc[4001] no colon with pid"),
		[]byte("<13>2026-12-02T02:03:42.981234+00:00 myhost fwdapp[99]: forwardformat test"),
		[]byte("<14>tag[42]: msg"),
	}
	var p Parser
	var m sluice.Message
	for _, f := range frames {
		if n := testing.AllocsPerRun(100, func() { _ = p.Parse(f, received, &m) }); n != 0 {
			t.Errorf("Parse(%q) allocates %v times, want 0", f, n)
		}
	}
}

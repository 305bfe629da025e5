package syslog

import (
	"bytes"
	"testing"
	"time"

	"github.com/influxdata/go-syslog/v3/rfc5424"

	"github.com/sluice-logs/sluice"
)

var parseSeeds = []string{
	benchMessage,
	"<190>1 2026-11-25T20:29:46.123456+00:00 host app web.1 - Started GET \"/\"",
	`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event`,
	`<165>1 2003-10-11T22:14:15Z h a p m [a x="q\"u\]o\\te"][b@1 y="ü"] text`,
	`<13>1 - h a p m [a x="1"][a y="2"] m`,
	`<13>1 - h a p m [a x="\n"] m`,
	"<0>1 - - - - - -",
	"<14>1 2026-01-02T03:04:05-07:30 h app 42 - - \xEF\xBB\xBFhällo\r\n",
	"<13>1 - h a p m - bad \xff\xfe",
	"<13>Mar  1 08:00:00 web1 nginx[1234]: GET / 200\n",
	"<192>1 - - - - - - x",
	"<13>1 2024-02-29T23:59:59.999999-23:59 h a p m - x",
	"<13>1 2025-02-29T00:00:00Z h a p m - x",
	"<01>1 - - - - - -",
	"<13>1 0000-01-01T00:00:00Z - - - - -",
	"<13>1 2026-01-02T03:04:05Z h a p m - x\n<13>1 2026-01-02T03:04:59.5+01:00 h a p m - y",
	"<13>1 2026-01-02T03:04:05Z h a p m - x\n<13>1 2026-01-02T03:05:05.000001-00:30 h a p m - y",
	"<13>1 2026-01-02T03:04:05Z h a p m - x\n<13>1 2026-01-02T03:04:60Z h a p m - y",
	"<13>1 1969-12-31T23:59:59.999999-23:59 h a p m - x\n<13>1 1969-12-31T23:59:00.1Z h a p m - y",
	// RFC 3164 dialects.
	"<13>2026-12-02T02:03:42.981234+00:00 myhost fwdapp[99]: forwardformat test",
	"<13>Dec  2 02:05:42 vm tagnc[4001] no colon with pid",
	"<14>tag[42]: msg",
	"<189>123: *Dec  2 02:05:42.123: %LINK-3-UPDOWN: up",
	"<166>Dec 02 2026 02:05:42: %ASA-6-302013: Built",
	"2026-12-02T02:03:42.981234+00:00 myhost app[1]: file format",
	"<13>Feb 29 23:59:60.123456789 fe80::1 a[]: x",
	"<13>Dec  2 02:05:42 h app[1:\xe9",
}

// FuzzParse checks the fast path against go-syslog: whenever the fast path
// accepts a message, go-syslog accepts it too and the fields agree. Parse
// itself must never panic.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var m sluice.Message
		_ = Parse(in, received, &m)
		checkFastAgainstGoSyslog(t, in)
		checkParserAgainstParse(t, in)
	})
}

// checkParserAgainstParse parses the first line of in and then the rest
// with one Parser: what it remembers of the first must not change how it
// parses the second, which must come out exactly as Parse has it.
func checkParserAgainstParse(t *testing.T, in []byte) {
	t.Helper()
	first, second, ok := bytes.Cut(in, []byte("\n"))
	if !ok {
		second = in
	}
	var p Parser
	var m1, m2 sluice.Message
	_ = p.Parse(first, received, &m1)
	err1 := p.Parse(second, received, &m1)
	err2 := Parse(second, received, &m2)
	if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
		t.Fatalf("after %q, Parser.Parse(%q) = %v, Parse = %v", first, second, err1, err2)
	}
	if !equalMessage(m1, m2) {
		t.Fatalf("after %q, Parser.Parse(%q)\n got %+v\nwant %+v", first, second, m1, m2)
	}
}

func TestFastPathDifferential(t *testing.T) {
	for _, s := range parseSeeds {
		checkFastAgainstGoSyslog(t, []byte(s))
		checkParserAgainstParse(t, []byte(s))
	}
}

func checkFastAgainstGoSyslog(t *testing.T, in []byte) {
	t.Helper()
	frame := trimEOL(in)
	if len(frame) == 0 || frame[0] != '<' {
		return
	}
	var fast sluice.Message
	if parseFast(frame, received, &fast, false) != fastOK {
		return
	}
	res, err := rfc5424.NewMachine().Parse(frame)
	if err != nil {
		t.Fatalf("fast path accepted %q, go-syslog refused it: %v", frame, err)
	}
	var slow sluice.Message
	if err := parseRFC5424(frame, received, &slow); err != nil {
		t.Fatalf("fast path accepted %q, slow path refused it: %v", frame, err)
	}
	if !equalMessage(fast, slow) {
		t.Fatalf("fast and slow paths disagree on %q\nfast %+v\nslow %+v", frame, fast, slow)
	}
	// The raw SD text must agree with go-syslog's parsed elements: as many
	// elements as '[' that open one.
	msg := res.(*rfc5424.SyslogMessage)
	if (msg.StructuredData == nil) != (fast.StructuredData == "") {
		t.Fatalf("structured data of %q: fast %q, go-syslog %v", frame, fast.StructuredData, msg.StructuredData)
	}
	if msg.Timestamp != nil {
		_, off1 := msg.Timestamp.Zone()
		_, off2 := fast.Time.Zone()
		if !msg.Timestamp.Equal(fast.Time) || off1 != off2 {
			t.Fatalf("timestamp of %q: fast %v, go-syslog %v", frame, fast.Time, *msg.Timestamp)
		}
	}
}

func TestTimestampZonesCached(t *testing.T) {
	frame := []byte("<13>1 2026-01-02T03:04:05.5+05:45 h a p m - x")
	var m sluice.Message
	allocs := testing.AllocsPerRun(50, func() {
		if err := Parse(frame, time.Now(), &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message with a +05:45 offset, want 0", allocs)
	}
}

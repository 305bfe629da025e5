package syslog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-logs/sluice"
)

var received = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// parseFast is Parser.fast without a Parser.
func parseFast(b []byte, received time.Time, m *sluice.Message, noSD bool) fastResult {
	var p Parser
	return p.fast(b, received, m, noSD)
}

// parseTimestamp parses an RFC 5424 TIMESTAMP that is all of b, without a
// cache.
func parseTimestamp(b []byte) (time.Time, bool) {
	var c tsCache
	t, n, ok := c.parse(b)
	return t, ok && n == len(b)
}

func TestParseGolden(t *testing.T) {
	long := strings.Repeat("x", 20000)
	tests := []struct {
		name    string
		in      string
		want    sluice.Message
		wantErr string // substring; "" means success
		utf8Err bool
	}{
		{
			name: "logplex without structured data",
			in:   "<190>1 2026-11-25T20:29:46.123456+00:00 host app web.1 - Started GET \"/\"",
			want: sluice.Message{Time: time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC), App: "app", Source: "app",
				Proc: "web.1", Host: "host", Text: `Started GET "/"`, Facility: 23, Severity: 6},
		},
		{
			name: "rfc5424 with structured data",
			in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event`,
			want: sluice.Message{Time: time.Date(2003, 10, 11, 22, 14, 15, 3000000, time.UTC), App: "evntslog", Source: "app",
				Host: "mymachine.example.com", MsgID: "ID47",
				StructuredData: `[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]`,
				Text:           "An application event", Facility: 20, Severity: 5},
		},
		{
			name: "rfc5424 two sd elements and escapes",
			in:   `<165>1 2003-10-11T22:14:15Z h a p m [a x="q\"u\]o\\te"][b@1 y="ü"] text`,
			want: sluice.Message{Time: time.Date(2003, 10, 11, 22, 14, 15, 0, time.UTC), App: "a", Source: "app", Proc: "p",
				Host: "h", MsgID: "m", StructuredData: `[a x="q\"u\]o\\te"][b@1 y="ü"]`, Text: "text", Facility: 20, Severity: 5},
		},
		{
			name: "rfc5424 sd only",
			in:   `<13>1 - h a p m [id@1 k="v"]`,
			want: sluice.Message{Time: received, App: "a", Source: "app", Proc: "p", Host: "h", MsgID: "m",
				StructuredData: `[id@1 k="v"]`, Facility: 1, Severity: 5},
		},
		{
			name: "rfc5424 all nil, no timestamp",
			in:   "<0>1 - - - - - -",
			want: sluice.Message{Time: received, Source: "app"},
		},
		{
			name: "rfc5424 bom and crlf stripped",
			in:   "<14>1 2026-01-02T03:04:05-07:30 h app 42 - - \xEF\xBB\xBFhällo\r\n",
			want: sluice.Message{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", -(7*3600+30*60))), App: "app",
				Source: "app", Proc: "42", Host: "h", Text: "hällo", Facility: 1, Severity: 6},
		},
		{
			name: "rfc5424 version 2 (slow path)",
			in:   `<14>2 2026-01-02T03:04:05Z h app 42 - [x a="q\"x"] body`,
			want: sluice.Message{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), App: "app", Source: "app", Proc: "42",
				Host: "h", StructuredData: `[x a="q\"x"]`, Text: "body", Facility: 1, Severity: 6},
		},
		{
			name: "rfc5424 long message",
			in:   "<14>1 - h app - - - " + long,
			want: sluice.Message{Time: received, App: "app", Source: "app", Host: "h", Text: long, Facility: 1, Severity: 6},
		},
		{
			name: "rfc5424 empty msg after space",
			in:   "<14>1 - h app - - - ",
			want: sluice.Message{Time: received, App: "app", Source: "app", Host: "h", Facility: 1, Severity: 6},
		},
		{
			name: "rfc3164",
			in:   "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			want: sluice.Message{Time: time.Date(2026, 10, 11, 22, 14, 15, 0, time.UTC).AddDate(-1, 0, 0), App: "su", Source: "app",
				Host: "mymachine", Text: "'su root' failed for lonvick on /dev/pts/8", Facility: 4, Severity: 2},
		},
		{
			name: "rfc3164 with pid",
			in:   "<13>Mar  1 08:00:00 web1 nginx[1234]: GET / 200\n",
			want: sluice.Message{Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), App: "nginx", Proc: "1234", Source: "app",
				Host: "web1", Text: "GET / 200", Facility: 1, Severity: 5},
		},
		{
			name: "rfc3164 rfc3339 timestamp",
			in:   "<13>2026-03-01T08:00:00Z web1 cron: job done",
			want: sluice.Message{Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), App: "cron", Source: "app",
				Host: "web1", Text: "job done", Facility: 1, Severity: 5},
		},
		{name: "empty", in: "\r\n", wantErr: "empty"},
		{
			name: "no pri: user.notice, all text",
			in:   "hello world",
			want: sluice.Message{Time: received, Source: "app", Text: "hello world", Facility: 1, Severity: 5},
		},
		{
			name: "version 0 is no rfc5424: all text",
			in:   "<13>0 - - - - - -",
			want: sluice.Message{Time: received, Source: "app", Text: "0 - - - - - -", Facility: 1, Severity: 5},
		},
		{name: "pri too large", in: "<192>1 - - - - - - x", wantErr: "priority"},
		{name: "bad timestamp", in: "<13>1 2026-02-30T00:00:00Z h a - - - x", wantErr: "rfc5424"},
		{name: "missing sd", in: "<13>1 - h a p m", wantErr: "rfc5424"},
		{name: "duplicate sd id", in: `<13>1 - h a p m [a x="1"][a y="2"] m`, wantErr: "duplicate"},
		{name: "bad sd", in: `<13>1 - h a p m [a x=1] m`, wantErr: "rfc5424"},
		{name: "app too long", in: "<13>1 - h " + strings.Repeat("a", 49) + " p m - x", wantErr: "app-name"},
		{
			name: "latin1 rfc5424",
			in:   "<13>1 - h a p m - bad \xff\xfe",
			want: sluice.Message{Time: received, Source: "app", App: "a", Proc: "p", Host: "h", MsgID: "m", Text: "bad ÿþ", Facility: 1, Severity: 5},
		},
		{
			name: "latin1 rfc5424 slow",
			in:   "<13>2 - h a p m - bad \xc3\x28",
			want: sluice.Message{Time: received, Source: "app", App: "a", Proc: "p", Host: "h", MsgID: "m", Text: "bad Ã(", Facility: 1, Severity: 5},
		},
		{
			name: "latin1 rfc3164, valid utf-8 kept",
			in:   "<13>Mar  1 08:00:00 web1 app: caf\xe9 café",
			want: sluice.Message{Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Source: "app", App: "app", Host: "web1", Text: "café café", Facility: 1, Severity: 5},
		},
		{name: "binary garbage", in: "<\x00\x01\x02\xff>", wantErr: "priority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m sluice.Message
			err := Parse([]byte(tt.in), received, &m)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error containing %q", tt.in, m, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				if got := errors.Is(err, ErrInvalidUTF8); got != tt.utf8Err {
					t.Fatalf("errors.Is(%v, ErrInvalidUTF8) = %v, want %v", err, got, tt.utf8Err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !equalMessage(m, tt.want) {
				t.Fatalf("Parse(%q)\n got %+v\nwant %+v", tt.in, m, tt.want)
			}
		})
	}
}

// equalMessage compares messages, times by instant and UTC offset.
func equalMessage(a, b sluice.Message) bool {
	_, ao := a.Time.Zone()
	_, bo := b.Time.Zone()
	if !a.Time.Equal(b.Time) || ao != bo {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b
}

func TestParseFastPathAllocs(t *testing.T) {
	frame := []byte(benchMessage)
	var m sluice.Message
	if r := parseFast(frame, received, &m, false); r != fastOK {
		t.Fatalf("fast path refused the benchmark message: %v", r)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := Parse(frame, received, &m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %v times per message on the fast path, want 0", allocs)
	}
}

func TestParseTimestampOffsets(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"2026-01-02T03:04:05.1+01:00", time.Date(2026, 1, 2, 2, 4, 5, 100000000, time.UTC), true},
		{"2026-01-02T03:04:05.123456-05:17", time.Date(2026, 1, 2, 8, 21, 5, 123456000, time.UTC), true},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"2025-02-29T00:00:00Z", time.Time{}, false},
		{"2026-01-02T03:04:05.1234567Z", time.Time{}, false},
		{"2026-01-02t03:04:05Z", time.Time{}, false},
		{"2026-01-02T24:00:00Z", time.Time{}, false},
		{"2026-01-02T03:04:05+24:00", time.Time{}, false},
		{"2026-01-02T03:04:05", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseTimestamp([]byte(tt.in))
			if ok != tt.ok || (ok && !got.Equal(tt.want)) {
				t.Fatalf("parseTimestamp(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestTimestampInstants compares parsed timestamps with time.Date over
// years 0 to 9999, every UTC offset form and fraction length, parsed by one
// Parser in a row (as a connection does) and each on its own. The times
// must be identical values, not only the same instant.
func TestTimestampInstants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var p Parser
	for range 20000 {
		year := rng.IntN(10000)
		if rng.IntN(2) == 0 {
			year = 1960 + rng.IntN(100)
		}
		month := 1 + rng.IntN(12)
		day := 1 + rng.IntN(daysIn(month, year))
		hour, minute, sec := rng.IntN(24), rng.IntN(60), rng.IntN(60)
		digits := rng.IntN(7)
		frac := rng.IntN(int(pow10[digits]))
		off := rng.IntN(2*24*60-1) - (24*60 - 1)
		zulu := rng.IntN(4) == 0
		if zulu {
			off = 0
		}
		ts := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, sec)
		if digits > 0 {
			ts += fmt.Sprintf(".%0*d", digits, frac)
		}
		loc := zone(off)
		switch {
		case zulu:
			ts += "Z"
			loc = time.UTC
		case off < 0:
			ts += fmt.Sprintf("-%02d:%02d", -off/60, -off%60)
		default:
			ts += fmt.Sprintf("+%02d:%02d", off/60, off%60)
		}
		nsec := 0
		if digits > 0 {
			nsec = frac * pow10[9-digits]
		}
		want := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
		got, ok := parseTimestamp([]byte(ts))
		if !ok || got != want {
			t.Fatalf("parseTimestamp(%q) = %v, %v; want %v", ts, got, ok, want)
		}
		var m sluice.Message
		frame := []byte("<13>1 " + ts + " h a p m - x")
		if err := p.Parse(frame, received, &m); err != nil || m.Time != want {
			t.Fatalf("Parser.Parse(%q): time %v, err %v; want %v", frame, m.Time, err, want)
		}
	}
}

// TestValidUTF8 checks the ASCII fast path against utf8.Valid for every
// length up to 40 with a valid or invalid non-ASCII byte at every position.
func TestValidUTF8(t *testing.T) {
	for n := 0; n <= 40; n++ {
		ascii := []byte(strings.Repeat("a", n))
		if !validUTF8(ascii) {
			t.Fatalf("validUTF8(%q) = false", ascii)
		}
		for pos := 0; pos < n; pos++ {
			for _, ins := range []string{"\xff", "é", "\xc3", "€"} {
				b := append(append(append([]byte{}, ascii[:pos]...), ins...), ascii[pos+1:]...)
				if got, want := validUTF8(b), utf8.Valid(b); got != want {
					t.Fatalf("validUTF8(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

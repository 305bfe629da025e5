package sluice

import (
	"testing"
	"time"
)

func TestAppendLine(t *testing.T) {
	ts := time.Date(2026, 11, 25, 20, 29, 46, 123456789, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		m    Message
		want string
	}{
		{Message{Time: ts, Source: "app", Proc: "web.1", Text: "hello"}, "2026-11-25T19:29:46.123456+00:00 app[web.1]: hello\n"},
		{Message{Time: ts, Source: "router", Text: "no proc"}, "2026-11-25T19:29:46.123456+00:00 router: no proc\n"},
		{Message{Time: ts, Text: "no source"}, "2026-11-25T19:29:46.123456+00:00 app: no source\n"},
	} {
		if got := string(AppendLine(nil, &c.m)); got != c.want {
			t.Errorf("AppendLine = %q, want %q", got, c.want)
		}
	}
}

func TestAppendRFC5424(t *testing.T) {
	ts := time.Date(2026, 11, 25, 20, 29, 46, 1000, time.UTC)
	m := Message{Time: ts, App: "web", Proc: "web.1", Host: "h 1", Facility: 1, Severity: 6, Text: "hi"}
	want := "<14>1 2026-11-25T20:29:46.000001+00:00 h_1 web web.1 - - hi"
	if got := string(AppendRFC5424(nil, &m)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	m.StructuredData, m.MsgID, m.Text = `[a@1 b="c"]`, "ID7", ""
	want = `<14>1 2026-11-25T20:29:46.000001+00:00 h_1 web web.1 ID7 [a@1 b="c"]`
	if got := string(AppendRFC5424(nil, &m)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestAppendLogplex(t *testing.T) {
	ts := time.Date(2026, 11, 25, 20, 29, 46, 1000, time.UTC)
	for _, c := range []struct {
		name       string
		m          Message
		host       string
		http, sysl string
	}{
		{"router line", Message{Time: ts, App: "web", Source: "router", Proc: "-", Facility: 1, Severity: 6, Text: "at=info method=GET"}, "host",
			"<14>1 2026-11-25T20:29:46.000001+00:00 host router - - at=info method=GET",
			"<14>1 2026-11-25T20:29:46.000001+00:00 host router - - - at=info method=GET\n"},
		{"app line, no source", Message{Time: ts, App: "web", Proc: "web.1", Facility: 1, Severity: 6, Text: "hi"}, "d.1234",
			"<14>1 2026-11-25T20:29:46.000001+00:00 d.1234 app web.1 - hi",
			"<14>1 2026-11-25T20:29:46.000001+00:00 d.1234 app web.1 - - hi\n"},
		{"empty message keeps the space", Message{Time: ts, Source: "heroku", Proc: "logplex", Facility: 23, Severity: 4}, "host",
			"<188>1 2026-11-25T20:29:46.000001+00:00 host heroku logplex - ",
			"<188>1 2026-11-25T20:29:46.000001+00:00 host heroku logplex - - \n"},
		{"message ending in LF gets no second LF", Message{Time: ts, Source: "app", Proc: "web.1", Facility: 1, Severity: 6, Text: "a\nb\n"}, "host",
			"<14>1 2026-11-25T20:29:46.000001+00:00 host app web.1 - a\nb\n",
			"<14>1 2026-11-25T20:29:46.000001+00:00 host app web.1 - - a\nb\n"},
		{"spaces in header fields", Message{Time: ts, Source: "my src", Facility: 1, Severity: 6, Text: "x"}, "",
			"<14>1 2026-11-25T20:29:46.000001+00:00 - my_src - - x",
			"<14>1 2026-11-25T20:29:46.000001+00:00 - my_src - - - x\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := string(AppendLogplex(nil, &c.m, c.host)); got != c.http {
				t.Errorf("AppendLogplex = %q, want %q", got, c.http)
			}
			if got := string(AppendLogplexSyslog(nil, &c.m, c.host)); got != c.sysl {
				t.Errorf("AppendLogplexSyslog = %q, want %q", got, c.sysl)
			}
		})
	}
	m := Message{Time: ts, Source: "app", Proc: "web.1", Text: "hello"}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendLogplex(buf[:0], &m, "host") }); n != 0 {
		t.Errorf("AppendLogplex allocates %v times, want 0", n)
	}
}

func TestDropNotice(t *testing.T) {
	since := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	want := "Error L10 (output buffer overflow): 42 messages dropped since 2026-11-25T20:00:00Z."
	if got := DropNotice("L10", "output buffer overflow", 42, since); got != want {
		t.Fatalf("got %q", got)
	}
}

func TestCloneSharesNothing(t *testing.T) {
	buf := []byte("webweb.1hello")
	m := Message{App: unsafeString(buf[:3]), Proc: unsafeString(buf[3:8]), Text: unsafeString(buf[8:])}
	c := m.Clone()
	copy(buf, "XXXXXXXXXXXXX")
	if c.App != "web" || c.Proc != "web.1" || c.Text != "hello" {
		t.Fatalf("clone changed with the buffer: %+v", c)
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.Clone() }); n > 1 {
		t.Fatalf("Clone allocates %v times, want 1", n)
	}
}

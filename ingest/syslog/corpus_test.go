package syslog

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
	"testing"

	"github.com/sluice-logs/sluice"
	syslogcodec "github.com/sluice-logs/sluice/codec/syslog"
	"github.com/sluice-logs/sluice/internal/golden"
	"github.com/sluice-logs/sluice/metrics"
)

// corpusLine is the part of a golden expected line that does not depend on
// when the message arrived.
type corpusLine struct {
	App      string `json:"app"`
	Proc     string `json:"proc"`
	Host     string `json:"host"`
	Severity uint8  `json:"severity"`
	Facility uint8  `json:"facility"`
	Text     string `json:"text"`
}

// TestCorpusTransports sends every dialect of testdata/syslog through real
// sockets, LF-, NUL- and octet-framed over TCP and one per datagram over
// UDP: every line arrives, in order, with the fields of the golden file,
// and with the time the codec gives the line at the time it arrived.
func TestCorpusTransports(t *testing.T) {
	transports := []struct {
		name string
		udp  bool
		wire func(lines [][]byte) [][]byte // what to write: one slice per write (TCP) or datagram
	}{
		{"tcp-lf", false, joined("\n")},
		{"tcp-nul", false, joined("\x00")},
		{"tcp-crlf", false, joined("\r\n")},
		{"tcp-octet", false, func(lines [][]byte) [][]byte {
			var b []byte
			for _, l := range lines {
				b = append(strconv.AppendInt(b, int64(len(l)), 10), ' ')
				b = append(b, l...)
			}
			return [][]byte{b}
		}},
		{"udp", true, func(lines [][]byte) [][]byte { return lines }},
	}
	cases := golden.Cases(t, "syslog")
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			rec := &recorder{}
			cfg, m := testConfig(rec)
			var addr net.Addr
			if tr.udp {
				addr = start(t, NewUDP(cfg))
			} else {
				addr = start(t, NewTCP(cfg))
			}
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					lines := golden.Lines(c.Input)
					var want []corpusLine
					for _, l := range golden.Lines(c.Expected) {
						var cl corpusLine
						if err := json.Unmarshal(l, &cl); err != nil {
							t.Fatalf("expected of %s: %v", c.Name, err)
						}
						want = append(want, cl)
					}
					before := len(rec.messages())
					network := "tcp"
					if tr.udp {
						network = "udp"
					}
					conn, err := net.Dial(network, addr.String())
					if err != nil {
						t.Fatal(err)
					}
					for _, w := range tr.wire(lines) {
						if _, err := conn.Write(w); err != nil {
							t.Fatal(err)
						}
					}
					conn.Close()
					waitFor(t, c.Name+" messages", func() bool { return len(rec.messages()) >= before+len(lines) })
					got := rec.messages()[before:]
					if len(got) != len(lines) {
						t.Fatalf("%d messages for %d lines", len(got), len(lines))
					}
					for i, g := range got {
						gl := corpusLine{App: g.App, Proc: g.Proc, Host: g.Host, Severity: g.Severity, Facility: g.Facility, Text: g.Text}
						if gl != want[i] {
							t.Errorf("line %d %q\n got %+v\nwant %+v", i+1, lines[i], gl, want[i])
						}
						p := syslogcodec.Parser{DefaultApp: DefaultApp}
						var w sluice.Message
						if err := p.Parse(lines[i], g.Time, &w); err != nil || !w.Time.Equal(g.Time) {
							t.Errorf("line %d %q: time %v, the codec says %v (%v)", i+1, lines[i], g.Time, w.Time, err)
						}
					}
				})
			}
			transport := metrics.SyslogTCP
			if tr.udp {
				transport = metrics.SyslogUDP
			}
			for _, r := range []string{"malformed", "bad_octet_count", "invalid_utf8", "truncated"} {
				if n := rejected(m, transport, r); n != 0 {
					t.Errorf("rejected %s = %d, want 0", r, n)
				}
			}
			if n := rejected(m, transport, "latin1_converted"); n != 2 {
				t.Errorf("latin1_converted = %d, want 2 (the latin1 case)", n)
			}
			if n := rejected(m, transport, "default_app"); n == 0 {
				t.Errorf("default_app = 0, want the network devices' and Python's lines counted")
			}
		})
	}
}

// joined writes the lines, each followed by sep, in writes that split the
// stream at awkward places (inside lines and separators).
func joined(sep string) func(lines [][]byte) [][]byte {
	return func(lines [][]byte) [][]byte {
		b := append(bytes.Join(lines, []byte(sep)), sep...)
		var out [][]byte
		for len(b) > 0 {
			n := min(len(b), 37)
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
}

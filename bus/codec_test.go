package bus

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/internal/golden"
)

// TestCodecGolden pins the wire form: each case's input is a record value
// in hex (spaces and newlines ignored), expected the decoded message or
// the error. A value that decodes is encoded again to the same bytes.
func TestCodecGolden(t *testing.T) {
	golden.Run(t, "bus", func(t *testing.T, input []byte) []byte {
		raw, err := hex.DecodeString(strings.Join(strings.Fields(string(input)), ""))
		if err != nil {
			t.Fatalf("input is not hex: %v", err)
		}
		m, err := Decode(raw)
		if err != nil {
			return []byte("error: " + err.Error() + "\n")
		}
		if again := Encode(nil, &m); !bytes.Equal(again, raw) {
			t.Errorf("re-encoded:\n%x\nwant\n%x", again, raw)
		}
		return []byte(describe(m))
	})
}

func describe(m sluice.Message) string {
	var b strings.Builder
	if !m.Time.IsZero() {
		fmt.Fprintf(&b, "time: %s\n", m.Time.Format(time.RFC3339Nano))
	} else {
		b.WriteString("time: none\n")
	}
	fmt.Fprintf(&b, "facility: %d\nseverity: %d\n", m.Facility, m.Severity)
	for _, f := range []struct{ k, v string }{{"app", m.App}, {"source", m.Source}, {"proc", m.Proc},
		{"host", m.Host}, {"msgid", m.MsgID}, {"sd", m.StructuredData}, {"text", m.Text}} {
		fmt.Fprintf(&b, "%s: %q\n", f.k, f.v)
	}
	return b.String()
}

func TestCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 7, 1, 2, 345678901, time.FixedZone("", 5*3600+1800))
	for _, tc := range []struct {
		name string
		m    sluice.Message
	}{
		{"full", sluice.Message{Time: at, App: "web", Source: "app", Proc: "web.1", Host: "h", MsgID: "ID1",
			StructuredData: `[x@1 a="b\]"]`, Text: "hello\nworld\x00\u2028<b>", Facility: 23, Severity: 7}},
		{"zero", sluice.Message{}},
		{"utc", sluice.Message{Time: at.UTC(), App: "a", Text: strings.Repeat("x", 70000)}},
		{"before 1970", sluice.Message{Time: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), App: "old"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Encode(nil, &tc.m)
			if len(b) > EncodedSize(&tc.m) {
				t.Errorf("encoded %d bytes, EncodedSize %d", len(b), EncodedSize(&tc.m))
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tc.m.Time) || got.Time.IsZero() != tc.m.Time.IsZero() {
				t.Errorf("time %v, want %v", got.Time, tc.m.Time)
			}
			_, o1 := got.Time.Zone()
			_, o2 := tc.m.Time.Zone()
			if o1 != o2 {
				t.Errorf("offset %d, want %d", o1, o2)
			}
			got.Time, tc.m.Time = time.Time{}, time.Time{}
			if got != tc.m {
				t.Errorf("got %+v\nwant %+v", got, tc.m)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(nil, &sluice.Message{Time: time.Unix(1, 2), App: "a", Text: "t"}))
	f.Add(Encode(nil, &sluice.Message{}))
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes encodes to a value that decodes to the same
		// message (a non-minimal varint is accepted, written minimal).
		again, err := Decode(Encode(nil, &m))
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !again.Time.Equal(m.Time) || again.Time.IsZero() != m.Time.IsZero() {
			t.Fatalf("time %v, want %v", again.Time, m.Time)
		}
		again.Time, m.Time = time.Time{}, time.Time{}
		if again != m {
			t.Fatalf("round trip %+v, want %+v", again, m)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	m := sluice.Message{Time: time.Now(), App: "web", Source: "app", Proc: "web.1", Host: "host-1",
		Text: strings.Repeat("a log line ", 10), Facility: 1, Severity: 6}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = Encode(buf[:0], &m)
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

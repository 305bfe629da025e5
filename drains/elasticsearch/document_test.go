package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

var docTime = time.Date(2026, 11, 25, 20, 29, 46, 123456789, time.FixedZone("x", 3600))

func TestDocument(t *testing.T) {
	tests := []struct {
		name string
		m    sluice.Message
		want string
	}{
		{
			name: "minimal",
			m:    sluice.Message{Time: docTime, App: "web", Text: "hello", Facility: 1, Severity: 6},
			want: `{"@timestamp":"2026-11-25T19:29:46.123456Z","app":"web","source":"app","severity":"info","facility":"user","message":"hello"}`,
		},
		{
			name: "every field",
			m: sluice.Message{Time: docTime, App: "web", Source: "router", Proc: "web.1", Host: "h1", MsgID: "ID47",
				StructuredData: `[exampleSDID@32473 iut="3" eventSource="Application"][origin ip="10.0.0.1"]`,
				Text:           "line \"one\"\ttab\n", Facility: 16, Severity: 3},
			want: `{"@timestamp":"2026-11-25T19:29:46.123456Z","app":"web","source":"router","proc":"web.1","host":"h1",` +
				`"severity":"err","facility":"local0","msgid":"ID47",` +
				`"sd":{"exampleSDID@32473":{"iut":"3","eventSource":"Application"},"origin":{"ip":"10.0.0.1"}},` +
				`"message":"line \"one\"\ttab\n"}`,
		},
		{
			name: "repeated params and ids merge, escapes removed",
			m: sluice.Message{Time: docTime, App: "a", Text: "x", Facility: 23, Severity: 0,
				StructuredData: `[origin ip="1" ip="2"][meta q="a\"b\\c\]d" e="\x"][origin ip="3" sw="z"]`},
			want: `{"@timestamp":"2026-11-25T19:29:46.123456Z","app":"a","source":"app","severity":"emerg","facility":"local7",` +
				`"sd":{"origin":{"ip":["1","2","3"],"sw":"z"},"meta":{"q":"a\"b\\c]d","e":"\\x"}},"message":"x"}`,
		},
		{
			name: "malformed structured data is kept as a string",
			m:    sluice.Message{Time: docTime, App: "a", Text: "x", Facility: 1, Severity: 7, StructuredData: `[broken`},
			want: `{"@timestamp":"2026-11-25T19:29:46.123456Z","app":"a","source":"app","severity":"debug","facility":"user","structured_data":"[broken","message":"x"}`,
		},
		{
			name: "nil structured data and out-of-range pri parts",
			m:    sluice.Message{Time: docTime, App: "a", Text: "x", Facility: 30, Severity: 9, StructuredData: "-"},
			want: `{"@timestamp":"2026-11-25T19:29:46.123456Z","app":"a","source":"app","severity":"9","facility":"30","message":"x"}`,
		},
		{
			name: "control characters and invalid utf-8",
			m:    sluice.Message{Time: docTime, App: "a", Text: "\x00\x1f\xffé\u2028", Facility: 1, Severity: 6},
			want: `{"@timestamp":"2026-11-25T19:29:46.123456Z","app":"a","source":"app","severity":"info","facility":"user","message":"\u0000\u001f\ufffdé\u2028"}`,
		},
	}
	var e encoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(e.appendDocument(nil, &tt.m))
			if got != tt.want {
				t.Fatalf("document\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("document is not valid JSON: %s", got)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	var e encoder
	times := []time.Time{
		docTime,
		docTime.Add(time.Microsecond),
		docTime.Add(time.Second),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("y", -5*3600)),
		docTime,
	}
	for _, ts := range times {
		want := ts.UTC().Format(TimestampLayout)
		if got := string(e.appendTimestamp(nil, ts)); got != want {
			t.Errorf("timestamp of %v = %s, want %s", ts, got, want)
		}
	}
}

func TestParseSD(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`[a]`, true},
		{`[a][b]`, true},
		{`[a b="" c="d"]`, true},
		{`[a b="]"]`, true},
		{`[a b="\\"]`, true},
		{``, false},
		{`a`, false},
		{`[]`, false},
		{`[a `, false},
		{`[a b]`, false},
		{`[a b=c]`, false},
		{`[a b="c]`, false},
		{`[a b="c\"]`, false},
		{`[a b="c"d]`, false},
		{`[a] [b]`, false},
		{`[a]x`, false},
		{`[a =""]`, false},
		{`[a` + strings.Repeat(` p="v"`, maxSDParams+1) + `]`, false},
	}
	var p sdParser
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := p.parse(tt.in); got != tt.ok {
				t.Fatalf("parse(%q) = %v, want %v", tt.in, got, tt.ok)
			}
		})
	}
}

// FuzzDocument checks that every message makes one valid JSON object with
// the message text intact.
func FuzzDocument(f *testing.F) {
	f.Add(`[a b="c"]`, "hello", "web")
	f.Add(`[a b="c\"" b="d"][a e="f"][g]`, "\x00\xff", "Web")
	f.Add(`[x y="\]"`, "line\n", "")
	var e encoder
	f.Fuzz(func(t *testing.T, sd, text, app string) {
		m := sluice.Message{Time: docTime, App: app, Text: text, StructuredData: sd, Facility: 1, Severity: 6}
		doc := e.appendDocument(nil, &m)
		var v map[string]any
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatalf("invalid JSON %q: %v", doc, err)
		}
		if err := noDuplicateKeys(doc); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if strings.ToValidUTF8(text, "\ufffd") == text && v["message"] != text {
			t.Fatalf("message %q, want %q", v["message"], text)
		}
		if sdv, ok := v["sd"].(map[string]any); ok {
			for id, params := range sdv {
				if _, ok := params.(map[string]any); !ok || id == "" {
					t.Fatalf("sd[%q] = %v, want an object", id, params)
				}
			}
		}
	})
}

// noDuplicateKeys reports a key that appears twice in one JSON object:
// Elasticsearch refuses such documents.
func noDuplicateKeys(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type level struct {
		keys   map[string]bool
		object bool
		key    bool // the next string token is a key
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		_, isDelim := tok.(json.Delim)
		if top != nil && top.object && top.key && !isDelim {
			k := tok.(string)
			if top.keys[k] {
				return fmt.Errorf("duplicate key %q", k)
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{keys: map[string]bool{}, object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

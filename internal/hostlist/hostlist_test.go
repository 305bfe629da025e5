package hostlist

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw, host, user, path, query string
		err                          bool
	}{
		{raw: "kafka://a:1,b/t", host: "a:1,b", path: "/t"},
		{raw: "kafka://a,b:9093/t", host: "a,b:9093", path: "/t"},
		{raw: "kafka://[::1]:1,b:2,[fe80::1]/t?acks=one", host: "[::1]:1,b:2,[fe80::1]", path: "/t", query: "acks=one"},
		{raw: "kafka://u:p%40s@a:1,b/t", host: "a:1,b", user: "u", path: "/t"},
		{raw: "kafka://a:1,b", host: "a:1,b"},
		{raw: "kafka://h:1/t", host: "h:1", path: "/t"},
		{raw: "kafka://h:x/t", err: true},
		{raw: "kafka://a,b/t%zz", err: true},
		{raw: "not a url at all", path: "not a url at all"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := Parse(tt.raw)
			if tt.err {
				if err == nil {
					t.Fatalf("no error, got %+v", u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Host != tt.host || u.Path != tt.path || u.RawQuery != tt.query || u.User.Username() != tt.user {
				t.Errorf("host %q path %q query %q user %q", u.Host, u.Path, u.RawQuery, u.User.Username())
			}
		})
	}
}

func TestAddrAndTopic(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"a", "a:9092", ""},
		{"a:1", "a:1", ""},
		{"[::1]", "[::1]:9092", ""},
		{"[::1]:7", "[::1]:7", ""},
		{"::1", "", "want host:port"},
		{"", "", "empty address"},
		{":9", "", "empty host"},
		{"a:0", "", "invalid port"},
		{"a:x", "", "invalid port"},
	} {
		got, err := Addr(c.in, "9092")
		if got != c.want || (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
			t.Errorf("Addr(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
	for topic, ok := range map[string]bool{"logs": true, "a.b_c-1": true, "": false, ".": false, "..": false,
		"a/b": false, "a b": false, strings.Repeat("x", 249): true, strings.Repeat("x", 250): false} {
		if err := Topic(topic); (err == nil) != ok {
			t.Errorf("Topic(%q) = %v, want ok=%v", topic, err, ok)
		}
	}
}

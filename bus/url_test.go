package bus

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		want      func(Config) bool
		err       string
	}{
		{"defaults", "kafka://127.0.0.1:9092/logs", func(c Config) bool {
			return c.Topic == "logs" && c.Acks == "all" && c.Compression == "lz4" && c.Partitions == 64 &&
				c.Replication == 1 && len(c.Brokers) == 1
		}, ""},
		{"three brokers", "kafka://a:1,b:9093,c:9092/t?partitions=12&acks=one&compression=zstd", func(c Config) bool {
			return strings.Join(c.Brokers, " ") == "a:1 b:9093 c:9092" && c.Partitions == 12 &&
				c.Acks == "one" && c.Compression == "zstd" && c.Replication == 3
		}, ""},
		{"timeout", "kafka://h:1/t?timeout=2s", func(c Config) bool { return c.Timeout == 2*time.Second }, ""},
		{"default timeout", "kafka://h:1/t", func(c Config) bool { return c.Timeout == DefaultTimeout }, ""},
		{"bad timeout", "kafka://h:1/t?timeout=1ns", nil, "timeout"},
		{"last broker without a port", "kafka://a:1,b/t", func(c Config) bool { return strings.Join(c.Brokers, " ") == "a:1 b:9092" }, ""},
		{"ipv6 brokers", "kafka://u:p@[::1]:9093,[fe80::1],c/t", func(c Config) bool {
			return strings.Join(c.Brokers, " ") == "[::1]:9093 [fe80::1]:9092 c:9092" && c.User == "u"
		}, ""},
		{"empty broker in the list", "kafka://a:1,,b/t", nil, `broker ""`},
		{"default port", "kafka://h/t", func(c Config) bool { return c.Brokers[0] == "h:9092" }, ""},
		{"sasl", "kafka://u:p%40ss@h:1/t?tls=1", func(c Config) bool { return c.User == "u" && c.Password == "p@ss" && c.TLS }, ""},
		{"every problem at once", "http://h:0/a%20b?acks=2&partitions=0&x=1&y=2", nil,
			`scheme "http"`},
		{"no topic", "kafka://h:1", nil, "missing"},
		{"no broker", "kafka:///t", nil, "no broker"},
		{"repeated", "kafka://h:1/t?acks=all&acks=one", nil, "more than once"},
		{"unknown", "kafka://h:1/t?format=json", nil, `unknown parameters "format"`},
		{"newline in topic", "kafka://h:1/a%0Ab", nil, "may only contain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseURL(tc.url)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Errorf("got %+v", c)
			}
			if strings.Contains(c.Redacted(), c.Password) && c.Password != "" {
				t.Errorf("Redacted %q shows the password", c.Redacted())
			}
		})
	}
	_, err := ParseURL("http://h:0/a%20b?acks=2&partitions=0&x=1")
	for _, want := range []string{"scheme", "port", "topic", "acks", "partitions", "unknown"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %s", err, want)
		}
	}
}

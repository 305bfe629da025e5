package kafka

import (
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-logs/sluice/drains"
)

func mustParse(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return u
}

// freeAddr returns a loopback address nothing listens on (a port the
// kernel handed out and that was released again).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestParseURL(t *testing.T) {
	def := Config{Format: FormatRFC5424, Compression: "lz4", Acks: "all", MaxBytes: DefaultMaxBytes}
	with := func(f func(c *Config)) Config {
		c := def
		c.Brokers = []string{"k1:9092"}
		c.Topic = "logs"
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		raw     string
		want    Config
		wantErr []string // substrings of the error, all of them
	}{
		{name: "minimal", raw: "kafka://k1/logs", want: with(func(*Config) {})},
		{name: "two brokers", raw: "kafka://k1:9093,10.0.0.2:9092/logs", want: with(func(c *Config) {
			c.Brokers = []string{"k1:9093", "10.0.0.2:9092"}
		})},
		{name: "ipv6", raw: "kafka://[::1]:9094/logs", want: with(func(c *Config) { c.Brokers = []string{"[::1]:9094"} })},
		{name: "all options", raw: "kafka://u:p%40ss@k1:9092/app.logs-1?format=json&compression=zstd&acks=one&tls=true&max_bytes=512KiB",
			want: with(func(c *Config) {
				c.Topic = "app.logs-1"
				c.Format, c.Compression, c.Acks, c.TLS, c.MaxBytes = FormatJSON, "zstd", "one", true, 512<<10
				c.User, c.Password = "u", "p@ss"
			})},
		{name: "each codec none", raw: "kafka://k1/logs?compression=none", want: with(func(c *Config) { c.Compression = "none" })},
		{name: "each codec gzip", raw: "kafka://k1/logs?compression=gzip", want: with(func(c *Config) { c.Compression = "gzip" })},
		{name: "each codec snappy", raw: "kafka://k1/logs?compression=snappy", want: with(func(c *Config) { c.Compression = "snappy" })},
		{name: "no topic", raw: "kafka://k1:9092", wantErr: []string{"topic"}},
		{name: "nested topic", raw: "kafka://k1:9092/a/b", wantErr: []string{`topic "a/b"`}},
		{name: "no broker", raw: "kafka:///logs", wantErr: []string{"no broker"}},
		{name: "bad port", raw: "kafka://k1:99999/logs", wantErr: []string{`broker "k1:99999"`}},
		{name: "wrong scheme", raw: "http://k1/logs", wantErr: []string{`scheme "http"`}},
		{name: "every problem at once", raw: "kafka://k1/logs?format=xml&compression=brotli&acks=none&tls=maybe&max_bytes=1x&zzz=1&aaa=2",
			wantErr: []string{`format "xml"`, `compression "brotli"`, `acks "none"`, `tls "maybe"`, `max_bytes "1x"`, `unknown parameters "aaa", "zzz"`}},
		{name: "max_bytes too small", raw: "kafka://k1/logs?max_bytes=10", wantErr: []string{"max_bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := mustParse(tt.raw)
			got, err := ParseURL(u, u.Query())
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseURL(%s) = %+v, want an error", tt.raw, got)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("ParseURL(%s) error %q does not mention %q", tt.raw, err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%s): %v", tt.raw, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseURL(%s)\n got %+v\nwant %+v", tt.raw, got, tt.want)
			}
		})
	}
}

// TestParseURLAfterOptions checks the wiring drains/open uses: the common
// options are taken out first, the rest goes to ParseURL.
func TestParseURLAfterOptions(t *testing.T) {
	u := mustParse("kafka://k1/logs?batch=100&policy=block&compression=gzip&timeout=2s")
	opts, rest, err := drains.ParseOptions(u.Query())
	if err != nil {
		t.Fatalf("ParseOptions: %v", err)
	}
	cfg, err := ParseURL(u, rest)
	if err != nil {
		t.Fatalf("ParseURL: %v", err)
	}
	if opts.Batch != 100 || opts.Policy != drains.PolicyBlock || cfg.Compression != "gzip" {
		t.Fatalf("opts %+v cfg %+v", opts, cfg)
	}
	if _, err := New(cfg, opts, nil); err != nil {
		t.Fatalf("New: %v", err)
	}
}

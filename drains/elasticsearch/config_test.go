package elasticsearch

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    Config
		wantURL string
		wantErr []string // substrings of the error; nil: no error
	}{
		{
			name:    "defaults",
			raw:     "elasticsearch://es.internal",
			want:    Config{Index: DefaultIndex, Op: OpIndex},
			wantURL: "http://es.internal:9200",
		},
		{
			name:    "everything",
			raw:     "elasticsearch://writer:s3cr%40t@10.0.0.7:9201/es/?index=app-{app}-{2006.01}&op=create&tls=1&batch=100",
			want:    Config{User: "writer", Password: "s3cr@t", Index: "app-{app}-{2006.01}", Op: OpCreate},
			wantURL: "https://10.0.0.7:9201/es",
		},
		{
			name:    "ipv6 without port",
			raw:     "elasticsearch://[::1]?tls=0",
			want:    Config{Index: DefaultIndex, Op: OpIndex},
			wantURL: "http://[::1]:9200",
		},
		{
			name:    "static index",
			raw:     "elasticsearch://h:1?index=logs",
			want:    Config{Index: "logs", Op: OpIndex},
			wantURL: "http://h:1",
		},
		{
			name:    "every problem at once",
			raw:     "elasticsearch://h:99999?op=upsert&tls=maybe&index=Logs&colour=red&gzip=1",
			wantErr: []string{`host "h:99999": invalid port`, `op "upsert"`, `tls "maybe"`, `index "Logs": "Logs": index names must be lower case`, `unknown parameters "colour", "gzip"`},
		},
		{name: "no host", raw: "elasticsearch:///x", wantErr: []string{"no host"}},
		{name: "wrong scheme", raw: "es://h", wantErr: []string{`scheme "es"`}},
		{name: "user without name", raw: "elasticsearch://:pw@h", wantErr: []string{"user info without a user name"}},
		{name: "unclosed brace", raw: "elasticsearch://h?index=logs-{app", wantErr: []string{"'{' without '}'"}},
		{name: "stray brace", raw: "elasticsearch://h?index=logs-}", wantErr: []string{"'}' without '{'"}},
		{name: "unknown field", raw: "elasticsearch://h?index=logs-{host}", wantErr: []string{"{host}: want {app} or a Go time layout"}},
		{name: "forbidden character", raw: "elasticsearch://h?index=logs*", wantErr: []string{"must not contain"}},
		{name: "leading underscore", raw: "elasticsearch://h?index=_logs-{app}", wantErr: []string{"must not start with"}},
		{name: "empty index", raw: "elasticsearch://h?index=", wantErr: []string{`index "": empty`}},
		{name: "repeated parameter", raw: "elasticsearch://h?op=index&op=create", wantErr: []string{"given more than once"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.raw)
			if err != nil {
				t.Fatalf("url.Parse: %v", err)
			}
			_, rest, err := drains.ParseOptions(u.Query())
			if err != nil {
				t.Fatalf("ParseOptions: %v", err)
			}
			got, err := ParseURL(u, rest)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseURL(%q) = %+v, want an error", tt.raw, got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "s3cr") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.raw, err)
			}
			if got.URL.String() != tt.wantURL {
				t.Errorf("URL = %q, want %q", got.URL, tt.wantURL)
			}
			got.URL = nil
			if got != tt.want {
				t.Errorf("config = %+v, want %+v", got, tt.want)
			}
			if _, err := New(mustConfig(t, tt.raw), drains.Options{}, nil); err != nil {
				t.Errorf("New with the parsed config: %v", err)
			}
		})
	}
}

func mustConfig(t testing.TB, raw string) Config {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, err := drains.ParseOptions(u.Query())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseURL(u, rest)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{}, "no url"},
		{"user info in url", Config{URL: &url.URL{Scheme: "http", Host: "h:1", User: url.UserPassword("u", "p")}}, "user info"},
		{"scheme", Config{URL: &url.URL{Scheme: "elasticsearch", Host: "h:1"}}, `scheme "elasticsearch"`},
		{"op", Config{URL: &url.URL{Scheme: "http", Host: "h:1"}, Op: "delete"}, `op "delete"`},
		{"index", Config{URL: &url.URL{Scheme: "http", Host: "h:1"}, Index: "A"}, "lower case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, drains.Options{}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestIndexPattern(t *testing.T) {
	at := time.Date(2026, 11, 25, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 01:30 UTC next day
	tests := []struct {
		pattern, app, want string
	}{
		{DefaultIndex, "web", "logs-web-2026.11.26"},
		{"logs", "web", "logs"},
		{"{app}", "web", "web"},
		{"x-{app}-{app}", "a", "x-a-a"},
		{"logs-{app}-{2006.01.02.15}", "web", "logs-web-2026.11.26.01"},
		{"logs-{15.04.05.000}", "web", "logs-01.30.00.000"},
		{"logs-{Jan}-{app}", "web", "logs-nov-web"},
		{"logs-{app}", `My"App*<x>|y,z#:\Q`, "logs-my_app__x__y_z___q"},
		{"logs-{app}", "café", "logs-caf__"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.app, func(t *testing.T) {
			p, err := compileIndex(tt.pattern)
			if err != nil {
				t.Fatalf("compileIndex: %v", err)
			}
			m := sluice.Message{App: tt.app, Time: at}
			if got := string(p.appendIndex(nil, &m, nil)); got != tt.want {
				t.Fatalf("index = %q, want %q", got, tt.want)
			}
			// The per-second cache gives the same names across seconds,
			// days and apps.
			var c indexCache
			for i, d := range []time.Duration{0, 0, time.Millisecond, 26 * time.Hour, 26*time.Hour + 1, time.Second, 0} {
				m := sluice.Message{App: tt.app, Time: at.Add(d)}
				if i == 5 {
					m.App = "other"
				}
				want := string(p.appendIndex(nil, &m, nil))
				if got := string(p.appendIndex(nil, &m, &c)); got != want {
					t.Fatalf("cached index #%d = %q, want %q", i, got, want)
				}
			}
		})
	}
}

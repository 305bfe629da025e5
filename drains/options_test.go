package drains_test

import (
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/drains"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		want    func(o *drains.Options)
		rest    string
		errs    []string // substrings that must all appear
		wantErr bool
	}{
		{name: "defaults", query: "", want: func(o *drains.Options) {}},
		{
			name:  "all set",
			query: "apps=web,api&policy=block&queue=100&queue_bytes=1MiB&batch=10&batch_bytes=64KiB&flush=250ms&timeout=3s&format=ndjson",
			want: func(o *drains.Options) {
				o.Apps = []string{"web", "api"}
				o.Policy = drains.PolicyBlock
				o.Queue, o.QueueBytes, o.Batch, o.BatchBytes = 100, 1<<20, 10, 64<<10
				o.Flush, o.Timeout = 250*time.Millisecond, 3*time.Second
			},
			rest: "format=ndjson",
		},
		{
			name:    "every problem at once",
			query:   "policy=maybe&queue=-1&batch=x&flush=soon&queue_bytes=12XB&apps=a/b",
			wantErr: true,
			errs:    []string{`policy="maybe"`, `queue="-1"`, `batch="x"`, `flush="soon"`, `queue_bytes="12XB"`, `apps="a/b"`},
		},
		{name: "batch above queue", query: "queue=10&batch=20", wantErr: true, errs: []string{"batch=20", "queue=10"}},
		{name: "repeated", query: "batch=1&batch=2", wantErr: true, errs: []string{"more than once"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			o, rest, err := drains.ParseOptions(q)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseOptions(%q) = %+v, want error", tc.query, o)
				}
				for _, s := range tc.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOptions(%q): %v", tc.query, err)
			}
			want := drains.DefaultOptions()
			tc.want(&want)
			if strings.Join(o.Apps, ",") != strings.Join(want.Apps, ",") || o.Policy != want.Policy ||
				o.Queue != want.Queue || o.QueueBytes != want.QueueBytes || o.Batch != want.Batch ||
				o.BatchBytes != want.BatchBytes || o.Flush != want.Flush || o.Timeout != want.Timeout {
				t.Fatalf("ParseOptions(%q) = %+v, want %+v", tc.query, o, want)
			}
			if got := rest.Encode(); got != tc.rest {
				t.Fatalf("rest = %q, want %q", got, tc.rest)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:s3cret@logs.example.com/x?apps=web", "https://xxxxx@logs.example.com/x?apps=web"},
		{"https://user@logs.example.com/", "https://xxxxx@logs.example.com/"},
		{"http://TOKEN@logs.example.com:8080/inputs", "http://xxxxx@logs.example.com:8080/inputs"},
		{"http://h/p?token=abc&batch=5&api_key=k&Drain_Token=t", "http://h/p?token=xxxxx&batch=5&api_key=xxxxx&Drain_Token=xxxxx"},
		{"kafka://u:p@b1:9092,b2:9092/topic", "kafka://xxxxx@b1:9092,b2:9092/topic"},
		// The path's first segment is printed, the rest is not.
		{"https://logs.example.com/inputs/TOKEN/tag/web", "https://logs.example.com/inputs/xxxxx"},
		{"https://logs.example.com/inputs/TOKEN?policy=block&x=TOKEN", "https://logs.example.com/inputs/xxxxx?policy=block&x=xxxxx"},
		{"https://logs.example.com/a%2FTOKEN/b", "https://logs.example.com/a%2FTOKEN/xxxxx"},
		{"https://logs.example.com/inputs/TOKEN#frag", "https://logs.example.com/inputs/xxxxx"},
		{"elasticsearch://u:TOKEN@es:9200/base/TOKEN?index=logs-{app}&op=create", "elasticsearch://xxxxx@es:9200/base/xxxxx?index=logs-{app}&op=create"},
		// public_path=1 prints the path and the parameters, never user
		// info or credential-like parameters.
		{"https://u:p@logs.example.com/inputs/abc/tag?public_path=1&x=y&api_key=K", "https://xxxxx@logs.example.com/inputs/abc/tag?public_path=1&x=y&api_key=xxxxx"},
		{"https://logs.example.com/inputs/abc/tag?public_path=0&x=y", "https://logs.example.com/inputs/xxxxx?public_path=0&x=xxxxx"},
		{"https://logs.example.com/inputs/abc/tag?public_path=maybe", "https://logs.example.com/inputs/xxxxx?public_path=maybe"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := drains.Redact(u); got != tc.want {
				t.Fatalf("Redact = %q, want %q", got, tc.want)
			}
		})
	}
	for _, raw := range []string{"http://u:pa ss@h:bad port/?token=zz", "http://h:bad port/inputs/zz", "http://zz@h:x:y/"} {
		if got := drains.RedactString(raw); strings.Contains(got, "pa ss") || strings.Contains(got, "zz") {
			t.Fatalf("RedactString(%q) leaked a secret: %q", raw, got)
		}
	}
}

// TestOptionDocs keeps OptionDocs, OptionNames and the README's list of
// defaults in step: each default is written once, in DefaultOptions.
func TestOptionDocs(t *testing.T) {
	docs := drains.OptionDocs()
	if len(docs) != len(drains.OptionNames) {
		t.Fatalf("%d docs for %d options", len(docs), len(drains.OptionNames))
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		if d.Name != drains.OptionNames[i] {
			t.Errorf("doc %d is %q, want %q", i, d.Name, drains.OptionNames[i])
		}
		if d.Name == "apps" || d.Name == "policy" {
			continue // written as prose in the README
		}
		if want := "`" + d.Name + "=" + d.Default + "`"; !strings.Contains(string(readme), want) {
			t.Errorf("README does not give the default %s", want)
		}
		// The printed default parses back to the default.
		q := url.Values{d.Name: {d.Default}}
		o, _, err := drains.ParseOptions(q)
		if err != nil || !reflect.DeepEqual(o, drains.DefaultOptions()) {
			t.Errorf("ParseOptions(%s=%s) = %+v, %v; want the defaults", d.Name, d.Default, o, err)
		}
	}
}

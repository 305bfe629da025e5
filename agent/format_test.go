package agent

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
)

func TestMetaOf(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		path                 string
		format               format
		app, proc, namespace string
	}{
		{"/var/log/containers/web-7d4b9c8f6d-x2x9z_shop_server-" + id + ".log", formatCRI, "web", "server", "shop"},
		{"/var/log/containers/agent-x2x9z_kube-system_agent-" + id + ".log", formatCRI, "agent", "agent", "kube-system"},
		{"/var/log/containers/db-0_default_postgres-" + id + ".log", formatCRI, "db", "postgres", "default"},
		{"/var/log/containers/api-worker_default_main-" + id + ".log", formatCRI, "api-worker", "main", "default"},
		{"/var/lib/docker/containers/" + id + "/" + id + "-json.log", formatDocker, id[:12], id[:12], ""},
		{"/var/log/nginx/access.log", formatPlain, "access", "access", ""},
	}
	a := &Agent{}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			m := metaOf(tt.path)
			if m.format != tt.format || a.appOf(m) != tt.app || a.procOf(m) != tt.proc || m.fields["namespace"] != tt.namespace {
				t.Fatalf("got format %d app %q proc %q fields %v", m.format, a.appOf(m), a.procOf(m), m.fields)
			}
		})
	}
	a.cfg.App = "{namespace}.{pod} x"
	if got := a.appOf(metaOf(tests[0].path)); got != "shop.web_x" {
		t.Fatalf("template app %q", got)
	}
}

func TestDecode(t *testing.T) {
	ts := time.Date(2026, 12, 1, 10, 0, 0, 1, time.UTC)
	tests := []struct {
		name, in string
		want     line
	}{
		{"cri full", "2026-12-01T10:00:00.000000001Z stdout F hello world", line{text: []byte("hello world"), time: ts}},
		{"cri partial stderr", "2026-12-01T10:00:00.000000001Z stderr P part", line{text: []byte("part"), partial: true, stderr: true, time: ts}},
		{"cri empty", "2026-12-01T10:00:00.000000001Z stdout F", line{text: nil, time: ts}},
		{"not cri", "just text", line{text: []byte("just text")}},
		{"bad stream", "2026-12-01T10:00:00.000000001Z other F x", line{text: []byte("2026-12-01T10:00:00.000000001Z other F x")}},
		{"docker", `{"log":"hi\n","stream":"stderr","time":"2026-12-01T10:00:00.000000001Z"}`, line{text: []byte("hi"), stderr: true, time: ts}},
		{"docker partial", `{"log":"hi","stream":"stdout","time":"2026-12-01T10:00:00.000000001Z"}`, line{text: []byte("hi"), partial: true, time: ts}},
		{"docker escapes", `{"log":"a\u001b[0m\u0000b\n","stream":"stdout","time":"2026-12-01T10:00:00.000000001Z"}`, line{text: []byte("a\x1b[0m\x00b"), time: ts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeCRI([]byte(tt.in))
			if string(got.text) != string(tt.want.text) || got.partial != tt.want.partial || got.stderr != tt.want.stderr || !got.time.Equal(tt.want.time) {
				t.Fatalf("got %+v (%q), want %+v", got, got.text, tt.want)
			}
		})
	}
}

// recorder is a Sink that keeps what it is given and acknowledges all.
type recorder struct {
	msgs    []string
	reports []string
}

func (r *recorder) Add(_ context.Context, m *sluice.Message) (uint64, error) {
	r.msgs = append(r.msgs, m.Text)
	return uint64(len(r.msgs)), nil
}
func (r *recorder) Acked() uint64           { return uint64(len(r.msgs)) }
func (r *recorder) Report(app, text string) { r.reports = append(r.reports, text) }

func TestMultiline(t *testing.T) {
	in := strings.Join([]string{
		"INFO start",
		"Exception in thread \"main\" java.lang.IllegalStateException: boom",
		"\tat com.example.Main.run(Main.java:10)",
		"Caused by: java.io.IOException: disk",
		"\t... 3 more",
		"ERROR failed",
		"Traceback (most recent call last):",
		"  File \"app.py\", line 3, in <module>",
		"    main()",
		"ValueError: bad value",
		"INFO next",
	}, "\n") + "\n"
	dir := t.TempDir()
	p := dir + "/app.log"
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	a, err := New(Config{Globs: []string{dir + "/*.log"}, Multiline: true}, r)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	for range 3 { // the last event is held one round for continuations
		if err := a.runRound(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"INFO start",
		"Exception in thread \"main\" java.lang.IllegalStateException: boom\n\tat com.example.Main.run(Main.java:10)\nCaused by: java.io.IOException: disk\n\t... 3 more",
		"ERROR failed\nTraceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    main()\nValueError: bad value",
		"INFO next",
	}
	if strings.Join(r.msgs, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", r.msgs, want)
	}
}

package open_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/open"
	"github.com/sluice-logs/sluice/internal/eventually"
)

// secret stands for a credential in a drain URL; it must never print.
const secret = "S3CRETTOKEN"

// syncBuffer is a bytes.Buffer that slog handlers may write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSecretsNeverPrint (issue 10 row 9): for every drain kind, a URL with
// a token in its user info, its path and its query is printed redacted in
// Parse's errors, in the Worker's Status (GET /drains) and its JSON, in
// the drain's delivery errors and in everything logged through the
// injected slog handler while the drain fails to deliver.
func TestSecretsNeverPrint(t *testing.T) {
	addr := closedPort(t)
	tests := []struct {
		name, raw string
		want      string // in the Status URL
	}{
		{"http user info", "http://" + secret + "@" + addr + "/inputs/" + secret + "/tag?api_key=" + secret + "&token=" + secret + "&timeout=300ms",
			"http://xxxxx@" + addr + "/inputs/xxxxx?api_key=xxxxx&token=xxxxx&timeout=300ms"},
		{"https password", "https://user:" + secret + "@" + addr + "/" + secret + "?timeout=300ms",
			"https://xxxxx@" + addr + "/" + secret + "?timeout=300ms"},
		{"http public_path", "http://u:" + secret + "@" + addr + "/inputs/abc?public_path=1&sig=" + secret + "&timeout=300ms",
			"http://xxxxx@" + addr + "/inputs/abc?public_path=1&sig=xxxxx&timeout=300ms"},
		{"kafka sasl", "kafka://user:" + secret + "@" + addr + "/logs?timeout=300ms", "kafka://xxxxx@" + addr + "/logs?timeout=300ms"},
		{"elasticsearch", "elasticsearch://user:" + secret + "@" + addr + "/base/" + secret + "?index=logs&timeout=300ms",
			"elasticsearch://xxxxx@" + addr + "/base/xxxxx?index=logs&timeout=300ms"},
		{"syslog drain_token", "syslog://" + addr + "?drain_token=" + secret + "&timeout=300ms", "syslog://" + addr + "?drain_token=xxxxx&timeout=300ms"},
		{"syslog+tls drain_token", "syslog+tls://" + addr + "?drain_token=" + secret + "&timeout=300ms", "syslog+tls://" + addr + "?drain_token=xxxxx&timeout=300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// https with a path token: the first segment is the token here,
			// and the rule prints the first segment; that row checks only
			// that the password does not print.
			checkFirstSegment := !strings.HasPrefix(tt.raw, "https://")
			leaks := func(what, s string) {
				t.Helper()
				if strings.Contains(s, ":"+secret+"@") || strings.Contains(s, secret+"@") ||
					strings.Contains(s, "="+secret) || (checkFirstSegment && strings.Contains(s, secret)) {
					t.Fatalf("%s prints the secret: %s", what, s)
				}
			}
			// Parse errors: the same URL with a bad option.
			if _, err := open.Parse("x", tt.raw+"&policy=maybe"); err == nil {
				t.Fatal("Parse accepted policy=maybe")
			} else {
				leaks("Parse's error", err.Error())
			}
			spec, err := open.Parse("x", tt.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var logs syncBuffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

			// A delivery error, straight from the drain.
			d, err := open.NewDrain(spec, log)
			if err != nil {
				t.Fatalf("NewDrain: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			batch := []sluice.Message{{Time: time.Now(), App: "web", Source: "app", Proc: "web.1", Text: "hello"}}
			if err := d.Send(ctx, batch); err == nil {
				t.Fatal("Send to a closed port succeeded")
			} else {
				leaks("Send's error", err.Error())
			}
			if err := d.Check(ctx); err != nil {
				leaks("Check's error", err.Error())
			}
			_ = d.Close(ctx)
			cancel()

			// The Worker: its Status (what GET /drains serves) and logs.
			w, err := open.New(spec, drains.WorkerConfig{Logger: log, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			if err != nil {
				t.Fatalf("open.New: %v", err)
			}
			w.Start()
			if err := w.Enqueue(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			eventually.True(t, "a failed delivery", func() bool { return w.Status().LastError != "" })
			stopCtx, stopCancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			w.Stop(stopCtx)
			stopCancel()
			st := w.Status()
			if st.URL != tt.want {
				t.Errorf("Status URL = %q, want %q", st.URL, tt.want)
			}
			leaks("Status.LastError", st.LastError)
			j, _ := json.Marshal(st)
			leaks("GET /drains JSON", string(j))
			if logs.String() == "" {
				t.Fatal("nothing logged")
			}
			leaks("the logs", logs.String())
			t.Logf("%s: %s | %s", strconv.Quote(st.URL), st.LastError, firstLine(logs.String()))
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

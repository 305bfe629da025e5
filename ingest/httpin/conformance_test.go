package httpin

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"testing"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/ingest/sourcetest"
)

func TestConformance(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	post := func(t *testing.T, addr string, body []byte) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, addr+Route, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctNDJSON)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	partial := "POST /logs HTTP/1.1\r\nHost: sluice\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\nhello"
	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T, deps ingest.Deps) ingest.Source {
			return New(Config{Publisher: deps.Publisher, Metrics: deps.Metrics, Logger: deps.Logger})
		},
		Send: func(t *testing.T, addr string, msgs []sluice.Message) {
			var body []byte
			for _, m := range msgs {
				line, err := json.Marshal(map[string]string{"app": m.App, "msg": m.Text})
				if err != nil {
					t.Fatal(err)
				}
				body = append(append(body, line...), '\n')
			}
			if status := post(t, addr, body); status != http.StatusNoContent {
				t.Fatalf("POST of %d messages: status %d, want 204", len(msgs), status)
			}
		},
		SendBad: func(t *testing.T, addr string) string {
			if status := post(t, addr, []byte(`{"app":"web","msg":`+"\n")); status != http.StatusBadRequest {
				t.Fatalf("POST of a broken line: status %d, want 400", status)
			}
			return "malformed"
		},
		Dial: func(t *testing.T, addr string) net.Conn {
			c, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", addr[len("http://"):])
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
		Partial: []byte(partial),
	})
}

package daemon_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAuthBeforeBody is issue 10 row 1's last part: a request with a wrong
// token cost a full body read (~17 MB each) before its 401. Now an ingest
// request whose token is refused is answered from its headers alone: the
// client here declares a 16 MB body and sends none of it, yet gets its
// answer at once (before, the server waited for the body until its read
// timeout).
func TestAuthBeforeBody(t *testing.T) {
	r := start(t, "TOKENS=t.good=web", "ADMIN_TOKEN=t.admin")
	addr := strings.TrimPrefix(r.base, "http://")
	const declared = "16000000"
	for _, c := range []struct {
		name, path, auth, extra, transport string
		want                               int
	}{
		{"wrong token", "/logs", "Bearer t.wrong", "", "http", 401},
		{"no token", "/logs", "", "", "http", 401},
		{"admin token", "/logs", "Bearer t.admin", "", "http", 403},
		{"wrong token, chunked", "/logs", "Bearer t.wrong", "Transfer-Encoding: chunked\r\n", "http", 401},
		{"wrong token, expect 100-continue", "/logs", "Bearer t.wrong", "Expect: 100-continue\r\n", "http", 401},
		{"otlp wrong token", "/v1/logs", "Bearer t.wrong", "", "otlp_http", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			series := `sluice_ingest_rejected_total{reason="unauthorized",transport="` + c.transport + `"}`
			if c.want == 403 {
				series = `sluice_ingest_rejected_total{reason="forbidden_app",transport="` + c.transport + `"}`
			}
			before := metric(t, r, series)
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctype := "application/logplex-1"
			if c.path == "/v1/logs" {
				ctype = "application/x-protobuf"
			}
			hdr := "POST " + c.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype + "\r\n"
			if c.auth != "" {
				hdr += "Authorization: " + c.auth + "\r\n"
			}
			if c.extra != "Transfer-Encoding: chunked\r\n" {
				hdr += "Content-Length: " + declared + "\r\n"
			}
			hdr += c.extra + "\r\n"
			if c.extra == "Transfer-Encoding: chunked\r\n" {
				hdr += "f42400\r\n" // a 16 MB chunk announced, none of it sent
			}
			if _, err := io.WriteString(conn, hdr); err != nil {
				t.Fatal(err)
			}
			// The body never comes: the answer must not need it.
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer without the body: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			if got := metric(t, r, series); got != before+1 {
				t.Fatalf("%s = %v, want %v", series, got, before+1)
			}
		})
	}
	t.Run("good token still reads the body", func(t *testing.T) {
		code, body := r.post("/logs", "application/logplex-1", "t.good", []byte(octet("<190>1 - h web web.1 - - hello")))
		if code != 204 {
			t.Fatalf("good token: %d %s", code, body)
		}
		if code, body := r.get("/apps/web/logs", "t.good"); code != 200 || !strings.Contains(body, "hello") {
			t.Fatalf("read back: %d %q", code, body)
		}
	})
}

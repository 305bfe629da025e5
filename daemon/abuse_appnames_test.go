package daemon_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestAppNamesReadBack is issue 10 row 10: `?app=%2e%2e` and `?app=.` were
// accepted (204) but could never be read back (GET /apps/../logs is
// /logs). Now "." and ".." are refused on every ingest path, and every
// name that is accepted can be read back with its path segment escaped.
func TestAppNamesReadBack(t *testing.T) {
	r := start(t)
	t.Run("accepted names read back", func(t *testing.T) {
		for i, app := range []string{
			"a.b", "...", ".x", "x.", "..x", "a;b", `a"b`, `a\b`, "a+b", "a&b", "a=b",
			"<x>", "{y}", "a|b", "^", "`", "~", "!$'()*,:@", "-x", "_",
		} {
			t.Run(app, func(t *testing.T) {
				text := fmt.Sprintf("line %d", i)
				code, body := r.post("/logs?app="+url.QueryEscape(app), "text/plain", "", []byte(text+"\n"))
				if code != 204 {
					t.Fatalf("POST app %q: %d %s", app, code, body)
				}
				code, body = r.get("/apps/"+url.PathEscape(app)+"/logs", "")
				if code != 200 || !strings.Contains(body, text) {
					t.Fatalf("GET app %q: %d %q, want 200 with %q", app, code, body, text)
				}
			})
		}
	})
	for _, app := range []string{".", ".."} {
		t.Run("refused "+app, func(t *testing.T) {
			for _, c := range []struct {
				name, path, ctype, body string
			}{
				{"query", "/logs?app=" + url.QueryEscape(app), "text/plain", "x\n"},
				{"query percent-encoded", "/logs?app=" + strings.ReplaceAll(app, ".", "%2e"), "text/plain", "x\n"},
				{"logplex-1 frame", "/logs", "application/logplex-1", octet("<190>1 2026-11-25T10:00:00Z host " + app + " web.1 - - x")},
				{"ndjson app field", "/logs", "application/x-ndjson", `{"app":"` + app + `","message":"x"}` + "\n"},
			} {
				t.Run(c.name, func(t *testing.T) {
					if code, body := r.post(c.path, c.ctype, "", []byte(c.body)); code != 400 {
						t.Fatalf("POST %s: %d %s, want 400", c.path, code, body)
					}
				})
			}
			t.Run("otlp service.name", func(t *testing.T) {
				body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"` + app +
					`"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`
				before := metric(t, r, `sluice_ingest_rejected_total{reason="malformed",transport="otlp_http"}`)
				code, resp := r.post("/v1/logs", "application/json", "", []byte(body))
				if code == 200 && !strings.Contains(resp, `"rejectedLogRecords":"1"`) && !strings.Contains(resp, `"rejectedLogRecords":1`) {
					t.Fatalf("POST /v1/logs: %d %s, want the record rejected", code, resp)
				}
				if got := metric(t, r, `sluice_ingest_rejected_total{reason="malformed",transport="otlp_http"}`); got != before+1 {
					t.Fatalf("otlp malformed %v, want %v", got, before+1)
				}
			})
			t.Run("syslog APP-NAME", func(t *testing.T) {
				before := metric(t, r, `sluice_ingest_rejected_total{reason="malformed",transport="syslog_tcp"}`)
				r.sendTCP(octet("<190>1 2026-11-25T10:00:00Z host " + app + " web.1 - - x"))
				waitFor(t, func() bool {
					return metric(t, r, `sluice_ingest_rejected_total{reason="malformed",transport="syslog_tcp"}`) == before+1
				})
			})
		})
	}
}

package otlp

import (
	"bytes"
	"net"
	"net/http"
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/ingest"
	"github.com/sluice-logs/sluice/ingest/sourcetest"
)

// TestConformance runs the source suite on the OTLP handler mounted at
// /v1/logs, sending protobuf as the SDK exporters do: one request per Send,
// one resource per app.
func TestConformance(t *testing.T) {
	postBody := func(t *testing.T, addr string, body []byte) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, addr+Route, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	partial := "POST /v1/logs HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/x-protobuf\r\nContent-Length: 64\r\n\r\n\x0a\x3e"
	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T, deps ingest.Deps) ingest.Source {
			return New(Config{Publisher: deps.Publisher, Metrics: deps.Metrics, Logger: deps.Logger})
		},
		Send: func(t *testing.T, addr string, msgs []sluice.Message) {
			// One ResourceLogs per run of messages of one app, in order.
			req := &collogs.ExportLogsServiceRequest{}
			var sl *logspb.ScopeLogs
			for i, m := range msgs {
				if i == 0 || m.App != msgs[i-1].App {
					rl := exportReq([]*commonpb.KeyValue{str("service.name", m.App)}).ResourceLogs[0]
					req.ResourceLogs = append(req.ResourceLogs, rl)
					sl = rl.ScopeLogs[0]
				}
				sl.LogRecords = append(sl.LogRecords, textRecord(m.Text))
			}
			if status := postBody(t, addr, marshal(t, req)); status != http.StatusOK {
				t.Fatalf("POST of %d records: status %d, want 200", len(msgs), status)
			}
		},
		SendBad: func(t *testing.T, addr string) string {
			// A log record field whose length runs past the body.
			bad := appendField(nil, 1, appendField(nil, 2, []byte{0x12, 0x7f, 'x'}))
			if status := postBody(t, addr, bad); status != http.StatusBadRequest {
				t.Fatalf("POST of broken protobuf: status %d, want 400", status)
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

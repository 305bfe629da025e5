package load

import (
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"
)

// TestOTLPRequest: a batch of 500 pool messages over 100 apps is one
// request of 100 resources holding all 500 records, texts intact.
func TestOTLPRequest(t *testing.T) {
	p := NewPool(Options{Apps: 100})
	b, err := OTLPRequest(p, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	var req collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	if n := len(req.GetResourceLogs()); n != 100 {
		t.Fatalf("%d resources, want 100", n)
	}
	total := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				total++
				if lr.GetBody().GetStringValue() == "" || lr.GetTimeUnixNano() == 0 {
					t.Fatalf("record %v", lr)
				}
			}
		}
	}
	if total != 500 {
		t.Fatalf("%d records, want 500", total)
	}
}

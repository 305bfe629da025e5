package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestReasonLabels pins the label values: dashboards and alerts use them.
func TestReasonLabels(t *testing.T) {
	want := map[Reason]string{
		ReasonNone: "", ReasonMalformed: "malformed", ReasonBadOctetCount: "bad_octet_count",
		ReasonInvalidUTF8: "invalid_utf8", ReasonUnknownToken: "unknown_token",
		ReasonForbiddenApp: "forbidden_app", ReasonTruncated: "truncated", ReasonTooLarge: "too_large",
		ReasonIdleTimeout: "idle_timeout", ReasonBadGzip: "bad_gzip",
		ReasonUnsupportedMediaType: "unsupported_media_type", ReasonUnauthorized: "unauthorized",
		ReasonEmptyBody: "empty_body", ReasonMsgCountMismatch: "msg_count_mismatch",
		ReasonBackpressure: "backpressure", ReasonClosed: "closed",
		ReasonLatin1: "latin1_converted", ReasonDefaultApp: "default_app",
		ReasonKernelDrop: "kernel_drop", ReasonFrameTimeout: "frame_timeout",

		ReasonTooManyConnections: "too_many_connections", ReasonTooManyConnectionsPerIP: "too_many_connections_per_ip",
		ReasonMissingApp:   "missing_app",
		ReasonRateLimit:    "rate_limit",
		ReasonMemoryBudget: "memory_budget",
	}
	if len(want) != int(NumReasons) {
		t.Fatalf("%d reasons pinned, %d defined", len(want), NumReasons)
	}
	for r, s := range want {
		if r.String() != s {
			t.Errorf("Reason %d = %q, want %q", r, r.String(), s)
		}
	}
	if got := NumReasons.String(); got != "unknown" {
		t.Errorf("out-of-range reason = %q", got)
	}
}

func TestRejectedCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewIngest(reg)
	c := m.RejectedCounters(HTTP, ReasonMalformed, ReasonClosed, ReasonNone)
	for r := range NumReasons {
		if (c[r] != nil) != (r == ReasonMalformed || r == ReasonClosed) {
			t.Errorf("counter of %s resolved: %v", r, c[r] != nil)
		}
	}
	c[ReasonClosed].Inc()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, f := range fams {
		if f.GetName() == "sluice_ingest_rejected_total" {
			series = len(f.GetMetric())
		}
	}
	if series != 2 {
		t.Errorf("%d rejected series exported, want 2 (only the reasons asked for)", series)
	}
}

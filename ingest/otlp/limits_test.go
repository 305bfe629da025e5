package otlp

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
)

// emptyRecords is a protobuf request of n empty log records (2 bytes each
// on the wire) under one resource with attrs.
func emptyRecords(t *testing.T, n int, attrs ...*commonpb.KeyValue) []byte {
	t.Helper()
	recs := make([]*logspb.LogRecord, n)
	for i := range recs {
		recs[i] = &logspb.LogRecord{}
	}
	return marshal(t, exportReq(append([]*commonpb.KeyValue{str("service.name", "web")}, attrs...), recs...))
}

// TestRecordCap: a request of more than OTLP_MAX_RECORDS records gets 413
// before it is decoded (counted once, too_large); one at the cap passes.
func TestRecordCap(t *testing.T) {
	const limit = 1000
	s := startServer(t, serverOpts{maxBody: 1 << 20, maxRecords: limit})
	jsonRecords := func(n int) []byte {
		return []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},` +
			`"scopeLogs":[{"logRecords":[` + strings.TrimSuffix(strings.Repeat(`{},`, n), ",") + `]}]}]}`)
	}
	for _, tc := range []struct {
		name  string
		ctype string
		body  []byte
		code  int
	}{
		{"protobuf at the cap", "application/x-protobuf", emptyRecords(t, limit), 200},
		{"protobuf past the cap", "application/x-protobuf", emptyRecords(t, limit+1), 413},
		// 512 KiB of two-byte records: 260k records, refused before decoding.
		{"protobuf tiny-record flood", "application/x-protobuf", emptyRecords(t, 260_000), 413},
		{"JSON at the cap", "application/json", jsonRecords(limit), 200},
		{"JSON past the cap", "application/json", jsonRecords(limit + 1), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, beforeN := s.rejected("too_large"), s.accepted()
			a := post(t, s.url, tc.ctype, tc.body)
			if a.code != tc.code {
				t.Fatalf("status %d, want %d: %.200q", a.code, tc.code, a.body)
			}
			if tc.code == 200 {
				if ps := a.response(t).GetPartialSuccess(); ps != nil {
					t.Fatalf("partial success %v", ps)
				}
				if got := s.accepted() - beforeN; got != limit {
					t.Fatalf("accepted %v records, want %d", got, limit)
				}
				return
			}
			if st := a.status(t); !strings.Contains(st.GetMessage(), "OTLP_MAX_RECORDS") || st.GetCode() != 8 {
				t.Fatalf("status %v, want RESOURCE_EXHAUSTED naming OTLP_MAX_RECORDS", st)
			}
			if got := s.rejected("too_large") - before; got != 1 {
				t.Fatalf("too_large counted %v times, want 1 (the request)", got)
			}
		})
	}
}

// TestStructuredDataBudget: resource attributes are repeated in every
// record's structured data, so many records under a large resource map to
// far more than the body. What passes MAX_BODY_BYTES of structured data is
// refused per record in the partial success.
func TestStructuredDataBudget(t *testing.T) {
	const maxBody = 256 << 10
	s := startServer(t, serverOpts{maxBody: maxBody, maxRecords: 10_000})
	big := str("big", strings.Repeat("x", 8<<10)) // 8 KiB, repeated per record
	body := emptyRecords(t, 100, big)             // about 8 KiB on the wire, 800 KiB mapped
	a := post(t, s.url, "application/x-protobuf", body)
	ps := a.response(t).GetPartialSuccess()
	kept := int(s.accepted())
	if ps.GetRejectedLogRecords() == 0 || kept+int(ps.GetRejectedLogRecords()) != 100 {
		t.Fatalf("kept %d, partial success %v: want some refused, all counted", kept, ps)
	}
	if kept*(8<<10) > maxBody {
		t.Fatalf("kept %d records of 8 KiB of structured data each, over %d bytes", kept, maxBody)
	}
	if got := s.rejected("too_large"); got != float64(ps.GetRejectedLogRecords()) {
		t.Fatalf("too_large counted %v, want %d", got, ps.GetRejectedLogRecords())
	}
	if !strings.Contains(ps.GetErrorMessage(), "structured data") {
		t.Fatalf("partial success says %q", ps.GetErrorMessage())
	}
}

// TestInvalidUTF8 sends real non-UTF-8 bytes in protobuf string fields (a
// body, an attribute value, a resource attribute) and in OTLP/JSON: the
// records are kept with those bytes read as Latin-1, counted
// latin1_converted, and the valid records beside them are untouched.
func TestInvalidUTF8(t *testing.T) {
	// Marshal with placeholders of the same length, then put the bytes in:
	// the Go protobuf runtime refuses to marshal them itself.
	patch := func(b []byte, from, to string) []byte {
		if len(from) != len(to) || bytes.Count(b, []byte(from)) != 1 {
			t.Fatalf("placeholder %q", from)
		}
		return bytes.Replace(b, []byte(from), []byte(to), 1)
	}
	t.Run("protobuf", func(t *testing.T) {
		s := startServer(t, serverOpts{})
		attrRec := textRecord("attr")
		attrRec.Attributes = []*commonpb.KeyValue{str("user", "ren_PH1_")}
		body := marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "web")},
			textRecord("before"), textRecord("caf_PH0_ au lait"), attrRec, textRecord("after")))
		body = patch(body, "_PH0_", "\xe9\xe9\xe9\xe9\xe9")
		body = patch(body, "_PH1_", "\xe9e\xff\"]")
		a := post(t, s.url, "application/x-protobuf", body)
		if ps := a.response(t).GetPartialSuccess(); ps != nil {
			t.Fatalf("partial success %v", ps)
		}
		got := s.pub.got()
		texts := make([]string, len(got))
		for i, m := range got {
			texts[i] = m.Text
		}
		if want := "before|cafééééé au lait|attr|after"; strings.Join(texts, "|") != want {
			t.Fatalf("texts %q, want %q", strings.Join(texts, "|"), want)
		}
		if sd := got[2].StructuredData; !strings.Contains(sd, `user="renéeÿ\"\]"`) {
			t.Fatalf("structured data %q", sd)
		}
		if got := s.rejected("latin1_converted"); got != 2 {
			t.Fatalf("latin1_converted %v, want 2 (two records)", got)
		}
		if got := s.rejected("invalid_utf8") + s.rejected("malformed"); got != 0 {
			t.Fatalf("refusals counted: %v", got)
		}
	})
	t.Run("protobuf resource attribute", func(t *testing.T) {
		s := startServer(t, serverOpts{})
		body := marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "web"), str("host.name", "h_PH_")},
			textRecord("one"), textRecord("two")))
		body = patch(body, "_PH_", "\xc3\x28\xa0\xa1")
		post(t, s.url, "application/x-protobuf", body).response(t)
		got := s.pub.got()
		if len(got) != 2 || got[0].Host != "h\u00c3(\u00a0\u00a1" {
			t.Fatalf("got %+v", got)
		}
		if got := s.rejected("latin1_converted"); got != 1 {
			t.Fatalf("latin1_converted %v, want 1 (the resource)", got)
		}
	})
	t.Run("protobuf invalid UTF-8 and truncated", func(t *testing.T) {
		s := startServer(t, serverOpts{})
		body := marshal(t, exportReq([]*commonpb.KeyValue{str("service.name", "web")}, textRecord("x_PH_")))
		body = patch(body, "_PH_", "\xff\xfe\xfd\xfc")
		a := post(t, s.url, "application/x-protobuf", body[:len(body)-2])
		if a.code != 400 {
			t.Fatalf("status %d, want 400", a.code)
		}
		if s.rejected("malformed")+s.rejected("invalid_utf8") != 1 || len(s.pub.got()) != 0 {
			t.Fatal("the broken request was not refused once")
		}
	})
	t.Run("JSON", func(t *testing.T) {
		s := startServer(t, serverOpts{})
		body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},` +
			`"scopeLogs":[{"logRecords":[{"body":{"stringValue":"ok"}},{"body":{"stringValue":"caf` + "\xe9" + `"}}]}]}]}`
		post(t, s.url, "application/json", []byte(body)).response(t)
		got := s.pub.got()
		if len(got) != 2 || got[1].Text != "café" {
			t.Fatalf("got %+v", got)
		}
		if got := s.rejected("latin1_converted"); got != 1 {
			t.Fatalf("latin1_converted %v, want 1", got)
		}
	})
}

// TestCountRecords: the wire scan agrees with the decoder.
func TestCountRecords(t *testing.T) {
	for _, n := range []int{0, 1, 2, 500, 1001} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			body := emptyRecords(t, n)
			if got := countRecords(body, 1000); got != min(n, 1001) {
				t.Fatalf("countRecords = %d, want %d", got, min(n, 1001))
			}
		})
	}
}

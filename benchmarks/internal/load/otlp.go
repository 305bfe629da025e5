package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// OTLPRequest builds the protobuf ExportLogsServiceRequest of pool messages
// [from, from+count): the same messages a logplex-1 batch of the same range
// carries, as an OpenTelemetry SDK would send them. Records are grouped by
// app, one ResourceLogs per app in order of first appearance (service.name
// = app, service.instance.id = proc, host.name = host); each record has the
// message's time, its severity as a severity number, its text as the body,
// and the req@32473 structured data's id and status as two attributes.
func OTLPRequest(p *Pool, from, count int) ([]byte, error) {
	req := &collogs.ExportLogsServiceRequest{}
	byApp := map[string]*logspb.ScopeLogs{}
	for i := from; i < from+count; i++ {
		f, err := splitRFC5424(p.Message(i))
		if err != nil {
			return nil, fmt.Errorf("pool message %d: %w", i, err)
		}
		sl := byApp[f.app]
		if sl == nil {
			sl = &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: "loadgen"}}
			byApp[f.app] = sl
			req.ResourceLogs = append(req.ResourceLogs, &logspb.ResourceLogs{
				Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
					kv("service.name", f.app), kv("service.instance.id", f.proc), kv("host.name", f.host),
				}},
				ScopeLogs: []*logspb.ScopeLogs{sl},
			})
		}
		sev := logspb.SeverityNumber_SEVERITY_NUMBER_INFO
		if f.severity <= 3 {
			sev = logspb.SeverityNumber_SEVERITY_NUMBER_ERROR
		}
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{
			TimeUnixNano:   uint64(f.time.UnixNano()),
			SeverityNumber: sev,
			Body:           &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: f.msg}},
			Attributes:     []*commonpb.KeyValue{kv("req.id", f.reqID), kv("http.status", f.status)},
		})
	}
	return proto.Marshal(req)
}

func kv(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// fields are the parts of a pool message (see appendMessage).
type fields struct {
	severity           int
	time               time.Time
	host, app, proc    string
	reqID, status, msg string
}

// splitRFC5424 splits a pool message: <PRI>1 TIME HOST APP PROC - [req@32473 id="…" status="…"] MSG.
func splitRFC5424(m []byte) (fields, error) {
	var f fields
	s := string(m)
	end := bytes.IndexByte(m, '>')
	if end < 0 {
		return f, fmt.Errorf("no PRI")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil {
		return f, fmt.Errorf("PRI: %w", err)
	}
	f.severity = pri % 8
	parts := bytes.SplitN(m[end+1:], []byte(" "), 7) // 1 TIME HOST APP PROC - rest
	if len(parts) != 7 {
		return f, fmt.Errorf("header has %d fields", len(parts))
	}
	if f.time, err = time.Parse(time.RFC3339Nano, string(parts[1])); err != nil {
		return f, err
	}
	f.host, f.app, f.proc = string(parts[2]), string(parts[3]), string(parts[4])
	rest := string(parts[6])
	sdEnd := bytes.IndexByte(parts[6], ']')
	if sdEnd < 0 {
		return f, fmt.Errorf("no structured data")
	}
	sd := rest[:sdEnd]
	f.msg = rest[min(sdEnd+2, len(rest)):]
	param := func(name string) string {
		i := bytes.Index([]byte(sd), []byte(name+`="`))
		if i < 0 {
			return ""
		}
		v := sd[i+len(name)+2:]
		if j := bytes.IndexByte([]byte(v), '"'); j >= 0 {
			v = v[:j]
		}
		return v
	}
	f.reqID, f.status = param("id"), param("status")
	return f, nil
}

// SendOTLP posts n messages of p as OTLP/HTTP protobuf requests of o.Batch
// records each (see OTLPRequest) from o.Clients clients, to o.URL (…/v1/logs).
// 429 and 503 are retried as SendHTTP does; other non-2xx answers, and a
// 200 with a partial success, stop the run. Result.Bytes counts protobuf
// bytes.
func SendOTLP(ctx context.Context, p *Pool, o HTTPOptions, n int64) (Result, error) {
	build := func(from, count int) ([]byte, error) { return OTLPRequest(p, from, count) }
	return sendBatches(ctx, p, o, n, build, postOTLP)
}

// postOTLP sends one request, retrying on 429 and 503.
func postOTLP(ctx context.Context, c *http.Client, o HTTPOptions, data []byte, _ int) (retries int64, err error) {
	backoff := 5 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(data))
		if err != nil {
			return retries, fmt.Errorf("post %s: %w", o.URL, err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		if o.Token != "" {
			req.SetBasicAuth("token", o.Token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return retries, fmt.Errorf("post %s: %w", o.URL, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			var r collogs.ExportLogsServiceResponse
			if err := proto.Unmarshal(msg, &r); err != nil {
				return retries, fmt.Errorf("post %s: answer: %w", o.URL, err)
			}
			if ps := r.GetPartialSuccess(); ps.GetRejectedLogRecords() != 0 {
				return retries, fmt.Errorf("post %s: %d records refused: %s", o.URL, ps.GetRejectedLogRecords(), ps.GetErrorMessage())
			}
			return retries, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			retries++
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return retries, ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
		default:
			return retries, fmt.Errorf("post %s: %s: %q", o.URL, resp.Status, msg)
		}
	}
}

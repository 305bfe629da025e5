package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/metrics"
)

// SD-IDs of the structured data a record maps to. Sluice has no IANA
// private enterprise number of its own; 32473 is the one RFC 5612 reserves
// for documentation and examples.
const (
	sdRecord   = "otel@32473"          // trace_id, span_id, severity_text, event_name
	sdAttr     = "otel.attr@32473"     // the log record's attributes
	sdScope    = "otel.scope@32473"    // scope name, version and attributes
	sdResource = "otel.resource@32473" // the resource's attributes
)

// Resource attributes that name the process and the host.
const (
	attrInstanceID = "service.instance.id"
	attrPodName    = "k8s.pod.name"
	attrHostName   = "host.name"
)

// mapRequest appends one message per acceptable log record of req to
// r.msgs, in request order, and counts the refused ones. With a token, a
// resource that names another app than the token's sets r.forbidden and
// mapping stops: the request is refused as a whole, as on /logs.
func (h *Handler) mapRequest(r *request, req *collogs.ExportLogsServiceRequest, isJSON bool, w writer, received time.Time) {
	for _, rl := range req.GetResourceLogs() {
		res := rl.GetResource().GetAttributes()
		app := stringAttr(res, h.appAttr)
		if strings.HasPrefix(app, "unknown_service") {
			app = "" // an SDK's fallback when the service has no name
		}
		var rsn metrics.Reason
		var why string
		switch {
		case w.authed:
			if app != "" && app != w.app {
				r.forbidden, r.forbiddenApp = true, app
				return
			}
			app = w.app
		case app == "":
			rsn, why = metrics.ReasonMissingApp, "resource has no "+h.appAttr+" attribute"
		case !auth.ValidName(app):
			rsn, why = metrics.ReasonMalformed, "invalid app name "+strconv.Quote(truncateText(app, 64))
		}
		if rsn != metrics.ReasonNone {
			for _, sl := range rl.GetScopeLogs() {
				for range sl.GetLogRecords() {
					r.refuse(rsn, why)
				}
			}
			continue
		}
		common := resourceFields{
			app:  app,
			proc: stringAttr(res, attrInstanceID),
			host: stringAttr(res, attrHostName),
		}
		if common.proc == "" {
			common.proc = stringAttr(res, attrPodName)
		}
		common.resourceSD = r.appendElement(nil, sdResource, res)
		for _, sl := range rl.GetScopeLogs() {
			common.scopeSD = r.appendScope(common.scopeSD[:0], sl.GetScope())
			for _, lr := range sl.GetLogRecords() {
				h.mapRecord(r, lr, &common, isJSON, w, received)
			}
		}
	}
}

// resourceFields are what every record of one ResourceLogs (and one
// ScopeLogs) shares.
type resourceFields struct {
	app, proc, host string
	resourceSD      []byte // the otel.resource element, or empty
	scopeSD         []byte // the otel.scope element, or empty
}

// mapRecord appends the message of one log record to r.msgs, or refuses
// the record when its structured data is longer than MaxMessageBytes.
func (h *Handler) mapRecord(r *request, lr *logspb.LogRecord, c *resourceFields, isJSON bool, w writer, received time.Time) {
	start := len(r.sd)
	// Text first: when the body is not a string its JSON goes into r.sd.
	var text string
	switch v := lr.GetBody().GetValue().(type) {
	case nil:
	case *commonpb.AnyValue_StringValue:
		text = v.StringValue
	default:
		r.sd = appendAnyJSON(r.sd, lr.GetBody(), 0)
		text = bytesString(r.sd[start:])
	}
	if t, cut := truncateText(text, h.maxMsg), len(text) > h.maxMsg; cut {
		text = t
		r.counts[metrics.ReasonTruncated]++
	}
	sdStart := len(r.sd)
	r.sd = r.appendRecordElement(r.sd, lr, isJSON)
	r.sd = r.appendElement(r.sd, sdAttr, lr.GetAttributes())
	r.sd = append(r.sd, c.scopeSD...)
	r.sd = append(r.sd, c.resourceSD...)
	if len(r.sd)-sdStart > h.maxMsg {
		r.sd = r.sd[:start]
		r.refuse(metrics.ReasonTooLarge, "attributes longer than "+strconv.Itoa(h.maxMsg)+" bytes as structured data")
		return
	}
	// The resource's and scope's attributes are repeated in every record's
	// structured data: many small records under large resource attributes
	// would map to many times the body. What one request maps to is bounded
	// by MaxBodyBytes too; the records past it are refused.
	if int64(len(r.sd)) > h.maxBody {
		r.sd = r.sd[:start]
		r.refuse(metrics.ReasonTooLarge, "the request's structured data grew past "+strconv.FormatInt(h.maxBody, 10)+" bytes")
		return
	}
	r.msgs = append(r.msgs, sluice.Message{
		Time:           recordTime(lr, received),
		App:            c.app,
		Source:         w.source,
		Proc:           c.proc,
		Host:           c.host,
		StructuredData: bytesString(r.sd[sdStart:]),
		Text:           text,
		Facility:       sluice.DefaultFacility,
		Severity:       severity(lr.GetSeverityNumber(), lr.GetSeverityText()),
	})
}

// recordTime is time_unix_nano, else observed_time_unix_nano, else the
// receive time. Times past 2262 (beyond int64 nanoseconds) count as absent.
func recordTime(lr *logspb.LogRecord, received time.Time) time.Time {
	for _, ns := range [2]uint64{lr.GetTimeUnixNano(), lr.GetObservedTimeUnixNano()} {
		if ns != 0 && ns <= math.MaxInt64 {
			return time.Unix(0, int64(ns))
		}
	}
	return received
}

// severity maps an OTLP severity number onto a syslog severity, the inverse
// of the OpenTelemetry Collector's syslog parser (emerg=FATAL4, alert=
// FATAL3, crit=FATAL2, err=ERROR, warning=WARN, notice=INFO2, info=INFO,
// debug=DEBUG), by range: TRACE and DEBUG 1-8 debug, INFO 9 info, INFO2-4
// notice, WARN 13-16 warning, ERROR 17-20 err, FATAL and FATAL2 crit,
// FATAL3 alert, FATAL4 emerg. An unspecified number falls back to the
// severity text, then to info.
func severity(n logspb.SeverityNumber, text string) uint8 {
	switch {
	case n >= 1 && n <= 8:
		return 7
	case n == 9:
		return 6
	case n >= 10 && n <= 12:
		return 5
	case n >= 13 && n <= 16:
		return 4
	case n >= 17 && n <= 20:
		return 3
	case n == 21 || n == 22:
		return 2
	case n == 23:
		return 1
	case n == 24:
		return 0
	}
	switch strings.ToLower(text) {
	case "trace", "debug":
		return 7
	case "notice":
		return 5
	case "warn", "warning":
		return 4
	case "error", "err":
		return 3
	case "fatal", "critical", "crit":
		return 2
	case "alert":
		return 1
	case "emerg", "emergency", "panic":
		return 0
	}
	return sluice.DefaultSeverity
}

// stringAttr returns the string value of the attribute key, or "".
func stringAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// appendRecordElement appends the otel element: the record's own fields
// that have no Message field.
func (r *request) appendRecordElement(dst []byte, lr *logspb.LogRecord, isJSON bool) []byte {
	start := len(dst)
	dst = append(dst, '[')
	dst = append(dst, sdRecord...)
	n := len(dst)
	dst = appendID(dst, "trace_id", lr.GetTraceId(), isJSON)
	dst = appendID(dst, "span_id", lr.GetSpanId(), isJSON)
	if s := lr.GetSeverityText(); s != "" {
		dst = appendParam(dst, "severity_text", s)
	}
	if s := lr.GetEventName(); s != "" {
		dst = appendParam(dst, "event_name", s)
	}
	if len(dst) == n {
		return dst[:start]
	}
	return append(dst, ']')
}

// appendScope appends the otel.scope element: name, version, attributes.
func (r *request) appendScope(dst []byte, s *commonpb.InstrumentationScope) []byte {
	start := len(dst)
	dst = append(dst, '[')
	dst = append(dst, sdScope...)
	n := len(dst)
	if s.GetName() != "" {
		dst = appendParam(dst, "name", s.GetName())
	}
	if s.GetVersion() != "" {
		dst = appendParam(dst, "version", s.GetVersion())
	}
	for _, kv := range s.GetAttributes() {
		dst = r.appendAnyParam(dst, kv)
	}
	if len(dst) == n {
		return dst[:start]
	}
	return append(dst, ']')
}

// appendElement appends one SD-ELEMENT with the attributes kvs as
// parameters, nothing when kvs is empty.
func (r *request) appendElement(dst []byte, id string, kvs []*commonpb.KeyValue) []byte {
	if len(kvs) == 0 {
		return dst
	}
	dst = append(dst, '[')
	dst = append(dst, id...)
	for _, kv := range kvs {
		dst = r.appendAnyParam(dst, kv)
	}
	return append(dst, ']')
}

// appendAnyParam appends ` key="value"`: a string value as it is, bytes as
// base64, any other value as JSON, escaped as PARAM-VALUE.
func (r *request) appendAnyParam(dst []byte, kv *commonpb.KeyValue) []byte {
	switch v := kv.GetValue().GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return appendParam(dst, kv.GetKey(), v.StringValue)
	case *commonpb.AnyValue_BytesValue:
		r.scratch = base64.StdEncoding.AppendEncode(r.scratch[:0], v.BytesValue)
		return appendParam(dst, kv.GetKey(), bytesString(r.scratch))
	}
	r.scratch = appendAnyJSON(r.scratch[:0], kv.GetValue(), 0)
	return appendParam(dst, kv.GetKey(), bytesString(r.scratch))
}

// appendParam appends ` name="value"`, name made a valid SD-NAME (see
// appendSDName) and value escaped as RFC 5424 asks: '"', '\' and ']' get a
// backslash; every other byte (newlines and ESC too) is kept.
func appendParam(dst []byte, name, value string) []byte {
	dst = append(dst, ' ')
	dst = appendSDName(dst, name)
	dst = append(dst, '=', '"')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '"', '\\', ']':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// maxSDName is the longest SD-NAME RFC 5424 allows.
const maxSDName = 32

// appendSDName appends key as an SD-NAME: at most 32 bytes of printable
// US-ASCII other than '=', ' ', ']' and '"'; other bytes become '_', longer
// keys are cut, an empty key is "_".
func appendSDName(dst []byte, key string) []byte {
	if key == "" {
		return append(dst, '_')
	}
	for i := 0; i < len(key) && i < maxSDName; i++ {
		c := key[i]
		if c <= ' ' || c >= 0x7f || c == '=' || c == ']' || c == '"' {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendID appends a trace or span id parameter in lower-case hex, nothing
// for an absent or all-zero id. From OTLP/JSON the bytes are protojson's
// base64 reading of the hex digits, so encoding them back as base64 gives
// the digits the client sent.
func appendID(dst []byte, name string, id []byte, isJSON bool) []byte {
	zero := true
	for _, b := range id {
		if b != 0 {
			zero = false
			break
		}
	}
	if zero {
		return dst
	}
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, '=', '"')
	start := len(dst)
	if isJSON {
		dst = base64.StdEncoding.AppendEncode(dst, id)
		for i := start; i < len(dst); i++ {
			if c := dst[i]; c >= 'A' && c <= 'Z' {
				dst[i] = c + 'a' - 'A'
			}
		}
	} else {
		dst = hex.AppendEncode(dst, id)
	}
	return append(dst, '"')
}

// appendAnyJSON appends v as JSON: strings, booleans and numbers as
// themselves (non-finite doubles as the strings "NaN", "+Inf", "-Inf"),
// bytes as a base64 string, arrays as arrays, key-value lists as objects,
// an empty value as null. Nesting deeper than recursionLimit (which the
// decoder already refuses) is written as null.
func appendAnyJSON(dst []byte, v *commonpb.AnyValue, depth int) []byte {
	if depth > recursionLimit {
		return append(dst, "null"...)
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return sluice.AppendJSONString(dst, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(dst, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(dst, x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		f := x.DoubleValue
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(dst, `"+Inf"`...)
		case math.IsInf(f, -1):
			return append(dst, `"-Inf"`...)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, x.BytesValue)
		return append(dst, '"')
	case *commonpb.AnyValue_ArrayValue:
		dst = append(dst, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendAnyJSON(dst, e, depth+1)
		}
		return append(dst, ']')
	case *commonpb.AnyValue_KvlistValue:
		dst = append(dst, '{')
		for i, kv := range x.KvlistValue.GetValues() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = sluice.AppendJSONString(dst, kv.GetKey())
			dst = append(dst, ':')
			dst = appendAnyJSON(dst, kv.GetValue(), depth+1)
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

// truncateText cuts a valid UTF-8 text to at most max bytes at a rune
// boundary.
func truncateText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

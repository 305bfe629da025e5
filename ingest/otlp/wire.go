package otlp

import (
	"errors"
	"unicode/utf8"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field numbers on the path to a log record: ExportLogsServiceRequest
// .resource_logs (1) → ResourceLogs.scope_logs (2) → ScopeLogs.log_records
// (2).
const (
	fieldResourceLogs = 1
	fieldScopeLogs    = 2
	fieldLogRecords   = 2
)

// countRecords counts the log records of a protobuf ExportLogsServiceRequest
// without decoding them, stopping once the count passes limit, so a body of
// tiny records is refused before it is decoded into many times its size.
// On bytes that are not well-formed protobuf it returns what it counted;
// the decoder then reports the error.
func countRecords(body []byte, limit int) int {
	n := 0
	eachBytes(body, fieldResourceLogs, func(rl []byte) bool {
		eachBytes(rl, fieldScopeLogs, func(sl []byte) bool {
			eachBytes(sl, fieldLogRecords, func([]byte) bool {
				n++
				return n <= limit
			})
			return n <= limit
		})
		return n <= limit
	})
	return n
}

// eachBytes calls f with every length-delimited field num of the message
// b, in order, until f returns false or b ends or is malformed.
func eachBytes(b []byte, num protowire.Number, f func([]byte) bool) {
	for len(b) > 0 {
		n, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return
		}
		b = b[k:]
		if n == num && typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return
			}
			if !f(v) {
				return
			}
			b = b[k:]
			continue
		}
		k = protowire.ConsumeFieldValue(n, typ, b)
		if k < 0 {
			return
		}
		b = b[k:]
	}
}

// errTooDeep refuses a body nested deeper than recursionLimit.
var errTooDeep = errors.New("message nested too deeply")

// latin1Fixer rewrites a protobuf ExportLogsServiceRequest so that every
// string field is valid UTF-8: bytes that are not part of a valid UTF-8
// sequence are read as Latin-1 (ISO 8859-1) and converted, as syslog ingest
// does. The Go protobuf runtime refuses a proto3 string that is not UTF-8
// and has no option to accept it, so the handler calls this only when
// decoding failed for that reason, and one bad string costs its record a
// conversion instead of the whole request a 400. It walks the message with
// the generated descriptors: string fields are converted, message fields
// rewritten recursively, everything else copied.
type latin1Fixer struct {
	records int // log records with a converted string
	others  int // resources and scopes with a converted string
}

var (
	requestDesc = (&collogs.ExportLogsServiceRequest{}).ProtoReflect().Descriptor()
	recordName  = (&logspb.LogRecord{}).ProtoReflect().Descriptor().FullName()
)

// fix appends the rewritten request body to dst.
func (f *latin1Fixer) fix(dst, body []byte) ([]byte, error) {
	dst, _, err := f.message(dst, body, requestDesc, 0)
	return dst, err
}

// message appends the rewritten message b of type md to dst and reports
// whether a string in it (or below it) was converted.
func (f *latin1Fixer) message(dst, b []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, bool, error) {
	if depth > recursionLimit {
		return dst, false, errTooDeep
	}
	converted := false
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return dst, false, protowire.ParseError(k)
		}
		tag := b[:k]
		b = b[k:]
		var fd protoreflect.FieldDescriptor
		if typ == protowire.BytesType {
			fd = md.Fields().ByNumber(num)
		}
		if fd == nil || (fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.MessageKind) {
			k = protowire.ConsumeFieldValue(num, typ, b)
			if k < 0 {
				return dst, false, protowire.ParseError(k)
			}
			dst = append(append(dst, tag...), b[:k]...)
			b = b[k:]
			continue
		}
		v, k := protowire.ConsumeBytes(b)
		if k < 0 {
			return dst, false, protowire.ParseError(k)
		}
		b = b[k:]
		dst = append(dst, tag...)
		if fd.Kind() == protoreflect.StringKind {
			if utf8.Valid(v) {
				dst = protowire.AppendBytes(dst, v)
				continue
			}
			converted = true
			dst = protowire.AppendBytes(dst, appendLatin1(nil, v))
			continue
		}
		inner, c, err := f.message(nil, v, fd.Message(), depth+1)
		if err != nil {
			return dst, false, err
		}
		dst = protowire.AppendBytes(dst, inner)
		if !c {
			continue
		}
		switch {
		case fd.Message().FullName() == recordName:
			f.records++ // counted once per record; its parents need not count it again
		case fd.Message().FullName() == "opentelemetry.proto.resource.v1.Resource",
			fd.Message().FullName() == "opentelemetry.proto.common.v1.InstrumentationScope":
			f.others++
		default:
			converted = true
		}
	}
	return dst, converted, nil
}

// appendLatin1 appends b to dst with every byte that is not part of a
// valid UTF-8 sequence read as Latin-1 and converted; valid sequences are
// kept.
func appendLatin1(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			dst = utf8.AppendRune(dst, rune(b[i]))
			i++
			continue
		}
		dst = append(dst, b[i:i+size]...)
		i += size
	}
	return dst
}

package otlp

import (
	"bytes"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluice-logs/sluice"
)

// msgSize is what one mapped message costs in r.msgs.
const msgSize = int64(unsafe.Sizeof(sluice.Message{}))

// What decoding a request costs, for the memory budget: proto.Unmarshal
// builds a Go object per record, attribute and value, several times the
// bytes it reads (a record with a short body and one attribute: about 480
// bytes allocated for 28 read). recordCost is charged per log record, plus
// decodeFactor × the body (attributes, resources, copies of strings). For
// JSON, where records cannot be counted without parsing, objectCost is
// charged per '{' (a record with one attribute is four objects and
// allocates about 920 bytes), plus decodeFactor × the body.
// TestDecodeCostCoversUnmarshal holds the estimate above what decoding
// allocates.
const (
	recordCost   = 512
	objectCost   = 384
	decodeFactor = 2
)

// decodeCost estimates what decoding body will allocate, before it is
// decoded: for protobuf it counts the log records by walking the wire
// format (ExportLogsServiceRequest.resource_logs = 1 → ResourceLogs.
// scope_logs = 2 → ScopeLogs.log_records = 2) without allocating.
func decodeCost(body []byte, isJSON bool) (cost int64, records int) {
	if isJSON {
		return decodeFactor*int64(len(body)) + int64(bytes.Count(body, []byte{'{'}))*objectCost, 0
	}
	records = countNested(body, []protowire.Number{1, 2, 2})
	return decodeFactor*int64(len(body)) + int64(records)*(recordCost+msgSize), records
}

// countNested counts the length-delimited fields reached by following path
// (a field number per level) from b. Malformed input stops the count where
// it breaks; Unmarshal reports it.
func countNested(b []byte, path []protowire.Number) int {
	n := 0
	for len(b) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return n
		}
		fieldLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if fieldLen < 0 {
			return n
		}
		if num == path[0] && typ == protowire.BytesType {
			if len(path) == 1 {
				n++
			} else {
				v, _ := protowire.ConsumeBytes(b[tagLen:])
				n += countNested(v, path[1:])
			}
		}
		b = b[tagLen+fieldLen:]
	}
	return n
}

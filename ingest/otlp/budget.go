package otlp

import (
	"bytes"
	"math"
	"unsafe"

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
// decoded: for protobuf it counts the log records with countRecords
// (walking the wire format without allocating).
func decodeCost(body []byte, isJSON bool) (cost int64, records int) {
	if isJSON {
		return decodeFactor*int64(len(body)) + int64(bytes.Count(body, []byte{'{'}))*objectCost, 0
	}
	records = countRecords(body, math.MaxInt)
	return decodeFactor*int64(len(body)) + int64(records)*(recordCost+msgSize), records
}

package otlp

import (
	"fmt"
	"strings"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// recursionLimit bounds message nesting while decoding. An AnyValue inside
// an array or a key-value list costs two levels, so a body nested deeper
// than about 30 values is refused as malformed; real attributes nest a few
// levels. It also bounds the recursion of appendAnyJSON.
const recursionLimit = 64

var (
	protoOpts = proto.UnmarshalOptions{RecursionLimit: recursionLimit}
	// OTLP/JSON: receivers must ignore unknown fields. protojson accepts
	// both lowerCamelCase and the original field names, enums as integers,
	// and 64-bit integers as strings or numbers, as OTLP/JSON asks.
	jsonOpts = protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: recursionLimit}
)

// unmarshal decodes body as an ExportLogsServiceRequest in enc.
//
// OTLP/JSON writes trace and span ids as hex, not base64 as protojson
// reads bytes; hex digits are base64 digits, so protojson decodes a
// 32-digit trace id into 24 bytes that encode back to the original digits.
// mapRecord undoes it (see idText).
func unmarshal(enc encoding, body []byte, req *collogs.ExportLogsServiceRequest) error {
	var err error
	if enc == encodingJSON {
		err = jsonOpts.Unmarshal(body, req)
	} else {
		err = protoOpts.Unmarshal(body, req)
	}
	if err != nil {
		return fmt.Errorf("decode otlp logs request: %w", err)
	}
	return nil
}

// isUTF8Error reports whether err is the decoders' refusal of a string
// field that is not valid UTF-8. protobuf-go exports no sentinel for it, so
// this reads the text; it only picks the metric reason.
func isUTF8Error(err error) bool {
	return strings.Contains(err.Error(), "UTF-8")
}

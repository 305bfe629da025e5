// Package otlp owns OpenTelemetry logs ingest over HTTP: the fasthttp
// handler for POST /v1/logs, as OpenTelemetry SDKs (otlploghttp) and the
// Collector's otlphttp exporter send it (OTLP/HTTP, binary protobuf or
// OTLP/JSON, optionally gzip-compressed). It decodes one
// ExportLogsServiceRequest with the OpenTelemetry project's generated types
// (go.opentelemetry.io/proto/otlp), maps every LogRecord to a
// sluice.Message, authenticates against the per-app tokens and hands the
// batch to the router with one TryPublish.
//
// Mapping (see mapRecord): App is the resource attribute named by
// Config.AppAttribute (service.name by default; an SDK's fallback
// "unknown_service:…" counts as absent) or, with a token, the token's app;
// Proc is service.instance.id, else k8s.pod.name; Host is host.name; Time is
// time_unix_nano, else observed_time_unix_nano, else the receive time;
// Severity maps severity_number onto syslog severities (the inverse of the
// Collector's syslog parser); Text is the body (a string as is, any other
// AnyValue as JSON). Trace and span ids, severity_text, event_name and the
// record, scope and resource attributes become RFC 5424 structured data in
// four SD-ELEMENTs (otel, otel.attr, otel.scope, otel.resource, each
// @32473), so the RFC 5424 drains carry them verbatim, the Elasticsearch
// drain indexes them as sd.<id>.<key> fields and the JSON formats carry them
// in structured_data.
//
// Answers follow the OTLP/HTTP specification: 200 with an
// ExportLogsServiceResponse in the request's encoding, its partial_success
// naming how many records were refused and why (no app, an invalid app
// name, structured data over MaxMessageBytes); 400 with a google.rpc.Status
// body for an undecodable body; 401/403 for tokens as on /logs; 413 for a
// body over MaxBodyBytes, compressed or not (a gzip bomb is cut off after
// MaxBodyBytes of output); 415 for other content types or encodings; 429
// (policy=block backlog full) and 503 (shutting down) with Retry-After.
//
// Limits: a protobuf body is scanned (countRecords, no allocation) before
// it is decoded, and one with more than MaxRecords records (OTLP_MAX_RECORDS)
// gets 413, since two bytes of empty record decode into a few hundred; an
// OTLP/JSON body is counted after decoding. The structured data a request
// maps to is bounded by MaxBodyBytes as well (resource attributes are
// repeated in every record's): records past it are refused in the partial
// success (too_large).
//
// Invalid UTF-8: the Go protobuf runtime refuses a proto3 string that is
// not UTF-8, with no option to accept it. When decoding fails only for
// that, latin1Fixer rewrites the body with those strings read as Latin-1
// (as syslog ingest does) and it is decoded again, so a bad string costs
// its record a conversion, not the request a 400; OTLP/JSON bodies are
// converted the same way as a whole.
//
// Metrics: sluice_ingest_messages_total{transport="otlp_http"} counts
// accepted records. sluice_ingest_rejected_total{transport="otlp_http",
// reason} (reasons are metrics.Reason, shared by every source) counts each
// refused record once (missing_app, malformed, too_large) and each request
// refused as a whole once; "truncated" counts records whose text was cut to
// MaxMessageBytes but kept, "latin1_converted" records (or resources and
// scopes; an OTLP/JSON request once) whose strings were converted.
//
// Memory: a request is bounded by MaxBodyBytes before and after
// decompression (a gzip bomb costs about 3x the limit). The generated types
// then allocate per record and per attribute: about 15 allocations and 750
// bytes per typical record from protobuf, 50 and 1.4 KB from JSON
// (BenchmarkExport500), so a body of tiny records decodes into many times
// its size; a hand decoder over protowire that aliases the body is the
// known way to remove both costs. Messages alias the decoded strings and a
// pooled per-request structured-data buffer, and are handed to the router,
// which copies what it keeps, before the handler returns. All of it is
// reserved first in the memory budget's body pool (Config.Bodies,
// MAX_INFLIGHT_BODY_BYTES): the body, its decompression, and, before
// decoding, an estimate of what decoding allocates (budget.go: records
// counted by walking the wire format without allocating, 512 bytes each
// plus twice the body; for JSON 384 bytes per object plus twice the body),
// held above the measured allocation by TestDecodeCostCoversUnmarshal.
// Over the pool: 503 with Retry-After (memory_budget), or 413 when the
// request needs more than the whole pool.
//
// Concurrency: a Handler is immutable after New and its ServeHTTP is safe
// for concurrent use by any number of fasthttp worker goroutines. It starts
// no goroutines.
package otlp

// Package gunzip decompresses the gzip bodies of HTTP ingest (POST /logs
// and OTLP's POST /v1/logs) into a caller's buffer under a byte limit, so
// that a gzip bomb costs at most the limit. Append is safe for concurrent
// use: the decompressors it reuses come from a sync.Pool.
package gunzip

// Package kcount tells how many records a Kafka topic holds: the sum of its
// partitions' end offsets (high watermarks), asked with one Metadata and
// one ListOffsets request through a franz-go client. It is how the runner
// decides that a Kafka workload is done.
//
// Concurrency: a Counter is safe for concurrent use (the franz-go client
// is); Close must be called once, after the last Records.
package kcount

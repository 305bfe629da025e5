// Command framecount is the framing-only limit: a TCP server that splits
// the incoming streams into octet-counted (or LF) syslog frames and counts
// them, nothing else. It exits after it has seen -n frames (or after
// -timeout), printing one JSON line: frames, seconds (from the first byte
// received to the n-th frame), msgs_per_sec.
//
// Each connection is read by its own goroutine with a 256 KiB buffer; the
// goroutines add to one atomic counter once per read. main owns them and
// waits for them after closing the listener and the connections.
package main

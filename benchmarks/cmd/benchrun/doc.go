// Command benchrun drives the end-to-end benchmark that benchmarks/run.sh
// starts: for each workload it starts the server under test (sluiced,
// rsyslogd, the framing-only reader, a Kafka broker, an HTTP sink) as a
// child process on free loopback ports, sends a fixed number of messages
// with loadgen, waits until the receiver holds every message (sluiced's
// ingest counter, the output file's line count, the topic's record count,
// the sink's frame count), and records messages/s, MiB/s, CPU seconds per
// million messages (utime+stime from /proc/PID/stat before and after),
// peak RSS (VmHWM) and, for sluiced, allocations per message
// (go_memstats_mallocs_total before and after a warm, unpolled phase of
// N/2 more messages; see runLoad). Each workload runs -runs
// times on fresh processes; the median of each figure is reported, with the
// ratios and the targets, on stdout and in -results (RESULTS.md).
//
// Everything runs on 127.0.0.1, bounded by count and by time: a run that
// stops making progress for 15 s, or exceeds its deadline, is recorded as
// failed and the benchmark goes on.
//
// Concurrency: one goroutine (main) runs the workloads one after another;
// each child process is stopped (SIGTERM, then SIGKILL after 10 s) and
// waited for before the next run starts.
package main

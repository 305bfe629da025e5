// Command loadgen is the benchmark load generator. It sends a fixed number
// of realistic RFC 5424 messages (about 150 bytes, with structured data,
// spread over -apps apps, pre-generated before the clock starts) either
// over syslog TCP (-syslog ADDR; -framing octet or lf; -conns N) or as
// HTTP application/logplex-1 batches (-http URL; -batch 500; -clients K),
// then prints one JSON line: sent, bytes, seconds, msgs_per_sec,
// mib_per_sec, start_unix_nano (when the first byte was written).
//
// The numbers are the sender's view: the benchmark runner decides when the
// receiver has everything and computes the end-to-end rate itself.
package main

// Command kafkaproduce is the producer limit: a bare segmentio/kafka-go
// Writer (the library the Kafka drain uses) writing the load generator's
// messages to a topic — key = app, value = the RFC 5424 message, acks=all,
// lz4 — from -writers goroutines calling WriteMessages with -batch records
// each. It prints one JSON line like loadgen's, plus its own CPU seconds
// and peak RSS (getrusage), since the producer is the measured process.
package main

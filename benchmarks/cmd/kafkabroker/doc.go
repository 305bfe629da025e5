// Command kafkabroker runs an in-process Kafka-protocol broker (franz-go's
// kfake) on 127.0.0.1:-port with topic auto-creation, until SIGTERM or
// Ctrl-C. -topics seeds topics up front (librdkafka, used by rsyslog's
// omkafka, does not ask for auto-creation). It prints "ready ADDR" on
// stdout once it listens.
//
// With -count it is a client instead: it prints how many records -topic
// holds on the broker at -addr and exits.
package main

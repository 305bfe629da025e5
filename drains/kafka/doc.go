// Package kafka is the Kafka drain: it delivers batches of messages to one
// topic of a Kafka cluster, configured by a URL
//
//	kafka://[user:password@]host:port[,host:port…]/topic?format=&compression=&acks=&tls=&max_bytes=
//
// Brokers without a port get 9092. net/url only accepts a list where every
// broker has a port or none has (it reads the port after the last colon).
//
// Each message becomes one record whose key is the app, so every message of
// an app lands in the same partition and keeps its order there; the record
// value is the RFC 5424 line (format=rfc5424, the default) or a JSON object
// (format=json); the record timestamp is the message's time. A message is
// delivered when the brokers acknowledged it (acks=all, the default, or
// acks=one). Credentials in the URL select SASL/PLAIN; use tls=1 with them.
//
// The drain is a thin, synchronous layer over a segmentio/kafka-go Writer:
// Send writes the whole batch and waits for the acknowledgements, with no
// retries of its own (the drains.Worker owns retries and backoff). Errors
// are classified: per-message failures become a *drains.BatchError, broker
// answers that retrying cannot fix (message too large, invalid topic,
// authorization failures) wrap drains.ErrPermanent, everything else
// (connection refused, timeouts, leader not available, not enough
// replicas…) is retryable.
//
// Concurrency: as the drains.Drain contract says, one Worker goroutine calls
// Send, Check and Close, never concurrently. Send reuses one record slice
// and one byte arena across calls; when a Send returns before kafka-go is
// done with them (ctx ended), the arena is abandoned to kafka-go and a new
// one is started. The kafka-go Writer runs its own goroutines (one per
// partition and pending batch); Close waits for them, bounded by ctx.
package kafka

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
// Send encodes and produces the batch itself on kafka-go's low-level
// Client (RawProduce over a kafka-go Transport, which keeps the
// connections and routes each request to its partition's leader): it
// hashes each app to a partition as kafka-go's Hash balancer and Sarama do
// (FNV-1a, as int32, modulo the partition count), builds one record batch
// per partition (message format v2, compressed) in buffers reused across
// Sends, and sends the partitions' requests concurrently, one goroutine
// per partition, then waits for the acknowledgements. A partition's
// messages exceeding max_bytes go in several requests, one after the
// other, so a partition never has two requests in flight and an app's
// order holds. The topic's partition count is read from the Transport's
// metadata cache and kept for 10 s, or until a request fails; failures
// that mean the cluster moved (not leader, unknown topic or partition,
// leader not available) renew the Transport's connections and metadata.
// There are no retries of its own (the drains.Worker owns retries and
// backoff). Errors are classified: per-message failures become a
// *drains.BatchError (all messages of a failed request fail together),
// broker answers that retrying cannot fix (message too large, invalid
// topic, authorization failures) wrap drains.ErrPermanent, everything else
// (connection refused, timeouts, leader not available, not enough
// replicas…) is retryable.
//
// Throughput depends on the Worker's batch size: every Send waits for the
// acknowledgements, so a larger batch spreads that round trip over more
// messages. DefaultBatch is the batch this drain should get when the URL
// sets none.
//
// Concurrency: as the drains.Drain contract says, one Worker goroutine calls
// Send, Check and Close, never concurrently. Send starts one goroutine per
// partition with messages and waits for all of them before it returns;
// each owns its partition's buffers meanwhile and only reads the batch.
// When a request returns before kafka-go has read its record set (ctx
// ended), that partition's buffers are left to kafka-go and new ones are
// made. The Transport runs its own goroutines (connections, metadata
// refresh); Close stops them.
package kafka

// Package bus is Sluice's cluster mode transport: a Kafka topic that every
// sluiced process produces accepted messages to (record key = app, so one
// app's messages share a partition and keep their order) and that the
// router processes consume as one consumer group.
//
// It owns three things:
//
//   - the BUS_URL (ParseURL): kafka://host:port[,host:port…]/topic with the
//     options compression=, acks= (default all), partitions= (only used when
//     the topic is created), tls=, and SASL/PLAIN from the user info;
//   - the record encoding (Encode, Decode): a compact binary form of
//     sluice.Message, versioned by its first byte;
//   - the Producer, a sluice.Publisher whose Publish and TryPublish return
//     only once the brokers have acknowledged every record of the batch;
//     and the Consumer, which joins the group and hands each partition's
//     records, in offset order, to a sluice.Publisher (the router).
//
// The client is franz-go's kgo rather than kafka-go (the Kafka drain's):
// the consumer needs partition assign/revoke/lost callbacks, a rebalance
// that waits for the poll loop (BlockRebalanceOnPoll) so a revoked
// partition's offsets are committed before another process takes it, and
// manual per-partition commits of a watermark; kafka-go's Reader commits
// what it read and has no revoke hook.
//
// Concurrency: Producer's methods are safe for concurrent use. A Consumer
// is run by one goroutine (Run) and stopped by Close.
package bus

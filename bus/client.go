package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// baseOpts are the client options every bus client shares: brokers, TLS,
// SASL.
func baseOpts(cfg Config) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	if cfg.TLS {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	if cfg.User != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: cfg.User, Pass: cfg.Password}.AsMechanism()))
	}
	return opts
}

// PartitionOf is the partition of app's records in a topic of n
// partitions: FNV-1a of the app, as Kafka masks a hash. Producers place
// records with it and readers find an app's owner with it.
func PartitionOf(app string, n int) int32 {
	h := uint32(2166136261)
	for i := 0; i < len(app); i++ {
		h ^= uint32(app[i])
		h *= 16777619
	}
	return int32(int(h&0x7fffffff) % n)
}

var partitioner = kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
	return func(r *kgo.Record, n int) int { return int(PartitionOf(string(r.Key), n)) }
})

// EnsureTopic creates the topic with cfg.Partitions partitions when it does
// not exist, and returns the topic's partition count.
func EnsureTopic(ctx context.Context, cl *kgo.Client, cfg Config) (int, error) {
	n, err := partitions(ctx, cl, cfg.Topic)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return 0, err
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = cfg.Topic
	rt.NumPartitions = int32(cfg.Partitions)
	rt.ReplicationFactor = int16(cfg.Replication)
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 15000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("create topic %s: %w", cfg.Topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("create topic %s: %w", cfg.Topic, err)
		}
	}
	return partitions(ctx, cl, cfg.Topic)
}

// partitions asks the brokers for the topic's partition count.
func partitions(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("read metadata of topic %s: %w", topic, err)
	}
	if len(resp.Topics) == 0 {
		return 0, fmt.Errorf("read metadata of topic %s: %w", topic, kerr.UnknownTopicOrPartition)
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return 0, fmt.Errorf("read metadata of topic %s: %w", topic, err)
	}
	if len(t.Partitions) == 0 {
		return 0, fmt.Errorf("read metadata of topic %s: %w", topic, kerr.UnknownTopicOrPartition)
	}
	return len(t.Partitions), nil
}

package kcount

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Counter asks one cluster for topic sizes.
type Counter struct {
	cl *kgo.Client
}

// New returns a Counter for the cluster reachable at brokers.
func New(brokers ...string) (*Counter, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("kafka client %v: %w", brokers, err)
	}
	return &Counter{cl: cl}, nil
}

// Close releases the client.
func (c *Counter) Close() { c.cl.Close() }

// Records returns the number of records in topic (0 when it does not exist
// yet).
func (c *Counter) Records(ctx context.Context, topic string) (int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	meta.AllowAutoTopicCreation = false
	mresp, err := meta.RequestWith(ctx, c.cl)
	if err != nil {
		return 0, fmt.Errorf("kafka metadata %s: %w", topic, err)
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, t := range mresp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if t.ErrorCode == kerr.UnknownTopicOrPartition.Code {
			return 0, nil
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return 0, fmt.Errorf("kafka metadata %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			lp := kmsg.NewListOffsetsRequestTopicPartition()
			lp.Partition = p.Partition
			lp.Timestamp = -1 // latest
			lt.Partitions = append(lt.Partitions, lp)
		}
	}
	if len(lt.Partitions) == 0 {
		return 0, nil
	}
	lo.Topics = append(lo.Topics, lt)
	lresp, err := lo.RequestWith(ctx, c.cl)
	if err != nil {
		return 0, fmt.Errorf("kafka list offsets %s: %w", topic, err)
	}
	var total int64
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("kafka list offsets %s/%d: %w", topic, p.Partition, err)
			}
			total += p.Offset
		}
	}
	return total, nil
}

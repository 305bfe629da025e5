package kafka

import (
	"errors"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/sluice-logs/sluice/drains"
)

// classify wraps err, the failure of writing to topic, with context and
// marks it permanent when retrying cannot fix it. Everything not known to
// be permanent is retryable: connection refused or reset, timeouts,
// leader elections, not enough replicas, unknown topic (it may be being
// created), throttling.
func classify(topic string, err error) error {
	if isPermanent(err) {
		return fmt.Errorf("%w: kafka produce to topic %q: %w", drains.ErrPermanent, topic, err)
	}
	return fmt.Errorf("kafka produce to topic %q: %w", topic, err)
}

func isPermanent(err error) bool {
	if errors.Is(err, drains.ErrPermanent) {
		return true
	}
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		switch kerr {
		case kafkago.MessageSizeTooLarge,
			kafkago.RecordListTooLarge,
			kafkago.InvalidMessageSize,
			kafkago.InvalidTopic,
			kafkago.InvalidRequiredAcks,
			kafkago.InvalidTimestamp,
			kafkago.InvalidRecord,
			kafkago.UnsupportedCompressionType,
			kafkago.UnsupportedForMessageFormat,
			kafkago.UnsupportedVersion,
			kafkago.PolicyViolation,
			kafkago.TopicAuthorizationFailed,
			kafkago.ClusterAuthorizationFailed,
			kafkago.TransactionalIDAuthorizationFailed,
			kafkago.BrokerAuthorizationFailed,
			kafkago.SASLAuthenticationFailed,
			kafkago.UnsupportedSASLMechanism,
			kafkago.IllegalSASLState:
			return true
		}
	}
	return false
}

// refreshesTransport reports whether err says that the cluster moved (a
// partition changed leader, a broker or topic went away), so that the
// metadata kafka-go's Transport caches is stale.
func refreshesTransport(err error) bool {
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		switch kerr {
		case kafkago.NotLeaderForPartition,
			kafkago.LeaderNotAvailable,
			kafkago.UnknownTopicOrPartition,
			kafkago.BrokerNotAvailable,
			kafkago.ReplicaNotAvailable,
			kafkago.KafkaStorageError,
			kafkago.FencedLeaderEpoch,
			kafkago.UnknownLeaderEpoch:
			return true
		}
	}
	return errors.Is(err, protocol.ErrNoLeader) || errors.Is(err, protocol.ErrNoPartition) || errors.Is(err, protocol.ErrNoTopic)
}

package bus

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Member is one process of the consumer group as Kafka describes it.
type Member struct {
	// URL is the member's ADVERTISE_URL (its Kafka client id).
	URL        string  `json:"url"`
	Host       string  `json:"host"`
	Partitions []int32 `json:"partitions"`
}

// Members describes the group: every member with the topic's partitions
// it is assigned. It is Kafka's view (DescribeGroups); sluiced keeps no
// membership of its own.
func Members(ctx context.Context, cl *kgo.Client, group, topic string) ([]Member, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	var out []Member
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, fmt.Errorf("describe group %s: %w", group, err)
		}
		for _, m := range g.Members {
			mem := Member{URL: m.ClientID, Host: m.ClientHost}
			var a kmsg.ConsumerMemberAssignment
			if err := a.ReadFrom(m.MemberAssignment); err == nil {
				for _, t := range a.Topics {
					if t.Topic == topic {
						mem.Partitions = append(mem.Partitions, t.Partitions...)
					}
				}
			}
			slices.Sort(mem.Partitions)
			out = append(out, mem)
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.URL, b.URL) })
	return out, nil
}

// Client is the producer's Kafka client, for Members.
func (p *Producer) Client() *kgo.Client { return p.cl }

// Client is the consumer's Kafka client, for Members.
func (c *Consumer) Client() *kgo.Client { return c.cl }

package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-logs/sluice"
)

// Settlement is how the consumer learns what the drains have finished: a
// position after everything published so far (Mark, called right after
// Publish returns), and whether everything up to a position is delivered
// or dropped-and-counted (Settled). The daemon implements it over its
// drain workers; nil means a message is finished once published.
type Settlement interface {
	Mark() []uint64
	Settled(pos []uint64) bool
}

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	// Group is the consumer group id (BUS_GROUP); required.
	Group string
	// Advertise is this process's ADVERTISE_URL; members find each other
	// by it (it is the Kafka client id, which DescribeGroups returns).
	Advertise string
	// Publisher receives each partition's messages in offset order (the
	// router); required. Publish may block (policy=block drains): the
	// consumer then falls behind and the bus holds the backlog.
	Publisher  sluice.Publisher
	Settlement Settlement
	// CommitInterval is how often finished offsets are committed (default
	// 1s).
	CommitInterval time.Duration
	// OnAssigned is called, from the consumer's goroutine and before any
	// record of them is published, with partitions this process now owns.
	OnAssigned func(ctx context.Context, partitions []int32)
	// Rebuild, when set, receives (from the group's goroutine, before
	// consumption of the partition resumes) the records of a newly owned
	// partition from Replay ago up to its committed offset: what the
	// previous owner's rings held. The daemon appends them to the rings
	// only; the drains had them already.
	Rebuild func(batch []sluice.Message)
	Replay  time.Duration
	// OnRevoked is called with partitions this process no longer owns.
	OnRevoked func(partitions []int32)
	Logger    *slog.Logger
	Metrics   *Metrics
}

// Consumer is one member of the router processes' consumer group.
type Consumer struct {
	cl   *kgo.Client
	cfg  Config
	o    ConsumerOptions
	log  *slog.Logger
	done chan struct{}

	joined     atomic.Bool
	started    atomic.Bool
	rebuilding atomic.Int32

	mu    sync.Mutex
	parts map[int32]*partState
	id    [16]byte // the topic's ID, once read
}

// partState is the consumer's view of one owned partition.
type partState struct {
	consumed  int64  // next offset to publish
	committed int64  // last committed offset (-1: none)
	reported  int64  // consumed as of the last commit (its metadata)
	replay    int64  // records below this offset were consumed by an earlier owner
	high      int64  // the partition's high watermark at the last fetch
	pending   []mark // published, not yet known finished, in order
}

type mark struct {
	next int64
	pos  []uint64
}

// NewConsumer builds the group member. It does not join until Run.
func NewConsumer(cfg Config, o ConsumerOptions) (*Consumer, error) {
	if o.Group == "" || o.Publisher == nil {
		return nil, errors.New("bus consumer: need a group and a publisher")
	}
	if o.CommitInterval <= 0 {
		o.CommitInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Consumer{cfg: cfg, o: o, log: o.Logger.With("component", "bus"), done: make(chan struct{}), parts: map[int32]*partState{}}
	opts := append(baseOpts(cfg),
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.RebalanceTimeout(20*time.Second),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.lost),
		kgo.OnOffsetsFetched(c.fetched),
	)
	if o.Advertise != "" {
		opts = append(opts, kgo.ClientID(o.Advertise))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("bus consumer %s: %w", cfg.Redacted(), err)
	}
	c.cl = cl
	return c, nil
}

// Joined reports whether this process is a member of the group (it may own
// no partition).
func (c *Consumer) Joined() bool {
	_, gen := c.cl.GroupMetadata()
	return gen >= 0 && c.joined.Load() && c.rebuilding.Load() == 0
}

// Generation is the group generation this process is in, -1 outside.
func (c *Consumer) Generation() int32 {
	_, gen := c.cl.GroupMetadata()
	return gen
}

// Owns reports whether this process owns partition p now.
func (c *Consumer) Owns(p int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.parts[p]
	return ok
}

// Owned returns the partitions this process owns, sorted.
func (c *Consumer) Owned() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int32, 0, len(c.parts))
	for p := range c.parts {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// PartitionStatus is one owned partition in Status.
type PartitionStatus struct {
	Partition int32 `json:"partition"`
	Consumed  int64 `json:"consumed"`
	Committed int64 `json:"committed"`
	Lag       int64 `json:"lag"`
}

// Status lists the owned partitions with their positions.
func (c *Consumer) Status() []PartitionStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PartitionStatus, 0, len(c.parts))
	for p, s := range c.parts {
		out = append(out, PartitionStatus{p, s.consumed, s.committed, max(0, s.high-s.consumed)})
	}
	slices.SortFunc(out, func(a, b PartitionStatus) int { return int(a.Partition - b.Partition) })
	return out
}

// Run joins the group and publishes what it consumes until ctx ends or
// Close; it commits finished offsets every CommitInterval.
func (c *Consumer) Run(ctx context.Context) error {
	c.started.Store(true)
	defer close(c.done)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(c.o.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
				c.commit(cctx, nil)
			}
		}
	}()
	defer wg.Wait()
	var msgs []sluice.Message
	for {
		fs := c.cl.PollRecords(cctx, 10_000)
		if fs.IsClientClosed() || cctx.Err() != nil {
			c.cl.AllowRebalance()
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("bus fetch failed", "partition", p, "err", err)
			}
		})
		var perr error
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if perr != nil || len(fp.Records) == 0 {
				return
			}
			c.mu.Lock()
			st := c.parts[fp.Partition]
			replay := int64(-1)
			if st != nil {
				replay = st.replay
			}
			c.mu.Unlock()
			if st == nil {
				return // revoked meanwhile
			}
			msgs = msgs[:0]
			redelivered, bad := 0, 0
			for _, r := range fp.Records {
				m, err := Decode(r.Value)
				if err != nil {
					bad++
					continue
				}
				if r.Offset < replay {
					redelivered++
				}
				m.Pos = sluice.MakeBusPos(r.Partition, r.Offset)
				msgs = append(msgs, m)
			}
			if bad > 0 {
				c.log.Warn("bus records that are not messages skipped", "partition", fp.Partition, "count", bad)
				c.o.Metrics.add(func(m *Metrics) counter { return m.BadRecords }, bad)
			}
			if err := c.o.Publisher.Publish(cctx, msgs); err != nil {
				perr = err
				return
			}
			var pos []uint64
			if c.o.Settlement != nil {
				pos = c.o.Settlement.Mark()
			}
			next := fp.Records[len(fp.Records)-1].Offset + 1
			c.mu.Lock()
			if st := c.parts[fp.Partition]; st != nil {
				st.consumed = next
				st.high = fp.HighWatermark
				st.pending = append(st.pending, mark{next, pos})
			}
			c.mu.Unlock()
			c.o.Metrics.add(func(m *Metrics) counter { return m.Consumed }, len(msgs))
			c.o.Metrics.add(func(m *Metrics) counter { return m.Redelivered }, redelivered)
			if c.o.Metrics != nil {
				c.o.Metrics.Lag.WithLabelValues(strconv.Itoa(int(fp.Partition))).Set(float64(max(0, fp.HighWatermark-next)))
			}
		})
		c.cl.AllowRebalance()
		if perr != nil {
			if cctx.Err() != nil || errors.Is(perr, sluice.ErrClosed) {
				return nil
			}
			return fmt.Errorf("publish from the bus: %w", perr)
		}
	}
}

// finishedLocked pops the marks of st that the drains have settled and
// returns the offset to commit, or -1 when nothing new is finished.
func (c *Consumer) finishedLocked(st *partState) int64 {
	next := int64(-1)
	for len(st.pending) > 0 {
		m := st.pending[0]
		if c.o.Settlement != nil && !c.o.Settlement.Settled(m.pos) {
			break
		}
		next = m.next
		st.pending = st.pending[1:]
	}
	if next <= st.committed {
		return -1
	}
	return next
}

// commit commits the finished offsets of the owned partitions (of only
// these, when only is not nil).
func (c *Consumer) commit(ctx context.Context, only []int32) {
	c.mu.Lock()
	type item struct {
		p             int32
		off, consumed int64
	}
	var items []item
	for p, st := range c.parts {
		if only != nil && !slices.Contains(only, p) {
			continue
		}
		off := c.finishedLocked(st)
		if off < 0 && st.consumed > st.reported && st.committed >= 0 {
			off = st.committed // no new finished offset: refresh the metadata
		}
		if off >= 0 {
			items = append(items, item{p, off, st.consumed})
		}
	}
	c.mu.Unlock()
	if len(items) == 0 {
		return
	}
	member, gen := c.cl.GroupMetadata()
	if gen < 0 {
		return
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = c.o.Group
	req.Generation = gen
	req.MemberID = member
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = c.cfg.Topic
	id, err := c.topicID(ctx)
	if err != nil {
		c.log.Warn("bus commit failed", "err", err)
		return
	}
	rt.TopicID = id // OffsetCommit v10+ names the topic by ID
	for _, it := range items {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition = it.p
		rp.Offset = it.off
		rp.LeaderEpoch = -1
		// The next owner counts what it consumes below this as
		// redelivered.
		rp.Metadata = kmsg.StringPtr("consumed=" + strconv.FormatInt(it.consumed, 10) +
			";at=" + strconv.FormatInt(time.Now().UnixMilli(), 10))
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(cctx, c.cl)
	if err != nil {
		c.log.Warn("bus commit failed", "err", err)
		return
	}
	ok := map[int32]bool{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				c.log.Warn("bus commit refused", "partition", p.Partition, "err", err)
				continue
			}
			ok[p.Partition] = true
		}
	}
	c.mu.Lock()
	for _, it := range items {
		if st := c.parts[it.p]; st != nil && ok[it.p] {
			st.committed = max(st.committed, it.off)
			st.reported = max(st.reported, it.consumed)
		}
	}
	c.mu.Unlock()
	if c.o.Metrics != nil {
		c.o.Metrics.Commits.Inc()
	}
}

// topicID reads (once) the topic's ID from the brokers' metadata.
func (c *Consumer) topicID(ctx context.Context) ([16]byte, error) {
	c.mu.Lock()
	id := c.id
	c.mu.Unlock()
	if id != ([16]byte{}) {
		return id, nil
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(c.cfg.Topic)
	req.Topics = append(req.Topics, rt)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(cctx, c.cl)
	if err != nil {
		return id, fmt.Errorf("read the topic ID of %s: %w", c.cfg.Topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return id, fmt.Errorf("read the topic ID of %s: %w", c.cfg.Topic, err)
		}
		id = t.TopicID
	}
	c.mu.Lock()
	c.id = id
	c.mu.Unlock()
	return id, nil
}

// fetched learns, when partitions are assigned, where their previous
// owner stood: the committed offset (where consuming resumes) and, from
// the commit's metadata, what that owner had consumed when it last
// committed and when that was. The records from the commit up to the
// first written two CommitIntervals after it may have been delivered by
// the previous owner already (it commits every interval while alive);
// they are counted as redelivered when consumed again: an upper bound of
// the duplicates.
func (c *Consumer) fetched(ctx context.Context, cl *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	committed := map[int32]int64{}
	meta := map[int32]int64{}
	at := map[int32]int64{} // when the previous owner committed, Unix ms
	note := func(topic string, p int32, off int64, m *string) {
		if topic != c.cfg.Topic && topic != "" { // "": named by topic ID (v10); we consume one topic
			return
		}
		committed[p] = off
		if m == nil {
			return
		}
		for _, kv := range strings.Split(*m, ";") {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "consumed":
				meta[p] = n
			case "at":
				at[p] = n
			}
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			note(t.Topic, p.Partition, p.Offset, p.Metadata)
		}
	}
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				note(t.Topic, p.Partition, p.Offset, p.Metadata)
			}
		}
	}
	// The previous owner committed every CommitInterval while it lived:
	// it cannot have consumed records written after its last commit plus
	// two intervals (for its ticker and clock skew).
	bound := c.offsetsAfter(ctx, cl, at, 2*c.o.CommitInterval)
	if c.o.Rebuild != nil && c.o.Replay > 0 {
		c.rebuild(ctx, committed)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, off := range committed {
		st := c.parts[p]
		if st == nil {
			st = &partState{committed: -1, replay: -1}
			c.parts[p] = st
		}
		st.committed = off
		st.consumed = max(st.consumed, off)
		if off >= 0 { // a previous owner committed: it may have gone further
			st.replay = max(st.replay, meta[p], bound[p])
		}
		if st.replay > off && off >= 0 {
			c.log.Info("bus partition taken over", "partition", p, "committed", off, "redelivering_up_to", st.replay)
		}
	}
	c.log.Debug("bus offsets fetched", "committed", fmt.Sprint(committed))
	return nil
}

// rebuildTimeout bounds a ring rebuild; what is not read by then is not
// in the rings.
const rebuildTimeout = 20 * time.Second

// rebuild reads each partition with a commit from Replay ago up to the
// committed offset and hands the messages to Rebuild.
func (c *Consumer) rebuild(ctx context.Context, committed map[int32]int64) {
	c.rebuilding.Add(1)
	defer c.rebuilding.Add(-1)
	start := time.Now()
	since := map[int32]int64{}
	for p, off := range committed {
		if off > 0 {
			since[p] = time.Now().Add(-c.o.Replay).UnixMilli()
		}
	}
	starts := c.offsetsAfter(ctx, c.cl, since, 0) // no entry: nothing that recent
	from := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	for p, start := range starts {
		if off := committed[p]; start < off {
			from[p] = kgo.NewOffset().At(start)
			left[p] = off
		}
	}
	if len(from) == 0 {
		return
	}
	rc, err := kgo.NewClient(append(baseOpts(c.cfg), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.cfg.Topic: from}))...)
	if err != nil {
		c.log.Warn("ring rebuild failed", "err", err)
		return
	}
	defer rc.Close()
	rctx, cancel := context.WithTimeout(ctx, rebuildTimeout)
	defer cancel()
	var msgs []sluice.Message
	n := 0
	for len(left) > 0 && rctx.Err() == nil {
		fs := rc.PollFetches(rctx)
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			end, ok := left[fp.Partition]
			if !ok {
				return
			}
			msgs = msgs[:0]
			for _, r := range fp.Records {
				if r.Offset >= end {
					break
				}
				if m, err := Decode(r.Value); err == nil {
					// Rebuilt lines keep their positions: bus cursors
					// resume by them on this member.
					m.Pos = sluice.MakeBusPos(r.Partition, r.Offset)
					msgs = append(msgs, m)
				}
			}
			if len(msgs) > 0 {
				c.o.Rebuild(msgs)
				n += len(msgs)
			}
			if len(fp.Records) > 0 && fp.Records[len(fp.Records)-1].Offset+1 >= end || fp.HighWatermark <= fp.LogStartOffset {
				delete(left, fp.Partition)
			}
		})
	}
	if len(left) > 0 {
		c.log.Warn("ring rebuild incomplete", "partitions_left", len(left), "err", rctx.Err())
	}
	c.log.Info("rings rebuilt", "partitions", len(from), "messages", n, "took", time.Since(start).Round(time.Millisecond).String())
}

// offsetsAfter returns, per partition of at, the first offset whose record
// was written after at[p] (Unix ms) + slack; the end when none was.
func (c *Consumer) offsetsAfter(ctx context.Context, cl *kgo.Client, at map[int32]int64, slack time.Duration) map[int32]int64 {
	out := map[int32]int64{}
	if len(at) == 0 {
		return out
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = c.cfg.Topic
	for p, ms := range at {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = ms + slack.Milliseconds()
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, shard := range cl.RequestSharded(cctx, req) {
		resp, ok := shard.Resp.(*kmsg.ListOffsetsResponse)
		if shard.Err != nil || !ok {
			continue
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 && p.Offset >= 0 {
					out[p.Partition] = p.Offset
				}
			}
		}
	}
	return out
}

func (c *Consumer) assigned(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	c.joined.Store(true)
	ps := m[c.cfg.Topic]
	if len(ps) == 0 {
		return
	}
	c.mu.Lock()
	for _, p := range ps {
		if c.parts[p] == nil {
			c.parts[p] = &partState{committed: -1, replay: -1}
		}
	}
	c.mu.Unlock()
	if c.o.Metrics != nil {
		c.o.Metrics.Rebalances.Inc()
	}
	c.log.Info("bus partitions assigned", "partitions", fmt.Sprint(ps))
	if c.o.OnAssigned != nil {
		c.o.OnAssigned(ctx, ps)
	}
}

// revoked commits what the drains finished of the partitions leaving,
// waiting a moment for what is in flight, then forgets them.
func (c *Consumer) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	ps := m[c.cfg.Topic]
	if len(ps) == 0 {
		return
	}
	wait, cancel := context.WithTimeout(ctx, revokeWait)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !c.allFinished(ps) {
		select {
		case <-wait.Done():
		case <-t.C:
			continue
		}
		break
	}
	c.commit(context.WithoutCancel(ctx), ps)
	c.forget(ps)
	c.log.Info("bus partitions revoked", "partitions", fmt.Sprint(ps))
}

// revokeWait bounds how long a revoke waits for the drains to finish the
// partitions leaving; what is not finished then is delivered again by the
// next owner.
const revokeWait = 3 * time.Second

func (c *Consumer) allFinished(ps []int32) bool {
	if c.o.Settlement == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		st := c.parts[p]
		if st != nil && len(st.pending) > 0 && !c.o.Settlement.Settled(st.pending[len(st.pending)-1].pos) {
			return false
		}
	}
	return true
}

func (c *Consumer) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	ps := m[c.cfg.Topic]
	if len(ps) == 0 {
		return
	}
	c.forget(ps)
	c.log.Warn("bus partitions lost (not committed)", "partitions", fmt.Sprint(ps))
}

func (c *Consumer) forget(ps []int32) {
	c.mu.Lock()
	for _, p := range ps {
		delete(c.parts, p)
		if c.o.Metrics != nil {
			c.o.Metrics.Lag.DeleteLabelValues(strconv.Itoa(int(p)))
		}
	}
	c.mu.Unlock()
	if c.o.OnRevoked != nil {
		c.o.OnRevoked(ps)
	}
}

// Close is called after Run's ctx ended (the daemon stops consuming,
// then flushes its drains, then closes): it waits for Run, commits what is
// finished, leaves the group (the partitions move to the other members at
// once) and closes the client.
func (c *Consumer) Close(ctx context.Context) {
	if !c.started.Load() {
		c.cl.Close()
		return
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	c.commit(context.WithoutCancel(ctx), nil)
	c.cl.CloseAllowingRebalance() // revokes (committing again) and leaves the group
}

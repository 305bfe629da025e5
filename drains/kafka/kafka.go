package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

// metadataRefresh is how long the drain uses the topic's partition count
// before it reads it again (from the kafka-go Transport's cache, which
// refreshes itself from the brokers every MetadataTTL).
const metadataRefresh = 10 * time.Second

// metadataAttempts bounds how often one Send asks for the metadata of a
// topic that the brokers are still creating.
const metadataAttempts = 6

// errClosed is returned by Send after Close.
var errClosed = fmt.Errorf("kafka: %w", drains.ErrClosed)

// Drain writes batches to one Kafka topic. See the package documentation.
type Drain struct {
	cfg       Config
	logger    *slog.Logger
	json      bool
	timeout   time.Duration
	acks      kafkago.RequiredAcks
	codec     kafkago.Compression
	addr      net.Addr
	transport *kafkago.Transport
	client    *kafkago.Client

	// Owned by the goroutine calling Send, Check and Close.
	nparts int          // the topic's partition count; 0: read it again
	metaAt time.Time    // when nparts was read
	parts  []*partition // by partition number, reused across Sends
	busy   []*partition // the partitions with messages in this Send
	closed bool
}

// partition is one partition's share of a Send: the batch indexes of its
// messages and the buffers its record batches are built in. During a Send
// one goroutine owns it.
type partition struct {
	id    int
	idx   []int // batch indexes of the partition's messages, in order
	enc   batchEncoder
	val   []byte       // the value being encoded
	chunk []int        // batch indexes in enc
	rd    bytes.Reader // over enc's record set, read by kafka-go
	fails []failure    // of this Send
	err   error        // the failure of the last produce request, if any
	lost  bool         // a request returned before kafka-go read enc: leave enc to it
}

type failure struct {
	i        int // batch index
	err      error
	tooLarge bool
}

// New builds a Kafka drain from cfg and the common drain options (Timeout
// bounds one Send; Batch and BatchBytes belong to the Worker). It does not
// dial: the first Send or Check connects.
func New(cfg Config, opts drains.Options, logger *slog.Logger) (*Drain, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("kafka drain: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	codec, _ := codec(cfg.Compression)
	acks, _ := requiredAcks(cfg.Acks)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = drains.DefaultTimeout
	}
	transport := &kafkago.Transport{
		DialTimeout: timeout,
		ClientID:    "sluice",
	}
	if cfg.TLS {
		transport.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.User != "" {
		transport.SASL = plain.Mechanism{Username: cfg.User, Password: cfg.Password}
	}
	addr := kafkago.TCP(cfg.Brokers...)
	return &Drain{
		cfg:       cfg,
		logger:    logger.With("topic", cfg.Topic),
		json:      cfg.Format == FormatJSON,
		timeout:   timeout,
		acks:      acks,
		codec:     codec,
		addr:      addr,
		transport: transport,
		// No Client.Timeout: Send's ctx carries the deadline, and the
		// produce requests ask the brokers to answer within it.
		client: &kafkago.Client{Addr: addr, Transport: transport},
	}, nil
}

// Send writes batch to the topic and waits until the brokers acknowledged
// every record (or ctx, or the Options.Timeout, ends). See drains.Drain.
//
// The messages of each partition become one produce request (more when
// they exceed MaxBytes, sent one after the other); the requests of
// different partitions are built and sent concurrently, one goroutine per
// partition, and Send waits for all of them.
func (d *Drain) Send(ctx context.Context, batch []sluice.Message) error {
	if d.closed {
		return errClosed
	}
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()

	n, err := d.partitionCount(ctx)
	if err != nil {
		return classify(d.cfg.Topic, err)
	}
	busy := d.assign(batch, n)
	if len(busy) == 1 {
		d.produce(ctx, busy[0], batch)
	} else {
		var wg sync.WaitGroup
		for _, p := range busy {
			wg.Go(func() { d.produce(ctx, p, batch) })
		}
		wg.Wait()
	}
	return d.result(busy, len(batch))
}

// assign spreads batch over the topic's n partitions by the hash of the
// app (key), kafka-go's Hash balancer (and Sarama's): FNV-1a, as int32,
// modulo n. It returns the partitions with messages.
func (d *Drain) assign(batch []sluice.Message, n int) []*partition {
	for len(d.parts) < n {
		d.parts = append(d.parts, &partition{id: len(d.parts)})
	}
	for _, p := range d.parts[:n] {
		p.idx = p.idx[:0]
	}
	for i := range batch {
		app := batch[i].App
		h := uint32(2166136261)
		for j := 0; j < len(app); j++ {
			h ^= uint32(app[j])
			h *= 16777619
		}
		k := int32(h) % int32(n)
		if k < 0 {
			k = -k
		}
		p := d.parts[k]
		p.idx = append(p.idx, i)
	}
	d.busy = d.busy[:0]
	for _, p := range d.parts[:n] {
		if len(p.idx) > 0 {
			d.busy = append(d.busy, p)
		}
	}
	return d.busy
}

// produce sends p's messages of batch in order, in record batches of at
// most MaxBytes (uncompressed), each once the previous one was
// acknowledged. After a failed request the rest of the partition's
// messages are not sent (they would overtake the failed ones) and fail
// too, retryably.
func (d *Drain) produce(ctx context.Context, p *partition, batch []sluice.Message) {
	p.fails, p.err = p.fails[:0], nil
	for next := 0; next < len(p.idx); {
		next = d.fill(p, batch, next)
		if p.enc.n == 0 {
			continue // every message of this round was too large
		}
		recErrs, err := d.request(ctx, p)
		if err == nil {
			continue
		}
		for k, i := range p.chunk {
			ferr := err
			if re, ok := recErrs[k]; ok {
				ferr = fmt.Errorf("%w (record: %w)", err, re)
			}
			p.fails = append(p.fails, failure{i: i, err: ferr})
		}
		if next < len(p.idx) {
			unsent := fmt.Errorf("kafka produce to topic %q partition %d: not sent after an earlier request for the partition failed (%s)",
				d.cfg.Topic, p.id, err.Error())
			for _, i := range p.idx[next:] {
				p.fails = append(p.fails, failure{i: i, err: unsent})
			}
		}
		return
	}
}

// fill encodes p's messages from p.idx[from:] into a new record batch of
// at most MaxBytes and returns where the next batch starts. A message
// whose record alone exceeds MaxBytes fails permanently.
func (d *Drain) fill(p *partition, batch []sluice.Message, from int) int {
	p.enc.codec = d.codec
	p.enc.reset()
	p.chunk = p.chunk[:0]
	for k := from; k < len(p.idx); k++ {
		i := p.idx[k]
		m := &batch[i]
		if d.json {
			p.val = appendJSON(p.val[:0], m)
		} else {
			p.val = sluice.AppendRFC5424(p.val[:0], m)
		}
		size := len(m.App) + len(p.val) + recordOverhead
		if int64(size) > d.cfg.MaxBytes {
			p.fails = append(p.fails, failure{i: i, tooLarge: true, err: fmt.Errorf(
				"%w: kafka record of %d bytes is larger than max_bytes %d", drains.ErrPermanent, size, d.cfg.MaxBytes)})
			continue
		}
		if p.enc.n > 0 && int64(p.enc.size()+size) > d.cfg.MaxBytes {
			return k
		}
		p.enc.add(m.App, p.val, m.Time)
		p.chunk = append(p.chunk, i)
	}
	return len(p.idx)
}

// request sends p's record batch and waits for the answer. It returns the
// failures of single records (by position in the record batch) when the
// broker names them, and the classified failure.
func (d *Drain) request(ctx context.Context, p *partition) (map[int]error, error) {
	rs, err := p.enc.finish()
	if err != nil {
		return nil, classify(d.cfg.Topic, err)
	}
	p.rd.Reset(rs)
	res, err := d.client.RawProduce(ctx, &kafkago.RawProduceRequest{
		Topic:        d.cfg.Topic,
		Partition:    p.id,
		RequiredAcks: d.acks,
		RawRecords:   protocol.RawRecordSet{Reader: &p.rd},
	})
	if err == nil && res != nil && res.Error != nil {
		err = res.Error
	}
	if err == nil {
		return nil, nil
	}
	p.err = err
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// RawProduce returned while kafka-go may still be reading the
		// record set: it keeps p's buffers.
		p.lost = true
	}
	err = classify(d.cfg.Topic, fmt.Errorf("partition %d: %w", p.id, err))
	if res != nil {
		return res.RecordErrors, err
	}
	return nil, err
}

// result turns the failures the partitions recorded into Send's error: nil,
// one whole-batch error when every message failed the same way (retryable
// or permanent, none for being too large), or a *drains.BatchError.
func (d *Drain) result(busy []*partition, n int) error {
	failed, tooLarge := 0, 0
	refresh := false
	for k, p := range busy {
		failed += len(p.fails)
		for _, f := range p.fails {
			if f.tooLarge {
				tooLarge++
			}
		}
		if p.err != nil {
			// The partition may have moved (a new leader) or the topic
			// changed: read the metadata again before the next Send.
			d.nparts = 0
			if refreshesTransport(p.err) {
				refresh = true
			}
		}
		if p.lost {
			fresh := &partition{id: p.id, idx: p.idx, fails: p.fails}
			d.parts[p.id], busy[k] = fresh, fresh
		}
	}
	if refresh {
		// kafka-go's Transport serves metadata from a cache it renews
		// every MetadataTTL; a new connection pool reads it now.
		d.transport.CloseIdleConnections()
	}
	if failed == 0 {
		return nil
	}
	be := &drains.BatchError{Failed: make(map[int]error, failed)}
	var first error
	firstIdx, permanent, same := n, false, true
	for _, p := range busy {
		for _, f := range p.fails {
			be.Failed[f.i] = f.err
			if first == nil {
				permanent = drains.IsPermanent(f.err)
			} else if drains.IsPermanent(f.err) != permanent {
				same = false
			}
			if f.i < firstIdx {
				first, firstIdx = f.err, f.i
			}
		}
	}
	if failed == n && same && tooLarge == 0 {
		return first
	}
	return be
}

// partitionCount returns the topic's partition count, read again after
// metadataRefresh or a failed Send. A topic the brokers are creating
// (auto-created by this request) is waited for, briefly.
func (d *Drain) partitionCount(ctx context.Context) (int, error) {
	if d.nparts > 0 && time.Since(d.metaAt) < metadataRefresh {
		return d.nparts, nil
	}
	wait := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		n, err := d.readPartitions(ctx)
		if err == nil {
			if n != d.nparts && d.nparts != 0 {
				d.logger.Info("kafka topic partition count changed", "from", d.nparts, "to", n)
			}
			d.nparts, d.metaAt = n, time.Now()
			return n, nil
		}
		if attempt == metadataAttempts || !(errors.Is(err, kafkago.LeaderNotAvailable) || errors.Is(err, kafkago.UnknownTopicOrPartition)) {
			return 0, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, err
		}
		wait *= 2
	}
}

// readPartitions asks for the topic's metadata (served from the
// Transport's cache when it knows the topic), allowing the brokers to
// create it.
func (d *Drain) readPartitions(ctx context.Context) (int, error) {
	res, err := d.transport.RoundTrip(ctx, d.addr, &metadata.Request{
		TopicNames:             []string{d.cfg.Topic},
		AllowAutoTopicCreation: true,
	})
	if err != nil {
		return 0, fmt.Errorf("kafka metadata %s: %w", d.addr, err)
	}
	md, ok := res.(*metadata.Response)
	if !ok {
		return 0, fmt.Errorf("kafka metadata %s: unexpected response %T", d.addr, res)
	}
	for _, t := range md.Topics {
		if t.Name != d.cfg.Topic {
			continue
		}
		if t.ErrorCode != 0 {
			return 0, fmt.Errorf("kafka metadata %s: %w", d.addr, kafkago.Error(t.ErrorCode))
		}
		if len(t.Partitions) == 0 {
			return 0, fmt.Errorf("kafka metadata %s: topic has no partitions: %w", d.addr, kafkago.LeaderNotAvailable)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("kafka metadata %s: %w", d.addr, kafkago.UnknownTopicOrPartition)
}

// Check dials a broker and fetches the topic's metadata, asking the brokers
// to create the topic when they auto-create topics (as the first Send
// would). It writes no records.
func (d *Drain) Check(ctx context.Context) error {
	if d.closed {
		return errClosed
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	res, err := d.transport.RoundTrip(ctx, d.addr, &metadata.Request{
		TopicNames:             []string{d.cfg.Topic},
		AllowAutoTopicCreation: true,
	})
	if err != nil {
		return fmt.Errorf("kafka check %s: %w", d.addr, err)
	}
	md, ok := res.(*metadata.Response)
	if !ok {
		return fmt.Errorf("kafka check %s: unexpected metadata response %T", d.addr, res)
	}
	for _, t := range md.Topics {
		if t.Name != d.cfg.Topic {
			continue
		}
		switch kerr := kafkago.Error(t.ErrorCode); kerr {
		case 0, kafkago.LeaderNotAvailable:
			// LeaderNotAvailable: just created, a leader is being elected.
			return nil
		case kafkago.UnknownTopicOrPartition:
			return fmt.Errorf("kafka check %s: topic %q does not exist and the brokers do not auto-create it: %w",
				d.addr, d.cfg.Topic, kerr)
		default:
			return classify(d.cfg.Topic, fmt.Errorf("kafka check %s: %w", d.addr, kerr))
		}
	}
	return fmt.Errorf("kafka check %s: topic %q missing from the metadata response", d.addr, d.cfg.Topic)
}

// Close closes the connections. Send has no requests in flight when it
// returns, except those abandoned when a Send's ctx ended; they fail with
// the connections. Close may be called more than once; it does not block.
func (d *Drain) Close(ctx context.Context) error {
	if !d.closed {
		d.closed = true
		d.transport.CloseIdleConnections()
	}
	return nil
}

var _ drains.Drain = (*Drain)(nil)

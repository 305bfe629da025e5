package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-logs/sluice"
)

// ProducerOptions tune a Producer; zero values take the defaults.
type ProducerOptions struct {
	// MaxBuffered bounds the records waiting for the brokers. TryPublish
	// refuses a batch that would pass it (ErrBackpressure); Publish waits.
	// Default 100000.
	MaxBuffered int
	// Linger is how long the client waits to fill a batch (default 2ms).
	Linger time.Duration
	// DeliveryTimeout bounds the wait for one record's acknowledgement
	// (default 30s): a batch never waits longer for the brokers.
	DeliveryTimeout time.Duration
	Logger          *slog.Logger
	Metrics         *Metrics
}

// Producer publishes messages to the bus. It is a sluice.Publisher: the
// ingest sources hand it what they accept, and Publish and TryPublish
// return nil only once the brokers acknowledged every record of the batch
// (with acks=all, every in-sync replica). Safe for concurrent use.
type Producer struct {
	cl    *kgo.Client
	cfg   Config
	max   int64
	m     *Metrics
	log   *slog.Logger
	parts int

	mu     sync.RWMutex // Close waits for publishes in progress
	closed bool
}

// NewProducer connects to the bus, creates the topic when missing, and
// returns a producer for it. ctx bounds the connection and the topic
// creation.
func NewProducer(ctx context.Context, cfg Config, o ProducerOptions) (*Producer, error) {
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 100_000
	}
	if o.Linger <= 0 {
		o.Linger = 2 * time.Millisecond
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = cfg.Timeout
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	opts := append(baseOpts(cfg),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RecordPartitioner(partitioner),
		kgo.ProducerLinger(o.Linger),
		kgo.MaxBufferedRecords(o.MaxBuffered),
		kgo.RecordDeliveryTimeout(o.DeliveryTimeout),
		kgo.ProducerBatchCompression(compression(cfg.Compression)),
	)
	if cfg.Acks == "one" {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("bus producer %s: %w", cfg.Redacted(), err)
	}
	n, err := EnsureTopic(ctx, cl, cfg)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("bus producer %s: %w", cfg.Redacted(), err)
	}
	return &Producer{cl: cl, cfg: cfg, max: int64(o.MaxBuffered), m: o.Metrics, log: o.Logger, parts: n}, nil
}

// Partitions is the topic's partition count when the producer started.
func (p *Producer) Partitions() int { return p.parts }

// Publish produces batch, key = app, and waits until the brokers have
// acknowledged all of it. It waits for room in the client's buffer (a slow
// bus slows the caller). On an error some records may have been
// acknowledged: the sender retries, and the consumers may see those twice.
func (p *Producer) Publish(ctx context.Context, batch []sluice.Message) error {
	return p.produce(ctx, batch, false)
}

// TryPublish is Publish that refuses at once, with
// sluice.ErrBackpressure, a batch for which the client's buffer has no
// room; it still waits for the acknowledgements (bounded by the delivery
// timeout).
func (p *Producer) TryPublish(batch []sluice.Message) error {
	return p.produce(context.Background(), batch, true)
}

func (p *Producer) produce(ctx context.Context, batch []sluice.Message, try bool) error {
	if len(batch) == 0 {
		return nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return sluice.ErrClosed
	}
	if try && p.cl.BufferedProduceRecords()+int64(len(batch)) > p.max {
		return sluice.ErrBackpressure
	}
	// One allocation holds every record value of the batch: the client
	// keeps the records until they are acknowledged.
	size := 0
	for i := range batch {
		size += EncodedSize(&batch[i]) + len(batch[i].App) // value and key
	}
	buf := make([]byte, 0, size)
	recs := make([]kgo.Record, len(batch))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		fails int
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			fails++
			mu.Unlock()
		}
		wg.Done()
	}
	wg.Add(len(batch))
	for i := range batch {
		m := &batch[i]
		start := len(buf)
		buf = Encode(buf, m)
		r := &recs[i]
		r.Value = buf[start:len(buf):len(buf)]
		start = len(buf)
		buf = append(buf, m.App...)
		r.Key = buf[start:len(buf):len(buf)]
		p.cl.Produce(ctx, r, done)
	}
	wg.Wait()
	p.m.add(func(m *Metrics) prometheus.Counter { return m.Produced }, len(batch)-fails)
	p.m.add(func(m *Metrics) prometheus.Counter { return m.ProduceErrors }, fails)
	if first != nil {
		if errors.Is(first, context.Canceled) || errors.Is(first, context.DeadlineExceeded) {
			return fmt.Errorf("produce to the bus: %w", first)
		}
		// The sender should retry later, maybe elsewhere.
		return fmt.Errorf("%w: produce to the bus: %d of %d messages failed: %w", sluice.ErrBackpressure, fails, len(batch), first)
	}
	return nil
}

// Close waits for the publishes in progress, then flushes and closes the
// client within ctx.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.cl.Flush(ctx)
	p.cl.Close()
	return err
}

// compression maps a BUS_URL codec name to kgo's.
func compression(name string) kgo.CompressionCodec {
	switch name {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.Lz4Compression()
}

var _ sluice.Publisher = (*Producer)(nil)

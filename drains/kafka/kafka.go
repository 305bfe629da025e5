package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

// recordOverhead bounds what kafka-go adds to a record's key and value when
// it checks a message against the writer's BatchBytes (23 bytes for a
// record without headers, rounded up).
const recordOverhead = 32

// errClosed is returned by Send after Close.
var errClosed = fmt.Errorf("%w: kafka drain closed", drains.ErrPermanent)

// Drain writes batches to one Kafka topic. See the package documentation.
type Drain struct {
	cfg       Config
	logger    *slog.Logger
	json      bool
	timeout   time.Duration
	transport *kafkago.Transport
	w         *kafkago.Writer

	// Reused across Sends (never shared: one Worker goroutine calls Send).
	arena  []byte            // keys and values of the current batch
	spans  []span            // where each message's key and value sit in arena
	recs   []kafkago.Message // the records handed to the writer
	sent   []int             // batch index of each record in recs
	failed map[int]error     // messages refused before sending (too large)

	closed    bool
	closeDone chan struct{} // closed when the writer's Close returned
}

type span struct{ key, value, end int }

// New builds a Kafka drain from cfg and the common drain options (Batch
// sizes the writer's per-partition batches, Timeout bounds one Send and
// each request). It does not dial: the first Send or Check connects.
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
	compression, _ := codec(cfg.Compression)
	acks, _ := requiredAcks(cfg.Acks)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = drains.DefaultTimeout
	}
	batch := opts.Batch
	if batch < 1 {
		batch = drains.DefaultBatch
	}
	logger = logger.With("topic", cfg.Topic)

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
	w := &kafkago.Writer{
		Addr:  kafkago.TCP(cfg.Brokers...),
		Topic: cfg.Topic,
		// Key = app: one partition per app keeps each app's order.
		Balancer:               &kafkago.Hash{},
		RequiredAcks:           acks,
		Compression:            compression,
		AllowAutoTopicCreation: true,
		// The Worker owns retries and batching: one attempt, and a
		// per-partition batch that takes the whole Send at once. A Send
		// spread over several partitions leaves each partition's batch
		// short of BatchSize; BatchTimeout sends those without waiting.
		MaxAttempts:  1,
		BatchSize:    batch,
		BatchBytes:   cfg.MaxBytes,
		BatchTimeout: time.Millisecond,
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		// Send returns every failure to the Worker, which logs it; kafka-go's
		// own account goes to debug.
		ErrorLogger: kafkago.LoggerFunc(func(msg string, args ...any) {
			if logger.Enabled(context.Background(), slog.LevelDebug) {
				logger.Debug("kafka-go: " + fmt.Sprintf(msg, args...))
			}
		}),
		Transport: transport,
	}
	return &Drain{
		cfg:       cfg,
		logger:    logger,
		json:      cfg.Format == FormatJSON,
		timeout:   timeout,
		transport: transport,
		w:         w,
		failed:    make(map[int]error),
	}, nil
}

// Send writes batch to the topic and waits until the brokers acknowledged
// every record (or ctx, or the Options.Timeout, ends). See drains.Drain.
func (d *Drain) Send(ctx context.Context, batch []sluice.Message) error {
	if d.closed {
		return errClosed
	}
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()

	d.encode(batch)
	if len(d.recs) == 0 {
		// Every message was too large.
		return d.batchError(nil)
	}
	err := d.w.WriteMessages(ctx, d.recs...)
	if err == nil {
		if len(d.failed) > 0 {
			return d.batchError(nil)
		}
		return nil
	}
	var werrs kafkago.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(d.recs) {
		// Every partition batch completed: kafka-go is done with the
		// arena, which stays ours.
		return d.batchError(werrs)
	}
	n := len(d.recs)
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// WriteMessages returned while kafka-go may still be writing
		// these records: leave the arena to it.
		d.arena, d.recs = nil, nil
	}
	if len(d.failed) > 0 {
		// The whole write failed; the messages refused before it failed
		// on their own account.
		werrs = make(kafkago.WriteErrors, n)
		for i := range werrs {
			werrs[i] = err
		}
		return d.batchError(werrs)
	}
	return classify(d.cfg.Topic, err)
}

// encode fills d.recs with one record per message that fits, key = app,
// value = the formatted message, and d.failed with the messages that do
// not fit.
func (d *Drain) encode(batch []sluice.Message) {
	clear(d.failed)
	d.arena = d.arena[:0]
	d.spans = d.spans[:0]
	d.sent = d.sent[:0]
	for i := range batch {
		m := &batch[i]
		s := span{key: len(d.arena)}
		d.arena = append(d.arena, m.App...)
		s.value = len(d.arena)
		if d.json {
			d.arena = appendJSON(d.arena, m)
		} else {
			d.arena = sluice.AppendRFC5424(d.arena, m)
		}
		s.end = len(d.arena)
		if int64(s.end-s.key+recordOverhead) > d.cfg.MaxBytes {
			d.failed[i] = fmt.Errorf("%w: kafka record of %d bytes is larger than max_bytes %d",
				drains.ErrPermanent, s.end-s.key+recordOverhead, d.cfg.MaxBytes)
			d.arena = d.arena[:s.key]
			continue
		}
		d.spans = append(d.spans, s)
		d.sent = append(d.sent, i)
	}
	// The arena has stopped growing: slice it now.
	if cap(d.recs) < len(d.spans) {
		d.recs = make([]kafkago.Message, len(d.spans))
	}
	d.recs = d.recs[:len(d.spans)]
	for j, s := range d.spans {
		d.recs[j] = kafkago.Message{
			Key:   d.arena[s.key:s.value:s.value],
			Value: d.arena[s.value:s.end:s.end],
			Time:  batch[d.sent[j]].Time,
		}
	}
}

// batchError reports the messages refused by encode plus those werrs (one
// entry per record, nil when delivered) says failed. When every message
// failed with errors of one kind, it returns one whole-batch error instead.
func (d *Drain) batchError(werrs kafkago.WriteErrors) error {
	be := &drains.BatchError{Failed: make(map[int]error, len(d.failed)+len(werrs))}
	for i, err := range d.failed {
		be.Failed[i] = err
	}
	for j, err := range werrs {
		if err != nil {
			be.Failed[d.sent[j]] = classify(d.cfg.Topic, err)
		}
	}
	if len(be.Failed) == 0 {
		return nil
	}
	if len(be.Failed) == len(d.sent)+len(d.failed) {
		first, permanent, same := error(nil), false, true
		for _, err := range be.Failed {
			if first == nil {
				first, permanent = err, drains.IsPermanent(err)
			} else if drains.IsPermanent(err) != permanent {
				same = false
				break
			}
		}
		if same && len(d.failed) == 0 {
			return first
		}
	}
	return be
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
	res, err := d.transport.RoundTrip(ctx, d.w.Addr, &metadata.Request{
		TopicNames:             []string{d.cfg.Topic},
		AllowAutoTopicCreation: true,
	})
	if err != nil {
		return fmt.Errorf("kafka check %s: %w", d.w.Addr, err)
	}
	md, ok := res.(*metadata.Response)
	if !ok {
		return fmt.Errorf("kafka check %s: unexpected metadata response %T", d.w.Addr, res)
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
				d.w.Addr, d.cfg.Topic, kerr)
		default:
			return classify(d.cfg.Topic, fmt.Errorf("kafka check %s: %w", d.w.Addr, kerr))
		}
	}
	return fmt.Errorf("kafka check %s: topic %q missing from the metadata response", d.w.Addr, d.cfg.Topic)
}

// Close waits for the writer's in-flight requests (each bounded by the
// Options.Timeout) and closes the connections; it returns ctx.Err() if ctx
// ends first, leaving the writer to finish within that timeout. Close may
// be called more than once.
func (d *Drain) Close(ctx context.Context) error {
	if !d.closed {
		d.closed = true
		d.closeDone = make(chan struct{})
		go func() {
			defer close(d.closeDone)
			if err := d.w.Close(); err != nil {
				d.logger.Warn("close kafka writer", "err", err)
			}
			d.transport.CloseIdleConnections()
		}()
	}
	select {
	case <-d.closeDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close kafka drain: %w", ctx.Err())
	}
}

var _ drains.Drain = (*Drain)(nil)

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/sluice-logs/sluice/benchmarks/internal/load"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kafkaproduce:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		brokers    = flag.String("brokers", "127.0.0.1:9092", "broker address")
		topic      = flag.String("topic", "bench", "topic")
		n          = flag.Int64("n", 1_000_000, "messages to write")
		apps       = flag.Int("apps", 100, "distinct apps (record keys)")
		size       = flag.Int("size", 150, "message size in bytes")
		batch      = flag.Int("batch", 1000, "records per WriteMessages call")
		writers    = flag.Int("writers", 2, "goroutines calling WriteMessages")
		batchBytes = flag.Int64("batch-bytes", 1<<20, "kafka-go Writer BatchBytes")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pool := load.NewPool(load.Options{Apps: *apps, Size: *size})
	recs := make([]kafkago.Message, pool.Len())
	for i := range recs {
		recs[i] = kafkago.Message{Key: []byte(pool.App(i)), Value: pool.Message(i)}
	}
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(*brokers),
		Topic:                  *topic,
		Balancer:               &kafkago.Hash{},
		RequiredAcks:           kafkago.RequireAll,
		Compression:            compress.Lz4,
		AllowAutoTopicCreation: true,
		MaxAttempts:            3,
		BatchSize:              *batch,
		BatchBytes:             *batchBytes,
		BatchTimeout:           time.Millisecond,
	}
	defer w.Close()

	var (
		next  atomic.Int64
		res   load.Result
		wg    sync.WaitGroup
		errMu sync.Mutex
		errs  []error
	)
	batches := (*n + int64(*batch) - 1) / int64(*batch)
	start := time.Now()
	for range *writers {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= batches || ctx.Err() != nil {
					return
				}
				cnt := min(int64(*batch), *n-k*int64(*batch))
				from := int(k * int64(*batch) % int64(len(recs)))
				msgs := make([]kafkago.Message, cnt)
				var bytes int64
				for i := range msgs {
					msgs[i] = recs[(from+i)%len(recs)]
					bytes += int64(len(msgs[i].Value))
				}
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					errMu.Lock()
					errs = append(errs, err)
					errMu.Unlock()
					return
				}
				atomic.AddInt64(&res.Sent, cnt)
				atomic.AddInt64(&res.Bytes, bytes)
			}
		})
	}
	wg.Wait()
	res.Finish(start)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	out, _ := json.Marshal(struct {
		load.Result
		CPUSeconds float64 `json:"cpu_seconds"`
		MaxRSSKiB  int64   `json:"max_rss_kib"`
	}{res, tv(ru.Utime) + tv(ru.Stime), int64(ru.Maxrss)})
	fmt.Println(string(out))
	return errors.Join(errs...)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

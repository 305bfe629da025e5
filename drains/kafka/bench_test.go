package kafka

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkSend measures Send of 500-message batches into an in-process
// kfake broker that acknowledges without storing (BlackholeProduce), over
// 8 apps and 4 partitions. allocs/msg counts the whole process: kafka-go
// and the broker too (BenchmarkEncode isolates the drain's own share).
func BenchmarkSend(b *testing.B) {
	const batchSize = 500
	for _, bc := range []struct{ name, format, compression string }{
		{"rfc5424/lz4", FormatRFC5424, "lz4"},
		{"rfc5424/none", FormatRFC5424, "none"},
		{"rfc5424/zstd", FormatRFC5424, "zstd"},
		{"json/lz4", FormatJSON, "lz4"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(),
				kfake.DefaultNumPartitions(4), kfake.BlackholeProduce())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			opts := testOptions()
			opts.Batch = batchSize
			d, err := New(Config{Brokers: c.ListenAddrs(), Topic: "bench", Format: bc.format, Compression: bc.compression}, opts, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = d.Close(ctx)
			}()
			batch := makeBatch([]string{"web", "worker", "api", "billing", "cron", "mail", "search", "auth"}, 0, batchSize)
			var bytes int64
			for i := range batch {
				bytes += int64(batch[i].Size())
			}
			ctx := context.Background()
			if err := d.Send(ctx, batch); err != nil { // connect, create the topic
				b.Fatal(err)
			}
			b.SetBytes(bytes)
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := d.Send(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			msgs := float64(b.N) * batchSize
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/msgs, "allocs/msg")
		})
	}
}

// BenchmarkEncode measures the drain's own work per batch: formatting 500
// messages into one partition's reused buffers, building the record batch
// and compressing it (no request is sent).
func BenchmarkEncode(b *testing.B) {
	for _, bc := range []struct{ name, format, compression string }{
		{"rfc5424/lz4", FormatRFC5424, "lz4"},
		{"rfc5424/none", FormatRFC5424, "none"},
		{"json/lz4", FormatJSON, "lz4"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "bench", Format: bc.format, Compression: bc.compression}, testOptions(), nil)
			if err != nil {
				b.Fatal(err)
			}
			batch := makeBatch([]string{"web", "worker", "api"}, 0, 500)
			var bytes int64
			for i := range batch {
				bytes += int64(batch[i].Size())
			}
			p := d.assign(batch, 1)[0]
			b.SetBytes(bytes)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if next := d.fill(p, batch, 0); next != len(batch) {
					b.Fatalf("fill took %d of %d messages", next, len(batch))
				}
				if _, err := p.enc.finish(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/500, "ns/msg")
		})
	}
}

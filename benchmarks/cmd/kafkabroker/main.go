package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluice-logs/sluice/benchmarks/internal/kcount"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kafkabroker:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		port       = flag.Int("port", 9092, "listen port on 127.0.0.1")
		partitions = flag.Int("partitions", 4, "partitions of auto-created and seeded topics")
		topics     = flag.String("topics", "", "comma-separated topics to create at start")
		count      = flag.Bool("count", false, "client mode: print the number of records in -topic and exit")
		addr       = flag.String("addr", "127.0.0.1:9092", "broker address for -count")
		topic      = flag.String("topic", "bench", "topic for -count")
	)
	flag.Parse()
	if *count {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := kcount.New(*addr)
		if err != nil {
			return err
		}
		defer c.Close()
		n, err := c.Records(ctx, *topic)
		if err != nil {
			return err
		}
		fmt.Println(n)
		return nil
	}

	opts := []kfake.Opt{
		kfake.Ports(*port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start broker on port %d: %w", *port, err)
	}
	defer c.Close()
	fmt.Println("ready", strings.Join(c.ListenAddrs(), ","))
	<-ctx.Done()
	return nil
}

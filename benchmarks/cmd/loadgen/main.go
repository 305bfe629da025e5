package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluice-logs/sluice/benchmarks/internal/load"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		syslogAddr = flag.String("syslog", "", "syslog TCP address host:port")
		httpURL    = flag.String("http", "", "HTTP ingest URL, e.g. http://127.0.0.1:8080/logs")
		otlp       = flag.Bool("otlp", false, "with -http: send OTLP/HTTP protobuf (-http is then …/v1/logs)")
		framing    = flag.String("framing", "octet", "syslog framing: octet or lf")
		conns      = flag.Int("conns", 1, "syslog TCP connections")
		clients    = flag.Int("clients", 4, "concurrent HTTP clients")
		batch      = flag.Int("batch", 500, "messages per HTTP POST")
		apps       = flag.Int("apps", 100, "distinct apps")
		size       = flag.Int("size", 150, "message size in bytes (unframed)")
		n          = flag.Int64("n", 1_000_000, "messages to send")
		token      = flag.String("token", "", "HTTP ingest token")
	)
	flag.Parse()
	if (*syslogAddr == "") == (*httpURL == "") {
		return errors.New("give exactly one of -syslog and -http")
	}
	f, err := load.ParseFraming(*framing)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pool := load.NewPool(load.Options{Apps: *apps, Size: *size})
	var res load.Result
	if *syslogAddr != "" {
		res, err = load.SendTCP(ctx, *syslogAddr, pool, f, *conns, *n)
	} else {
		send := load.SendHTTP
		if *otlp {
			send = load.SendOTLP
		}
		res, err = send(ctx, pool, load.HTTPOptions{URL: *httpURL, Batch: *batch, Clients: *clients, Token: *token}, *n)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return err
}

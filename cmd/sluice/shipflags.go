package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-logs/sluice/ship"
)

// shipOptions are the flags `sluice ship` and `sluice agent` share: where
// to send and how to batch, buffer and retry.
type shipOptions struct {
	syslog      string
	batchLines  int
	batchWait   time.Duration
	bufferLines int
	bufferBytes sizeFlag
	drop, block bool
	maxAttempts int
	retryWait   time.Duration
	maxLine     sizeFlag
	timeout     time.Duration
	flushWait   time.Duration
	noGzip      bool
}

// addShipFlags defines the shared flags on fs.
func addShipFlags(fs *flag.FlagSet, o *shipOptions, defaultBlock bool) {
	fs.StringVar(&o.syslog, "syslog", "", "Send to `URL` (syslog://host:port or syslog+tls://host:port) instead of $SLUICE_URL")
	fs.IntVar(&o.batchLines, "batch-lines", ship.DefaultBatchLines, "Send at most `N` lines per request")
	fs.DurationVar(&o.batchWait, "batch-wait", ship.DefaultBatchWait, "Send a partial batch once its oldest line waited `D`")
	fs.IntVar(&o.bufferLines, "buffer-lines", ship.DefaultBufferLines, "Hold at most `N` lines (queued and in flight)")
	o.bufferBytes = ship.DefaultBufferBytes
	fs.Var(&o.bufferBytes, "buffer-bytes", "Hold at most `SIZE` bytes of lines (e.g. 16MiB)")
	o.drop, o.block = !defaultBlock, defaultBlock
	fs.BoolVar(&o.drop, "drop", o.drop, "When the buffer is full, drop the oldest lines and report them (Error L12)")
	fs.BoolVar(&o.block, "block", o.block, "When the buffer is full, stop reading input until there is room")
	fs.IntVar(&o.maxAttempts, "max-attempts", ship.DefaultMaxAttempts, "Give a batch up after `N` failed attempts and report it (Error L13); 0 retries forever")
	fs.DurationVar(&o.retryWait, "retry-wait", ship.DefaultBackoffBase, "First retry waits up to `D`, doubling to 10s (full jitter)")
	o.maxLine = ship.DefaultMaxLineBytes
	fs.Var(&o.maxLine, "max-line-bytes", "Split longer lines into parts of at most `SIZE` bytes (the router's MAX_MESSAGE_BYTES)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "Give one request at most `D`")
	fs.DurationVar(&o.flushWait, "flush-timeout", 10*time.Second, "At exit, try to deliver what is buffered for at most `D`")
	fs.BoolVar(&o.noGzip, "no-gzip", false, "Never compress request bodies")
}

// policy resolves --drop and --block: the one given last on the command
// line wins (both are booleans; the parser visits them in order).
func (o *shipOptions) policy(fs *flag.FlagSet) ship.Policy {
	p := ship.PolicyDrop
	if !o.drop {
		p = ship.PolicyBlock
	}
	fs.Visit(func(f *flag.Flag) {
		switch {
		case f.Name == "block" && o.block:
			p = ship.PolicyBlock
		case f.Name == "drop" && o.drop:
			p = ship.PolicyDrop
		}
	})
	return p
}

// newShipper builds the transport and the Shipper the options describe.
func (o *shipOptions) newShipper(fs *flag.FlagSet, getenv func(string) string, errs *ship.ErrLog, onAck func(uint64)) (*ship.Shipper, error) {
	var tr ship.Transport
	tc, err := clientTLS(getenv)
	if err != nil {
		return nil, err
	}
	if o.syslog != "" {
		var s *ship.Syslog
		if s, err = ship.NewSyslog(o.syslog, o.timeout); err == nil {
			s.SetTLSConfig(tc)
			tr = s
		}
	} else {
		raw := getenv("SLUICE_URL")
		if raw == "" {
			raw = defaultURL
		}
		u, uerr := baseURL(raw)
		if uerr != nil {
			return nil, uerr
		}
		var h *ship.HTTP
		if h, err = ship.NewHTTP(u.String(), getenv("SLUICE_TOKEN"), o.timeout, !o.noGzip); err == nil {
			h.SetTLSConfig(tc)
			tr = h
		}
	}
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	// The buffer is most of what the shipper holds: let the garbage
	// collector work to keep the heap near it rather than at twice the
	// peak (unless the operator set GOMEMLIMIT).
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2*int64(o.bufferBytes) + int64(o.maxLine)*4 + 24<<20)
	}
	attempts := o.maxAttempts
	if attempts == 0 {
		attempts = -1
	}
	return ship.New(ship.Config{
		Transport:   tr,
		BatchLines:  o.batchLines,
		BatchWait:   o.batchWait,
		BufferLines: o.bufferLines,
		BufferBytes: int(o.bufferBytes),
		Policy:      o.policy(fs),
		MaxAttempts: attempts,
		BackoffBase: o.retryWait,
		OnAck:       onAck,
		Errors:      errs,
	})
}

// validate checks the numeric flags.
func (o *shipOptions) validate(cmd string) error {
	switch {
	case o.batchLines < 1:
		return usageErrorf("%s: --batch-lines %d: want at least 1", cmd, o.batchLines)
	case o.batchWait <= 0:
		return usageErrorf("%s: --batch-wait %s: want a positive duration", cmd, o.batchWait)
	case o.bufferLines < 1 || o.bufferBytes < 1:
		return usageErrorf("%s: --buffer-lines and --buffer-bytes must be positive", cmd)
	case o.maxLine < 128:
		return usageErrorf("%s: --max-line-bytes %d: want at least 128", cmd, o.maxLine)
	case o.maxAttempts < 0:
		return usageErrorf("%s: --max-attempts %d: want 0 (forever) or more", cmd, o.maxAttempts)
	}
	return nil
}

// sizeFlag is a byte size flag: 1048576, 64KiB, 16MiB, 1GiB (also KB, MB).
type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(v)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("want a size such as 65536, 64KiB or 16MiB")
	}
	return n * mult, nil
}

// newErrLog reports a command's own errors on stderr, once per kind per
// minute.
func newErrLog(stderr io.Writer, cmd string) *ship.ErrLog {
	return ship.NewErrLog(stderr, "sluice "+cmd, time.Minute)
}

// hostname is the HOSTNAME field of shipped lines.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// printCommandHelp prints a subcommand's usage line and every flag.
func printCommandHelp(w io.Writer, usageLine string, fs *flag.FlagSet) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  %s\n\nFlags:\n", usageLine)
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			arg = ""
		}
		left := "--" + f.Name
		if arg != "" {
			left += " " + arg
		}
		switch f.DefValue {
		case "", "0", "false", "[]":
		default:
			help += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(&b, "  %-26s %s\n", left, help)
	})
	_, err := io.WriteString(w, b.String())
	return err
}

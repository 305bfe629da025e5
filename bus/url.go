package bus

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-logs/sluice/internal/hostlist"
)

// DefaultPartitions is the partition count of a topic sluiced creates.
const DefaultPartitions = 64

// DefaultTimeout is how long a produce waits for the brokers by default.
const DefaultTimeout = 30 * time.Second

// DefaultPort is the broker port when an address names none.
const DefaultPort = "9092"

// Config is a parsed BUS_URL.
type Config struct {
	Brokers []string // host:port each
	Topic   string
	// Compression is the record batch codec: none, gzip, snappy, lz4
	// (default) or zstd.
	Compression string
	// Acks is "all" (default) or "one".
	Acks string
	// Partitions is the partition count used when sluiced creates the
	// topic; an existing topic is used as it is.
	Partitions int
	// Replication is the replication factor of a created topic (default
	// 3, or the number of brokers when fewer).
	Replication int
	TLS         bool
	// Timeout is how long a produce waits for the brokers' acknowledgement
	// before ingest gives up and asks its client to retry (default 30s).
	Timeout time.Duration
	// User and Password, when User is set, authenticate with SASL/PLAIN.
	User, Password string
}

// Redacted is the URL with the password hidden, for logs.
func (c Config) Redacted() string {
	u := url.URL{Scheme: "kafka", Host: strings.Join(c.Brokers, ","), Path: "/" + c.Topic}
	if c.User != "" {
		u.User = url.UserPassword(c.User, "xxxxx")
	}
	return u.String()
}

// ParseURL reads BUS_URL, reporting every problem at once. It dials
// nothing.
func ParseURL(raw string) (Config, error) {
	c := Config{Compression: "lz4", Acks: "all", Partitions: DefaultPartitions, Timeout: DefaultTimeout}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	u, err := hostlist.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("BUS_URL: %w", err)
	}
	if u.Scheme != "kafka" {
		bad("scheme %q: want kafka", u.Scheme)
	}
	if u.Host == "" {
		bad("no broker: want kafka://host:port[,host:port…]/topic")
	} else {
		for _, b := range strings.Split(u.Host, ",") {
			addr, err := hostlist.Addr(b, DefaultPort)
			if err != nil {
				bad("broker %q: %v", b, err)
				continue
			}
			c.Brokers = append(c.Brokers, addr)
		}
	}
	c.Topic = strings.TrimPrefix(u.Path, "/")
	if err := hostlist.Topic(c.Topic); err != nil {
		bad("topic %q: %v", c.Topic, err)
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.User == "" {
			bad("user info without a user name")
		}
	}
	c.Replication = min(3, max(1, len(c.Brokers)))
	var unknown []string
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		if len(vs) > 1 {
			bad("%s %q: given more than once", k, strings.Join(vs, ","))
		}
		switch k {
		case "compression":
			switch v {
			case "none", "gzip", "snappy", "lz4", "zstd":
				c.Compression = v
			default:
				bad("compression %q: want none, gzip, snappy, lz4 or zstd", v)
			}
		case "acks":
			switch v {
			case "all", "one":
				c.Acks = v
			default:
				bad("acks %q: want all or one", v)
			}
		case "partitions":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10000 {
				bad("partitions %q: want 1-10000", v)
			} else {
				c.Partitions = n
			}
		case "replication":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 32 {
				bad("replication %q: want 1-32", v)
			} else {
				c.Replication = n
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
				bad("timeout %q: want a duration from 100ms to 10m", v)
			} else {
				c.Timeout = d
			}
		case "tls":
			on, err := parseBool(v)
			if err != nil {
				bad("tls %q: %v", v, err)
			}
			c.TLS = on
		default:
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		bad("unknown parameters %s (the bus takes compression, acks, partitions, replication, timeout, tls)", strings.Join(unknown, ", "))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("BUS_URL: %w", err)
	}
	return c, nil
}

// parseBool is config.ParseBool's rule (config imports this package, so
// it cannot be imported here).
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, errors.New("want 1, 0, true or false")
}

package kafka

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/internal/hostlist"
)

// Value formats.
const (
	FormatRFC5424 = "rfc5424"
	FormatJSON    = "json"
)

// DefaultPort is the broker port used when a broker address has none.
const DefaultPort = "9092"

// DefaultMaxBytes is the largest record and the largest per-partition
// request the drain builds, in bytes before compression. It stays under the
// broker's default message.max.bytes (1048588) with room for the record
// batch overhead, so a batch of ordinary messages is never refused as too
// large.
const DefaultMaxBytes = 1_000_000

// DefaultBatch is the Worker batch size (drains.Options.Batch) a Kafka
// drain should have when its URL sets none: every Send waits for the
// brokers' acknowledgements, and 2000 messages per Send instead of the
// generic 500 spread that wait over four times as many messages (about a
// third more throughput in benchmarks/, at ~150-byte messages still well
// under the default batch_bytes).
const DefaultBatch = 2000

// Config is a Kafka drain's destination and encoding.
type Config struct {
	// Brokers are the bootstrap brokers, host:port each.
	Brokers []string
	// Topic is the topic every record is written to.
	Topic string
	// Format is the record value: FormatRFC5424 (default) or FormatJSON.
	Format string
	// Compression is the record batch codec: none, gzip, snappy, lz4
	// (default) or zstd.
	Compression string
	// Acks is how many acknowledgements make a record delivered: "all"
	// (default; the in-sync replicas) or "one" (the leader).
	Acks string
	// TLS connects to the brokers over TLS, verifying them against the
	// system roots.
	TLS bool
	// User and Password, when User is set, authenticate with SASL/PLAIN.
	User     string
	Password string
	// MaxBytes bounds one record and one per-partition produce request,
	// before compression (default DefaultMaxBytes). Set it under the
	// brokers' message.max.bytes. A message whose record is larger fails
	// permanently.
	MaxBytes int64
}

// ParseURL reads a kafka:// drain URL. rest holds the query parameters left
// after the common drain options (drains.ParseOptions); parameters this
// drain does not know are an error naming them. Every problem is reported
// at once. ParseURL does not dial.
func ParseURL(u *url.URL, rest url.Values) (Config, error) {
	c := Config{
		Format:      FormatRFC5424,
		Compression: "lz4",
		Acks:        "all",
		MaxBytes:    DefaultMaxBytes,
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if u.Scheme != "kafka" {
		bad("scheme %q: want kafka", u.Scheme)
	}
	if u.Host == "" {
		bad("no broker: want kafka://host:port[,host:port…]/topic")
	}
	for _, b := range strings.Split(u.Host, ",") {
		if u.Host == "" {
			break
		}
		addr, err := hostlist.Addr(b, DefaultPort)
		if err != nil {
			bad("broker %q: %v", b, err)
			continue
		}
		c.Brokers = append(c.Brokers, addr)
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

	var unknown []string
	for k, vs := range rest {
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		if len(vs) > 1 {
			bad("%s %q: given more than once", k, strings.Join(vs, ","))
		}
		switch k {
		case "format":
			switch v {
			case FormatRFC5424, FormatJSON:
				c.Format = v
			default:
				bad("format %q: want rfc5424 or json", v)
			}
		case "compression":
			if _, err := codec(v); err != nil {
				bad("compression %q: %v", v, err)
			} else {
				c.Compression = v
			}
		case "acks":
			if _, err := requiredAcks(v); err != nil {
				bad("acks %q: %v", v, err)
			} else {
				c.Acks = v
			}
		case "tls":
			on, err := config.ParseBool(v)
			if err != nil {
				bad("tls %q: %v", v, err)
			}
			c.TLS = on
		case "max_bytes":
			n, err := config.ParseSize(v)
			if err != nil {
				bad("max_bytes %q: %v", v, err)
			} else if n < 1024 || n > 1<<30 {
				bad("max_bytes %q: must be between 1KiB and 1GiB", v)
			} else {
				c.MaxBytes = n
			}
		default:
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		bad("unknown parameters %s (kafka takes format, compression, acks, tls, max_bytes)", strings.Join(unknown, ", "))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("kafka drain url: %w", err)
	}
	return c, nil
}

// validate checks a Config built by hand (ParseURL's result passes).
func (c *Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if err := hostlist.Topic(c.Topic); err != nil {
		errs = append(errs, fmt.Errorf("topic %q: %w", c.Topic, err))
	}
	switch c.Format {
	case "", FormatRFC5424, FormatJSON:
	default:
		errs = append(errs, fmt.Errorf("format %q: want rfc5424 or json", c.Format))
	}
	if _, err := codec(c.Compression); err != nil {
		errs = append(errs, fmt.Errorf("compression %q: %w", c.Compression, err))
	}
	if _, err := requiredAcks(c.Acks); err != nil {
		errs = append(errs, fmt.Errorf("acks %q: %w", c.Acks, err))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max bytes %d: must not be negative", c.MaxBytes))
	}
	return errors.Join(errs...)
}

func codec(name string) (kafkago.Compression, error) {
	switch name {
	case "", "lz4":
		return kafkago.Lz4, nil
	case "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, errors.New("want none, gzip, snappy, lz4 or zstd")
}

func requiredAcks(name string) (kafkago.RequiredAcks, error) {
	switch name {
	case "", "all":
		return kafkago.RequireAll, nil
	case "one":
		return kafkago.RequireOne, nil
	}
	return 0, errors.New("want all or one")
}

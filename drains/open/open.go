package open

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/elasticsearch"
	"github.com/sluice-logs/sluice/drains/httpdrain"
	"github.com/sluice-logs/sluice/drains/kafka"
	"github.com/sluice-logs/sluice/drains/syslogdrain"
)

// Drain kinds, Spec.Kind and drains.Status.Kind.
const (
	KindHTTP          = "http"
	KindKafka         = "kafka"
	KindElasticsearch = "elasticsearch"
	KindSyslog        = "syslog" // syslog://, syslog+tls://, udpsyslog://
)

// Spec is a validated drain URL.
type Spec struct {
	Name     string // lower case, the NAME of DRAIN_<NAME>
	Kind     string // KindHTTP, KindKafka, KindElasticsearch or KindSyslog
	URL      *url.URL
	Redacted string
	Options  drains.Options
	Rest     url.Values // the kind's own parameters
}

// Parse validates the URL of DRAIN_<NAME> without dialing. Its error names
// the variable and the redacted URL, and lists every problem.
func Parse(name, raw string) (Spec, error) {
	name = strings.ToLower(name)
	fail := func(red string, err error) (Spec, error) {
		return Spec{}, fmt.Errorf("DRAIN_%s %s: %w", strings.ToUpper(name), red, err)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fail(drains.RedactString(raw), errors.New("not a URL"))
	}
	s := Spec{Name: name, URL: u, Redacted: drains.Redact(u)}
	if u.Opaque != "" {
		return fail(s.Redacted, errors.New("want scheme://host…"))
	}
	var errs []error
	opts, rest, err := drains.ParseOptions(u.Query())
	if err != nil {
		errs = append(errs, err)
	}
	s.Options, s.Rest = opts, rest
	if rest == nil {
		rest = u.Query()
		for _, n := range drains.OptionNames {
			delete(rest, n)
		}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		s.Kind = KindHTTP
	case "kafka":
		s.Kind = KindKafka
	case "elasticsearch":
		s.Kind = KindElasticsearch
	case "syslog", "syslog+tls", "udpsyslog":
		s.Kind = KindSyslog
	case "":
		err = errors.New("missing scheme: want http, https, kafka, elasticsearch, syslog, syslog+tls or udpsyslog")
	default:
		err = fmt.Errorf("unknown scheme %q: want http, https, kafka, elasticsearch, syslog, syslog+tls or udpsyslog", u.Scheme)
	}
	if s.Kind != "" {
		_, err = build(s, rest, nil, nil, true)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fail(s.Redacted, err)
	}
	// Kafka amortises a produce request per partition over the batch: a
	// larger default batch brings the drain to the bare producer's rate
	// (benchmarks/RESULTS.md). An explicit batch= wins.
	if s.Kind == KindKafka && !u.Query().Has("batch") {
		s.Options.Batch = min(kafka.DefaultBatch, s.Options.Queue)
	}
	return s, nil
}

// New builds spec's Drain and a Worker around it. cfg supplies the
// Logger, Metrics and Notify (and, if set, backoff bounds); Name, Kind,
// URL, Drain and Options come from spec. The Worker is not started.
func New(spec Spec, cfg drains.WorkerConfig) (*drains.Worker, error) {
	if spec.URL == nil {
		return nil, errors.New("open drain: empty spec (use Parse)")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("drain", spec.Name)
	d, err := build(spec, spec.Rest, logger, cfg.Notify, false)
	if err != nil {
		return nil, fmt.Errorf("DRAIN_%s %s: %w", strings.ToUpper(spec.Name), spec.Redacted, err)
	}
	cfg.Name = spec.Name
	cfg.Kind = spec.Kind
	cfg.URL = spec.Redacted
	cfg.Drain = d
	cfg.Options = spec.Options
	return drains.NewWorker(cfg), nil
}

// build parses the kind's parameters and, unless checkOnly, creates the
// Drain (no dialing). notify (may be nil) puts a drain's in-band lines into
// the app's stream (syslog+tls: L14).
func build(spec Spec, rest url.Values, logger *slog.Logger, notify func(sluice.Message), checkOnly bool) (drains.Drain, error) {
	switch spec.Kind {
	case KindHTTP:
		c, err := httpdrain.ParseURL(spec.URL, rest)
		if err != nil || checkOnly {
			return nil, err
		}
		if c.Token == "" {
			c.Token = spec.Name
		}
		return httpdrain.New(c, spec.Options, logger)
	case KindKafka:
		c, err := kafka.ParseURL(spec.URL, rest)
		if err != nil || checkOnly {
			return nil, err
		}
		return kafka.New(c, spec.Options, logger)
	case KindElasticsearch:
		c, err := elasticsearch.ParseURL(spec.URL, rest)
		if err != nil || checkOnly {
			return nil, err
		}
		return elasticsearch.New(c, spec.Options, logger)
	case KindSyslog:
		c, err := syslogdrain.ParseURL(spec.URL, rest)
		if err != nil || checkOnly {
			return nil, err
		}
		c.Name, c.Notify = spec.Name, notify
		return syslogdrain.New(c, spec.Options, logger)
	}
	return nil, fmt.Errorf("unknown kind %q", spec.Kind)
}

// NewDrain builds spec's Drain alone, without a Worker, for one-off use
// such as `sluiced check-drains`. It dials nothing; the caller closes it.
func NewDrain(spec Spec, logger *slog.Logger) (drains.Drain, error) {
	if spec.URL == nil {
		return nil, errors.New("open drain: empty spec (use Parse)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, err := build(spec, spec.Rest, logger.With("drain", spec.Name), nil, false)
	if err != nil {
		return nil, fmt.Errorf("DRAIN_%s %s: %w", strings.ToUpper(spec.Name), spec.Redacted, err)
	}
	return d, nil
}

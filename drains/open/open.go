package open

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/elasticsearch"
	"github.com/sluice-logs/sluice/drains/httpdrain"
	"github.com/sluice-logs/sluice/drains/kafka"
	"github.com/sluice-logs/sluice/drains/syslogdrain"
	"github.com/sluice-logs/sluice/internal/hostlist"
)

// Drain kinds, Spec.Kind and drains.Status.Kind.
const (
	KindHTTP          = "http"
	KindKafka         = "kafka"
	KindElasticsearch = "elasticsearch"
	KindSyslog        = "syslog" // syslog://, syslog+tls://, udpsyslog://
)

// kinds is the table of drain kinds: adding a kind is adding a row (see
// the package documentation).
var kinds = []kind{
	row(KindHTTP, []string{"http", "https"}, httpdrain.ParseURL,
		func(spec Spec, c httpdrain.Config, log *slog.Logger, _ func(sluice.Message)) (drains.Drain, error) {
			if c.Token == "" {
				c.Token = spec.Name // Logplex-Drain-Token defaults to the drain's name
			}
			return httpdrain.New(c, spec.Options, log)
		}, drains.Options{}),
	row(KindKafka, []string{"kafka"}, kafka.ParseURL,
		func(spec Spec, c kafka.Config, log *slog.Logger, _ func(sluice.Message)) (drains.Drain, error) {
			return kafka.New(c, spec.Options, log)
		},
		// A produce request per partition is amortised over the batch: a
		// larger default batch brings the drain to the bare producer's
		// rate (benchmarks/RESULTS.md).
		drains.Options{Batch: kafka.DefaultBatch}),
	row(KindElasticsearch, []string{"elasticsearch"}, elasticsearch.ParseURL,
		func(spec Spec, c elasticsearch.Config, log *slog.Logger, _ func(sluice.Message)) (drains.Drain, error) {
			return elasticsearch.New(c, spec.Options, log)
		}, drains.Options{}),
	row(KindSyslog, []string{"syslog", "syslog+tls", "udpsyslog"}, syslogdrain.ParseURL,
		func(spec Spec, c syslogdrain.Config, log *slog.Logger, notify func(sluice.Message)) (drains.Drain, error) {
			c.Name, c.Notify = spec.Name, notify // L14 lines go into the app's stream
			return syslogdrain.New(c, spec.Options, log)
		}, drains.Options{}),
}

// kind is one row of the table.
type kind struct {
	name    string   // Spec.Kind
	schemes []string // lower case URL schemes that pick it
	// check validates the URL and the kind's own parameters (rest: what
	// drains.ParseOptions left) without dialing.
	check func(u *url.URL, rest url.Values) error
	// build parses the same and creates the Drain, without dialing.
	// notify (may be nil) puts a drain's in-band lines into the app's
	// stream (syslog+tls: L14).
	build func(spec Spec, log *slog.Logger, notify func(sluice.Message)) (drains.Drain, error)
	// defaults holds the kind's own defaults of the common options; its
	// non-zero fields replace drains.DefaultOptions where the URL leaves
	// the option out. Only Batch is honoured today.
	defaults drains.Options
}

// row makes a table row from a kind's package functions: parse reads the
// URL into the kind's Config, build makes the Drain from it.
func row[C any](name string, schemes []string, parse func(*url.URL, url.Values) (C, error),
	build func(Spec, C, *slog.Logger, func(sluice.Message)) (drains.Drain, error), defaults drains.Options) kind {
	return kind{
		name:    name,
		schemes: schemes,
		check: func(u *url.URL, rest url.Values) error {
			_, err := parse(u, rest)
			return err
		},
		build: func(spec Spec, log *slog.Logger, notify func(sluice.Message)) (drains.Drain, error) {
			c, err := parse(spec.URL, spec.Rest)
			if err != nil {
				return nil, err
			}
			return build(spec, c, log, notify)
		},
		defaults: defaults,
	}
}

func kindOf(scheme string) (kind, error) {
	var names []string
	for _, k := range kinds {
		if slices.Contains(k.schemes, strings.ToLower(scheme)) {
			return k, nil
		}
		names = append(names, k.schemes...)
	}
	want := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	if scheme == "" {
		return kind{}, fmt.Errorf("missing scheme: want %s", want)
	}
	return kind{}, fmt.Errorf("unknown scheme %q: want %s", scheme, want)
}

// Schemes returns every URL scheme a drain may use, in table order.
func Schemes() []string {
	var s []string
	for _, k := range kinds {
		s = append(s, k.schemes...)
	}
	return s
}

// Spec is a validated drain URL.
type Spec struct {
	Name     string // lower case, the NAME of DRAIN_<NAME>
	Kind     string // KindHTTP, KindKafka or KindElasticsearch
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
	parse := url.Parse
	if strings.HasPrefix(strings.TrimSpace(raw), "kafka://") {
		parse = hostlist.Parse // kafka://a:9092,b/t: a list of brokers
	}
	u, err := parse(strings.TrimSpace(raw))
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
	k, err := kindOf(u.Scheme)
	if err == nil {
		s.Kind = k.name
		err = k.check(u, rest)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fail(s.Redacted, err)
	}
	// The kind's own defaults; an explicit parameter wins.
	if k.defaults.Batch > 0 && !u.Query().Has("batch") {
		s.Options.Batch = min(k.defaults.Batch, s.Options.Queue)
	}
	return s, nil
}

// New builds spec's Drain and a Worker around it. cfg supplies the
// Logger, Metrics and Notify (and, if set, backoff bounds); Name, Kind,
// URL, Drain and Options come from spec. The Worker is not started; it
// adds drain=NAME to cfg.Logger itself.
func New(spec Spec, cfg drains.WorkerConfig) (*drains.Worker, error) {
	d, err := newDrain(spec, cfg.Logger, cfg.Notify)
	if err != nil {
		return nil, err
	}
	cfg.Name = spec.Name
	cfg.Kind = spec.Kind
	cfg.URL = spec.Redacted
	cfg.Drain = d
	cfg.Options = spec.Options
	return drains.NewWorker(cfg), nil
}

// NewDrain builds spec's Drain alone, without a Worker, for one-off use
// such as `sluiced check-drains`. It dials nothing; the caller closes it.
// The Drain logs through logger with drain=NAME added.
func NewDrain(spec Spec, logger *slog.Logger) (drains.Drain, error) {
	return newDrain(spec, logger, nil)
}

func newDrain(spec Spec, logger *slog.Logger, notify func(sluice.Message)) (drains.Drain, error) {
	if spec.URL == nil {
		return nil, errors.New("open drain: empty spec (use Parse)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k, err := kindOf(spec.URL.Scheme)
	if err == nil {
		var d drains.Drain
		if d, err = k.build(spec, logger.With("drain", spec.Name), notify); err == nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("DRAIN_%s %s: %w", strings.ToUpper(spec.Name), spec.Redacted, err)
}

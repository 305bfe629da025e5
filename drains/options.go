package drains

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/config"
)

// Policy is what a drain does when its queue is full.
type Policy int

const (
	// PolicyDrop (the default, Logplex behaviour) drops the oldest queued
	// messages to make room, counts them and reports them in-band (L10). A
	// slow drain never slows ingest or other drains.
	PolicyDrop Policy = iota
	// PolicyBlock loses nothing: Enqueue waits for room, pushing back on
	// ingest.
	PolicyBlock
)

func (p Policy) String() string {
	switch p {
	case PolicyDrop:
		return "drop"
	case PolicyBlock:
		return "block"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// Options are the settings every drain URL takes from its query string.
type Options struct {
	Apps       []string      // apps=a,b (default: all apps)
	Policy     Policy        // policy=drop|block
	Queue      int           // queue=N messages (default 10000)
	QueueBytes int64         // queue_bytes=SIZE (default 16MiB)
	Batch      int           // batch=N (default 500)
	BatchBytes int64         // batch_bytes=SIZE (default 1MiB)
	Flush      time.Duration // flush=DURATION (default 1s): batch age limit
	Timeout    time.Duration // timeout=DURATION (default 10s): one Send attempt
}

// Defaults of Options.
const (
	DefaultQueue      = 10000
	DefaultQueueBytes = 16 << 20
	DefaultBatch      = 500
	DefaultBatchBytes = 1 << 20
	DefaultFlush      = time.Second
	DefaultTimeout    = 10 * time.Second
)

// DefaultOptions returns the options of a drain URL without parameters.
func DefaultOptions() Options {
	return Options{
		Policy:     PolicyDrop,
		Queue:      DefaultQueue,
		QueueBytes: DefaultQueueBytes,
		Batch:      DefaultBatch,
		BatchBytes: DefaultBatchBytes,
		Flush:      DefaultFlush,
		Timeout:    DefaultTimeout,
	}
}

// OptionNames are the query parameters ParseOptions consumes.
var OptionNames = []string{"apps", "policy", "queue", "queue_bytes", "batch", "batch_bytes", "flush", "timeout", PublicPathParam}

// ParseOptions takes the common options out of q, validates them (every
// problem at once, naming the parameter and value) and returns the
// remaining (drain-specific) parameters. q is not modified.
func ParseOptions(q url.Values) (Options, url.Values, error) {
	o := DefaultOptions()
	rest := make(url.Values, len(q))
	for k, v := range q {
		rest[k] = v
	}
	var errs []error
	bad := func(name, val, why string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, val, why))
	}
	// take returns the single value of name, if present.
	take := func(name string) (string, bool) {
		vs, ok := rest[name]
		if !ok {
			return "", false
		}
		delete(rest, name)
		if len(vs) > 1 {
			bad(name, strings.Join(vs, ","), "given more than once")
		}
		return vs[0], true
	}
	if v, ok := take(PublicPathParam); ok { // read by Redact
		if _, err := config.ParseBool(v); err != nil {
			bad(PublicPathParam, v, err.Error())
		}
	}
	if v, ok := take("apps"); ok {
		for _, app := range strings.Split(v, ",") {
			app = strings.TrimSpace(app)
			if !auth.ValidName(app) {
				bad("apps", v, fmt.Sprintf("invalid app name %q", app))
				continue
			}
			o.Apps = append(o.Apps, app)
		}
	}
	if v, ok := take("policy"); ok {
		switch strings.ToLower(v) {
		case "drop":
			o.Policy = PolicyDrop
		case "block":
			o.Policy = PolicyBlock
		default:
			bad("policy", v, "want drop or block")
		}
	}
	count := func(name string, dst *int, min, max int) {
		v, ok := take(name)
		if !ok {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad(name, v, "want a whole number")
			return
		}
		if n < min || n > max {
			bad(name, v, fmt.Sprintf("must be between %d and %d", min, max))
			return
		}
		*dst = n
	}
	size := func(name string, dst *int64, min, max int64) {
		v, ok := take(name)
		if !ok {
			return
		}
		n, err := config.ParseSize(v)
		if err != nil {
			bad(name, v, err.Error())
			return
		}
		if n < min || n > max {
			bad(name, v, fmt.Sprintf("must be between %d and %d bytes", min, max))
			return
		}
		*dst = n
	}
	dur := func(name string, dst *time.Duration, min, max time.Duration) {
		v, ok := take(name)
		if !ok {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			bad(name, v, "want a duration such as 500ms, 1s or 1m")
			return
		}
		if d < min || d > max {
			bad(name, v, fmt.Sprintf("must be between %s and %s", min, max))
			return
		}
		*dst = d
	}
	count("queue", &o.Queue, 1, 10_000_000)
	size("queue_bytes", &o.QueueBytes, 1024, 1<<40)
	count("batch", &o.Batch, 1, 1_000_000)
	size("batch_bytes", &o.BatchBytes, 1, 1<<30)
	dur("flush", &o.Flush, time.Millisecond, time.Hour)
	dur("timeout", &o.Timeout, time.Millisecond, time.Hour)
	if len(errs) == 0 {
		if o.Batch > o.Queue {
			errs = append(errs, fmt.Errorf("batch=%d: must not exceed queue=%d", o.Batch, o.Queue))
		}
		if o.BatchBytes > o.QueueBytes {
			errs = append(errs, fmt.Errorf("batch_bytes=%d: must not exceed queue_bytes=%d", o.BatchBytes, o.QueueBytes))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Options{}, nil, err
	}
	return o, rest, nil
}

// withDefaults fills the zero fields of o (an Options built by hand in a
// test or a caller that skipped ParseOptions) with the defaults.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Queue <= 0 {
		o.Queue = d.Queue
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = d.QueueBytes
	}
	if o.Batch <= 0 {
		o.Batch = d.Batch
	}
	if o.Batch > o.Queue {
		o.Batch = o.Queue
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = d.BatchBytes
	}
	if o.BatchBytes > o.QueueBytes {
		o.BatchBytes = o.QueueBytes
	}
	if o.Flush <= 0 {
		o.Flush = d.Flush
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	return o
}

// OptionDoc documents one option every drain URL takes: sluiced -help
// prints these, and a test keeps the README's list in step. Default comes
// from DefaultOptions, the one place the defaults live.
type OptionDoc struct {
	Name, Default, Help string
}

// OptionDocs returns the common options in OptionNames order.
func OptionDocs() []OptionDoc {
	d := DefaultOptions()
	return []OptionDoc{
		{"apps", "all", "apps=a,b: the apps whose messages the drain takes"},
		{"policy", d.Policy.String(), "drop (oldest first, counted, L10 line) or block (push back on ingest) when the queue is full"},
		{"queue", strconv.Itoa(d.Queue), "messages the drain's queue holds"},
		{"queue_bytes", config.FormatSize(d.QueueBytes), "bytes the drain's queue holds"},
		{"batch", strconv.Itoa(d.Batch), "messages per delivery (a kind may default higher: kafka)"},
		{"batch_bytes", config.FormatSize(d.BatchBytes), "bytes per delivery"},
		{"flush", d.Flush.String(), "age at which a partial batch is sent"},
		{"timeout", d.Timeout.String(), "one delivery attempt"},
		{PublicPathParam, "0", "1: print the URL's path and parameters in logs, errors and /drains (user info and credential-like parameters never print)"},
	}
}

package kafka

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/draintest"
)

// reader accumulates a topic's records with one long-lived consumer, so
// that repeated Reads are cheap.
type reader struct {
	format string
	cl     *kgo.Client
	mu     sync.Mutex // serialises polls and guards msgs
	msgs   []sluice.Message
}

func newReader(t *testing.T, brokers []string, topic, format string) *reader {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return &reader{format: format, cl: cl}
}

func (r *reader) read(t *testing.T, ctx context.Context) []sluice.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	for _, rec := range r.cl.PollFetches(pctx).Records() {
		r.msgs = append(r.msgs, decodeRecord(t, rec, r.format))
	}
	return append([]sluice.Message(nil), r.msgs...)
}

// decodeRecord recovers App and Text from a record written by the drain.
func decodeRecord(t *testing.T, rec *kgo.Record, format string) sluice.Message {
	m := sluice.Message{App: string(rec.Key), Time: rec.Timestamp}
	if format == FormatJSON {
		var doc struct {
			App string `json:"app"`
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal(rec.Value, &doc); err != nil {
			t.Errorf("record value is not JSON: %v: %q", err, rec.Value)
		}
		if doc.App != m.App {
			t.Errorf("json app %q, record key %q", doc.App, m.App)
		}
		m.Text = doc.Msg
		return m
	}
	// <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG (SD is "-" here).
	f := strings.SplitN(string(rec.Value), " ", 8)
	if len(f) != 8 || f[3] != m.App {
		t.Errorf("record value %q is not an RFC 5424 line of app %q", rec.Value, m.App)
		return m
	}
	m.Text = f[7]
	return m
}

func TestConformance(t *testing.T) {
	for _, format := range []string{FormatRFC5424, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			tg := newTarget(t, 3)
			r := newReader(t, tg.brokers, tg.topic, format)
			draintest.Run(t, draintest.Harness{
				New: func(t *testing.T) drains.Drain {
					cfg := tg.config()
					cfg.Format = format
					d, err := New(cfg, testOptions(), testLogger(t))
					if err != nil {
						t.Fatalf("New: %v", err)
					}
					return d
				},
				Read: r.read,
			})
		})
	}
}

package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
)

// target is a Kafka cluster to test against: an in-process kfake cluster,
// or the real cluster named by KAFKA_BROKERS (comma-separated), with a
// topic unique to the test.
type target struct {
	brokers []string
	topic   string
	cluster *kfake.Cluster // nil for a real cluster
}

func realBrokers() []string {
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// needFake skips tests that steer the broker (faults, request inspection)
// when they would run against a real cluster.
func needFake(t *testing.T) {
	t.Helper()
	if realBrokers() != nil {
		t.Skip("needs the in-process kfake broker; KAFKA_BROKERS is set")
	}
}

func uniqueTopic(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 200 {
		name = name[:200]
	}
	return "sluice-test-" + name + "-" + hex.EncodeToString(b[:])
}

// newTarget returns a cluster with topics auto-created with partitions
// partitions (kfake only; a real cluster uses its own default).
func newTarget(t testing.TB, partitions int, opts ...kfake.Opt) target {
	t.Helper()
	if b := realBrokers(); b != nil {
		return target{brokers: b, topic: uniqueTopic(t)}
	}
	c := newCluster(t, append([]kfake.Opt{kfake.DefaultNumPartitions(partitions)}, opts...)...)
	return target{brokers: c.ListenAddrs(), topic: uniqueTopic(t), cluster: c}
}

func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func testOptions() drains.Options {
	o := drains.DefaultOptions()
	o.Timeout = 3 * time.Second
	return o
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func newDrain(t testing.TB, cfg Config, opts drains.Options) *Drain {
	t.Helper()
	d, err := New(cfg, opts, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func (tg target) config() Config {
	return Config{Brokers: tg.brokers, Topic: tg.topic, MaxBytes: DefaultMaxBytes}
}

var baseTime = time.Date(2026, 11, 25, 20, 29, 46, 123456000, time.UTC)

// makeBatch returns n messages spread round-robin over apps; message i of
// the whole stream (start+i) has Text "seq=<start+i> <pad>".
func makeBatch(apps []string, start, n int) []sluice.Message {
	b := make([]sluice.Message, n)
	for i := range b {
		seq := start + i
		b[i] = sluice.Message{
			Time:     baseTime.Add(time.Duration(seq) * time.Millisecond),
			App:      apps[seq%len(apps)],
			Source:   "app",
			Proc:     "web." + strconv.Itoa(seq%3+1),
			Host:     "host-1",
			Text:     "seq=" + strconv.Itoa(seq) + " GET /index.html 200 \"quoted\" <tag> ünïcode",
			Facility: sluice.DefaultFacility,
			Severity: sluice.DefaultSeverity,
		}
	}
	return b
}

// consume reads topic from the start until it has at least want records
// or the deadline passes; it then reads briefly once more so that records
// beyond want (duplicates) are seen too.
func consume(t *testing.T, brokers []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	deadline := time.Now().Add(20 * time.Second)
	poll := func(until time.Time) {
		ctx, cancel := context.WithDeadline(context.Background(), until)
		defer cancel()
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		recs = append(recs, fs.Records()...)
	}
	for len(recs) < want && time.Now().Before(deadline) {
		poll(deadline)
	}
	if len(recs) < want {
		t.Fatalf("consumed %d records of topic %s, want %d", len(recs), topic, want)
	}
	poll(time.Now().Add(300 * time.Millisecond))
	return recs
}

// checkRecords verifies that recs are exactly the messages of sent (by
// "seq="), in order per app, keyed by app, with the message time as record
// time and the value in format.
func checkRecords(t *testing.T, recs []*kgo.Record, sent []sluice.Message, format string) {
	t.Helper()
	want := make(map[string]*sluice.Message, len(sent))
	for i := range sent {
		want[seqOf(t, sent[i].Text)] = &sent[i]
	}
	if len(recs) != len(sent) {
		t.Errorf("got %d records, want %d", len(recs), len(sent))
	}
	last := map[string]int{}
	seen := map[string]bool{}
	partOf := map[string]int32{}
	for _, r := range recs {
		app := string(r.Key)
		var text string
		switch format {
		case FormatJSON:
			var doc map[string]any
			if err := json.Unmarshal(r.Value, &doc); err != nil {
				t.Fatalf("record value is not JSON: %v: %s", err, r.Value)
			}
			text, _ = doc["msg"].(string)
			if doc["app"] != app {
				t.Fatalf("json app %v, key %q", doc["app"], app)
			}
		default:
			text = string(r.Value)
		}
		seq := seqOf(t, text)
		m, ok := want[seq]
		if !ok {
			t.Fatalf("unexpected record %q", r.Value)
		}
		if seen[seq] {
			t.Fatalf("duplicate record seq=%s", seq)
		}
		seen[seq] = true
		if app != m.App {
			t.Fatalf("seq=%s: key %q, want app %q", seq, app, m.App)
		}
		var wantValue []byte
		if format == FormatJSON {
			wantValue = appendJSON(nil, m)
		} else {
			wantValue = sluice.AppendRFC5424(nil, m)
		}
		if string(r.Value) != string(wantValue) {
			t.Fatalf("seq=%s: value\n%s\nwant\n%s", seq, r.Value, wantValue)
		}
		if !r.Timestamp.Equal(m.Time.Truncate(time.Millisecond)) {
			t.Fatalf("seq=%s: record time %v, want %v", seq, r.Timestamp, m.Time)
		}
		if p, ok := partOf[app]; ok && p != r.Partition {
			t.Fatalf("app %s in partitions %d and %d", app, p, r.Partition)
		}
		partOf[app] = r.Partition
		n, _ := strconv.Atoi(seq)
		if l, ok := last[app]; ok && n <= l {
			t.Fatalf("app %s: seq=%d after seq=%d", app, n, l)
		}
		last[app] = n
	}
}

func seqOf(t *testing.T, text string) string {
	t.Helper()
	i := strings.Index(text, "seq=")
	if i < 0 {
		t.Fatalf("no seq in %q", text)
	}
	s := text[i+4:]
	if j := strings.IndexByte(s, ' '); j >= 0 {
		s = s[:j]
	}
	return s
}

func send(t *testing.T, d *Drain, batch []sluice.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Send(ctx, batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

func TestDeliver(t *testing.T) {
	apps := []string{"web", "worker", "api", "billing", "cron"}
	tests := []struct {
		name        string
		compression string
		acks        string
		format      string
		codec       uint8 // kgo RecordAttrs.CompressionType
		wantAcks    int16
	}{
		{"none", "none", "all", FormatRFC5424, 0, -1},
		{"gzip", "gzip", "all", FormatRFC5424, 1, -1},
		{"snappy", "snappy", "all", FormatRFC5424, 2, -1},
		{"lz4 default", "", "", "", 3, -1},
		{"zstd", "zstd", "all", FormatRFC5424, 4, -1},
		{"acks one", "lz4", "one", FormatRFC5424, 3, 1},
		{"json", "lz4", "all", FormatJSON, 3, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t, 3)
			var mu sync.Mutex
			acks := map[int16]int{}
			if tg.cluster != nil {
				tg.cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
					tg.cluster.KeepControl()
					mu.Lock()
					acks[req.(*kmsg.ProduceRequest).Acks]++
					mu.Unlock()
					return nil, nil, false
				})
			}
			cfg := tg.config()
			cfg.Compression, cfg.Acks, cfg.Format = tt.compression, tt.acks, tt.format
			d := newDrain(t, cfg, testOptions())
			var sent []sluice.Message
			for i := 0; i < 3; i++ {
				b := makeBatch(apps, i*200, 200)
				send(t, d, b)
				sent = append(sent, b...)
			}
			recs := consume(t, tg.brokers, tg.topic, len(sent))
			checkRecords(t, recs, sent, tt.format)
			for _, r := range recs {
				if got := r.Attrs.CompressionType(); got != tt.codec {
					t.Fatalf("record compression %d, want %d", got, tt.codec)
				}
			}
			if tg.cluster != nil {
				mu.Lock()
				defer mu.Unlock()
				if len(acks) != 1 || acks[tt.wantAcks] == 0 {
					t.Fatalf("produce requests by acks %v, want all with acks=%d", acks, tt.wantAcks)
				}
			}
		})
	}
}

func TestSASLPlain(t *testing.T) {
	needFake(t)
	c := newCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "sluice", "s3cret"))
	tests := []struct {
		name, password string
		wantErr        bool
	}{
		{"good password", "s3cret", false},
		{"bad password", "wrong", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Brokers: c.ListenAddrs(), Topic: uniqueTopic(t), User: "sluice", Password: tt.password}
			d := newDrain(t, cfg, testOptions())
			err := d.Send(context.Background(), makeBatch([]string{"web"}, 0, 5))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Send with a bad password succeeded")
				}
				// A real broker answers SASLAuthenticationFailed (permanent,
				// see TestClassify); kfake just closes the connection.
				t.Logf("Send with a bad password: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		tg := newTarget(t, 2)
		d := newDrain(t, tg.config(), testOptions())
		if err := d.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
	t.Run("no broker", func(t *testing.T) {
		d := newDrain(t, Config{Brokers: []string{freeAddr(t)}, Topic: "logs"}, testOptions())
		if err := d.Check(context.Background()); err == nil {
			t.Fatalf("Check without a broker succeeded")
		}
	})
	t.Run("topic missing, no auto-creation", func(t *testing.T) {
		needFake(t)
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d := newDrain(t, Config{Brokers: c.ListenAddrs(), Topic: "absent"}, testOptions())
		err = d.Check(context.Background())
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("Check of a missing topic: %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	tg := newTarget(t, 1)
	before := runtime.NumGoroutine()
	d, err := New(tg.config(), testOptions(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	send(t, d, makeBatch([]string{"web"}, 0, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := d.Send(ctx, makeBatch([]string{"web"}, 10, 1)); !drains.IsPermanent(err) {
		t.Fatalf("Send after Close: %v, want a permanent error", err)
	}
	// Close stops kafka-go's goroutines (writers, connection pools); the
	// broker's own goroutines for the closed connections wind down too.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before New:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		<-tick.C
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no brokers", Config{Topic: "logs"}},
		{"bad topic", Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "a/b"}},
		{"bad codec", Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "logs", Compression: "brotli"}},
		{"bad acks", Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "logs", Acks: "none"}},
		{"bad format", Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "logs", Format: "xml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, testOptions(), nil); err == nil {
				t.Fatalf("New(%+v) succeeded", tt.cfg)
			}
		})
	}
}

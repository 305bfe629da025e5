package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/sluice-logs/sluice/benchmarks/internal/load"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// bench is the configuration of one benchmark run.
type bench struct {
	bin      string // directory holding loadgen, framecount, … and sluiced
	sluiced  string // path of sluiced, "" when it is not available
	rsyslogd string // path of rsyslogd, "" when it is not available
	zinc     string // path of the ZincSearch binary, "" when it is not available
	skipWhy  map[string]string
	n        int64 // messages per run
	tailN    int64 // messages per tail-latency run
	tailRate int64
	runs     int
	work     string // scratch directory (rsyslog configs and output), removed at the end
	logs     string // server logs, kept
	quick    bool
}

func run() error {
	var (
		b       bench
		results = flag.String("results", "", "write the report to this Markdown file (RESULTS.md)")
		only    = flag.String("only", "", "run only workloads whose id matches this regexp")
		noRsys  = flag.String("no-rsyslog", "", "skip the rsyslog rows, giving this reason")
	)
	flag.StringVar(&b.bin, "bin", "benchmarks/out", "directory with the built commands")
	flag.StringVar(&b.logs, "logs", "", "directory for the servers' logs (default BIN/logs, emptied first)")
	flag.StringVar(&b.sluiced, "sluiced", "", "sluiced binary (default BIN/sluiced when it exists)")
	flag.StringVar(&b.rsyslogd, "rsyslogd", "", "rsyslogd binary (default: from PATH)")
	flag.StringVar(&b.zinc, "zincsearch", "", "ZincSearch binary for the Elasticsearch drain row (scripts/zincsearch.sh builds it)")
	flag.Int64Var(&b.n, "n", 2_000_000, "messages per run")
	flag.IntVar(&b.runs, "runs", 3, "runs per workload (the median is reported)")
	flag.Int64Var(&b.tailRate, "tail-rate", 100_000, "send rate of the tail-latency workload, msgs/s")
	flag.Int64Var(&b.tailN, "tail-n", 0, "messages of the tail-latency workload (default 5 s worth)")
	flag.BoolVar(&b.quick, "quick", false, "development mode: 200,000 messages, one run (unless -n or -runs say otherwise)")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if b.quick && !set["n"] {
		b.n = 200_000
	}
	if b.quick && !set["runs"] {
		b.runs = 1
	}
	if b.tailN == 0 {
		b.tailN = 5 * b.tailRate
		if b.quick {
			b.tailN = b.tailRate
		}
	}
	var filter *regexp.Regexp
	if *only != "" {
		var err error
		if filter, err = regexp.Compile(*only); err != nil {
			return fmt.Errorf("-only: %w", err)
		}
	}
	b.skipWhy = map[string]string{}
	if b.sluiced == "" {
		b.sluiced = filepath.Join(b.bin, "sluiced")
	}
	if _, err := os.Stat(b.sluiced); err != nil {
		b.skipWhy["sluiced"] = "sluiced not built (" + b.sluiced + " missing)"
		b.sluiced = ""
	}
	switch {
	case *noRsys != "":
		b.skipWhy["rsyslog"] = *noRsys
	case b.rsyslogd == "":
		p, err := exec.LookPath("rsyslogd")
		if err != nil {
			b.skipWhy["rsyslog"] = "rsyslog not available (rsyslogd not on PATH)"
		}
		b.rsyslogd = p
	}
	if b.skipWhy["rsyslog"] != "" {
		b.rsyslogd = ""
	}
	if b.zinc == "" {
		b.skipWhy["zincsearch"] = "ZincSearch not built (run scripts/zincsearch.sh)"
	} else if _, err := os.Stat(b.zinc); err != nil {
		b.skipWhy["zincsearch"] = "ZincSearch not built (" + b.zinc + " missing)"
	}
	if b.logs == "" {
		b.logs = filepath.Join(b.bin, "logs")
	}
	if err := os.RemoveAll(b.logs); err != nil {
		return fmt.Errorf("logs directory: %w", err)
	}
	if err := os.MkdirAll(b.logs, 0o755); err != nil {
		return fmt.Errorf("logs directory: %w", err)
	}
	work, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(work)
	b.work = work

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	var sums []summary
	for _, w := range b.workloads() {
		if filter != nil && !filter.MatchString(w.id) {
			continue
		}
		s := summary{workload: w}
		if w.needs != "" && b.skipWhy[w.needs] != "" {
			s.skipped = b.skipWhy[w.needs]
			fmt.Fprintf(os.Stderr, "%-18s skipped: %s\n", w.id, s.skipped)
			sums = append(sums, s)
			continue
		}
		for i := range b.runs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			smp, err := w.run(ctx, i)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%-18s run %d failed: %v\n", w.id, i+1, err)
				s.failures = append(s.failures, err.Error())
				continue
			}
			fmt.Fprintf(os.Stderr, "%-18s run %d: %s\n", w.id, i+1, smp)
			s.samples = append(s.samples, smp)
		}
		s.median = median(s.samples)
		sums = append(sums, s)
	}
	rep := report(&b, sums, time.Since(started))
	fmt.Print(rep)
	if *results != "" {
		if err := os.WriteFile(*results, []byte(rep), 0o644); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	return nil
}

// workload is one row of the results table.
type workload struct {
	id, title string
	needs     string // "sluiced" or "rsyslog": skipped when unavailable
	run       func(ctx context.Context, i int) (sample, error)
}

// sample is what one run measured; NaN marks figures that do not apply.
type sample struct {
	Rate, MiBps, CPUPerM, RSSMiB, Allocs float64
	P50, P99                             float64 // tail latency, ms
	Note                                 string
}

func (s sample) String() string {
	out := fmt.Sprintf("%s msgs/s, %s MiB/s, %s CPU s/1M msgs, peak RSS %s MiB", thousands(s.Rate), num(s.MiBps, 1), num(s.CPUPerM, 2), num(s.RSSMiB, 0))
	if !math.IsNaN(s.Allocs) {
		out += fmt.Sprintf(", %.3f allocs/msg", s.Allocs)
	}
	if !math.IsNaN(s.P99) {
		out += fmt.Sprintf(", tail p50 %.2f ms p99 %.2f ms", s.P50, s.P99)
	}
	if s.Note != "" {
		out += " (" + s.Note + ")"
	}
	return out
}

func na() sample {
	return sample{Allocs: math.NaN(), P50: math.NaN(), P99: math.NaN()}
}

func (b *bench) path(cmd string) string { return filepath.Join(b.bin, cmd) }

// loadArgs are the loadgen flags of the standard syslog workload.
func (b *bench) loadArgs(addr string, conns, apps int) []string {
	return []string{"-syslog", addr, "-framing", "octet", "-conns", strconv.Itoa(conns),
		"-apps", strconv.Itoa(apps), "-n", strconv.FormatInt(b.n, 10)}
}

// timeout bounds one run: a minute plus 20 µs per message (a floor of
// 50,000 msgs/s).
func (b *bench) timeout() time.Duration {
	return time.Minute + time.Duration(b.n)*20*time.Microsecond
}

func (b *bench) workloads() []workload {
	var ws []workload
	add := func(id, needs, title string, run func(ctx context.Context, i int) (sample, error)) {
		ws = append(ws, workload{id: id, needs: needs, title: title, run: run})
	}
	add("limit-frames", "", "framing-only reader (tight loop), 2 conns", func(ctx context.Context, i int) (sample, error) {
		return b.frameLimit(ctx, "scan")
	})
	add("limit-frames-bufio", "", "framing-only reader (bufio.Reader per frame), 2 conns", func(ctx context.Context, i int) (sample, error) {
		return b.frameLimit(ctx, "bufio")
	})
	add("limit-producer", "", "bare kafka-go producer → broker (acks=all, lz4)", b.producerLimit)
	add("rsyslog-omfile", "rsyslog", "rsyslog imptcp → omfile, 2 conns, 100 apps", func(ctx context.Context, i int) (sample, error) {
		return b.rsyslog(ctx, false)
	})
	add("rsyslog-omkafka", "rsyslog", "rsyslog imptcp → omkafka (acks=all, lz4), 2 conns, 100 apps", func(ctx context.Context, i int) (sample, error) {
		return b.rsyslog(ctx, true)
	})
	for _, conns := range []int{1, 2} {
		for _, apps := range []int{1, 100, 10_000} {
			id := fmt.Sprintf("rings-c%d-a%d", conns, apps)
			title := fmt.Sprintf("sluiced syslog TCP → rings, %s, %s", plural(conns, "conn"), plural(apps, "app"))
			add(id, "sluiced", title, func(ctx context.Context, i int) (sample, error) {
				return b.rings(ctx, conns, apps)
			})
		}
	}
	add("http-rings", "sluiced", "sluiced HTTP logplex-1 (500/POST, 4 clients) → rings, 100 apps", b.httpRings)
	add("kafka-drain", "sluiced", "sluiced syslog TCP → Kafka drain (block, acks=all, lz4), 2 conns, 100 apps", b.kafkaDrain)
	add("es-drain", "zincsearch", fmt.Sprintf("sluiced syslog TCP → Elasticsearch drain (block) → ZincSearch, 2 conns, 100 apps, %s msgs", thousands(float64(b.esN()))), b.esDrain)
	add("http-drain", "sluiced", "sluiced syslog TCP → HTTP drain (block) → httpsink, 2 conns, 100 apps", b.httpDrain)
	add("tail", "sluiced", fmt.Sprintf("sluiced 100 tails on one app, %s msgs/s over 100 apps", thousands(float64(b.tailRate))), b.tailLatency)
	b.edgeRows(add) // rows_edges.go: otlp-rings, ship, agent, agent-rsyslog-imfile
	add("crash", "sluiced", "sluiced SIGKILL under syslog TCP load (2 conns, 100 apps), restart: time to serving", b.crash)
	b.abuseRows(add)   // issue 10: memory under attack, rows_abuse.go
	b.clusterRows(add) // rows_cluster.go: cluster-rings, cluster-failover
	return ws
}

// runLoad runs loadgen with args while waiting for count to reach b.n, and
// measures server. When metricsURL is set it then measures sluiced's
// allocations in a second, warm phase: with the rings, connections and
// drains of the first phase in place, loadgen sends b.n/2 more messages
// while nobody polls sluiced, and go_memstats_mallocs_total before and after
// gives the hot path's allocations per message. (Each scrape of /metrics
// allocates more than a thousand messages do.)
func (b *bench) runLoad(ctx context.Context, server *proc, metricsURL string, args []string, count func() (int64, error), opt ...loadOption) (sample, error) {
	s := na()
	cpu0, err := server.cpu()
	if err != nil {
		return s, err
	}
	res, doneAt, err := b.load(ctx, server, args, b.n, count, false)
	if err != nil {
		return s, err
	}
	cpu1, err := server.cpu()
	if err != nil {
		return s, err
	}
	if s.RSSMiB, err = server.peakRSS(); err != nil {
		return s, err
	}
	secs := doneAt.Sub(time.Unix(0, res.StartUnixNano)).Seconds()
	s.Rate = float64(b.n) / secs
	s.MiBps = float64(res.Bytes) / secs / (1 << 20)
	s.CPUPerM = (cpu1 - cpu0) / (float64(b.n) / 1e6)
	if metricsURL != "" {
		s.Allocs, err = b.warmAllocs(ctx, server, metricsURL, args, count, slices.Contains(opt, countScrapes), slices.Contains(opt, fillRings))
		if err != nil {
			return s, fmt.Errorf("allocation phase: %w", err)
		}
	}
	return s, nil
}

// load runs loadgen with args until count reaches until, and returns
// loadgen's result and when count got there. While loadgen sends, count is
// polled every half second (to see a stall), or, quiet, not at all.
func (b *bench) load(ctx context.Context, server *proc, args []string, until int64, count func() (int64, error), quiet bool) (load.Result, time.Time, error) {
	var res load.Result
	var out, errOut bytes.Buffer
	lg := exec.CommandContext(ctx, b.path("loadgen"), args...)
	lg.Stdout, lg.Stderr = &out, &errOut
	if err := lg.Start(); err != nil {
		return res, time.Time{}, fmt.Errorf("start loadgen: %w", err)
	}
	sent := make(chan struct{})
	var werr error
	go func() {
		werr = lg.Wait()
		close(sent)
	}()
	if quiet {
		select {
		case <-sent:
		case <-ctx.Done():
		}
	}
	doneAt, perr := progress(ctx, until, b.timeout(), 15*time.Second, server, sent, count)
	if perr != nil {
		_ = lg.Process.Kill()
	}
	<-sent
	if perr != nil {
		return res, doneAt, perr
	}
	if werr != nil {
		return res, doneAt, fmt.Errorf("loadgen: %w: %s", werr, bytes.TrimSpace(errOut.Bytes()))
	}
	if err := json.Unmarshal(lastLine(out.Bytes()), &res); err != nil {
		return res, doneAt, fmt.Errorf("loadgen output %q: %w", out.Bytes(), err)
	}
	return res, doneAt, nil
}

// loadOption qualifies a runLoad.
type loadOption int

const (
	// countScrapes: count scrapes sluiced's /metrics; each scrape
	// allocates in sluiced and is subtracted from its allocations.
	countScrapes loadOption = iota
	// fillRings: before the allocation phase, send b.n more messages
	// unmeasured, so that the rings hold all they will (with 10,000 apps
	// the default MEMORY_LIMIT fills only after about 2M messages, and
	// the chunks taken until then are the rings growing, not the hot
	// path).
	fillRings
)

// warmAllocs sends b.n/2 more messages to a sluiced that has taken b.n (and
// with fill, b.n more first), not polling it until loadgen has sent them
// all, and returns sluiced's allocations per message over that phase, less
// those of the scrapes.
func (b *bench) warmAllocs(ctx context.Context, server *proc, metricsURL string, args []string, count func() (int64, error), countScrapes, fill bool) (float64, error) {
	// send runs loadgen for n messages, then waits until count reaches
	// until, polling only once loadgen is done (quiet): what is left then
	// is in socket buffers (or a drain's queue), so the polls are few.
	scrapes := 0
	counted := func() (int64, error) {
		if countScrapes {
			scrapes++
		}
		return count()
	}
	send := func(n, until int64) error {
		_, _, err := b.load(ctx, server, withN(args, n), until, counted, true)
		return err
	}
	total := b.n
	if fill {
		total += b.n
		if err := send(b.n, total); err != nil {
			return 0, err
		}
	}
	const mallocs = "go_memstats_mallocs_total"
	scrape := func() (float64, error) {
		m, err := metrics(metricsURL, mallocs)
		return m[mallocs], err
	}
	// What one scrape allocates, measured while idle.
	var ms [3]float64
	for i := range ms {
		v, err := scrape()
		if err != nil {
			return 0, err
		}
		ms[i] = v
	}
	perScrape := (ms[2] - ms[0]) / 2
	m0 := ms[2]
	half := b.n / 2
	scrapes = 0
	if err := send(half, total+half); err != nil {
		return 0, err
	}
	m1, err := scrape()
	if err != nil {
		return 0, err
	}
	return max(0, m1-m0-perScrape*float64(scrapes+1)) / float64(half), nil
}

// withN returns loadgen args with -n set to n.
func withN(args []string, n int64) []string {
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "-n" {
			out[i+1] = strconv.FormatInt(n, 10)
			return out
		}
	}
	return append(out, "-n", strconv.FormatInt(n, 10))
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// frameLimit runs the framing-only reader.
func (b *bench) frameLimit(ctx context.Context, mode string) (sample, error) {
	port, err := freePort()
	if err != nil {
		return na(), err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := start(b.logs, "framecount", nil, b.path("framecount"), "-addr", addr, "-mode", mode,
		"-n", strconv.FormatInt(b.n, 10), "-timeout", b.timeout().String())
	if err != nil {
		return na(), err
	}
	defer p.stop()
	if err := waitFor(ctx, "framecount ready", 10*time.Second, p, listening(addr)); err != nil {
		return na(), err
	}
	s, err := b.runLoad(ctx, p, "", b.loadArgs(addr, 2, 100), func() (int64, error) {
		if p.exited() && p.err == nil {
			return b.n, nil
		}
		return 0, nil
	})
	if err != nil {
		return s, err
	}
	// The reader's own clock (first byte to n-th frame) is finer than the
	// poll of its exit; use it.
	log, _ := os.ReadFile(p.log)
	var fc struct {
		Seconds float64 `json:"seconds"`
	}
	if json.Unmarshal(lastLine(log), &fc) == nil && fc.Seconds > 0 {
		perMsg := s.MiBps / s.Rate
		s.Rate = float64(b.n) / fc.Seconds
		s.MiBps = perMsg * s.Rate
	}
	return s, nil
}

// plural writes "1 conn", "2 conns", "10,000 apps".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return thousands(float64(n)) + " " + word + "s"
}

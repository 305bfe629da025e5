package main

// Rows of issue 11 (sluice ship, sluice agent, and rsyslog imfile beside
// them) and issue 14 (OTLP/HTTP beside http-rings).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-logs/sluice/benchmarks/internal/load"
)

// edgeRows registers the rows: otlp-rings, ship, agent, rsyslog-imfile.
func (b *bench) edgeRows(add func(id, needs, title string, run func(ctx context.Context, i int) (sample, error))) {
	add("otlp-rings", "sluiced", "sluiced OTLP/HTTP protobuf (500 records/POST, 4 clients) → rings, 100 apps", b.otlpRings)
	add("ship", "sluiced", "sluice ship (stdin, batch 500 / 250 ms, --block) → sluiced HTTP → rings; ship's CPU", b.shipRow)
	add("agent", "sluiced", "sluice agent (4 files on disk, batch 500 / 250 ms) → sluiced HTTP → rings; agent's CPU", b.agentRow)
	add("agent-rsyslog-imfile", "rsyslog", "rsyslog imfile (the same 4 files) → omfwd TCP octet-counted → sluiced → rings; rsyslog's CPU", b.rsyslogImfile)
}

// otlpRings is http-rings with OTLP/HTTP protobuf bodies: the same pool
// messages, 500 per request, as records grouped by app (load.OTLPRequest).
func (b *bench) otlpRings(ctx context.Context, _ int) (sample, error) {
	sl, err := b.startSluiced(ctx)
	if err != nil {
		return na(), err
	}
	defer sl.stop()
	args := []string{"-http", sl.http + "/v1/logs", "-otlp", "-batch", "500", "-clients", "4", "-apps", "100", "-n", strconv.FormatInt(b.n, 10)}
	return b.runLoad(ctx, sl.proc, sl.http+"/metrics", args, sl.ingested("otlp_http"), countScrapes, fillRings)
}

// edgeLines is n lines of the pool (100 apps' messages, 150 bytes each, as
// plain text lines: an app writes them to stdout or a file).
func edgeLines(n int64) []byte {
	p := load.NewPool(load.Options{Apps: 100})
	var buf bytes.Buffer
	buf.Grow(int(n) * 160)
	for i := range n {
		buf.Write(p.Message(int(i)))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// sluiceBin is the path of the sluice client, or an error saying it is
// not built.
func (b *bench) sluiceBin() (string, error) {
	p := b.path("sluice")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("sluice not built (%s missing; benchmarks/run.sh builds it)", p)
	}
	return p, nil
}

// shipArgs are log-shuttle's design point: 500 lines or 250 ms per batch.
var shipArgs = []string{"--batch-lines", "500", "--batch-wait", "250ms"}

// shipRow pipes b.n lines into `sluice ship --block` and times it from
// start to its exit (it exits at EOF once everything is delivered).
func (b *bench) shipRow(ctx context.Context, _ int) (sample, error) {
	s := na()
	bin, err := b.sluiceBin()
	if err != nil {
		return s, err
	}
	data := edgeLines(b.n)
	sl, err := b.startSluiced(ctx)
	if err != nil {
		return s, err
	}
	defer sl.stop()
	scpu0, err := sl.cpu()
	if err != nil {
		return s, err
	}
	args := append([]string{"ship", "--app", "bench", "--block"}, shipArgs...)
	t0 := time.Now()
	p, err := startStdin(b.logs, "ship", []string{"SLUICE_URL=" + sl.http}, bytes.NewReader(data), bin, args...)
	if err != nil {
		return s, err
	}
	defer p.stop()
	peak := watchPeak(p)
	t := time.NewTimer(b.timeout())
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		return s, errors.New("sluice ship did not finish in time")
	case <-ctx.Done():
		return s, ctx.Err()
	}
	took := time.Since(t0)
	if p.err != nil {
		return s, fmt.Errorf("sluice ship: %w; see %s", p.err, p.log)
	}
	got, err := sl.ingested("http")()
	if err != nil {
		return s, err
	}
	if got != b.n {
		return s, fmt.Errorf("sluiced took %d of %d lines", got, b.n)
	}
	return b.edgeSample(s, p, sl, scpu0, took, int64(len(data)), peak())
}

// edgeSample fills s from the measured process p (CPU, peak RSS) and the
// run's duration; sluiced's CPU goes into the note.
func (b *bench) edgeSample(s sample, p *proc, sl *sluicedProc, scpu0 float64, took time.Duration, bytes int64, peakMiB float64) (sample, error) {
	cpu, err := p.cpu()
	if err != nil {
		return s, err
	}
	scpu1, err := sl.cpu()
	if err != nil {
		return s, err
	}
	secs := took.Seconds()
	s.Rate = float64(b.n) / secs
	s.MiBps = float64(bytes) / secs / (1 << 20)
	s.CPUPerM = cpu / (float64(b.n) / 1e6)
	s.RSSMiB = peakMiB
	s.Note = fmt.Sprintf("sluiced %s CPU s/1M lines", num((scpu1-scpu0)/(float64(b.n)/1e6), 2))
	return s, nil
}

// edgeFiles writes b.n lines into 4 files of dir (app-0.log … app-3.log).
func (b *bench) edgeFiles(dir string) (int64, error) {
	data := edgeLines(b.n)
	const files = 4
	per := b.n / files
	off := 0
	for i := range files {
		lines := per
		if i == files-1 {
			lines = b.n - per*(files-1)
		}
		end := off
		for k := int64(0); k < lines; k++ {
			end += bytes.IndexByte(data[end:], '\n') + 1
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("app-%d.log", i)), data[off:end], 0o644); err != nil {
			return 0, err
		}
		off = end
	}
	return int64(len(data)), nil
}

// agentRow writes b.n lines into 4 files, then starts `sluice agent` on
// them and times it until sluiced has every line.
func (b *bench) agentRow(ctx context.Context, _ int) (sample, error) {
	s := na()
	bin, err := b.sluiceBin()
	if err != nil {
		return s, err
	}
	dir, err := os.MkdirTemp(b.work, "agent-")
	if err != nil {
		return s, err
	}
	defer os.RemoveAll(dir)
	size, err := b.edgeFiles(dir)
	if err != nil {
		return s, err
	}
	sl, err := b.startSluiced(ctx)
	if err != nil {
		return s, err
	}
	defer sl.stop()
	scpu0, err := sl.cpu()
	if err != nil {
		return s, err
	}
	args := append([]string{"agent", "--glob", filepath.Join(dir, "*.log"), "--state", filepath.Join(dir, "state.json")}, shipArgs...)
	t0 := time.Now()
	p, err := start(b.logs, "agent", []string{"SLUICE_URL=" + sl.http}, bin, args...)
	if err != nil {
		return s, err
	}
	defer p.stop()
	peak := watchPeak(p)
	if err := waitCount(ctx, b.timeout(), p, b.n, sl.ingested("http")); err != nil {
		return s, err
	}
	return b.edgeSample(s, p, sl, scpu0, time.Since(t0), size, peak())
}

// rsyslogImfile is agentRow with rsyslogd (imfile → omfwd, TCP,
// octet-counted RFC 5424) in place of the agent, into sluiced's syslog TCP
// listener.
func (b *bench) rsyslogImfile(ctx context.Context, _ int) (sample, error) {
	s := na()
	dir, err := os.MkdirTemp(b.work, "imfile-")
	if err != nil {
		return s, err
	}
	defer os.RemoveAll(dir)
	logs := filepath.Join(dir, "logs")
	for _, d := range []string{logs, filepath.Join(dir, "work")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return s, err
		}
	}
	size, err := b.edgeFiles(logs)
	if err != nil {
		return s, err
	}
	sl, err := b.startSluiced(ctx)
	if err != nil {
		return s, err
	}
	defer sl.stop()
	scpu0, err := sl.cpu()
	if err != nil {
		return s, err
	}
	host, port, _ := strings.Cut(sl.syslog, ":")
	conf := fmt.Sprintf(`# generated by benchmarks/cmd/benchrun
global(workDirectory="%s" maxMessageSize="64k")
module(load="imfile" mode="inotify")
input(type="imfile" file="%s" tag="bench" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="%s" port="%s" protocol="tcp" tcp_framing="octet-counted"
    template="RSYSLOG_SyslogProtocol23Format")
}
`, filepath.Join(dir, "work"), filepath.Join(logs, "*.log"), host, port)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return s, err
	}
	start0 := time.Now()
	p, err := start(b.logs, "rsyslog-imfile", nil, b.rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	if err != nil {
		return s, err
	}
	defer p.stop()
	peak := watchPeak(p)
	if err := waitCount(ctx, b.timeout(), p, b.n, sl.ingested("syslog_tcp")); err != nil {
		return s, err
	}
	return b.edgeSample(s, p, sl, scpu0, time.Since(start0), size, peak())
}

// waitCount polls count every 100 ms until it reaches n, p exits, or
// timeout. Each poll is a scrape of sluiced's /metrics, which costs sluiced
// a stop-the-world ReadMemStats and a few milliseconds of CPU (see
// progress): at 20 ms the scrapes doubled sluiced's CPU per line in the
// agent row. The end of a run is thus known to 100 ms, 5% of a quick run.
func waitCount(ctx context.Context, timeout time.Duration, p *proc, n int64, count func() (int64, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var got int64
	for {
		var err error
		if got, err = count(); err == nil && got >= n {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited at %d of %d lines (%w); see %s", p.name, got, n, p.exitErr(), p.log)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out at %d of %d lines; see %s", got, n, p.log)
		case <-t.C:
		}
	}
}

// watchPeak samples p's VmHWM every 20 ms while it runs (its rusage after
// exit is not its own: Go starts children with vfork, so ru_maxrss can
// count the parent's memory) and returns a function giving the peak in MiB.
func watchPeak(p *proc) func() float64 {
	var peak atomic.Uint64 // KiB
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if kib := vmHWM(p.cmd.Process.Pid); kib > peak.Load() {
				peak.Store(kib)
			}
			select {
			case <-stop:
				return
			case <-p.done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(stop)
		<-done
		return float64(peak.Load()) / 1024
	}
}

// vmHWM is the VmHWM of pid in KiB, 0 when it cannot be read.
func vmHWM(pid int) uint64 {
	kib, _ := readVMHWM(pid)
	return kib
}

// startStdin is start with stdin read from r.
func startStdin(logDir, name string, env []string, r *bytes.Reader, path string, args ...string) (*proc, error) {
	return startProc("", r, logDir, name, env, path, args...)
}

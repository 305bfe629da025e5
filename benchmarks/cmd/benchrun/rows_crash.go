package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// crash is the crash-recovery row (issue 10): sluiced takes syslog TCP
// load (2 conns, 100 apps), is killed with SIGKILL once it has accepted a
// quarter of the run's messages, and is started again on the same ports.
// It reports the time from the restart's exec to the first 200 on
// /healthz and to the first message accepted (an HTTP POST /logs answered
// 204), and the rate of the load it was killed under. What the kill lost
// is not measured here: without cluster mode or a policy=block drain with
// a retrying sender, everything in the rings and queues is gone (see the
// README's "What a crash loses").
func (b *bench) crash(ctx context.Context, _ int) (sample, error) {
	s := na()
	sl, err := b.startSluiced(ctx)
	if err != nil {
		return s, err
	}
	defer func() { sl.stop() }()
	port := strings.TrimPrefix(sl.http, "http://127.0.0.1:")
	env := []string{"PORT=" + port, "SYSLOG_TCP_ADDR=" + sl.syslog, "SYSLOG_UDP_ADDR=", "LOG_LEVEL=warn", "SHUTDOWN_TIMEOUT=5s"}

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	lg := exec.CommandContext(lctx, b.path("loadgen"), b.loadArgs(sl.syslog, 2, 100)...)
	if err := lg.Start(); err != nil {
		return s, fmt.Errorf("start loadgen: %w", err)
	}
	loadDone := make(chan struct{})
	go func() { // owned here: waited for below
		_ = lg.Wait()
		close(loadDone)
	}()
	defer func() { stopLoad(); <-loadDone }()

	// Under load: wait for a quarter of the messages.
	count := sl.ingested("syslog_tcp")
	began := time.Now()
	var at int64
	if err := waitFor(ctx, "a quarter of the load ingested", b.timeout(), sl.proc, func() (bool, error) {
		n, err := count()
		at = n
		return n >= b.n/4, err
	}); err != nil {
		return s, err
	}
	s.Rate = float64(at) / time.Since(began).Seconds()
	s.MiBps, s.CPUPerM = math.NaN(), math.NaN() // not measured here
	if err := sl.cmd.Process.Kill(); err != nil {
		return s, fmt.Errorf("SIGKILL sluiced: %w", err)
	}
	<-sl.done
	stopLoad()
	<-loadDone

	// Restart on the same ports and time it to serving.
	t0 := time.Now()
	p, err := start(b.logs, "sluiced-restart", env, b.sluiced)
	if err != nil {
		return s, err
	}
	sl.proc = p
	var healthy, accepted time.Duration
	client := &http.Client{Timeout: time.Second}
	deadline := t0.Add(30 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for healthy == 0 || accepted == 0 {
		if time.Now().After(deadline) {
			return s, fmt.Errorf("restarted sluiced not serving after 30s (healthz %v, accepted %v)", healthy, accepted)
		}
		if p.exited() {
			return s, fmt.Errorf("restarted sluiced exited: %w", p.exitErr())
		}
		if healthy == 0 {
			if resp, err := client.Get(sl.http + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					healthy = time.Since(t0)
				}
			}
		}
		if accepted == 0 {
			resp, err := client.Post(sl.http+"/logs?app=crash", "text/plain", strings.NewReader("after the crash\n"))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusNoContent {
					accepted = time.Since(t0)
				}
			}
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
	}
	if s.RSSMiB, err = p.peakRSS(); err != nil {
		return s, err
	}
	s.Note = fmt.Sprintf("SIGKILL after %s msgs; restart → /healthz 200 in %s ms, first message accepted in %s ms",
		thousands(float64(at)), strconv.FormatFloat(float64(healthy.Microseconds())/1000, 'f', 1, 64),
		strconv.FormatFloat(float64(accepted.Microseconds())/1000, 'f', 1, 64))
	return s, nil
}

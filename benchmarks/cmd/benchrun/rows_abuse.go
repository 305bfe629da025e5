package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-logs/sluice/benchmarks/internal/load"
)

// The "abuse" rows (issue 10): a well-behaved app writes over syslog TCP
// (loadgen, 1 connection, app-00000) while sluiced, with MEMORY_LIMIT=64MiB,
// is attacked over HTTP; each row reports the app's ingest rate and
// sluiced's peak RSS, which the memory budget holds to MEMORY_LIMIT × 1.5 +
// 64MiB = 160 MiB. The note gives the rate against the unattacked row of
// the same run.

// abuseMemoryLimit is the MEMORY_LIMIT of the abuse rows.
const abuseMemoryLimit = 64 << 20

// abuseBound is the target for it, in MiB.
const abuseBound = (abuseMemoryLimit*3/2 + 64<<20) >> 20

// attack runs against sl until ctx ends; ready is closed once it is under
// way (the well-behaved load starts then).
type attack struct {
	name string
	run  func(ctx context.Context, sl *sluicedProc, ready chan<- struct{}) error
}

var (
	gzipAttack  = attack{"50 clients POSTing gzip bodies that inflate to 15 MiB, over and over", attackGzip}
	tailsAttack = attack{"1,000 tails of app-00000 that never read", attackTails}
	appsAttack  = attack{"100,000 other apps written over HTTP (logplex-1, 500 per POST)", attackApps}
)

// abuseBaseline holds the unattacked row's rates in this run; the attacked
// rows compare with their median.
var abuseBaseline struct {
	mu    sync.Mutex
	rates []float64
}

// baselineRate is the median of the unattacked row's rates, 0 before it ran.
func baselineRate() float64 {
	abuseBaseline.mu.Lock()
	defer abuseBaseline.mu.Unlock()
	r := slices.Clone(abuseBaseline.rates)
	if len(r) == 0 {
		return 0
	}
	slices.Sort(r)
	return r[len(r)/2]
}

// abuseRows registers the abuse row group.
func (b *bench) abuseRows(add func(id, needs, title string, run func(ctx context.Context, i int) (sample, error))) {
	title := "sluiced syslog TCP → rings, 1 conn, 1 app, MEMORY_LIMIT=64MiB"
	add("abuse-none", "sluiced", title+", no attack (baseline)", func(ctx context.Context, _ int) (sample, error) {
		return b.abuse(ctx)
	})
	for _, row := range []struct {
		id      string
		attacks []attack
	}{
		{"abuse-gzip", []attack{gzipAttack}},
		{"abuse-tails", []attack{tailsAttack}},
		{"abuse-apps", []attack{appsAttack}},
		{"abuse-mix", []attack{gzipAttack, tailsAttack, appsAttack}},
	} {
		names := make([]string, len(row.attacks))
		for i, a := range row.attacks {
			names[i] = a.name
		}
		add(row.id, "sluiced", title+", while "+strings.Join(names, "; "), func(ctx context.Context, _ int) (sample, error) {
			return b.abuse(ctx, row.attacks...)
		})
	}
}

// abuse measures the well-behaved app's ingest while the attacks run.
func (b *bench) abuse(ctx context.Context, attacks ...attack) (sample, error) {
	sl, err := b.startSluiced(ctx, "MEMORY_LIMIT=64MiB", "MAX_TAILS_PER_APP=1000", "MAX_CONNECTIONS_PER_IP=5000")
	if err != nil {
		return na(), err
	}
	defer sl.stop()
	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make([]error, len(attacks))
	for i, a := range attacks {
		ready := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.run(actx, sl, ready); err != nil && actx.Err() == nil {
				errs[i] = fmt.Errorf("%s: %w", a.name, err)
				cancel()
			}
		}()
		select {
		case <-ready:
		case <-actx.Done():
		case <-time.After(time.Minute):
			errs[i] = fmt.Errorf("%s: not under way within a minute", a.name)
			cancel()
		}
	}
	var s sample
	if actx.Err() == nil {
		s, err = b.runLoad(ctx, sl.proc, "", b.loadArgs(sl.syslog, 1, 1), sl.ingested("syslog_tcp"))
	}
	cancel()
	wg.Wait()
	if err := errors.Join(append(errs, err)...); err != nil {
		return s, err
	}
	if len(attacks) == 0 {
		abuseBaseline.mu.Lock()
		abuseBaseline.rates = append(abuseBaseline.rates, s.Rate)
		abuseBaseline.mu.Unlock()
	}
	s.Note = fmt.Sprintf("peak RSS bound %d MiB", abuseBound)
	if base := baselineRate(); base > 0 && len(attacks) > 0 {
		s.Note += fmt.Sprintf("; ingest %.0f%% of the unattacked row's median", 100*s.Rate/base)
	}
	return s, nil
}

// attackGzip posts a 52 KB body that inflates to 15 MiB of 100-byte lines
// from 50 clients in a loop. sluiced refuses them (503 while others hold
// MAX_INFLIGHT_BODY_BYTES, 413 once one learns it can never fit): what is
// measured is that it costs memory and CPU only within bounds.
func attackGzip(ctx context.Context, sl *sluicedProc, ready chan<- struct{}) error {
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	line := []byte(strings.Repeat("x", 90) + " bomb line\n")
	for n := 0; n < 15<<20; n += len(line) {
		_, _ = zw.Write(line) // a bytes.Buffer: Close reports any error
	}
	if err := zw.Close(); err != nil {
		return err
	}
	bomb := zb.Bytes()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 50}}
	var answered atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sl.http+"/logs?app=bomb", bytes.NewReader(bomb))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				// An attacker does not honour Retry-After: at once again.
				if answered.Add(1) == 50 {
					once.Do(func() { close(ready) })
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// attackTails opens 1,000 tails of app-00000 with a 4 KiB receive window
// that never read, and holds them until ctx ends.
func attackTails(ctx context.Context, sl *sluicedProc, ready chan<- struct{}) error {
	host := strings.TrimPrefix(sl.http, "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := net.Dialer{}
	for range 1000 {
		c, err := d.DialContext(ctx, "tcp", host)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		if _, err := io.WriteString(c, "GET /apps/"+load.AppName(0)+"/logs?tail=1&num=0 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
	}
	const sessions = "sluice_tail_sessions"
	for {
		m, err := metrics(sl.http+"/metrics", sessions)
		if err != nil {
			return err
		}
		if m[sessions] >= 990 {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	close(ready)
	<-ctx.Done()
	return nil
}

// attackApps writes to 100,000 app names over HTTP, 500 apps per logplex-1
// POST, from 2 clients, round after round; it is under way after one round.
func attackApps(ctx context.Context, sl *sluicedProc, ready chan<- struct{}) error {
	const apps, per = 100_000, 500
	text := strings.Repeat("z", 150)
	var sent atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body bytes.Buffer
			for round := 0; ctx.Err() == nil; round++ {
				for first := c * per; first < apps && ctx.Err() == nil; first += 2 * per {
					body.Reset()
					for a := first; a < first+per; a++ {
						f := "<190>1 - h flood" + strconv.Itoa(a) + " web.1 - - " + strconv.Itoa(round) + " " + text
						fmt.Fprintf(&body, "%d %s", len(f), f)
					}
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, sl.http+"/logs", bytes.NewReader(body.Bytes()))
					req.Header.Set("Content-Type", "application/logplex-1")
					resp, err := httpClient.Do(req)
					if err != nil {
						if ctx.Err() == nil {
							errc <- err
						}
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if sent.Add(per) >= apps {
						once.Do(func() { close(ready) })
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

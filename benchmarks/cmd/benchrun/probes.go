package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// httpClient asks for uncompressed answers: a gzipped /metrics would cost
// sluiced CPU that the benchmark charges to it.
var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}

// metrics scrapes a Prometheus text endpoint and returns the samples whose
// name (with labels, exactly as printed) is in want.
func metrics(url string, want ...string) (map[string]float64, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	got := make(map[string]float64, len(want))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		for _, w := range want {
			if name == w {
				v, err := strconv.ParseFloat(line[i+1:], 64)
				if err != nil {
					return nil, fmt.Errorf("scrape %s: %s: %w", url, name, err)
				}
				got[name] = v
			}
		}
	}
	return got, sc.Err()
}

// lineCounter counts the LFs of a growing file, reading only what was
// appended since the last call.
type lineCounter struct {
	path  string
	off   int64
	lines int64
	buf   []byte
}

func (c *lineCounter) count() (int64, error) {
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return c.lines, err
	}
	defer f.Close()
	if c.buf == nil {
		c.buf = make([]byte, 1<<20)
	}
	for {
		n, err := f.ReadAt(c.buf, c.off)
		c.lines += int64(bytes.Count(c.buf[:n], []byte{'\n'}))
		c.off += int64(n)
		if errors.Is(err, io.EOF) || n == 0 {
			return c.lines, nil
		}
		if err != nil {
			return c.lines, err
		}
	}
}

// sinkFrames asks httpsink for its frame count.
func sinkFrames(base string) (int64, error) {
	resp, err := httpClient.Get(base + "/count")
	if err != nil {
		return 0, fmt.Errorf("ask httpsink: %w", err)
	}
	defer resp.Body.Close()
	var c struct {
		Frames int64 `json:"frames"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return 0, fmt.Errorf("ask httpsink: %w", err)
	}
	return c.Frames, nil
}

// progress waits until count() reaches n. It fails when the count stops
// moving for stall, when p exits, or after timeout. It returns the time the
// count was first seen at n.
//
// Until sent is closed (the load generator has written everything) it polls
// every half second, then every 5 ms. Counting sluiced means scraping its
// /metrics, which gathers the Go runtime's statistics (a stop-the-world
// ReadMemStats): 100 scrapes a second during the run cost it 10-20% of its
// rate, a tax rsyslog, counted from its output file, did not pay.
func progress(ctx context.Context, n int64, timeout, stall time.Duration, p *proc, sent <-chan struct{}, count func() (int64, error)) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	const slow, fast = 500 * time.Millisecond, 5 * time.Millisecond
	wait := slow
	t := time.NewTimer(wait)
	defer t.Stop()
	var last int64 = -1
	lastMove := time.Now()
	for {
		got, err := count()
		now := time.Now()
		if err == nil && got >= n {
			return now, nil
		}
		if got != last {
			last, lastMove = got, now
		} else if now.Sub(lastMove) > stall {
			return now, errors.Join(fmt.Errorf("stalled at %d of %d messages for %s", got, n, stall), err)
		}
		if p != nil && p.exited() {
			return now, fmt.Errorf("%s exited at %d of %d messages (%w); see %s", p.name, got, n, p.exitErr(), p.log)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return now, fmt.Errorf("timed out at %d of %d messages", got, n)
		case <-sent:
			sent, wait = nil, fast
		case <-t.C:
		}
	}
}

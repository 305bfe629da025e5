package daemon_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/eventually"
)

// The memory rows of issue 10's abuse table (1, 3 and 8), each against the
// real sluiced binary, with its memory read from /proc/PID/status (VmHWM,
// the peak resident set), not guessed. The bound is the target:
// peak RSS ≤ MEMORY_LIMIT × 1.5 + 64 MiB.

const abuseMemoryLimit = 64 << 20

// rssBound is the target for abuseMemoryLimit.
const rssBound = abuseMemoryLimit*3/2 + 64<<20

// sluicedProc is a sluiced process started by a test.
type sluicedProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	tcp  string
	out  *syncBuf
}

// startSluiced runs the sluiced binary with loopback listeners and env
// overrides, and waits for it to listen.
func startSluiced(t *testing.T, env ...string) *sluicedProc {
	t.Helper()
	bin := binaries(t)
	cmd := exec.Command(bin + "/sluiced")
	cmd.Env = append([]string{"PORT=0", "SYSLOG_TCP_ADDR=127.0.0.1:0", "SYSLOG_UDP_ADDR=", "SHUTDOWN_TIMEOUT=2s"}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &sluicedProc{t: t, cmd: cmd, out: &syncBuf{}}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.out.Write(append(sc.Bytes(), '\n'))
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev["msg"] == "sluiced listening" {
				ready <- ev
			}
		}
		close(ready)
	}()
	select {
	case ev, ok := <-ready:
		if !ok {
			t.Fatalf("sluiced exited before listening:\n%s", p.out.String())
		}
		p.base = "http://" + strings.Replace(ev["http"].(string), "[::]", "127.0.0.1", 1)
		p.tcp, _ = ev["syslog_tcp"].(string)
	case <-time.After(20 * time.Second):
		t.Fatalf("sluiced did not listen within 20s:\n%s", p.out.String())
	}
	return p
}

// status returns a field of /proc/PID/status in bytes (VmHWM, VmRSS).
func (p *sluicedProc) status(field string) int64 {
	p.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Skipf("cannot read the process's memory (/proc): %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				p.t.Fatalf("%s: %q", field, l)
			}
			return kb << 10
		}
	}
	p.t.Fatalf("no %s in /proc/PID/status", field)
	return 0
}

// metric reads one series of sluiced's /metrics, -1 when absent.
func (p *sluicedProc) metric(series string) float64 {
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if name, val, ok := strings.Cut(sc.Text(), " "); ok && name == series {
			f, _ := strconv.ParseFloat(val, 64)
			return f
		}
	}
	return -1
}

// checkPeak fails the test when sluiced's peak RSS passed the bound.
func (p *sluicedProc) checkPeak(what string) {
	p.t.Helper()
	hwm := p.status("VmHWM")
	p.t.Logf("%s: peak RSS %.1f MiB (bound %d MiB), RSS now %.1f MiB", what,
		float64(hwm)/(1<<20), rssBound>>20, float64(p.status("VmRSS"))/(1<<20))
	mib := func(series string) string { return fmt.Sprintf("%.1f", p.metric(series)/(1<<20)) }
	p.t.Logf("now: Go sys %s MiB, heap in use %s MiB, stacks %s MiB, rings %s MiB, ring chunks free %s MiB, bodies peak %s MiB",
		mib("go_memstats_sys_bytes"), mib("go_memstats_heap_inuse_bytes"), mib("go_memstats_stack_inuse_bytes"),
		mib("sluice_buffer_bytes"), mib("sluice_buffer_free_bytes"), mib("sluice_inflight_body_bytes_peak"))
	if hwm > rssBound {
		p.t.Errorf("%s: peak RSS %d MiB, over MEMORY_LIMIT×1.5+64MiB = %d MiB", what, hwm>>20, rssBound>>20)
	}
}

// ingestWorks posts one line for app and waits until it can be read back:
// the router still serves a well-behaved client after the attack.
func (p *sluicedProc) ingestWorks(app string) {
	p.t.Helper()
	eventually.True(p.t, "a well-behaved POST is accepted", func() bool {
		resp, err := http.Post(p.base+"/logs?app="+app, "text/plain", strings.NewReader("still here\n"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
	eventually.True(p.t, "the line is readable", func() bool {
		resp, err := http.Get(p.base + "/apps/" + app + "/logs?num=5")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "still here")
	})
}

// gzipBomb is a text/plain body of about size bytes of log lines, gzipped
// (about 15 MiB → 50 KB).
func gzipBomb(t *testing.T, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	line := []byte(strings.Repeat("x", 90) + " bomb line\n")
	for n := 0; n < size; n += len(line) {
		zw.Write(line)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// attackGzip sends clients concurrent POSTs of a 52 KB gzip body that
// inflates to 15 MiB and returns the answers by status (-1: no answer).
func attackGzip(t *testing.T, p *sluicedProc, clients int) map[int]int {
	bomb := gzipBomb(t, 15<<20)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	client := &http.Client{Timeout: 60 * time.Second}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", p.base+"/logs?app=bomb", bytes.NewReader(bomb))
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := client.Do(req)
			code := -1
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
				if code == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("%d bodies of %d KB (15 MiB inflated): answers %v", clients, len(bomb)>>10, codes)
	// 15 MiB of 100-byte lines needs 15 MiB + 157,000 messages × 144
	// bytes, more than MAX_INFLIGHT_BODY_BYTES (32 MiB) allows all requests
	// together: 413 for a request that finds that out, 503 + Retry-After
	// for one refused earlier because others held the rest.
	for code := range codes {
		if code != http.StatusNoContent && code != http.StatusServiceUnavailable && code != http.StatusRequestEntityTooLarge {
			t.Errorf("answer %d: want 204, 503 + Retry-After or 413", code)
		}
	}
	return codes
}

// attackTails opens n tails on app "stalled" that never read, then sends
// lines of 8 KB for it; it returns when the lines are in, leaving the tails
// open until the test ends.
func attackTails(t *testing.T, p *sluicedProc, n, lines int) {
	host := strings.TrimPrefix(p.base, "http://")
	for range n {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096) // a client that reads nothing, with a small window
		}
		if _, err := io.WriteString(c, "GET /apps/stalled/logs?tail=1&num=0 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	eventually.True(t, "the tails are open", func() bool {
		return p.metric("sluice_tail_sessions") >= float64(n)*0.9
	})
	t.Logf("%v tails open", p.metric("sluice_tail_sessions"))
	before := p.metric(`sluice_ingest_messages_total{transport="syslog_tcp"}`)
	sendLines(t, p.tcp, "stalled", lines, 8<<10)
	eventually.True(t, "the lines are in", func() bool {
		return p.metric(`sluice_ingest_messages_total{transport="syslog_tcp"}`) >= before+float64(lines)
	})
}

// sendLines sends n octet-framed RFC 5424 lines of size bytes for app over
// one TCP connection.
func sendLines(t *testing.T, addr, app string, n, size int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := bufio.NewWriterSize(c, 256<<10)
	text := strings.Repeat("y", size)
	for i := range n {
		f := "<190>1 - h " + app + " web.1 - - " + strconv.Itoa(i) + " " + text
		fmt.Fprintf(w, "%d %s", len(f), f)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// attackApps sends rounds lines of 200 bytes to each of apps app names
// over two connections, and returns the most the rings held meanwhile.
func attackApps(t *testing.T, p *sluicedProc, apps, rounds int) int64 {
	var peakRings atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() { // samples the rings' memory while the load runs
		defer close(polled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := int64(p.metric("sluice_buffer_bytes")); v > peakRings.Load() {
				peakRings.Store(v)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	before := p.metric(`sluice_ingest_messages_total{transport="syslog_tcp"}`)
	var wg sync.WaitGroup
	for conn := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.tcp)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			w := bufio.NewWriterSize(c, 256<<10)
			text := strings.Repeat("z", 200)
			for r := range rounds {
				for a := conn; a < apps; a += 2 {
					f := "<190>1 - h app" + strconv.Itoa(a) + " web.1 - - " + strconv.Itoa(r) + " " + text
					fmt.Fprintf(w, "%d %s", len(f), f)
				}
			}
			if err := w.Flush(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	eventually.True(t, "every line is in", func() bool {
		return p.metric(`sluice_ingest_messages_total{transport="syslog_tcp"}`) >= before+float64(apps*rounds)
	})
	cancel()
	<-polled
	if v := int64(p.metric("sluice_buffer_bytes_peak")); v > peakRings.Load() {
		peakRings.Store(v) // exact, where sluiced keeps it
	}
	t.Logf("%d apps × %d rounds: rings peaked at %.1f MiB (MEMORY_LIMIT %d MiB)", apps, rounds,
		float64(peakRings.Load())/(1<<20), abuseMemoryLimit>>20)
	return peakRings.Load()
}

// checkRings fails the test when the rings went over MEMORY_LIMIT. An
// append that crosses the limit is counted before the reclaim it triggers:
// the appends in flight then (a batch per connection) may be over, never
// more.
func checkRings(t *testing.T, peak int64) {
	t.Helper()
	if peak > abuseMemoryLimit+2<<20 {
		t.Errorf("rings peaked at %d bytes, over MEMORY_LIMIT %d + 2 MiB", peak, abuseMemoryLimit)
	}
}

// Row 1: 50 concurrent POSTs of a small gzip body that inflates to 15 MiB.
// Before the budget: ~85 MB per request, 4.25 GB peak (2.5 GB here).
func TestAbuseGzipBodiesStayInBudget(t *testing.T) {
	p := startSluiced(t, "MEMORY_LIMIT=64MiB")
	attackGzip(t, p, 50)
	p.checkPeak("50 gzip bodies")
	p.ingestWorks("calm")
}

// Row 1, uncompressed: 50 concurrent POSTs of a 15 MiB body. fasthttp
// reads a body whole before the handler runs; before bodies were reserved
// when their headers arrived, this peaked at 707 MiB. A refused body is
// not read: the client may see its connection closed while it still
// sends (no answer), or the 503.
func TestAbusePlainBodiesStayInBudget(t *testing.T) {
	p := startSluiced(t, "MEMORY_LIMIT=64MiB")
	body := []byte(strings.Repeat(strings.Repeat("x", 999)+"\n", 15<<10))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	client := &http.Client{Timeout: 60 * time.Second}
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(p.base+"/logs?app=plain", "text/plain", bytes.NewReader(body))
			code := -1
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	refused := p.metric(`sluice_ingest_rejected_total{reason="memory_budget",transport="http"}`)
	t.Logf("50 bodies of 15 MiB: answers %v, %v refused at admission or in the handler", codes, refused)
	if codes[http.StatusNoContent]+int(refused) < 50-codes[http.StatusRequestEntityTooLarge] {
		t.Errorf("answers %v: %v counted memory_budget, want every body accepted or counted", codes, refused)
	}
	p.checkPeak("50 plain 15 MiB bodies")
	p.ingestWorks("calm")
}

// Row 3: 1,000 tail clients on one app that never read, while the app
// writes 8 KB lines. MAX_TAILS_PER_APP (and MAX_CONNECTIONS_PER_IP: they
// come from one address) are raised to let all of them in: the
// budget, not the per-app cap, must bound their memory.
func TestAbuseStalledTailsStayInBudget(t *testing.T) {
	tails, lines := 1000, 20_000
	if testing.Short() {
		tails, lines = 200, 5000
	}
	p := startSluiced(t, "MEMORY_LIMIT=64MiB", "MAX_TAILS_PER_APP=1000", "MAX_CONNECTIONS_PER_IP=5000")
	attackTails(t, p, tails, lines)
	p.checkPeak(fmt.Sprintf("%d stalled tails, %d lines of 8 KB", tails, lines))
	p.ingestWorks("calm")
}

// Row 8: 100,000 app names under MEMORY_LIMIT=64MiB. Before the budget the
// rings peaked 18% over the limit and the process at 3.7× it.
func TestAbuseManyAppsStayInBudget(t *testing.T) {
	apps, rounds := 100_000, 3
	if testing.Short() {
		apps = 20_000
	}
	p := startSluiced(t, "MEMORY_LIMIT=64MiB")
	checkRings(t, attackApps(t, p, apps, rounds))
	p.checkPeak(fmt.Sprintf("%d apps", apps))
	p.ingestWorks("calm")
}

// The target: under the attacks at once (gzip bodies, stalled
// tails, 100,000 apps), peak RSS ≤ MEMORY_LIMIT × 1.5 + 64 MiB.
func TestAbuseMixStaysInBudget(t *testing.T) {
	tails, lines, apps := 1000, 10_000, 100_000
	if testing.Short() {
		tails, lines, apps = 200, 2000, 20_000
	}
	p := startSluiced(t, "MEMORY_LIMIT=64MiB", "MAX_TAILS_PER_APP=1000", "MAX_CONNECTIONS_PER_IP=5000")
	attackTails(t, p, tails, lines)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); attackGzip(t, p, 50) }()
	var rings int64
	go func() { defer wg.Done(); rings = attackApps(t, p, apps, 2) }()
	wg.Wait()
	checkRings(t, rings)
	p.checkPeak("tails, gzip bodies and many apps at once")
	p.ingestWorks("calm")
}

// A configuration whose reservations exceed the budget is refused at
// startup with the arithmetic; one that fits sets the Go runtime's soft
// limit to the budget, unless GOMEMLIMIT says otherwise.
func TestMemoryBudgetAtStartup(t *testing.T) {
	bin := binaries(t)
	cmd := exec.Command(bin+"/sluiced", "check-config")
	cmd.Env = []string{"MEMORY_LIMIT=64MiB", "DRAIN_A=http://127.0.0.1:1/", "DRAIN_B=http://127.0.0.1:1/?queue_bytes=32MiB"}
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("over budget: exit %v, want 1:\n%s", err, out)
	}
	for _, want := range []string{"memory budget exceeded", "rings (MEMORY_LIMIT) 64MiB", "drain a (queue_bytes) 16MiB",
		"drain b (queue_bytes) 32MiB", "tails (MAX_TAILS 1000 × 48KiB) 46.9MiB", "= 206.9MiB of 160MiB (MEMORY_LIMIT × 1.5 + 64MiB)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		name string
		env  []string
		want float64
	}{
		{"from MEMORY_LIMIT, less the binary", []string{"MEMORY_LIMIT=64MiB"}, 136 << 20},
		{"less the UDP buffer", []string{"MEMORY_LIMIT=64MiB", "SYSLOG_UDP_ADDR=127.0.0.1:0", "SYSLOG_UDP_RCVBUF=4MiB"}, 132 << 20},
		{"GOMEMLIMIT stands", []string{"MEMORY_LIMIT=64MiB", "GOMEMLIMIT=300MiB"}, 300 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startSluiced(t, tc.env...)
			if got := p.metric("go_gc_gomemlimit_bytes"); got != tc.want {
				t.Errorf("go_gc_gomemlimit_bytes %v, want %v", got, tc.want)
			}
		})
	}
}

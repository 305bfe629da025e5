package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
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
	"syscall"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/internal/eventually"
)

// The real binaries, built once for the tests that run processes.
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds sluice and sluiced and returns their directory.
func binaries(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "sluice-bin-")
		if binErr != nil {
			return
		}
		out, err := exec.Command(goTool, "build", "-o", binDir+"/", "github.com/sluice-logs/sluice/cmd/...").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// cleanEnv is the test's environment without SLUICE_*, DYNO and NO_COLOR.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_") && !strings.HasPrefix(kv, "DYNO=") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startSluiced runs the real router on loopback and returns its base URL.
// It is stopped with SIGTERM when the test ends.
func startSluiced(t *testing.T, env ...string) string {
	t.Helper()
	bin := binaries(t)
	cmd := exec.Command(bin + "/sluiced")
	cmd.Env = append([]string{"PORT=0", "SYSLOG_TCP_ADDR=127.0.0.1:0", "SYSLOG_UDP_ADDR=", "SHUTDOWN_TIMEOUT=2s",
		"BUFFER_LINES=50000", "BUFFER_BYTES=64MiB"}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev["msg"] == "sluiced listening" {
				a, _ := ev["http"].(string)
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		_, port, _ := net.SplitHostPort(a)
		return "http://127.0.0.1:" + port
	case <-time.After(20 * time.Second):
		t.Fatal("sluiced did not report listening")
	}
	return ""
}

// ringTexts returns the texts of app's lines in the router's ring, in
// order, as "source[proc]: text" without the timestamp.
func ringTexts(t *testing.T, base, app string) []string {
	t.Helper()
	resp, err := http.Get(base + "/apps/" + app + "/logs?num=100000")
	if err != nil {
		t.Fatalf("read ring: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	body, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if _, rest, ok := strings.Cut(l, " "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// ringHas waits until app's ring holds a line ending in text.
func ringHas(t *testing.T, base, app, text string) {
	t.Helper()
	eventually.True(t, "line "+strconv.Quote(text)+" in the ring of "+app, func() bool {
		for _, l := range ringTexts(t, base, app) {
			if strings.HasSuffix(l, ": "+text) {
				return true
			}
		}
		return false
	})
}

// shipCmd is a prepared `sluice ship` (or agent) process.
func sluiceCmd(t *testing.T, ctx context.Context, env []string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, binaries(t)+"/sluice", args...)
	cmd.Env = cleanEnv(env...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	return cmd, &stderr
}

// exitStatusOf is the exit status of a finished process.
func exitStatusOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run: %v", err)
	return -1
}

// watchRSS samples the peak resident memory (VmHWM) of the running
// process pid every few milliseconds until it exits; the function it
// returns stops sampling and gives the highest value seen, in bytes.
//
// The rusage of a finished child cannot serve: Go starts children with
// vfork, so a child's ru_maxrss counts the memory of the test process it
// shared before exec (over 100 MiB late in a -race run), not its own.
// VmHWM belongs to the program's own address space and only grows, so the
// last sample is within a few milliseconds of the true peak.
func watchRSS(pid int) func() int64 {
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	sample := func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if kb*1024 > peak.Load() {
					peak.Store(kb * 1024)
				}
			}
		}
		return true
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for sample() {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// sinkFrame is one message a sink received.
type sinkFrame struct {
	app, proc, text string
	severity        int
}

// sink is a real HTTP server speaking the router's POST /logs: it decodes
// logplex-1 bodies and answers what answer says.
type sink struct {
	srv      *http.Server
	url      string
	mu       sync.Mutex
	frames   []sinkFrame
	times    []time.Time // of every request
	requests atomic.Int64
	// answer returns the status (and Retry-After, when not "") of request
	// n (1-based); nil means 204.
	answer func(n int64) (int, string)
}

func newSink(t *testing.T, answer func(n int64) (int, string)) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{url: "http://" + ln.Addr().String(), answer: answer}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	body := io.Reader(io.LimitReader(r.Body, 64<<20))
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if s.answer != nil {
		if code, after := s.answer(n); code != 0 && code != 204 {
			if after != "" {
				w.Header().Set("Retry-After", after)
			}
			w.WriteHeader(code)
			return
		}
	}
	frames, err := parseLogplex(raw)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if want := r.Header.Get("Logplex-Msg-Count"); want != strconv.Itoa(len(frames)) {
		http.Error(w, "msg count "+want, 400)
		return
	}
	s.mu.Lock()
	s.frames = append(s.frames, frames...)
	s.mu.Unlock()
	w.WriteHeader(204)
}

func (s *sink) got() []sinkFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkFrame(nil), s.frames...)
}

// parseLogplex splits octet-counted RFC 5424 frames written by
// sluice.AppendRFC5424 (SD is "-").
func parseLogplex(b []byte) ([]sinkFrame, error) {
	var out []sinkFrame
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return nil, errors.New("no frame length")
		}
		n, err := strconv.Atoi(string(b[:sp]))
		if err != nil || sp+1+n > len(b) {
			return nil, fmt.Errorf("bad frame length %q", b[:sp])
		}
		msg := string(b[sp+1 : sp+1+n])
		b = b[sp+1+n:]
		f := strings.SplitN(msg, " ", 8)
		if len(f) < 7 {
			return nil, fmt.Errorf("short frame %q", msg)
		}
		pri, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(f[0], "<"), ">1"))
		fr := sinkFrame{app: f[3], proc: f[4], severity: pri % 8}
		if len(f) == 8 {
			fr.text = f[7]
		}
		out = append(out, fr)
	}
	return out, nil
}

// proxy is a TCP proxy in front of a router that can be taken down: while
// down it closes every connection it accepts (and those open), as a
// router that is not running would refuse them.
type proxy struct {
	ln      net.Listener
	target  string
	up      atomic.Bool
	refused atomic.Int64
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}}
	p.up.Store(true)
	t.Cleanup(func() { ln.Close(); p.setUp(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.up.Load() {
				p.refused.Add(1)
				c.Close()
				continue
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) setUp(up bool) {
	p.up.Store(up)
	if up {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) serve(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(u, c); u.Close() }()
	io.Copy(c, u)
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

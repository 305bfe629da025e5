package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hostile are messages whose bytes look like structure: a forged line, and
// terminal escapes (clipboard, title, screen control, C1, bidi).
var hostile = []string{
	"first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected",
	"\x1b]52;c;ZWNobyBwd25lZA==\a",
	"\x1b]0;owned\x1b\\ title",
	"\x1b[2J\x1b[H\x1b[31mred\rcr\u009b1mc1 csi\x7f",
	"rtl \u202eevil\u202c end",
}

// sendHostile writes the hostile messages to app over syslog TCP (an octet
// count frames each, so an LF inside is legal) and waits for the ring.
func sendHostile(r *router, app string) {
	var frames []string
	for _, h := range hostile {
		frames = append(frames, "<190>1 - h "+app+" web.1 - - "+h)
	}
	r.sendTCP(octet(frames...))
	r.waitLines(app, "", len(hostile))
}

// colourCode is one SGR sequence that sluice logs writes itself.
var colourCode = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// TestSluiceLogsTerminalSafe runs the real sluice binary against the
// router, piped and on a terminal: the bytes it writes hold one line per
// message and no control character, but for its own colour codes on a
// terminal.
func TestSluiceLogsTerminalSafe(t *testing.T) {
	r := start(t)
	bin := binaries(t)
	sendHostile(r, "evil")
	check := func(t *testing.T, out []byte, colour bool) {
		t.Helper()
		text := out
		if colour {
			if !colourCode.Match(out) {
				t.Fatalf("no colour codes on a terminal:\n%q", out)
			}
			text = colourCode.ReplaceAll(out, nil)
		}
		text = bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n")) // the terminal's own line ends
		for _, c := range text {
			if (c < 0x20 && c != '\n') || c == 0x7f {
				t.Fatalf("raw control %#x in the output:\n%q", c, out)
			}
		}
		if bytes.Contains(text, []byte("\u009b")) || bytes.Contains(text, []byte("\u202e")) {
			t.Fatalf("raw C1 or bidi override in the output:\n%q", out)
		}
		ls := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
		if len(ls) != len(hostile) {
			t.Fatalf("%d lines for %d messages:\n%s", len(ls), len(hostile), text)
		}
		if !strings.HasSuffix(ls[0], `app[web.1]: first part\n2026-12-02T00:00:00.000000+00:00 app[fake.1]: injected`) {
			t.Fatalf("forged line not kept inside its message: %q", ls[0])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Run("piped, no colour", func(t *testing.T) {
		cmd := exec.CommandContext(ctx, bin+"/sluice", "logs", "--app", "evil", "--no-color")
		cmd.Env = append(os.Environ(), "SLUICE_URL="+r.base)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		check(t, out, false)
	})
	t.Run("terminal, colour", func(t *testing.T) {
		ptm, pts := openPty(t)
		cmd := exec.CommandContext(ctx, bin+"/sluice", "logs", "--app", "evil")
		cmd.Env = append(os.Environ(), "SLUICE_URL="+r.base, "TERM=xterm", "NO_COLOR=")
		cmd.Stdout = pts
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pts.Close()
		var out []byte
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				break // EIO once the child has closed the terminal
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		check(t, out, true)
	})
}

// blipProxy forwards TCP connections to target and can cut them all and
// refuse new ones for a while (a network blip).
type blipProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	down   bool
	wg     sync.WaitGroup
}

func newBlipProxy(t *testing.T, target string) *blipProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blipProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut(true)
		p.wg.Wait()
	})
	return p
}

// cut closes every connection; down makes the proxy refuse new ones.
func (p *blipProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *blipProxy) opened() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// TestSluiceLogsTailResumesExactly cuts the real client's connection, sends
// a burst larger than the 1,000 lines the old client asked for while it is
// cut, and checks that the client prints every line exactly once, in order.
func TestSluiceLogsTailResumesExactly(t *testing.T) {
	r := start(t, "BUFFER_LINES=10000", "BUFFER_BYTES=8MiB")
	bin := binaries(t)
	send := func(from, to int) {
		var frames []string
		for i := from; i < to; i++ {
			frames = append(frames, fmt.Sprintf("<190>1 - h burst web.1 - - line %d", i))
		}
		r.sendTCP(octet(frames...))
	}
	send(0, 10)
	r.waitLines("burst", "", 10)
	p := newBlipProxy(t, strings.TrimPrefix(r.base, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin+"/sluice", "logs", "--app", "burst", "--tail", "--num", "5")
	cmd.Env = append(os.Environ(), "SLUICE_URL=http://"+p.ln.Addr().String())
	var out, stderr syncBuf
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { return strings.Contains(out.String(), "line 9\n") })
	send(10, 20)
	waitFor(t, func() bool { return strings.Contains(out.String(), "line 19\n") })

	const burst = 3000
	p.cut(true)
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "connection lost") })
	send(20, 20+burst)
	r.waitLines("burst", "", 20+burst)
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
	last := fmt.Sprintf("line %d\n", 20+burst-1)
	waitFor(t, func() bool { return strings.Contains(out.String(), last) })
	send(20+burst, 20+burst+5)
	last = fmt.Sprintf("line %d\n", 20+burst+4)
	waitFor(t, func() bool { return strings.Contains(out.String(), last) })
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice: %v\n%s", err, stderr.String())
	}
	got := stripTimes(out.String())
	want := make([]string, 0, 15+burst+5)
	for i := 5; i < 20+burst+5; i++ {
		want = append(want, fmt.Sprintf("app[web.1]: line %d", i))
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines printed, want %d (stderr %s)", len(got), len(want), stderr.String())
	}
	equal(t, got, want)
	if p.opened() < 1 || !strings.Contains(stderr.String(), "sluice: reconnected") {
		t.Fatalf("no reconnect: %s", stderr.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSIGTERMUnderHTTPLoad sends SIGTERM to the real sluiced binary while
// retrying clients post logs. A drain that never answers keeps the
// shutdown going for SHUTDOWN_TIMEOUT: all that time every request is
// answered, 204 or 503 with Retry-After, and none is refused until the
// daemon says it closes the HTTP listener. /healthz turns 503 and the
// syslog listener closes at once.
func TestSIGTERMUnderHTTPLoad(t *testing.T) {
	bin := binaries(t)
	hang := make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer sink.Close()
	defer close(hang)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin+"/sluiced")
	cmd.Env = []string{"PORT=0", "SYSLOG_TCP_ADDR=127.0.0.1:0", "SYSLOG_UDP_ADDR=", "SHUTDOWN_TIMEOUT=2s",
		"DRAIN_STUCK=" + sink.URL + "/logs"}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var (
		mu      sync.Mutex
		events  []map[string]any
		changed = make(chan struct{}, 1)
	)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()
	event := func(msg string) map[string]any {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range events {
			if ev["msg"] == msg {
				return ev
			}
		}
		return nil
	}
	waitFor(t, func() bool { return event("sluiced listening") != nil })
	ev := event("sluiced listening")
	base := "http://" + strings.Replace(ev["http"].(string), "[::]", "127.0.0.1", 1)
	tcpAddr := ev["syslog_tcp"].(string)

	type outcome struct {
		at     time.Time
		status int
		retry  string
		err    error
	}
	var (
		omu      sync.Mutex
		outcomes []outcome
		stopLoad = make(chan struct{})
		wg       sync.WaitGroup
	)
	exited := make(chan error, 1)
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				resp, err := client.Post(base+"/logs?app=load", "text/plain", strings.NewReader(fmt.Sprintf("line %d\n", i)))
				o := outcome{at: time.Now(), err: err}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					o.status, o.retry = resp.StatusCode, resp.Header.Get("Retry-After")
				}
				omu.Lock()
				outcomes = append(outcomes, o)
				omu.Unlock()
				if err != nil || o.status == http.StatusServiceUnavailable {
					// A retrying client: wait a little, as Retry-After
					// says (shortened), then try again.
					select {
					case <-stopLoad:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		}()
	}
	count := func(pred func(outcome) bool) int {
		omu.Lock()
		defer omu.Unlock()
		n := 0
		for _, o := range outcomes {
			if pred(o) {
				n++
			}
		}
		return n
	}
	waitFor(t, func() bool { return count(func(o outcome) bool { return o.status == 204 }) >= 50 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() { exited <- cmd.Wait() }()
	waitFor(t, func() bool { return event("shutting down") != nil })

	// The syslog listener closes at once, while HTTP still answers.
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", tcpAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("healthz during shutdown: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("healthz during shutdown: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("sluiced exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sluiced did not exit")
	}
	close(stopLoad)
	wg.Wait()

	closing := event("closing the HTTP listener")
	if closing == nil {
		t.Fatal("no \"closing the HTTP listener\" event")
	}
	closedAt, err := time.Parse(time.RFC3339Nano, closing["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var ok, unavailable, refusedLate int
	omu.Lock()
	defer omu.Unlock()
	for _, o := range outcomes {
		switch {
		case o.err != nil && !o.at.Before(closedAt):
			refusedLate++ // the port is closing or closed: expected
		case o.err != nil:
			t.Errorf("request failed while the port was open (%s before it closed): %v", closedAt.Sub(o.at), o.err)
		case o.status == http.StatusNoContent:
			ok++
		case o.status == http.StatusServiceUnavailable && o.retry != "":
			unavailable++
		default:
			t.Errorf("status %d (Retry-After %q)", o.status, o.retry)
		}
	}
	if unavailable == 0 {
		t.Fatalf("no 503 seen during the shutdown (%d accepted, %d after close)", ok, refusedLate)
	}
	t.Logf("%d accepted, %d answered 503 during the shutdown, %d failed after the listener closed", ok, unavailable, refusedLate)
}

// TestReadOnlyEndpointsRefuseWrites: POST (any method but GET and HEAD) on
// the read-only endpoints answers 405 with Allow.
func TestReadOnlyEndpointsRefuseWrites(t *testing.T) {
	r := start(t)
	for _, path := range []string{"/drains", "/metrics", "/healthz", "/", "/apps/web/logs"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			t.Run(method+path, func(t *testing.T) {
				req, _ := http.NewRequest(method, r.base+path, strings.NewReader("x"))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
					t.Fatalf("%d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
				}
			})
		}
	}
}

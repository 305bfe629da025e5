package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
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

// openPty opens a pseudo-terminal pair (Linux), so that the client sees a
// terminal on stdout and colours its output.
func openPty(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("pseudo-terminals are opened the Linux way only")
	}
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptm, pts
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

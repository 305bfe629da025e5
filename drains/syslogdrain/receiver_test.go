package syslogdrain_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/syslogdrain"
)

// receiver is a syslog receiver on loopback written for the tests: it
// reads octet-counted frames (TCP, or TLS when tlsCfg is set) or
// datagrams (UDP), parses each as RFC 5424 and records them. It can be
// told to stop reading, or to close a connection after some frames.
type receiver struct {
	t      testing.TB
	udp    bool
	ln     net.Listener
	pc     net.PacketConn
	mu     sync.Mutex
	msgs   []sluice.Message
	raw    [][]byte
	conns  int
	closeN int           // close each connection after this many frames (0: never)
	gate   chan struct{} // when non-nil, reading waits for it to be closed
	wg     sync.WaitGroup
}

func newReceiver(t testing.TB, network string, tlsCfg *tls.Config) *receiver {
	t.Helper()
	r := &receiver{t: t}
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.udp, r.pc = true, pc
		r.wg.Add(1)
		go r.readUDP()
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		r.ln = ln
		r.wg.Add(1)
		go r.accept()
	}
	t.Cleanup(r.close)
	return r
}

func (r *receiver) addr() string {
	if r.udp {
		return r.pc.LocalAddr().String()
	}
	return r.ln.Addr().String()
}

func (r *receiver) close() {
	if r.udp {
		r.pc.Close()
	} else {
		r.ln.Close()
	}
	r.mu.Lock()
	if r.gate != nil {
		select {
		case <-r.gate:
		default:
			close(r.gate)
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *receiver) accept() {
	defer r.wg.Done()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			// A fixed window (no autotuning up to tens of MiB), so that a
			// receiver that stops reading or closes is felt after a few
			// MiB; not much smaller than loopback's 64 KiB MSS, or TCP's
			// silly-window avoidance makes every segment wait for a timer.
			_ = tc.SetReadBuffer(256 << 10)
		}
		r.mu.Lock()
		r.conns++
		r.mu.Unlock()
		conns = append(conns, c)
		r.wg.Add(1)
		go r.readStream(c)
	}
}

func (r *receiver) readStream(c net.Conn) {
	defer r.wg.Done()
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	n := 0
	for {
		r.mu.Lock()
		gate, closeN := r.gate, r.closeN
		r.mu.Unlock()
		if gate != nil {
			<-gate
		}
		l, err := br.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(l[:len(l)-1])
		if err != nil || size <= 0 || size > 1<<20 {
			r.t.Errorf("receiver: bad octet count %q", l)
			return
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(br, frame); err != nil {
			return
		}
		r.record(frame)
		n++
		if closeN > 0 && n >= closeN {
			return // the deferred Close drops what is unread (a reset)
		}
	}
}

func (r *receiver) readUDP() {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, _, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		r.record(append([]byte(nil), buf[:n]...))
	}
}

func (r *receiver) record(frame []byte) {
	m, err := parse(frame)
	if err != nil {
		r.t.Errorf("receiver: %v", err)
	}
	r.mu.Lock()
	r.raw = append(r.raw, frame)
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// parse reads one RFC 5424 message whose STRUCTURED-DATA is "-" (what
// the drain writes for the tests' messages) by splitting the header at
// spaces: cheap enough for megabytes under the race detector. The strict
// parse of the same frames is rsyslog's, in rsyslog_test.go.
func parse(frame []byte) (sluice.Message, error) {
	f := strings.SplitN(string(frame), " ", 8)
	if len(f) < 7 || !strings.HasPrefix(f[0], "<") || !strings.HasSuffix(f[0], ">1") || f[6] != "-" {
		return sluice.Message{}, fmt.Errorf("frame %q: not RFC 5424 with SD \"-\"", frame)
	}
	nil5424 := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	m := sluice.Message{Host: nil5424(f[2]), App: nil5424(f[3]), Proc: nil5424(f[4]), MsgID: nil5424(f[5])}
	if len(f) == 8 {
		m.Text = f[7]
	}
	ts, err := time.Parse(time.RFC3339Nano, f[1])
	if err != nil {
		return m, fmt.Errorf("frame %q: %w", frame, err)
	}
	m.Time = ts
	return m, nil
}

func (r *receiver) read(*testing.T, context.Context) []sluice.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sluice.Message(nil), r.msgs...)
}

func (r *receiver) frames() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.raw...)
}

func (r *receiver) connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// pause makes the receiver stop reading; the returned func resumes it.
func (r *receiver) pause() (resume func()) {
	g := make(chan struct{})
	r.mu.Lock()
	r.gate = g
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			r.gate = nil
			r.mu.Unlock()
			close(g)
		})
	}
}

// newDrain builds a drain from a URL, with tlsCfg (may be nil) and notify.
func newDrain(t testing.TB, raw string, tlsCfg *tls.Config, notify func(sluice.Message)) (*syslogdrain.Drain, drains.Options) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	opts, rest, err := drains.ParseOptions(u.Query())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := syslogdrain.ParseURL(u, rest)
	if err != nil {
		t.Fatalf("ParseURL(%s): %v", raw, err)
	}
	cfg.TLSConfig, cfg.Notify, cfg.Name = tlsCfg, notify, "test"
	d, err := syslogdrain.New(cfg, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d, opts
}

func send(t testing.TB, d drains.Drain, batch []sluice.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Send(ctx, batch)
}

var errNoRsyslog = errors.New("rsyslogd not found")

func drainsIsPermanent(err error) bool { return drains.IsPermanent(err) }

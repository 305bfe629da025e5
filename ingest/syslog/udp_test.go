package syslog

import (
	"net"
	"runtime"
	"strconv"
	"testing"

	"github.com/sluice-logs/sluice/metrics"
)

// TestUDPKernelDropsCounted fills a small UDP receive buffer while Publish
// is blocked, so the kernel drops datagrams, and checks that every datagram
// sent is either published or counted as kernel_drop: UDP loss is never
// silent.
func TestUDPKernelDropsCounted(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_RXQ_OVFL is Linux's")
	}
	rec := &recorder{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	cfg, m := testConfig(rec)
	cfg.UDPReadBuffer = 4096 // the kernel's minimum is about this
	addr := start(t, NewUDP(cfg))
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(i int) {
		if _, err := c.Write([]byte(msg("app", "n"+strconv.Itoa(i)))); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	<-rec.entered // Serve holds datagram 0 and waits in Publish
	const n = 500
	for i := 1; i <= n; i++ {
		send(i)
	}
	close(rec.gate)
	// The drop count rides on the datagrams queued after the drops: send
	// until one arrives that the kernel queued after the burst.
	last := n
	waitFor(t, "every datagram published or counted", func() bool {
		last++
		send(last)
		return len(rec.messages())+rejected(m, metrics.SyslogUDP, "kernel_drop") == last+1
	})
	drops := rejected(m, metrics.SyslogUDP, "kernel_drop")
	if drops == 0 {
		t.Fatalf("no kernel drops counted with a %d-byte buffer and %d datagrams queued", cfg.UDPReadBuffer, n)
	}
	t.Logf("%d datagrams sent, %d published, %d dropped by the kernel and counted", last+1, len(rec.messages()), drops)
}

func TestUDPReadBufferSet(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads back SO_RCVBUF on Linux")
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got, err := setReadBuffer(conn, 64<<10)
	if err != nil || got < 64<<10 {
		t.Fatalf("setReadBuffer(64 KiB) = %d, %v", got, err)
	}
	// Whatever the cap, the size granted is reported, never more than asked
	// for by more than the kernel's rounding.
	got, err = setReadBuffer(conn, 1<<30)
	if err != nil || got <= 0 || got > 1<<30 {
		t.Fatalf("setReadBuffer(1 GiB) = %d, %v", got, err)
	}
	t.Logf("1 GiB asked, %d bytes granted", got)
}

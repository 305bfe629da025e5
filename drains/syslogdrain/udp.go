package syslogdrain

import (
	"context"
	"math/bits"
	"net"

	"github.com/sluice-logs/sluice"
)

// dialUDP "connects" a UDP socket to a udpsyslog:// receiver, so that
// writes go there and ICMP port-unreachable comes back as an error.
func (d *Drain) dialUDP(ctx context.Context) (net.Conn, error) {
	var dialer net.Dialer
	return dialer.DialContext(ctx, "udp", d.cfg.Addr)
}

// sendUDP writes one datagram per message (RFC 5426), cut to MaxDatagram.
// A write error ends the batch; the Worker sends it again whole.
func (d *Drain) sendUDP(ctx context.Context, batch []sluice.Message) error {
	stop := d.deadlines(ctx)
	defer stop()
	before := d.truncated.Load() // only this goroutine adds to it
	for i := range batch {
		d.frame = d.encode(d.frame[:0], &batch[i])
		b := d.frame
		if len(b) > d.cfg.MaxDatagram {
			b = truncateUTF8(b, d.cfg.MaxDatagram)
			d.truncated.Add(1)
		}
		if _, err := d.conn.Write(b); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	if n := d.truncated.Load(); bits.Len64(n) > bits.Len64(before) { // log at the 1st, 2nd, 4th, 8th, … truncation
		d.log.Warn("udpsyslog drain truncated messages longer than max_datagram", "url", d.cfg.Redacted,
			"max_datagram", d.cfg.MaxDatagram, "truncated_total", n)
	}
	return nil
}

// truncateUTF8 cuts b to at most n bytes without splitting a UTF-8
// sequence.
func truncateUTF8(b []byte, n int) []byte {
	b = b[:n]
	for i := len(b) - 1; i >= 0 && i >= len(b)-4; i-- {
		c := b[i]
		if c < 0x80 {
			return b
		}
		if c >= 0xC0 { // a lead byte: is its sequence complete?
			need := 2
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			}
			if len(b)-i < need {
				return b[:i]
			}
			return b
		}
	}
	return b
}

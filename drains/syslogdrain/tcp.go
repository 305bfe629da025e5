package syslogdrain

import (
	"context"
	"net"
	"time"
)

// dialTCP connects to a syslog:// receiver.
func (d *Drain) dialTCP(ctx context.Context) (net.Conn, error) {
	dialer := net.Dialer{KeepAlive: 30 * time.Second}
	return dialer.DialContext(ctx, "tcp", d.cfg.Addr)
}

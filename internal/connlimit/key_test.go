package connlimit

import (
	"net"
	"testing"
)

func TestClientKey(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 1}, "127.0.0.2"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 1}, "10.0.0.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 1}, "2001:db8:1:2::"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 1}, "2001:db8:1:2::"}, // same /64
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, "invalid IP"},
	} {
		t.Run(c.addr.String(), func(t *testing.T) {
			if got := clientKey(c.addr).String(); got != c.want {
				t.Fatalf("clientKey(%s) = %s, want %s", c.addr, got, c.want)
			}
		})
	}
}

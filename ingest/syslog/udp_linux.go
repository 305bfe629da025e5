package syslog

import (
	"encoding/binary"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// oobSize holds one SO_RXQ_OVFL control message (a uint32).
var oobSize = unix.CmsgSpace(4)

// setReadBuffer sets the socket's SO_RCVBUF to n bytes and returns the size
// the kernel granted (Linux doubles the request for its bookkeeping and
// reports the doubled value; the size is given here as the usable half).
// When net.core.rmem_max caps the request and the process may exceed it
// (CAP_NET_ADMIN), SO_RCVBUFFORCE is tried.
func setReadBuffer(conn *net.UDPConn, n int) (int, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("udp socket: %w", err)
	}
	var got int
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n); serr != nil {
			return
		}
		got, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		if serr == nil && got/2 < n {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) == nil {
				got, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
			}
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("set SO_RCVBUF to %d: %w", n, err)
	}
	return got / 2, nil
}

// enableDropCount asks the kernel to attach the socket's count of dropped
// datagrams (SO_RXQ_OVFL) to every datagram read.
func enableDropCount(conn *net.UDPConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("udp socket: %w", err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("set SO_RXQ_OVFL: %w", err)
	}
	return nil
}

// dropCount reads the SO_RXQ_OVFL counter out of a datagram's control
// messages: the number of datagrams the kernel has dropped on the socket
// since it was opened (it wraps at 2^32). ok is false when there is none.
func dropCount(oob []byte) (n uint32, ok bool) {
	for len(oob) > 0 {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0, false
		}
		if hdr.Level == unix.SOL_SOCKET && hdr.Type == unix.SO_RXQ_OVFL && len(data) >= 4 {
			return binary.NativeEndian.Uint32(data), true
		}
		oob = rest
	}
	return 0, false
}

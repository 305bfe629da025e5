//go:build !linux

package syslog

import "net"

// oobSize is 0: only Linux reports the socket's drops.
var oobSize = 0

// setReadBuffer sets the socket's receive buffer; the size granted is not
// known here, so the request is returned.
func setReadBuffer(conn *net.UDPConn, n int) (int, error) { return n, conn.SetReadBuffer(n) }

// enableDropCount is a no-op outside Linux.
func enableDropCount(*net.UDPConn) error { return nil }

func dropCount([]byte) (uint32, bool) { return 0, false }

//go:build !unix

package syslog

import "syscall"

// readNow would read what the socket holds without waiting; off unix it
// reports the socket drained at once, so Shutdown publishes only what the
// server has already read.
func readNow(syscall.RawConn, []byte) (int, error) { return 0, errDrained }

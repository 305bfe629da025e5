//go:build unix

package syslog

import (
	"errors"
	"io"
	"syscall"
)

// readNow reads what the socket of rc holds right now, without waiting:
// errDrained when it holds nothing, io.EOF when the peer has closed. It is
// how Shutdown reads what clients wrote before it began. The socket must
// have no read deadline that has passed.
func readNow(rc syscall.RawConn, p []byte) (int, error) {
	var (
		n   int
		err error
	)
	if cerr := rc.Read(func(fd uintptr) bool {
		n, err = syscall.Read(int(fd), p)
		return true // one attempt: never wait for readiness
	}); cerr != nil {
		return 0, cerr
	}
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK):
		return 0, errDrained
	case err != nil:
		return 0, err
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

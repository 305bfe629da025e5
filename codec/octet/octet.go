// Package octet owns RFC 6587 octet-counted framing, "MSG-LEN SP
// SYSLOG-MSG", the framing of syslog over TCP/TLS (RFC 5425) and of
// application/logplex-1 bodies. It has no state and does not allocate when
// dst has room.
package octet

import "strconv"

// AppendFrame appends msg as one octet-counted frame: its length in
// decimal, a space, and msg.
func AppendFrame(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

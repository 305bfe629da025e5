package buffer

import (
	"time"

	"github.com/sluice-logs/sluice"
)

// stamper formats tail-line timestamps (sluice.TimeLayout, UTC) from
// microseconds. Lines read together mostly share their second, so it keeps
// the formatted date and time of the last second and writes only the
// fraction for the next line of the same second. The zero value is ready.
type stamper struct {
	sec   int64
	valid bool
	head  [19]byte // "2006-01-02T15:04:05" of sec

	scratch []byte // a line that spans chunks, assembled for escaping
}

// tsLen is the length of a formatted timestamp and the space after it: the
// bytes a tail line has beyond what a ring stores (exact for years 0-9999).
const tsLen = len("2006-01-02T15:04:05.000000+00:00") + 1

func (st *stamper) append(dst []byte, us int64) []byte {
	sec, frac := us/1e6, us%1e6
	if frac < 0 {
		sec, frac = sec-1, frac+1e6
	}
	if !st.valid || sec != st.sec {
		t := time.Unix(sec, 0).UTC()
		if y := t.Year(); y < 0 || y > 9999 {
			st.valid = false
			return time.UnixMicro(us).UTC().AppendFormat(dst, sluice.TimeLayout)
		}
		t.AppendFormat(st.head[:0], "2006-01-02T15:04:05")
		st.sec, st.valid = sec, true
	}
	dst = append(dst, st.head[:]...)
	var f [7]byte
	f[0] = '.'
	for i := 6; i >= 1; i-- {
		f[i] = byte('0' + frac%10)
		frac /= 10
	}
	dst = append(dst, f[:]...)
	return append(dst, "+00:00"...)
}

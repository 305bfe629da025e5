package syslog

import (
	"bytes"
	"testing"
)

// FuzzFramer feeds the stream to the framer whole and in small chunks: the
// frames and events must be the same (the framing does not depend on how
// reads split the stream), no frame exceeds the maximum, and it never
// panics or stalls.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("5 hello\n6 world!"), uint8(3))
	f.Add([]byte("<13>1 - - a - - - x\n<13>1 - - a - - - y\n"), uint8(1))
	f.Add([]byte("12x3 bad\n5 hello"), uint8(2))
	f.Add([]byte("999 "+string(bytes.Repeat([]byte("z"), 300))+"\n3 abc"), uint8(7))
	f.Add([]byte("\xff\xfe\x00garbage\r\n5 hello"), uint8(5))
	f.Add([]byte("30 <13>1 - - a - - - x12 <13>1 - - a - - - y12 <13>1 - - a - - - z"), uint8(4))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		const max = 128
		whole := frameAll(t, in, max, len(in)+1)
		split := frameAll(t, in, max, int(chunk%16)+1)
		// After a bad count the framer decides with the bytes already
		// read, never holding a complete frame back to look further: a
		// count that overruns its frame is seen only when the bytes after
		// it are read, and a resync candidate is checked against the
		// frames buffered after it (testdata/fuzz/FuzzFramer holds two
		// such streams). Whole and split readings agree up to there.
		if w, s := untilResync(whole), untilResync(split); len(w) != len(whole) || len(s) != len(split) {
			n := min(len(w), len(s))
			whole, split = w[:n], s[:n]
		}
		if len(whole) != len(split) {
			t.Fatalf("%q: %d events whole, %d in chunks of %d", in, len(whole), len(split), chunk%16+1)
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("%q: event %d is %q whole, %q in chunks", in, i, whole[i], split[i])
			}
		}
	})
}

// untilResync cuts events before the first bad count or overlong frame.
func untilResync(events []string) []string {
	for i, e := range events {
		if e != "" && (e[0] == '0'+byte(evOverlong) || e[0] == '0'+byte(evBadCount)) {
			return events[:i]
		}
	}
	return events
}

// frameAll runs the framer over in, delivered chunk bytes per read, and
// returns the events as strings.
func frameAll(t *testing.T, in []byte, max, chunk int) []string {
	t.Helper()
	f := newFramer(max)
	var out []string
	limit := 2*len(in) + 10
	for rounds := 0; ; rounds++ {
		if rounds > limit {
			t.Fatalf("framer stalled on %q", in)
		}
		for {
			frame, ev := f.next()
			if ev == evNeedMore {
				break
			}
			if len(frame) > max {
				t.Fatalf("frame of %d bytes, max %d", len(frame), max)
			}
			out = append(out, string([]byte{'0' + byte(ev)})+string(frame))
		}
		if len(in) == 0 {
			break
		}
		sp := f.space()
		if len(sp) == 0 {
			t.Fatalf("framer has no room to read into")
		}
		n := copy(sp, in[:min(chunk, len(in))])
		in = in[n:]
		f.wrote(n)
	}
	if frame, incomplete := f.rest(); frame != nil || incomplete {
		out = append(out, "rest:"+string(frame))
	}
	return out
}

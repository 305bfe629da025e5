package syslog

import (
	"bytes"
	"unicode/utf8"

	"github.com/sluice-logs/sluice/codec/octet"
)

// Framing modes of a stream.
const (
	modeDetect = iota // the next byte decides
	modeOctet         // RFC 6587 octet counting
	modeLF            // RFC 6587 non-transparent framing, ended by LF or NUL
)

// event is what framer.next found.
type event uint8

const (
	evNeedMore  event = iota // no complete frame buffered
	evFrame                  // a frame
	evTruncated              // a frame cut to the maximum; the rest is skipped
	evBadCount               // a bad octet count; skipping to the next frame start
	evOverlong               // a frame whose count ran into the next frame, cut where that one starts
)

// baseBufSize is the read buffer of a stream; it grows only to hold a
// frame longer than this, up to the maximum message size.
const baseBufSize = 64 << 10

// framer splits a byte stream into syslog frames. It owns one reusable
// buffer; the frames it returns alias it and stay valid until the next call
// to space.
type framer struct {
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	max  int // longest message kept

	mode     int
	decided  bool // the stream's framing was detected once
	want     int  // octet mode: bytes the frame at r needs in the buffer, 0 when unknown
	skip     int  // bytes still to discard of a truncated octet frame
	skipLine bool // discard up to and including the next LF or NUL
	resync   bool // after a bad octet count: discard up to the next frame start
}

func newFramer(max int) *framer {
	return &framer{buf: make([]byte, baseBufSize), max: max}
}

// space returns the free tail of the buffer to read into, after moving the
// unread bytes to the front and growing the buffer when a buffered frame
// needs more room. The frames returned before are invalid afterwards.
func (f *framer) space() []byte {
	need := f.w - f.r + 1
	if f.want > need {
		need = f.want
	}
	if f.mode == modeLF && f.w-f.r >= len(f.buf)/2 {
		// A long line: make room for the longest message and its LF.
		need = max(need, f.max+2)
	}
	switch {
	case need > len(f.buf):
		nb := make([]byte, max(need, min(2*len(f.buf), f.max+octet.MaxCountDigits+3)))
		f.w = copy(nb, f.buf[f.r:f.w])
		f.r = 0
		f.buf = nb
	case f.w-f.r < baseBufSize/2 && len(f.buf) > baseBufSize && f.want <= baseBufSize:
		// Back to the base size after a long frame.
		nb := make([]byte, baseBufSize)
		f.w = copy(nb, f.buf[f.r:f.w])
		f.r = 0
		f.buf = nb
	case f.r > 0 && (f.r == f.w || len(f.buf)-f.w < len(f.buf)/4 || f.w+need > len(f.buf)):
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	return f.buf[f.w:]
}

// wrote records n bytes read into the slice space returned.
func (f *framer) wrote(n int) { f.w += n }

// next returns the next buffered frame, or evNeedMore.
func (f *framer) next() ([]byte, event) {
	for {
		if f.skip > 0 {
			d := min(f.skip, f.w-f.r)
			f.r += d
			f.skip -= d
			if f.skip > 0 {
				return nil, evNeedMore
			}
		}
		if f.skipLine {
			i := indexEOL(f.buf[f.r:f.w])
			if i < 0 {
				f.r = f.w
				return nil, evNeedMore
			}
			f.r += i + 1
			f.skipLine = false
		}
		if f.resync && !f.findStart() {
			return nil, evNeedMore
		}
		// Tolerate CR, LF and NUL between frames (and blank lines).
		for f.r < f.w && (f.buf[f.r] == '\n' || f.buf[f.r] == '\r' || f.buf[f.r] == 0) {
			f.r++
		}
		if f.r == f.w {
			return nil, evNeedMore
		}
		switch f.mode {
		case modeDetect:
			c := f.buf[f.r]
			switch {
			case c < '0' || c > '9':
				f.mode = modeLF
			case f.decided:
				f.mode = modeOctet // resynced: digits start a frame
			default:
				// A line may start with digits too (RSYSLOG_FileFormat
				// has no PRI: "2026-12-02T…"): octet counting only if
				// they are followed by a space.
				_, _, need, bad := octet.Header(f.buf[f.r:f.w])
				if need {
					return nil, evNeedMore
				}
				f.mode = modeOctet
				if bad {
					f.mode = modeLF
				}
			}
			f.decided = true
			continue
		case modeOctet:
			return f.nextOctet()
		default:
			return f.nextLine()
		}
	}
}

// findStart discards bytes up to the next plausible frame start after a
// bad octet count: an LF or NUL (the byte after it starts a frame) or
// "MSG-LEN SP <" (a count and a PRI). It reports whether it found one; if
// not, it keeps only the bytes that could begin one.
//
// Message text that ends in digits runs into the next count ("…m11" then
// "26 <13>…" reads "1126 <13>"), so every start within a run of digits is
// tried, and the one whose frames follow one another furthest through the
// buffered bytes wins (see chain).
func (f *framer) findStart() bool {
	b := f.buf[f.r:f.w]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\n' || c == 0 {
			f.r += i + 1
			f.resync = false
			f.mode = modeDetect
			return true
		}
		// A run of digits, from its first (a '0' too: "010 <" holds the
		// start "10 <", whatever was skipped before it).
		if !isDigitByte(c) || (i > 0 && isDigitByte(b[i-1])) {
			continue
		}
		end := i
		for end < len(b) && isDigitByte(b[end]) {
			end++
		}
		if end == len(b) {
			f.r += i // maybe a start: wait for the rest of it
			return false
		}
		best, bestScore := -1, -1
		for k := i; k < end; k++ {
			if b[k] == '0' {
				continue // no count starts with 0
			}
			if sc := chain(b[k:]); sc > bestScore {
				best, bestScore = k, sc
			}
		}
		switch {
		case bestScore == 0:
			f.r += i // a start whose header is not all here yet
			return false
		case best >= 0:
			f.r += best
			f.resync = false
			return true
		}
		i = end - 1
	}
	f.r = f.w
	return false
}

// chainHops bounds how far chain looks ahead.
const chainHops = 4

// chain counts the frames that follow one another from b as "LEN SP <…"
// (up to chainHops), ending at the end of the buffered bytes or at an LF,
// CR or NUL. It returns -1 when b is no frame start or a frame ends where
// none can begin (a wrong reading), and 0 when b's header is incomplete.
func chain(b []byte) int { return chainN(b, chainHops) }

// chainN is chain with at most max hops.
func chainN(b []byte, max int) int {
	hops := 0
	for hops < max {
		if len(b) == 0 {
			return hops
		}
		if hops > 0 && (b[0] == '\n' || b[0] == '\r' || b[0] == 0) {
			return hops + 1
		}
		n, hdr, need, bad := octet.Header(b)
		switch {
		case bad:
			return -1
		case need || hdr >= len(b):
			return hops
		case b[hdr] != '<':
			return -1
		}
		hops++
		if hdr+n > len(b) {
			return hops
		}
		b = b[hdr+n:]
	}
	return hops
}

// overrun finds, in the frame b[hdr:end] whose count ran past its end,
// the first position after its header where a run of frames starts
// ("MSG-LEN SP <", each frame followed by
// the next) whose last frame runs past end: the frames the count
// swallowed, the last of them in part. It returns 0 when there is none.
func overrun(b []byte, hdr, end int) int {
	for k := hdr + 1; k < end; k++ {
		if c := b[k]; c < '1' || c > '9' {
			continue // every digit of a run is tried: text ending in digits runs into the count
		}
		for pos := k; pos < end; {
			n, h, need, bad := octet.Header(b[pos:])
			if bad || need || pos+h >= len(b) || b[pos+h] != '<' {
				break
			}
			if pos+h+n > end {
				if chain(b[pos:]) >= 0 {
					return k
				}
				break
			}
			pos += h + n
		}
	}
	return 0
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// followsAt reports whether the bytes at buf[e:w] (not empty) may be what
// follows a frame: a separator, or "MSG-LEN SP <" whose frame is followed
// by a separator or another "MSG-LEN SP <" (two hops, so that text ending
// in digits that run into the next count, "m1" then "26 <13>…", is not
// taken for a start), or too little of it to tell.
func (f *framer) followsAt(e int) bool {
	b := f.buf[:f.w]
	for range 2 {
		if e >= len(b) {
			return true
		}
		switch b[e] {
		case '\n', '\r', 0:
			return true
		}
		n, h, need, bad := octet.Header(b[e:])
		switch {
		case bad:
			return false
		case need || e+h >= len(b):
			return true
		case b[e+h] != '<':
			return false
		}
		e += h + n
	}
	return true
}

func (f *framer) nextOctet() ([]byte, event) {
	b := f.buf[f.r:f.w]
	n, hdr, need, bad := octet.Header(b)
	if bad {
		f.want = 0
		f.r++ // at least the byte that is no count
		f.resync = true
		return nil, evBadCount
	}
	if need {
		return nil, evNeedMore
	}
	keep := min(n, f.max)
	if len(b) < hdr+keep {
		f.want = hdr + keep
		return nil, evNeedMore
	}
	f.want = 0
	if n == keep && hdr+n < len(b) && !f.followsAt(f.r+hdr+n) {
		// The count overran its frame: what follows it is no frame start.
		// Cut the frame where a frame that runs past its end begins, so
		// the count costs no good frame.
		if k := overrun(b, hdr, hdr+n); k > 0 {
			frame := b[hdr:k:k]
			f.r += k
			return frame, evOverlong
		}
	}
	frame := b[hdr : hdr+keep : hdr+keep]
	f.r += hdr + keep
	if n > keep {
		f.skip = n - keep
		return trimRune(frame), evTruncated
	}
	return frame, evFrame
}

func (f *framer) nextLine() ([]byte, event) {
	b := f.buf[f.r:f.w]
	window := b
	if len(window) > f.max+1 {
		window = window[:f.max+1]
	}
	if i := indexEOL(window); i >= 0 {
		f.r += i + 1
		return b[:i:i], evFrame
	}
	if len(b) > f.max {
		f.r += f.max
		f.skipLine = true
		return trimRune(b[:f.max:f.max]), evTruncated
	}
	return nil, evNeedMore
}

// pending reports whether the framer is inside a frame (or inside bytes it
// discards): the stream has started something it has not finished.
func (f *framer) pending() bool {
	return f.r < f.w || f.skip > 0 || f.skipLine || f.resync
}

// rest returns what is left at the end of the stream: a last LF-framed line
// without its LF (a frame), or an incomplete octet-counted frame
// (incomplete == true).
func (f *framer) rest() (frame []byte, incomplete bool) {
	if f.skip > 0 || f.skipLine || f.resync {
		return nil, false
	}
	b := trimEOL(f.buf[f.r:f.w])
	f.r = f.w
	if len(b) == 0 {
		return nil, false
	}
	if f.mode == modeOctet {
		return nil, true
	}
	return b, false
}

// indexEOL returns the index of the first LF or NUL in b, or -1. Senders
// end lines with LF; Python's SysLogHandler over TCP ends them with NUL.
func indexEOL(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, 0)
	}
	if j := bytes.IndexByte(b[:i], 0); j >= 0 {
		return j
	}
	return i
}

// trimRune drops an incomplete UTF-8 sequence that truncation left at the
// end of b, so a cut message stays valid UTF-8.
func trimRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return b // ASCII: nothing cut
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// trimEOL drops trailing CR and LF bytes.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

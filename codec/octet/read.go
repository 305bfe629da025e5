package octet

import "errors"

// Errors of NextFrame.
var (
	// ErrBadOctetCount: the frame does not start with "MSG-LEN SP" (a
	// non-zero decimal length of at most MaxCountDigits digits).
	ErrBadOctetCount = errors.New("octet counting: bad frame length")
	// ErrShortFrame: the data ends before the length the frame announced.
	ErrShortFrame = errors.New("octet counting: frame shorter than its length")
)

// MaxCountDigits bounds MSG-LEN: a length of a billion bytes or more is
// garbage, not a frame to skip.
const MaxCountDigits = 9

// Header reads "MSG-LEN SP" at the start of b. It returns the length
// and the header size, need == true when b ends inside a plausible header,
// or bad == true when b cannot start a frame.
func Header(b []byte) (n, hdr int, need, bad bool) {
	i := 0
	for ; i < len(b) && i <= MaxCountDigits; i++ {
		c := b[i]
		if c == ' ' {
			if i == 0 {
				return 0, 0, false, true
			}
			return n, i + 1, false, false
		}
		if c < '0' || c > '9' || (i == 0 && c == '0') {
			return 0, 0, false, true
		}
		n = n*10 + int(c-'0')
	}
	if i > MaxCountDigits {
		return 0, 0, false, true
	}
	return 0, 0, true, false
}

// NextFrame splits the first octet-counted frame off data ("LEN SP MSG", optionally followed by
// LF or CRLF, which is skipped). It returns the frame and the rest, or an error for a bad count or a
// frame shorter than its count.
//
// The errors wrap ErrBadOctetCount or ErrShortFrame. frame and rest alias
// data.
func NextFrame(data []byte) (frame, rest []byte, err error) {
	n, hdr, need, bad := Header(data)
	switch {
	case bad:
		return nil, data, ErrBadOctetCount
	case need:
		if len(data) == 0 {
			return nil, data, ErrShortFrame
		}
		return nil, data, ErrBadOctetCount
	}
	if len(data)-hdr < n {
		return nil, data, ErrShortFrame
	}
	frame = data[hdr : hdr+n : hdr+n]
	rest = data[hdr+n:]
	if len(rest) > 0 && rest[0] == '\n' {
		rest = rest[1:]
	} else if len(rest) > 1 && rest[0] == '\r' && rest[1] == '\n' {
		rest = rest[2:]
	}
	return frame, rest, nil
}

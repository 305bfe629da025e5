package frames

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Mode picks how frames are recognised.
type Mode int

const (
	// Auto treats a frame starting with a digit as octet-counted and any
	// other as LF-terminated.
	Auto Mode = iota
	// Lines treats every frame as LF-terminated (NDJSON, text).
	Lines
)

// maxFrame bounds the buffer growth for one frame.
const maxFrame = 64 << 20

// ErrBadFrame reports an octet count that is not a number followed by a
// space.
var ErrBadFrame = errors.New("bad octet count")

// Scanner counts the frames of one stream.
type Scanner struct {
	mode Mode
	buf  []byte
	r, w int // unread bytes are buf[r:w]
}

// NewScanner returns a Scanner with a read buffer of size bytes.
func NewScanner(mode Mode, size int) *Scanner {
	return &Scanner{mode: mode, buf: make([]byte, size)}
}

// Scan reads src to EOF, calling add with the number of complete frames
// found after each read. It returns nil at EOF (a trailing partial frame is
// not counted), or the read or framing error.
func (s *Scanner) Scan(src io.Reader, add func(n int64)) error {
	s.r, s.w = 0, 0
	for {
		if s.w == len(s.buf) {
			if s.r > 0 {
				s.w = copy(s.buf, s.buf[s.r:s.w])
				s.r = 0
			} else {
				if len(s.buf) >= maxFrame {
					return fmt.Errorf("frame longer than %d bytes", maxFrame)
				}
				nb := make([]byte, 2*len(s.buf))
				s.w = copy(nb, s.buf[:s.w])
				s.buf = nb
			}
		}
		k, err := src.Read(s.buf[s.w:])
		s.w += k
		if k > 0 {
			n, ferr := s.split()
			if n > 0 {
				add(n)
			}
			if ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Count counts the frames of a complete body.
func Count(mode Mode, body []byte) (int64, error) {
	var total int64
	s := &Scanner{mode: mode, buf: body, w: len(body)}
	n, err := s.split()
	total += n
	if err == nil && s.r < s.w && len(bytes.TrimSpace(body[s.r:])) > 0 {
		if mode == Lines {
			total++ // a last line without LF
		} else {
			err = errors.New("truncated frame at end of body")
		}
	}
	return total, err
}

// split consumes the complete frames in buf[r:w].
func (s *Scanner) split() (n int64, err error) {
	b := s.buf[:s.w]
	r := s.r
	for r < len(b) {
		c := b[r]
		if s.mode == Auto && c >= '0' && c <= '9' {
			length, i := 0, r
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				length = length*10 + int(b[i]-'0')
				i++
				if i-r > 9 {
					s.r = r
					return n, ErrBadFrame
				}
			}
			if i == len(b) {
				break // need more
			}
			if b[i] != ' ' {
				s.r = r
				return n, ErrBadFrame
			}
			end := i + 1 + length
			if end > len(b) {
				break
			}
			n++
			r = end
			continue
		}
		j := bytes.IndexByte(b[r:], '\n')
		if j < 0 {
			break
		}
		if line := b[r : r+j]; len(line) > 0 && !(len(line) == 1 && line[0] == '\r') {
			n++
		}
		r += j + 1
	}
	s.r = r
	return n, nil
}

// ScanBufio is the same count done the way a straightforward Go reader
// does it: a bufio.Reader, ReadSlice up to the space (or LF), parse the
// count, Discard the frame. It calls add once per frame. It exists to show
// how much the framing loop itself costs; Scanner is the real limit.
func ScanBufio(src io.Reader, size int, add func(n int64)) error {
	br := bufio.NewReaderSize(src, size)
	for {
		c, err := br.Peek(1)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if c[0] < '0' || c[0] > '9' {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return err
			}
			if len(bytes.TrimSpace(line)) > 0 {
				add(1)
			}
			continue
		}
		hdr, err := br.ReadSlice(' ')
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		length, err := strconv.Atoi(string(hdr[:len(hdr)-1]))
		if err != nil {
			return ErrBadFrame
		}
		if _, err := br.Discard(length); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		add(1)
	}
}

package ship

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// deadliner is a reader whose blocking Read can be given a deadline (a
// pipe, a socket, a terminal).
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// ReadLines reads r line by line and calls emit with each line's text,
// without its LF (and the CR of a CRLF). The text is only valid during the
// call. A line longer than maxLine bytes is emitted in parts of at most
// maxLine bytes, in order, cut between UTF-8 sequences, so memory stays
// bounded whatever r sends. Invalid UTF-8 becomes U+FFFD; every other byte
// (NUL, ESC, …) is data.
//
// A line without its newline yet is emitted after wait when r supports read
// deadlines (pipes do), so a child that writes a prompt is not held back.
// ReadLines returns nil at EOF (after emitting a last unterminated line),
// emit's error, or the read error. When stop is closed, a blocked read ends
// at once and what is buffered is emitted.
func ReadLines(r io.Reader, maxLine int, wait time.Duration, stop <-chan struct{}, emit func(text string, stderr bool) error, isStderr bool) error {
	if maxLine < 16 {
		maxLine = 16
	}
	dl, _ := r.(deadliner)
	if f, ok := r.(*os.File); ok {
		// A regular file (stdin < file) takes no deadlines; probe once.
		if f.SetReadDeadline(time.Time{}) != nil {
			dl = nil
		}
	}
	buf := make([]byte, 0, min(maxLine+1, 64<<10))
	var fix []byte // the repaired copy of a line with invalid UTF-8
	out := func(b []byte) error {
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
		if !utf8.Valid(b) {
			fix = bytes.ToValidUTF8(b, []byte("\uFFFD"))
			b = fix
		}
		return emit(unsafe.String(unsafe.SliceData(b), len(b)), isStderr)
	}
	// The stopper and this loop both set the deadline; under mu, the loop
	// never replaces the stopper's deadline in the past with a later one.
	var mu sync.Mutex
	stopped := false
	setDeadline := func(t time.Time) {
		mu.Lock()
		if stopped {
			// Stopped: what is already in the pipe is still read, until a
			// read finds nothing for a moment.
			t = time.Now().Add(drainWait)
		}
		_ = dl.SetReadDeadline(t)
		mu.Unlock()
	}
	isStopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return stopped
	}
	if stop != nil && dl != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-stop:
			case <-done:
				return
			}
			mu.Lock()
			stopped = true
			_ = dl.SetReadDeadline(time.Unix(1, 0))
			mu.Unlock()
		}()
	}
	pendingSince := time.Time{}
	for {
		if len(buf) == cap(buf) {
			if cap(buf) <= maxLine {
				nb := make([]byte, len(buf), min(2*cap(buf), maxLine+1))
				copy(nb, buf)
				buf = nb
			} else {
				cut := splitPoint(buf, maxLine)
				if err := out(buf[:cut]); err != nil {
					return err
				}
				buf = buf[:copy(buf, buf[cut:])]
				pendingSince = time.Now()
			}
		}
		if dl != nil {
			if len(buf) > 0 {
				setDeadline(pendingSince.Add(wait))
			} else {
				setDeadline(time.Time{})
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			if len(buf) == 0 {
				pendingSince = time.Now()
			}
			start := 0
			data := buf[:len(buf)+n]
			scan := len(buf)
			for {
				i := bytes.IndexByte(data[scan:], '\n')
				if i < 0 {
					break
				}
				if err := out(data[start : scan+i]); err != nil {
					return err
				}
				start = scan + i + 1
				scan = start
			}
			buf = data[:copy(data, data[start:])]
			if start > 0 && len(buf) > 0 {
				pendingSince = time.Now()
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			if len(buf) > 0 {
				if err := out(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			if isStopped() {
				return nil
			}
		default:
			if len(buf) > 0 {
				if e := out(buf); e != nil {
					return e
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// drainWait is how long a stopped ReadLines waits for more data before it
// returns: what the writer left in the pipe is read, a writer that keeps it
// open does not hold the reader.
const drainWait = 50 * time.Millisecond

// splitPoint is where to cut b, at most max bytes in, not inside a UTF-8
// sequence (unless b holds no rune start there, as in binary garbage).
func splitPoint(b []byte, max int) int {
	for i := max; i > max-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return max
}

package ship

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrLog writes a program's own errors to w at most once per kind per
// Every, saying how many of that kind were suppressed meanwhile. It is safe
// for concurrent use; a nil *ErrLog discards.
type ErrLog struct {
	w      io.Writer
	prefix string
	every  time.Duration
	now    func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

// NewErrLog returns an ErrLog writing "prefix: message" lines to w, each
// kind at most once per every.
func NewErrLog(w io.Writer, prefix string, every time.Duration) *ErrLog {
	return &ErrLog{w: w, prefix: prefix, every: every, now: time.Now,
		last: map[string]time.Time{}, held: map[string]int{}}
}

// Printf reports one error of kind.
func (l *ErrLog) Printf(kind, format string, args ...any) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if t, ok := l.last[kind]; ok && now.Sub(t) < l.every {
		l.held[kind]++
		return
	}
	l.last[kind] = now
	msg := fmt.Sprintf(format, args...)
	if n := l.held[kind]; n > 0 {
		msg += fmt.Sprintf(" (and %d more like it since %s)", n, l.every)
		l.held[kind] = 0
	}
	fmt.Fprintf(l.w, "%s: %s\n", l.prefix, msg)
}

// Writer is where the ErrLog writes (for messages that are not rate
// limited).
func (l *ErrLog) Writer() io.Writer { return l.w }

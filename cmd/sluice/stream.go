package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxLine bounds one line from the router (MAX_MESSAGE_BYTES is at most
// 16MiB), so that a broken peer cannot make the client grow without limit.
const maxLine = 32 << 20

var (
	errLineTooLong = errors.New("line longer than 32MiB from the router")
	errStopped     = errors.New("reader stopped")
)

// Resync timing: after a reconnect the router sends its backlog in one
// burst. When the line printed last before the loss does not show up in
// it, the backlog is taken as complete after this long without a new line,
// or this long after the reconnect at most.
const (
	resyncIdle = 250 * time.Millisecond
	resyncMax  = 2 * time.Second
)

// stream copies the lines of resp to the output until the body ends, ctx
// ends or the output fails, and returns why it stopped: io.EOF when the
// router ended the response cleanly. cancel aborts resp; stream calls it
// and closes the body before returning, and waits for its reader.
//
// While d is resyncing (after a reconnect), lines go through d, which
// holds them until it knows which of them were printed already.
func (c *client) stream(ctx context.Context, resp *http.Response, cancel context.CancelFunc, d *deduper) error {
	chunks := make(chan []byte, 16)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(chunks)
		readErr = readChunks(resp.Body, chunks, stop)
	}()
	defer func() {
		cancel() // unblocks a Read in progress
		close(stop)
		for range chunks { // wait for the reader
		}
		resp.Body.Close()
	}()

	emit := func(line []byte) {
		c.out.line(line)
		d.record(line)
	}
	// An event stream carries each line's cursor: no deduper then.
	var ev *events
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		ev = &events{c: c}
	}
	var timer *time.Timer
	var timerC <-chan time.Time
	var deadline time.Time
	if d.active {
		deadline = time.Now().Add(resyncMax)
		timer = time.NewTimer(resyncIdle)
		defer timer.Stop()
		timerC = timer.C
	}
	settle := func() error {
		timerC = nil
		for _, l := range d.finish() {
			emit(l)
		}
		if err := c.out.flush(); err != nil {
			return err
		}
		if d.gap {
			fmt.Fprintln(c.stderr, "sluice: the router no longer holds the last line printed before the connection was lost; some lines may be missing")
		}
		return nil
	}

	for {
		select {
		case chunk, ok := <-chunks:
			if !ok {
				if d.active {
					if err := settle(); err != nil {
						return err
					}
				}
				if err := c.out.flush(); err != nil {
					return err
				}
				return readErr
			}
			for len(chunk) > 0 {
				i := bytes.IndexByte(chunk, '\n') // every chunk ends with '\n'
				line := chunk[:i+1]
				chunk = chunk[i+1:]
				if ev != nil {
					ev.feed(line)
					continue
				}
				if !d.active {
					emit(line)
					continue
				}
				if d.offer(line) {
					if err := settle(); err != nil {
						return err
					}
				}
			}
			if d.active {
				timer.Reset(max(min(resyncIdle, time.Until(deadline)), 0))
			}
			if len(chunks) == 0 {
				if err := c.out.flush(); err != nil {
					return err
				}
			}
		case <-timerC:
			if err := settle(); err != nil {
				return err
			}
		case <-ctx.Done():
			c.out.flush() //nolint:errcheck // leaving anyway; show what was read
			return ctx.Err()
		}
	}
}

// events reads a text/event-stream body: "data:" is a line to print, "id:"
// its cursor; an event is printed, and its cursor kept, when the blank line
// that ends it arrives, so that a stream broken mid-event is resumed before
// it. Other fields and comments are ignored.
type events struct {
	c       *client
	data    []byte
	hasData bool
	id      string
	hasID   bool
}

func (e *events) feed(line []byte) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	field, value, _ := bytes.Cut(line, []byte(":"))
	value = bytes.TrimPrefix(value, []byte(" "))
	switch {
	case len(line) == 0:
		if e.hasData {
			e.c.out.line(append(e.data, '\n'))
		}
		if e.hasID {
			e.c.cursor = e.id
		}
		e.data, e.hasData, e.hasID = e.data[:0], false, false
	case string(field) == "data":
		if e.hasData {
			e.data = append(e.data, '\n') // shown as \n: one event, one line
		}
		e.data = append(e.data, value...)
		e.hasData = true
	case string(field) == "id":
		e.id, e.hasID = string(value), true
	}
}

// readChunks reads r and sends its lines to out in chunks of one or more
// whole lines, each chunk a fresh slice ending with '\n'. A last line
// without '\n' is completed at a clean EOF and dropped on an error (a
// reconnect asks for it again). It returns the error that ended r, or
// errStopped when stop was closed.
func readChunks(r io.Reader, out chan<- []byte, stop <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br)
		var chunk []byte
		switch {
		case err == nil:
			chunk = make([]byte, len(line), len(line)+br.Buffered())
			copy(chunk, line)
			// Take every further whole line already buffered.
			if n := br.Buffered(); n > 0 {
				b, _ := br.Peek(n)
				if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
					chunk = append(chunk, b[:i+1]...)
					br.Discard(i + 1) //nolint:errcheck // buffered bytes
				}
			}
		case errors.Is(err, io.EOF) && len(line) > 0:
			chunk = append(append(make([]byte, 0, len(line)+1), line...), '\n')
		default:
			return err
		}
		select {
		case out <- chunk:
		case <-stop:
			return errStopped
		}
		if err != nil {
			return err
		}
	}
}

// readLine returns the next line with its '\n'. The slice may alias br's
// buffer until the next read. On an error it returns the partial line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		s, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, s...)
			if len(long) > maxLine {
				return nil, errLineTooLong
			}
			continue
		}
		if long != nil {
			s = append(long, s...)
		}
		return s, err
	}
}

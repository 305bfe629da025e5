package tail

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-logs/sluice/buffer"
)

// session is one tail=1 response on a hijacked connection.
type session struct {
	h      *Handler
	app    string
	q      query
	http11 bool
	remote string

	conn net.Conn
	sub  *buffer.Subscription

	mu       sync.Mutex // orders write deadlines between run and stop
	stopBy   time.Time  // set by stop: no write may last past it
	deadline time.Time  // the write deadline set last
}

// deadlineSlack is how far behind now+WriteTimeout a write deadline may
// lag before it is moved: setting one costs a runtime timer update, which a
// session writing a line every millisecond should not pay every time. A
// write gets between WriteTimeout-deadlineSlack(WriteTimeout) and
// WriteTimeout.
func deadlineSlack(timeout time.Duration) time.Duration { return timeout / 8 }

// chunkHead is the room kept before each chunk's data for its size line.
const chunkHead = 18

// run streams the backlog and then new lines until the client leaves, a
// write fails or the handler shuts down. c is closed by fasthttp after run.
func (s *session) run(c net.Conn) {
	s.conn = c
	sub, err := s.h.store.Subscribe(s.app, s.q.options())
	if err != nil {
		s.writeDeadline()
		body := err.Error() + "\n"
		_, _ = io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"+
			"Content-Length: "+strconv.Itoa(len(body))+"\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"+body)
		return
	}
	s.sub = sub
	defer s.sub.Close()
	if !s.h.track(s) {
		s.writeDeadline()
		_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
			"Content-Length: 14\r\nRetry-After: 1\r\nConnection: close\r\n\r\nshutting down\n")
		return
	}
	defer s.h.untrack(s)
	start := time.Now()
	s.h.log.Debug("tail started", "app", s.app, "remote", s.remote, "num", s.q.num,
		"source", s.q.filter.Source, "ps", s.q.filter.Ps)

	// fasthttp may have left a read deadline on the connection; the reader
	// must wait for as long as the client stays.
	_ = c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		defer cancel()
		// The client sends nothing more; a read returns when it closes
		// the connection (or at the deadline set below).
		var b [256]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				return
			}
		}
	}()
	defer func() {
		_ = c.SetReadDeadline(time.Unix(1, 0))
		reader.Wait()
	}()

	reason, err := s.stream(ctx)
	s.h.log.Debug("tail ended", "app", s.app, "remote", s.remote, "reason", reason,
		"took", time.Since(start).String(), "err", err)
}

// stream writes the response and says why it ended.
func (s *session) stream(ctx context.Context) (string, error) {
	head := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	if !s.http11 {
		// HTTP/1.0 has no chunks: the body ends when the connection does.
		head = "HTTP/1.0 200 OK\r\n"
	}
	head += "Content-Type: " + contentType(s.q.events) + "\r\nCache-Control: no-cache\r\n" +
		"X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
	buf := make([]byte, 0, 4096)
	buf = append(buf, head...)
	if err := s.write(buf); err != nil {
		return "write failed", err
	}
	buf = buf[:chunkHead]
	if s.q.events {
		// Where the stream begins, so that a client that loses it before
		// the first line resumes from there.
		buf = append(buf, "id: "...)
		buf = s.sub.Position().AppendText(buf)
		buf = append(buf, "\n\n"...)
	}
	// The backlog and the new lines come from one cursor: no line is
	// missed or sent twice between the two.
	for {
		if err := s.writeChunk(buf); err != nil {
			return "write failed", err
		}
		if cap(buf) > maxBuf {
			buf = make([]byte, chunkHead, 4096)
		}
		var err error
		buf, err = s.sub.Next(ctx, buf[:chunkHead])
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, buffer.ErrBehind):
			if errors.Is(err, buffer.ErrBehind) {
				if err := s.writeChunk(buf); err != nil {
					return "write failed", err
				}
			}
			if s.http11 {
				if err := s.write([]byte("0\r\n\r\n")); err != nil {
					return "write failed", err
				}
			}
			if errors.Is(err, buffer.ErrBehind) {
				return "fell behind", nil
			}
			return "shutdown", nil
		case err != nil:
			return "client left", nil
		}
	}
}

// maxBuf is the largest write buffer a session keeps between writes.
const maxBuf = 64 << 10

// writeChunk writes buf[chunkHead:] as one chunk; buf[:chunkHead] is room
// for the size line. Empty data writes nothing (an empty chunk would end
// the response).
func (s *session) writeChunk(buf []byte) error {
	data := len(buf) - chunkHead
	if data == 0 {
		return nil
	}
	if !s.http11 {
		return s.write(buf[chunkHead:])
	}
	var sz [chunkHead]byte
	line := append(strconv.AppendInt(sz[:0], int64(data), 16), '\r', '\n')
	at := chunkHead - len(line)
	copy(buf[at:], line)
	buf = append(buf, '\r', '\n')
	return s.write(buf[at:])
}

func (s *session) write(b []byte) error {
	s.writeDeadline()
	_, err := s.conn.Write(b)
	return err
}

// writeDeadline gives the next write WriteTimeout, or less when the
// handler is shutting down.
func (s *session) writeDeadline() {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := time.Now().Add(s.h.writeTimeout)
	if !s.stopBy.IsZero() {
		if s.stopBy.Before(d) {
			d = s.stopBy
		}
	} else if d.Sub(s.deadline) < deadlineSlack(s.h.writeTimeout) {
		return
	}
	s.deadline = d
	_ = s.conn.SetWriteDeadline(d)
}

// stop ends the session: its subscription closes (the stream writes the end
// of the response) and no write lasts past by.
func (s *session) stop(by time.Time) {
	s.mu.Lock()
	s.stopBy = by
	s.deadline = by
	_ = s.conn.SetWriteDeadline(by)
	s.mu.Unlock()
	s.sub.Close()
}

package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/auth"
	"github.com/sluice-logs/sluice/buffer"
)

// serveStream checks a stream request and hands the connection to a stream.
func (h *Handler) serveStream(ctx *fasthttp.RequestCtx) {
	g, ok := h.grantOf(ctx)
	if !ok {
		fail(ctx, "sign in first\n", fasthttp.StatusUnauthorized)
		return
	}
	args := ctx.QueryArgs()
	app := string(args.Peek("app"))
	if !auth.ValidName(app) {
		fail(ctx, "invalid app name\n", fasthttp.StatusBadRequest)
		return
	}
	if !g.CanRead(app) {
		fail(ctx, "forbidden: the session may not read this app\n", fasthttp.StatusForbidden)
		return
	}
	num := defaultNum
	if v := args.Peek("num"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 {
			fail(ctx, "num: want a whole number, 0 or more\n", fasthttp.StatusBadRequest)
			return
		}
		num = min(n, maxNum)
	}
	if ctx.IsHead() {
		ctx.SetContentType("text/event-stream")
		return
	}
	if !h.room() {
		h.m.rejected.Inc()
		fail(ctx, "too many streams\n", fasthttp.StatusServiceUnavailable)
		ctx.Response.Header.Set("Retry-After", "5")
		return
	}
	s := &stream{h: h, app: app, num: num, remote: ctx.RemoteAddr().String()}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(s.run)
}

// room reports whether a stream may start: a quick check that answers a
// plain 503; track decides for good (streams hijacked at the same moment
// may pass room together).
func (h *Handler) room() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closed && len(h.streams) < h.maxStreams
}

// track registers a running stream; false when shutting down or full.
// Streams register once fasthttp hands them the connection, which it may
// fail to do, so Shutdown never waits for one that never ran.
func (h *Handler) track(s *stream) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.streams) >= h.maxStreams {
		return false
	}
	h.streams[s] = struct{}{}
	h.wg.Add(1)
	h.m.streams.Inc()
	return true
}

func (h *Handler) untrack(s *stream) {
	h.mu.Lock()
	delete(h.streams, s)
	h.mu.Unlock()
	h.m.streams.Dec()
	h.wg.Done()
}

// Shutdown ends every stream (each closes its connection within a second;
// the page reconnects to whichever sluiced answers next), waits for them,
// and refuses later ones.
func (h *Handler) Shutdown() {
	h.mu.Lock()
	h.closed = true
	for s := range h.streams {
		s.stop(time.Now().Add(time.Second))
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// stream is one event stream on a hijacked connection.
type stream struct {
	h      *Handler
	app    string
	num    int
	remote string

	conn net.Conn
	sub  *buffer.Subscription

	mu     sync.Mutex // orders write deadlines between run and stop
	stopBy time.Time
}

// run sends the backlog as one "backlog" event, then one "message" event
// per batch of new lines, and a comment line when the app is quiet for a
// heartbeat. c is closed by fasthttp after run.
func (s *stream) run(c net.Conn) {
	s.conn = c
	sub, err := s.h.store.Subscribe(s.app, buffer.Options{Last: s.num})
	if err != nil { // a cap on tails (MAX_TAILS, MAX_TAILS_PER_APP)
		s.h.m.rejected.Inc()
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n"+
			"Retry-After: 5\r\nConnection: close\r\n\r\n"+err.Error()+"\n")
		return
	}
	s.sub = sub
	defer s.sub.Close()
	if !s.h.track(s) {
		s.h.m.rejected.Inc()
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
			"Content-Length: 17\r\nRetry-After: 5\r\nConnection: close\r\n\r\ntoo many streams\n")
		return
	}
	defer s.h.untrack(s)
	s.h.log.Debug("web stream started", "app", s.app, "remote", s.remote)

	_ = c.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reader sync.WaitGroup
	reader.Add(1)
	go func() {
		defer reader.Done()
		defer cancel()
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
	s.h.log.Debug("web stream ended", "app", s.app, "remote", s.remote, "reason", reason, "err", err)
}

const streamHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n" +
	"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n" +
	"retry: 2000\n\n"

// backlog reads the lines the subscription begins with (the app's last
// num lines) without waiting for new ones.
func (s *stream) backlog() ([]byte, error) {
	now, cancel := context.WithCancel(context.Background())
	cancel()
	lines := make([]byte, 0, 4096)
	for {
		var err error
		if lines, err = s.sub.Next(now, lines); err != nil {
			if errors.Is(err, context.Canceled) {
				return lines, nil
			}
			return lines, err
		}
	}
}

func (s *stream) stream(ctx context.Context) (string, error) {
	if err := s.write([]byte(streamHead)); err != nil {
		return "write failed", err
	}
	lines, err := s.backlog()
	ev := appendEvent(make([]byte, 0, len(lines)+64), "backlog", lines)
	for {
		if err := s.write(ev); err != nil {
			return "write failed", err
		}
		switch {
		case errors.Is(err, io.EOF):
			return "shutdown", nil
		case errors.Is(err, buffer.ErrBehind):
			// The L11 line went out; the page reconnects and reads the
			// backlog again, as `sluice logs --tail` does.
			return "fell behind", nil
		}
		wctx, cancel := context.WithTimeout(ctx, s.h.heartbeat)
		lines, err = s.sub.Next(wctx, lines[:0])
		cancel()
		switch {
		case errors.Is(err, io.EOF) && len(lines) == 0:
			return "shutdown", nil
		case errors.Is(err, io.EOF), errors.Is(err, buffer.ErrBehind):
			ev = appendEvent(ev[:0], "", lines) // sent, then the stream ends above
		case ctx.Err() != nil:
			return "client left", nil
		case err != nil: // the heartbeat's timeout
			ev = append(ev[:0], ": keep-alive\n\n"...)
		default:
			ev = appendEvent(ev[:0], "", lines)
		}
	}
}

// appendEvent appends one SSE event whose data lines are lines (tail lines,
// each ending in '\n'). A CR would end an SSE line (and could forge a field
// such as "id:" or "event:"), so it is sent as U+240D, the symbol the page
// shows for every control character.
func appendEvent(dst []byte, event string, lines []byte) []byte {
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	if len(lines) == 0 {
		return append(dst, "data\n\n"...) // an event with empty data
	}
	for len(lines) > 0 {
		line := lines
		if i := bytes.IndexByte(lines, '\n'); i >= 0 {
			line, lines = lines[:i], lines[i+1:]
		} else {
			lines = nil
		}
		dst = append(dst, "data: "...)
		for {
			i := bytes.IndexByte(line, '\r')
			if i < 0 {
				break
			}
			dst = append(dst, line[:i]...)
			dst = append(dst, "\u240d"...)
			line = line[i+1:]
		}
		dst = append(dst, line...)
		dst = append(dst, '\n')
	}
	return append(dst, '\n')
}

func (s *stream) write(b []byte) error {
	s.mu.Lock()
	d := time.Now().Add(s.h.writeTimeout)
	if !s.stopBy.IsZero() && s.stopBy.Before(d) {
		d = s.stopBy
	}
	_ = s.conn.SetWriteDeadline(d)
	s.mu.Unlock()
	_, err := s.conn.Write(b)
	return err
}

func (s *stream) stop(by time.Time) {
	s.mu.Lock()
	s.stopBy = by
	_ = s.conn.SetWriteDeadline(by)
	s.mu.Unlock()
	s.sub.Close()
}

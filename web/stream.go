package web

import (
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
	// Where to resume: the EventSource's own Last-Event-ID when it
	// reconnects (newer than any after= in the URL it reuses), else the
	// after= the page puts in a new EventSource's URL.
	var after buffer.Cursor
	if v := ctx.Request.Header.Peek("Last-Event-ID"); len(v) > 0 || args.Has("after") {
		if len(v) == 0 {
			v = args.Peek("after")
		}
		c, err := buffer.ParseCursor(string(v))
		if err != nil {
			fail(ctx, err.Error()+"\n", fasthttp.StatusBadRequest)
			return
		}
		after = c
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
	s := &stream{h: h, app: app, num: num, after: after, remote: ctx.RemoteAddr().String()}
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
	after  buffer.Cursor // resume after this line; zero: begin with the last num lines
	remote string

	conn net.Conn
	sub  *buffer.Subscription

	mu     sync.Mutex // orders write deadlines between run and stop
	stopBy time.Time
}

// run sends a "start" event carrying the position the stream begins at,
// then one "message" event per line (the backlog, then new lines) with the
// line's cursor as its id, and a comment line when the app is quiet for a
// heartbeat. c is closed by fasthttp after run.
func (s *stream) run(c net.Conn) {
	s.conn = c
	sub, err := s.h.store.Subscribe(s.app, buffer.Options{Last: s.num, After: s.after, Events: true})
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

// maxBuf is the largest write buffer a stream keeps between writes.
const maxBuf = 64 << 10

// stream writes the events and says why it ended. The subscription frames
// every line as an event whose id is its cursor (buffer.Options.Events), so
// a browser that reconnects sends the last one as Last-Event-ID and goes on
// from the next line: the backlog and the new lines come from one cursor,
// nothing is missed or sent twice across a reconnect, and a resume the ring
// can no longer serve begins with an in-band L11 line saying how many lines
// were missed. Log lines are tail lines (sluice.AppendLine), which carry no
// CR or LF, so none can end an SSE field early or forge one.
func (s *stream) stream(ctx context.Context) (string, error) {
	if err := s.write([]byte(streamHead)); err != nil {
		return "write failed", err
	}
	// The start event names where the stream begins, so the page knows
	// the router's epoch (a new one: it restarted, or forgot the app, and
	// lines sent meanwhile may be missing) and a stream lost before its
	// first line resumes from there.
	pos := s.sub.Position().AppendText(nil)
	buf := make([]byte, 0, 4096)
	buf = append(buf, "event: start\nid: "...)
	buf = append(append(buf, pos...), "\ndata: "...)
	buf = append(append(buf, pos...), "\n\n"...)
	for {
		if err := s.write(buf); err != nil {
			return "write failed", err
		}
		if cap(buf) > maxBuf {
			buf = make([]byte, 0, 4096)
		}
		wctx, cancel := context.WithTimeout(ctx, s.h.heartbeat)
		var err error
		buf, err = s.sub.Next(wctx, buf[:0])
		cancel()
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, buffer.ErrBehind):
			// After an L11 line the page reconnects from its cursor, as
			// `sluice logs --tail` does; at shutdown, to whichever router
			// answers next.
			if err := s.write(buf); err != nil {
				return "write failed", err
			}
			if errors.Is(err, buffer.ErrBehind) {
				return "fell behind", nil
			}
			return "shutdown", nil
		case ctx.Err() != nil:
			return "client left", nil
		case err != nil: // the heartbeat's timeout (after any notice Next wrote)
			buf = append(buf, ": keep-alive\n\n"...)
		}
	}
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

package httpin

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/metrics"
)

// discard is a Publisher that accepts everything and keeps nothing.
type discard struct{}

func (discard) Publish(context.Context, []sluice.Message) error { return nil }
func (discard) TryPublish([]sluice.Message) error               { return nil }

// logplexBody is a log-shuttle-like body of n frames (about 120 bytes each).
func logplexBody(n int) []byte {
	var b strings.Builder
	for i := range n {
		b.WriteString(frame(fmt.Sprintf("<190>1 2026-11-25T20:29:46.%06d+00:00 host t.tok web.%d - - "+
			"at=info method=GET path=/api/items/%d status=200 bytes=%d service=%dms", i, i%4+1, i, 100+i, i%50)))
	}
	return []byte(b.String())
}

// BenchmarkLogplex500 measures one POST of 500 logplex-1 frames: in the
// handler alone, and through a fasthttp server and client over loopback.
func BenchmarkLogplex500(b *testing.B) {
	const n = 500
	body := logplexBody(n)
	h := New(Config{Publisher: discard{}, Metrics: metrics.NewIngest(nil)})

	b.Run("handler", func(b *testing.B) {
		var req fasthttp.Request
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI("/logs")
		req.Header.SetContentType(ctLogplex)
		req.Header.Set("Logplex-Msg-Count", strconv.Itoa(n))
		req.SetBody(body)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, nil, nil)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			ctx.Response.Reset()
			h.ServeHTTP(&ctx)
			if ctx.Response.StatusCode() != fasthttp.StatusNoContent {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
	})

	b.Run("loopback", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatalf("listen: %v", err)
		}
		srv := &fasthttp.Server{Handler: h.ServeHTTP, ErrorHandler: h.ErrorHandler}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		defer func() {
			if err := srv.Shutdown(); err != nil {
				b.Errorf("shutdown: %v", err)
			}
			if err := <-done; err != nil {
				b.Errorf("serve: %v", err)
			}
		}()
		c := &fasthttp.Client{}
		defer c.CloseIdleConnections()
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI("http://" + ln.Addr().String() + "/logs")
		req.Header.SetContentType(ctLogplex)
		req.Header.Set("Logplex-Msg-Count", strconv.Itoa(n))
		req.SetBody(body)
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Do(req, resp); err != nil {
				b.Fatalf("post: %v", err)
			}
			if resp.StatusCode() != fasthttp.StatusNoContent {
				b.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkNDJSON500 measures the NDJSON path in the handler alone.
func BenchmarkNDJSON500(b *testing.B) {
	const n = 500
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `{"app":"web","msg":"at=info method=GET path=/api/items/%d status=200 \"quoted\"","proc":"web.1","severity":"info","time":"2026-11-25T20:29:46.%06dZ"}`+"\n", i, i)
	}
	body := []byte(sb.String())
	h := New(Config{Publisher: discard{}, Metrics: metrics.NewIngest(nil)})
	var req fasthttp.Request
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("/logs")
	req.Header.SetContentType(ctNDJSON)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ctx.Request.SetBody(body) // the handler unescapes in place
		ctx.Response.Reset()
		h.ServeHTTP(&ctx)
		if ctx.Response.StatusCode() != fasthttp.StatusNoContent {
			b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

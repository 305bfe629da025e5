package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sluice-logs/sluice/bus"
)

// Config is what a Proxy needs.
type Config struct {
	Secret []byte // CLUSTER_SECRET; required
	Self   string // this process's ADVERTISE_URL
	// Members returns Kafka's view of the group (bus.Members).
	Members func(ctx context.Context) ([]bus.Member, error)
	// Partitions is the topic's partition count.
	Partitions int
	Logger     *slog.Logger
}

// Proxy finds an app's owner and forwards reads to it.
type Proxy struct {
	cfg    Config
	client *http.Client

	mu      sync.Mutex
	members []bus.Member
	at      time.Time
}

// cacheFor is how long a view of the group is used.
const cacheFor = time.Second

// New returns a Proxy.
func New(cfg Config) *Proxy {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Proxy{cfg: cfg, client: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost:   16,
		ResponseHeaderTimeout: 30 * time.Second,
	}}}
}

// Members returns the group as last described (at most a second old).
func (p *Proxy) Members(ctx context.Context) ([]bus.Member, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.members != nil && time.Since(p.at) < cacheFor {
		return p.members, nil
	}
	ms, err := p.cfg.Members(ctx)
	if err != nil {
		return nil, err
	}
	p.members, p.at = ms, time.Now()
	return ms, nil
}

// Partition is the partition of app's messages.
func (p *Proxy) Partition(app string) int32 { return bus.PartitionOf(app, p.cfg.Partitions) }

// Owner returns the ADVERTISE_URL of the member owning app's partition;
// "" when that is this process or no member owns it now.
//
// A view in which nobody owns the partition is not trusted: it may have
// been taken while the group was rebalancing (Kafka then describes the
// members without their assignments), so the group is described again
// once before the answer is "".
func (p *Proxy) Owner(ctx context.Context, app string) (string, error) {
	part := bus.PartitionOf(app, p.cfg.Partitions)
	for attempt := 0; attempt < 2; attempt++ {
		ms, err := p.Members(ctx)
		if err != nil {
			return "", err
		}
		for _, m := range ms {
			if slices.Contains(m.Partitions, part) {
				if m.URL == p.cfg.Self {
					return "", nil
				}
				return m.URL, nil
			}
		}
		p.mu.Lock()
		p.members = nil // described again on the next attempt
		p.mu.Unlock()
	}
	return "", nil
}

// Proven reports whether the request carries a valid member proof; ok is
// false when it carries none.
func (p *Proxy) Proven(ctx *fasthttp.RequestCtx) (present, valid bool) {
	proof := ctx.Request.Header.Peek(ProofHeader)
	if len(proof) == 0 {
		return false, false
	}
	return true, Verify(p.cfg.Secret, string(ctx.Method()), string(ctx.RequestURI()), string(proof), time.Now())
}

// hop-by-hop headers are not forwarded.
var hop = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Te": true,
	"Upgrade": true, "Proxy-Authorization": true, "Trailer": true, "Host": true, "Content-Length": true}

// Forward sends the request to the member at base and streams its answer
// back (a tail stays open as long as both ends do).
func (p *Proxy) Forward(ctx *fasthttp.RequestCtx, base string) {
	uri := string(ctx.RequestURI())
	method := string(ctx.Method())
	rctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(rctx, method, strings.TrimSuffix(base, "/")+uri, nil)
	if err != nil {
		cancel()
		ctx.Error("bad owner address\n", fasthttp.StatusBadGateway)
		return
	}
	for k, v := range ctx.Request.Header.All() {
		if !hop[string(k)] {
			req.Header.Add(string(k), string(v))
		}
	}
	req.Header.Set(ProofHeader, Sign(p.cfg.Secret, method, uri, time.Now()))
	resp, err := p.client.Do(req) //nolint:bodyclose // closed by the stream writer below
	if err != nil {
		cancel()
		p.cfg.Logger.Warn("proxy to the owner failed", "owner", base, "err", err)
		ctx.Error("the owner of this app is unreachable, retry\n", fasthttp.StatusServiceUnavailable)
		ctx.Response.Header.Set("Retry-After", "1")
		return
	}
	ctx.SetStatusCode(resp.StatusCode)
	for k, vs := range resp.Header {
		if hop[k] {
			continue
		}
		for _, v := range vs {
			ctx.Response.Header.Add(k, v)
		}
	}
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer resp.Body.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				if werr := w.Flush(); werr != nil {
					return // the client went away: end the owner's stream too
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) {
					p.cfg.Logger.Debug("proxied stream ended", "owner", base, "err", err)
				}
				return
			}
		}
	})
}

// Get asks the member at base for uri with a member proof and returns the
// body of a 200 answer (at most 16 MiB). It is for small documents such as
// /drains, not for streams.
func (p *Proxy) Get(ctx context.Context, base, uri string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(ProofHeader, Sign(p.cfg.Secret, http.MethodGet, uri, time.Now()))
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s%s: %s", base, uri, resp.Status)
	}
	return b, nil
}

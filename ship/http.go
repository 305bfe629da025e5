package ship

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/codec/octet"
)

// GzipMin is the body size from which HTTP bodies are gzipped: below it the
// header and CPU cost more than the bytes saved.
const GzipMin = 1024

// HTTP posts batches to a router's /logs as application/logplex-1.
type HTTP struct {
	endpoint string
	token    string
	client   *http.Client
	gzip     bool
	body     []byte
	zbody    bytes.Buffer
	zw       *gzip.Writer
	frame    []byte
}

// NewHTTP returns a transport posting to base+"/logs" (base is the router's
// URL, as $SLUICE_URL) with token as a Bearer token when not empty. Each
// request may take at most timeout.
func NewHTTP(base, token string, timeout time.Duration, useGzip bool) (*HTTP, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("router URL %q: want http:// or https://host[:port]", base)
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return &HTTP{
		endpoint: strings.TrimSuffix(u.String(), "/") + "/logs",
		token:    token,
		client:   &http.Client{Transport: tr, Timeout: timeout},
		gzip:     useGzip,
		zw:       zw,
	}, nil
}

// SetTLSConfig makes an https:// transport use c (its roots, a client
// certificate); nil keeps the defaults. Call it before the first Send.
func (h *HTTP) SetTLSConfig(c *tls.Config) {
	if c == nil {
		return
	}
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	h.client.Transport.(*http.Transport).TLSClientConfig = c
}

// Send posts msgs as one logplex-1 body.
func (h *HTTP) Send(ctx context.Context, msgs []sluice.Message) error {
	h.body = h.body[:0]
	for i := range msgs {
		h.frame = sluice.AppendRFC5424(h.frame[:0], &msgs[i])
		h.body = octet.AppendFrame(h.body, h.frame)
	}
	body := h.body
	encoding := ""
	if h.gzip && len(body) >= GzipMin {
		h.zbody.Reset()
		h.zw.Reset(&h.zbody)
		_, _ = h.zw.Write(body) // a bytes.Buffer never fails; Close reports any error
		if err := h.zw.Close(); err == nil && h.zbody.Len() < len(body) {
			body, encoding = h.zbody.Bytes(), "gzip"
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w: %w", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/logplex-1")
	req.Header.Set("Logplex-Msg-Count", strconv.Itoa(len(msgs)))
	req.Header.Set("User-Agent", "sluice-ship")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", h.endpoint, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // for reuse of the connection only
	resp.Body.Close()
	return statusError(resp, msg)
}

// statusError turns a response into Send's error contract.
func statusError(resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err := fmt.Errorf("router answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return &RetryAfterError{After: d, Err: err}
		}
		return err
	}
	if code == http.StatusRequestTimeout || code >= 500 {
		return err
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// maxRetryAfter caps what a router may ask a shipper to wait.
const maxRetryAfter = 5 * time.Minute

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// Close closes idle connections.
func (h *HTTP) Close() error {
	h.client.CloseIdleConnections()
	return nil
}

var _ Transport = (*HTTP)(nil)

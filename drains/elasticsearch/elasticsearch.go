package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/retryafter"
)

// maxErrorBody bounds how much of a failed response's body is read for its
// reason.
const maxErrorBody = 64 << 10

var errClosed = fmt.Errorf("elasticsearch: %w", drains.ErrClosed)

// Drain delivers batches to an Elasticsearch cluster with the bulk API. See
// the package doc.
type Drain struct {
	cfg    Config
	where  string // the redacted URL, for errors and logs
	index  indexPattern
	action []byte // `{"index":{"_index":"` or `{"create":{"_index":"`
	client *es.Client
	hc     *http.Transport
	log    *slog.Logger

	// Owned by the Worker goroutine (Send, Check, Close).
	enc    encoder
	ixc    indexCache
	body   []byte
	reader bytes.Reader
	resp   bytes.Buffer
	items  bulkResponse
	closed bool
}

// New returns a drain for cfg. It does not dial: the first Send or Check
// connects. opts.Timeout, when set, bounds the dial and TLS handshake.
func New(cfg Config, opts drains.Options, logger *slog.Logger) (*Drain, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("elasticsearch drain: %w", err)
	}
	index, err := compileIndex(cfg.Index)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch drain: index %q: %w", cfg.Index, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u := *cfg.URL
	cfg.URL = &u
	where := drains.Redact(cfg.URL)
	dialTimeout := 10 * time.Second
	if opts.Timeout > 0 && opts.Timeout < dialTimeout {
		dialTimeout = opts.Timeout
	}
	hc := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: dialTimeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	d := &Drain{
		cfg:   cfg,
		where: where,
		index: index,
		hc:    hc,
		log:   logger.With("url", where),
	}
	d.action = append(d.action, `{"`...)
	d.action = append(d.action, cfg.Op...)
	d.action = append(d.action, `":{"_index":"`...)
	client, err := es.NewClient(es.Config{
		Addresses:         []string{cfg.URL.String()},
		Username:          cfg.User,
		Password:          cfg.Password,
		Transport:         &productHeader{next: hc, log: d.log},
		DisableRetry:      true, // the Worker retries
		DisableMetaHeader: true,
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch drain %s: %w", where, err)
	}
	d.client = client
	return d, nil
}

// Send posts batch as one bulk request and reports per message what
// failed. See the package doc for the classification of failures.
func (d *Drain) Send(ctx context.Context, batch []sluice.Message) error {
	if d.closed {
		return errClosed
	}
	if len(batch) == 0 {
		return nil
	}
	d.body = d.encode(d.body[:0], batch)
	d.reader.Reset(d.body)
	res, err := esapi.BulkRequest{Body: &d.reader}.Do(ctx, d.client)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("elasticsearch bulk %s: %w", d.where, ctxErr)
		}
		return fmt.Errorf("elasticsearch bulk %s: %w", d.where, err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return d.requestError(res)
	}
	d.resp.Reset()
	if _, err := d.resp.ReadFrom(res.Body); err != nil {
		return fmt.Errorf("elasticsearch bulk %s: read response: %w", d.where, err)
	}
	return d.itemErrors(batch)
}

// encode appends the bulk body of batch to dst.
func (d *Drain) encode(dst []byte, batch []sluice.Message) []byte {
	for i := range batch {
		m := &batch[i]
		dst = append(dst, d.action...)
		dst = d.index.appendIndex(dst, m, &d.ixc)
		if m.Pos != 0 { // cluster mode: a redelivery writes the same document
			dst = append(dst, `","_id":"`...)
			dst = m.Pos.AppendID(dst)
		}
		dst = append(dst, "\"}}\n"...)
		dst = d.enc.appendDocument(dst, m)
		dst = append(dst, '\n')
	}
	return dst
}

// bulkResponse is the part of a bulk response the drain reads.
type bulkResponse struct {
	Errors bool `json:"errors"`
	// Error is not Elasticsearch: ZincSearch answers 200 with a top-level
	// error when it stopped part way through the batch.
	Error json.RawMessage `json:"error"`
	Items []bulkItems     `json:"items"`
}

// bulkItems holds one item's result under its action's key. (Values, not
// pointers: the slice is reused and cleared before each decode.)
type bulkItems struct {
	Index  bulkItem `json:"index"`
	Create bulkItem `json:"create"`
}

type bulkItem struct {
	Index  string   `json:"_index"`
	Status int      `json:"status"`
	Error  *esError `json:"error"`
}

// esError is Elasticsearch's error object.
type esError struct {
	Type     string   `json:"type"`
	Reason   string   `json:"reason"`
	CausedBy *esError `json:"caused_by"`
}

func (e *esError) String() string {
	if e == nil {
		return "no reason given"
	}
	s := e.Type + ": " + e.Reason
	if c := e.CausedBy; c != nil && (c.Type != "" || c.Reason != "") {
		s += " (caused by " + c.Type + ": " + c.Reason + ")"
	}
	return s
}

// itemErrors reads the bulk response in d.resp.
func (d *Drain) itemErrors(batch []sluice.Message) error {
	r := &d.items
	clear(r.Items[:cap(r.Items)])
	r.Items = r.Items[:0]
	r.Errors, r.Error = false, nil
	if err := json.Unmarshal(d.resp.Bytes(), r); err != nil {
		return fmt.Errorf("elasticsearch bulk %s: decode response: %w", d.where, err)
	}
	if len(r.Error) > 0 && string(r.Error) != "null" {
		// Not Elasticsearch (ZincSearch): the server gave up part way and
		// cannot say which items it kept. Retry the batch.
		return fmt.Errorf("elasticsearch bulk %s: server error: %s", d.where, bytes.TrimSpace(r.Error))
	}
	if len(r.Items) > len(batch) {
		return fmt.Errorf("elasticsearch bulk %s: %d items in the response to a batch of %d", d.where, len(r.Items), len(batch))
	}
	var failed map[int]error
	fail := func(i int, err error) {
		if failed == nil {
			failed = make(map[int]error)
		}
		failed[i] = err
	}
	// Item errors of one response often repeat (a mapping error on every
	// document of an index); share them.
	var seen map[string]error
	for i := range batch {
		if i >= len(r.Items) {
			fail(i, fmt.Errorf("elasticsearch bulk %s: no result for the item", d.where))
			continue
		}
		it := &r.Items[i].Index
		if it.Status == 0 {
			it = &r.Items[i].Create
		}
		if it.Status == 0 {
			fail(i, fmt.Errorf("elasticsearch bulk %s: item without an index or create status", d.where))
			continue
		}
		if it.Status >= 200 && it.Status <= 299 {
			continue
		}
		if it.Status == 409 && d.cfg.Op == OpCreate && batch[i].Pos != 0 {
			continue // a redelivery: the document with this _id is there
		}
		reason := it.Error.String()
		key := strconv.Itoa(it.Status) + " " + it.Index + " " + reason
		err, ok := seen[key]
		if !ok {
			err = fmt.Errorf("elasticsearch index %q: %d %s", it.Index, it.Status, reason)
			if !retryableStatus(it.Status) {
				err = fmt.Errorf("%w: %w", drains.ErrPermanent, err)
			}
			if seen == nil {
				seen = make(map[string]error)
			}
			seen[key] = err
		}
		fail(i, err)
	}
	if failed != nil {
		return &drains.BatchError{Failed: failed}
	}
	return nil
}

// requestError classifies a bulk request the server refused as a whole.
func (d *Drain) requestError(res *esapi.Response) error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	err := fmt.Errorf("elasticsearch bulk %s: %s", d.where, statusReason(res.StatusCode, body))
	if !retryableStatus(res.StatusCode) {
		return fmt.Errorf("%w: %w", drains.ErrPermanent, err)
	}
	if after, ok := retryafter.Parse(res.Header.Get("Retry-After"), time.Now()); ok {
		return &drains.RetryAfter{After: after, Err: err}
	}
	return err
}

// statusReason describes a failed response: the status and the reason
// Elasticsearch gave ({"error":{"type","reason"}}), or the start of the
// body when it is not an Elasticsearch error.
func statusReason(status int, body []byte) string {
	s := strconv.Itoa(status) + " " + http.StatusText(status)
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj esError
		if json.Unmarshal(e.Error, &obj) == nil && (obj.Type != "" || obj.Reason != "") {
			return s + ": " + obj.String()
		}
		var str string
		if json.Unmarshal(e.Error, &str) == nil && str != "" {
			return s + ": " + str
		}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	if text == "" {
		return s
	}
	return s + ": " + strings.ToValidUTF8(text, "?")
}

// retryableStatus reports whether an answer with status may succeed later:
// 408, 429 and 5xx.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// Check pings the cluster (HEAD /). A 403 counts as reachable: the
// credentials were accepted, they just lack the monitor privilege, which a
// writer need not have.
func (d *Drain) Check(ctx context.Context) error {
	if d.closed {
		return errClosed
	}
	res, err := esapi.PingRequest{}.Do(ctx, d.client)
	if err != nil {
		return fmt.Errorf("elasticsearch ping %s: %w", d.where, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxErrorBody))
	switch {
	case res.StatusCode >= 200 && res.StatusCode <= 299, res.StatusCode == http.StatusForbidden:
		return nil
	case retryableStatus(res.StatusCode):
		return fmt.Errorf("elasticsearch ping %s: %s", d.where, statusReason(res.StatusCode, nil))
	}
	return fmt.Errorf("%w: elasticsearch ping %s: %s", drains.ErrPermanent, d.where, statusReason(res.StatusCode, nil))
}

// Close closes the idle connections. Send and Check fail after it.
func (d *Drain) Close(ctx context.Context) error {
	if d.closed {
		return nil
	}
	d.closed = true
	d.hc.CloseIdleConnections()
	return nil
}

// productHeader is the HTTP transport under the client. It tolerates a
// missing X-Elastic-Product header on a successful answer (see the package
// doc) by adding it; a header naming another product is left for the
// client to refuse.
type productHeader struct {
	next http.RoundTripper
	log  *slog.Logger
	once sync.Once
}

func (p *productHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(req)
	if err != nil || res.StatusCode < 200 || res.StatusCode > 299 {
		return res, err
	}
	if _, ok := res.Header["X-Elastic-Product"]; !ok {
		p.once.Do(func() {
			p.log.Debug("server sent no X-Elastic-Product header; assuming an Elasticsearch-compatible server")
		})
		res.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return res, nil
}

var _ drains.Drain = (*Drain)(nil)

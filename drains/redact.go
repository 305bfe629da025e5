package drains

import (
	"context"
	"net/url"
	"strings"

	"github.com/sluice-logs/sluice/config"
)

// redacted replaces every secret in a printed URL.
const redacted = "xxxxx"

// PublicPathParam is the drain URL parameter (public_path=1) that marks the
// path and the query parameters public: Redact then prints them, except
// the values of parameters whose names look like credentials.
const PublicPathParam = "public_path"

// secretParams are substrings of query parameter names whose values are
// treated as credentials (token, api_key, sasl_password, sig, ...), even
// with public_path=1.
var secretParams = []string{"token", "key", "secret", "pass", "sig", "auth", "credential"}

// publicParams are the parameters whose values Redact prints without
// public_path=1: Sluice's own options (OptionNames) and the drain kinds'
// settings, none of which is a credential. A kind's parameter that may
// carry a secret (drain_token) is not here.
var publicParams = map[string]bool{
	PublicPathParam: true,
	"format":        true, "gzip": true, "index": true, "op": true, "tls": true,
	"compression": true, "acks": true, "max_bytes": true, "max_datagram": true, "insecure": true,
}

func init() {
	for _, n := range OptionNames {
		publicParams[n] = true
	}
}

// Redact returns u as a string fit for logs, errors and /drains. Only the
// scheme, host, port and the path's first segment are printed as they
// are: user info (user name and password) becomes "xxxxx", the rest of the
// path becomes one "xxxxx", and so does the value of every query parameter
// that is not a known non-secret setting (see publicParams). With
// public_path=1 the whole path and every parameter value are printed,
// except user info and the values of parameters whose names look like
// credentials (token, key, secret, pass, sig, auth, credential), which
// never are. The order of the query parameters is kept; the fragment is
// dropped.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	public := isPublic(c.RawQuery)
	if c.User != nil {
		c.User = url.User(redacted)
	}
	if !public {
		esc := redactPath(c.EscapedPath())
		c.Path, c.RawPath = esc, ""
		if p, err := url.PathUnescape(esc); err == nil {
			c.Path, c.RawPath = p, esc
		}
	}
	if c.Opaque != "" {
		c.Opaque = redacted
	}
	c.RawQuery = redactQuery(c.RawQuery, public)
	c.ForceQuery = false
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// redactPath keeps the first segment of an escaped path and replaces the
// rest with one "xxxxx".
func redactPath(p string) string {
	if p == "" || p == "/" {
		return p
	}
	lead := ""
	if p[0] == '/' {
		lead, p = "/", p[1:]
	}
	first, rest, ok := strings.Cut(p, "/")
	if !ok || rest == "" {
		return lead + p
	}
	return lead + first + "/" + redacted
}

// isPublic reports whether the raw query sets public_path to a true value.
func isPublic(raw string) bool {
	for _, p := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(p, "=")
		if k == PublicPathParam {
			b, err := config.ParseBool(v)
			return err == nil && b
		}
	}
	return false
}

// RedactString redacts a raw URL that may not parse. When it does not,
// only what precedes "://" and the host (after the last "@" of the
// authority) are printed.
func RedactString(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return Redact(u)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redacted
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host := rest[:end]
	if at := strings.LastIndex(host, "@"); at >= 0 {
		host = redacted + host[at:]
	}
	if end < len(rest) {
		host += "/" + redacted
	}
	return scheme + "://" + host
}

func redactQuery(raw string, public bool) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		show := publicParams[name] || public
		if hasValue && (!show || isSecretParam(name)) {
			parts[i] = k + "=" + redacted
		}
	}
	return strings.Join(parts, "&")
}

func isSecretParam(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretParams {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

type batchIDKey struct{}

// WithBatchID returns a context carrying the Worker's id of the batch being
// sent. The id is the same on every retry of the batch, so a drain can use
// it as an idempotency key (HTTP Logplex-Frame-Id).
func WithBatchID(ctx context.Context, id uint64) context.Context {
	return context.WithValue(ctx, batchIDKey{}, id)
}

// BatchID returns the batch id set by WithBatchID.
func BatchID(ctx context.Context) (uint64, bool) {
	id, ok := ctx.Value(batchIDKey{}).(uint64)
	return id, ok
}

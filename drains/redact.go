package drains

import (
	"context"
	"net/url"
	"strings"
)

// redacted replaces every secret in a printed URL.
const redacted = "xxxxx"

// secretParams are substrings of query parameter names whose values are
// treated as credentials (token, api_key, sasl_password, sig, ...).
var secretParams = []string{"token", "key", "secret", "pass", "sig", "auth", "credential"}

// Redact returns u as a string fit for logs, errors and /drains: the user
// info password becomes "xxxxx", and so does the value of every query
// parameter whose name looks like a credential (token, key, secret,
// password, sig, auth). The order of the query parameters is kept.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), redacted)
		}
	}
	c.RawQuery = redactQuery(c.RawQuery)
	c.ForceQuery = false
	return c.String()
}

// RedactString redacts a raw URL that may not parse. When it does not,
// everything between "://" and the last "@" of the authority is replaced.
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
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = redacted + rest[at:]
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q+1] + redactQuery(rest[q+1:])
	}
	return scheme + "://" + rest
}

func redactQuery(raw string) string {
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
		if hasValue && isSecretParam(name) {
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

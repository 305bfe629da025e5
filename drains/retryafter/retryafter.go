// Package retryafter reads the HTTP Retry-After header, the one parser
// every drain (and the sluice CLI) uses.
//
// A value is either delay-seconds ("120") or an HTTP date; both give a
// wait, never negative, capped at Max: a destination that asks for a day
// (or sends a date far ahead by mistake) is retried after Max, not
// silently held. Parse is a pure function, safe for concurrent use. The
// package imports nothing of Sluice, so the CLI can use it without
// pulling in the drains.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max is the longest wait Parse returns.
const Max = 10 * time.Minute

// Parse reads a Retry-After value relative to now. ok is false when v is
// empty or malformed (the caller then uses its own backoff).
func Parse(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(Max/time.Second) {
			return Max, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), Max), true
	}
	return 0, false
}

package ship

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-logs/sluice"
)

// Transport delivers one batch. Send returns nil once the receiver has the
// whole batch; an error wrapping ErrPermanent when retrying cannot help; a
// *RetryAfterError when the receiver asked to wait; any other error is
// retried. Send is called by one goroutine at a time; it must not keep msgs
// after it returns. Close releases connections.
type Transport interface {
	Send(ctx context.Context, msgs []sluice.Message) error
	Close() error
}

// ErrPermanent marks errors that retrying will not fix.
var ErrPermanent = errors.New("permanent")

// RetryAfterError is a refusal with a wait: 429 or 503 with Retry-After.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

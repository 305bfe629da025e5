package drains

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-logs/sluice"
)

// Drain delivers batches of messages to one destination (an Elasticsearch
// cluster, a Kafka topic, an HTTP endpoint).
//
// Lifecycle and concurrency: a Drain is created by its package's New, used
// by exactly one Worker goroutine, and closed once. Send and Close are never
// called concurrently with each other.
//
//   - Send delivers batch (non-empty, in queue order; per-app order must be
//     kept by the destination). It returns nil when every message was
//     delivered (acknowledged by the destination). A *BatchError says which
//     messages failed and whether each may be retried; any other error means
//     the whole batch failed, and is permanent when it wraps ErrPermanent,
//     retryable otherwise. A RetryAfter error asks the Worker to wait before
//     the next attempt. Send must return promptly when ctx ends.
//   - Send must not keep batch or its messages after returning: the Worker
//     reuses them.
//   - Check connects to the destination and reports whether it is reachable
//     (sluiced check-drains); it sends no messages.
//   - Close releases connections. The Worker has already flushed what it
//     could; Close must return when ctx ends.
type Drain interface {
	Send(ctx context.Context, batch []sluice.Message) error
	Check(ctx context.Context) error
	Close(ctx context.Context) error
}

// ErrPermanent marks an error that retrying cannot fix (HTTP 4xx other than
// 408 and 429, an Elasticsearch mapping error). Wrap it:
// fmt.Errorf("%w: 400 bad request", drains.ErrPermanent).
var ErrPermanent = errors.New("permanent failure")

// ErrClosed is what Send (and Check) return after Close: permanent, since
// no retry can reach a closed drain. Drains wrap it:
// fmt.Errorf("kafka: %w", drains.ErrClosed).
var ErrClosed = fmt.Errorf("%w: drain closed", ErrPermanent)

// BatchError reports a partial failure of Send: the messages at the listed
// batch indexes failed, each with its own error (retryable unless it wraps
// ErrPermanent). Messages not listed were delivered.
type BatchError struct {
	Failed map[int]error
}

func (e *BatchError) Error() string {
	var first error
	idx := -1
	for i, err := range e.Failed {
		if idx == -1 || i < idx {
			idx, first = i, err
		}
	}
	return fmt.Sprintf("%d messages of the batch failed (first, #%d: %v)", len(e.Failed), idx, first)
}

// RetryAfter is a retryable error carrying the wait the destination asked
// for (HTTP Retry-After). The Worker waits at least After before retrying.
type RetryAfter struct {
	After time.Duration
	Err   error
}

func (e *RetryAfter) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfter) Unwrap() error { return e.Err }

// IsPermanent reports whether err must not be retried.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

package drains

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/sluice-logs/sluice/drains/retryafter"
)

// Backoff defaults: full jitter over an exponential ceiling.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// A drain is down after downAfterFails failed attempts in a row or when it
// has been failing for downAfter.
const (
	downAfterFails = 5
	downAfter      = 30 * time.Second
)

// backoff returns the wait before retry number attempt+1: full jitter over
// min(MaxBackoff, MinBackoff·2^attempt), but at least what a RetryAfter
// error asked for.
func (w *Worker) backoff(attempt int, err error) time.Duration {
	ceil := w.cfg.MaxBackoff
	if attempt < 30 {
		if c := w.cfg.MinBackoff << attempt; c > 0 && c < ceil {
			ceil = c
		}
	}
	d := rand.N(ceil) + 1
	var ra *RetryAfter
	if errors.As(err, &ra) && ra.After > d {
		d = min(ra.After, retryafter.Max)
	}
	return d
}

// waitRetry waits d on timer, and reports false if ctx (Stop's deadline)
// ended first.
func (w *Worker) waitRetry(ctx context.Context, timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		timer.Stop()
		return false
	}
}

func withEarlierDeadline(ctx context.Context, cancel context.CancelFunc, d time.Time) (context.Context, context.CancelFunc) {
	if cur, ok := ctx.Deadline(); ok && !d.Before(cur) {
		return ctx, cancel
	}
	c2, cancel2 := context.WithDeadline(ctx, d)
	return c2, func() { cancel2(); cancel() }
}

// outcomeLocked moves the failure state after one Send that returned err,
// with nRetry messages to send again, and reports whether to retry.
func (w *Worker) outcomeLocked(err error, nRetry int, now time.Time) bool {
	s := &w.stats
	if err == nil {
		if s.state != StateUp {
			w.log.Info("drain delivering again", "url", w.cfg.URL, "after_failures", s.fails)
		}
		s.state, s.fails = StateUp, 0
		return false
	}
	s.lastErr = err.Error()
	if s.fails == 0 {
		s.failingSince = now
	}
	s.fails++
	prev := s.state
	s.state = StateRetrying
	if s.fails >= downAfterFails || now.Sub(s.failingSince) > downAfter {
		s.state = StateDown
	}
	if nRetry > 0 {
		s.retries++
	}
	if s.state != prev || s.fails == 1 {
		w.log.Warn("drain send failed", "url", w.cfg.URL, "state", s.state,
			"failures", s.fails, "retrying", nRetry, "err", err)
	}
	return nRetry > 0
}

package worker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential backoff with jitter: each wait is drawn
// from [d/2, d], and d doubles from min up to max.
type backoff struct {
	min, max, d time.Duration
}

func newBackoff(min, max time.Duration) backoff {
	return backoff{min: min, max: max, d: min}
}

// next returns how long to wait before the next attempt.
func (b *backoff) next() time.Duration {
	wait := b.d/2 + rand.N(b.d/2+1)
	b.d = min(b.d*2, b.max)
	return wait
}

// reset starts the backoff over, after a success.
func (b *backoff) reset() { b.d = b.min }

// errStopping ends a delivery pass that stop interrupted between attempts.
var errStopping = errors.New("onlinestock: stopping")

// sleep waits for d, and returns early with ctx's error when ctx ends, or
// with errStopping when stop is closed. A nil stop never closes.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errStopping
	}
}

// stopped reports whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// failureLog logs a repeated operation's failures once per change of state:
// one Error record when it starts failing, one Info record when it works
// again, with how many attempts failed in between. A Store that is down for
// an hour is two lines, not one per poll.
type failureLog struct {
	logger *slog.Logger
	msg    string
	attrs  []any

	failures int
	since    time.Time
}

// failed records a failure, and logs it if the operation was working.
func (f *failureLog) failed(ctx context.Context, err error) {
	f.failures++
	if f.failures > 1 {
		return
	}
	f.since = time.Now()
	f.logger.ErrorContext(ctx, f.msg+": failing, backing off", append(f.attrs, "err", err)...)
}

// ok records a success, and logs the recovery if the operation was failing.
func (f *failureLog) ok(ctx context.Context) {
	if f.failures == 0 {
		return
	}
	f.logger.InfoContext(ctx, f.msg+": working again", append(f.attrs, "failures", f.failures, "after", time.Since(f.since).Round(time.Millisecond))...)
	f.failures = 0
}

// retry is the state of one repeated operation of one tenant: when to try
// it again, its backoff, and its failure log.
type retry struct {
	notBefore time.Time
	backoff   backoff
	health    failureLog
}

func newRetry(cfg Config, log *slog.Logger, msg string) retry {
	return retry{backoff: newBackoff(cfg.MinBackoff, cfg.MaxBackoff), health: failureLog{logger: log, msg: msg}}
}

// failed records a failure and returns when to try again.
func (r *retry) failed(ctx context.Context, err error) time.Time {
	r.health.failed(ctx, err)
	r.notBefore = time.Now().Add(r.backoff.next())
	return r.notBefore
}

// progressed records an attempt that failed after getting somewhere (a
// batch partly delivered): the backoff starts over, so the next try comes
// after the shortest wait, and the failure log keeps its state.
func (r *retry) progressed() time.Time {
	r.backoff.reset()
	r.notBefore = time.Now().Add(r.backoff.next())
	r.backoff.reset()
	return r.notBefore
}

// ok records a success.
func (r *retry) ok(ctx context.Context) {
	r.health.ok(ctx)
	r.backoff.reset()
	r.notBefore = time.Time{}
}

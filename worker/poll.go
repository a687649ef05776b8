package worker

import (
	"context"
	"errors"
	"time"
)

// page calls each with every name list returns, a page at a time.
func page(ctx context.Context, list func(ctx context.Context, after string, limit int) ([]string, error), each func(string)) error {
	const limit = 1000
	after := ""
	for {
		names, err := list(ctx, after, limit)
		if err != nil {
			return err
		}
		for _, name := range names {
			each(name)
		}
		if len(names) < limit {
			return nil
		}
		after = names[len(names)-1]
	}
}

// pollPending queues the tenants with pending events every PollInterval,
// and at once when asked (when the listener starts listening).
func (r *runner) pollPending(ctx context.Context) {
	r.poll(ctx, r.w.cfg.PollInterval, r.polls, "onlinestock: finding tenants with events", func(ctx context.Context) error {
		return page(ctx, r.w.src.Pending, func(name string) { r.wake(name, false) })
	})
}

// pollDue queues the tenants with reservations due every ExpireEvery.
func (r *runner) pollDue(ctx context.Context) {
	due := func(ctx context.Context, after string, limit int) ([]string, error) {
		return r.w.src.Due(ctx, r.w.svcCfg.Clock(), after, limit)
	}
	r.poll(ctx, r.w.cfg.ExpireEvery, nil, "onlinestock: finding tenants with reservations due", func(ctx context.Context) error {
		return page(ctx, due, func(name string) { r.wake(name, true) })
	})
}

// poll runs find at once and then every interval, or sooner when now
// delivers, backing off while it fails, until the Worker stops.
func (r *runner) poll(ctx context.Context, interval time.Duration, now <-chan struct{}, msg string, find func(context.Context) error) {
	health := failureLog{logger: r.w.log, msg: msg}
	retry := newBackoff(r.w.cfg.MinBackoff, r.w.cfg.MaxBackoff)
	wait := time.Duration(0)
	for {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-now:
		case <-ctx.Done():
		case <-r.w.stop:
		}
		timer.Stop()
		if ctx.Err() != nil || stopped(r.w.stop) {
			return
		}
		if err := find(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			health.failed(ctx, err)
			wait = max(interval, retry.next())
			continue
		}
		health.ok(ctx)
		retry.reset()
		wait = interval
	}
}

// listen keeps listening for commits, with backoff between attempts, and
// polls at once each time it listens again, for what it missed meanwhile.
func (r *runner) listen(ctx context.Context) {
	health := failureLog{logger: r.w.log, msg: "onlinestock: listening for commits"}
	retry := newBackoff(r.w.cfg.MinBackoff, r.w.cfg.MaxBackoff)
	for ctx.Err() == nil {
		err := r.w.listener.Listen(ctx, func() {
			health.ok(ctx)
			retry.reset()
			r.w.log.DebugContext(ctx, "onlinestock: listening for commits")
			select {
			case r.polls <- struct{}{}:
			default:
			}
		}, func(tenant string) { r.wake(tenant, false) })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("listening ended")
		}
		health.failed(ctx, err)
		_ = sleep(ctx, nil, retry.next())
	}
}

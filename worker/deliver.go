package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/onlinestock/onlinestock"
)

// tenant is what a Worker keeps of one tenant.
type tenant struct {
	name string

	// Under runner.mu.
	queued  bool   // in ready
	running bool   // being served
	again   bool   // woken while running: serve again after
	due     bool   // run expiry when next served
	gen     uint64 // bumped whenever it is queued, so older entries of later are ignored

	// Only the goroutine serving the tenant reads and writes the rest.
	opened bool
	// delivered says events were handed on since the tenant was last
	// settled: a Worker over one Service settles only then, since its
	// tenant is listed as pending at every poll.
	delivered bool
	svc       *onlinestock.Service // nil when the tenant cannot be opened
	log       *slog.Logger
	cons      []*delivery
	expiry    retry
}

// delivery is one consumer's delivery for one tenant.
type delivery struct {
	c       *consumer
	d       *Dispatcher
	renewed time.Time // the start of the TryLease that last took or renewed the lease; zero: not held
	// cursor is the consumer's cursor, when known: while the lease has
	// been held without a break since it was read, no other process can
	// have moved it.
	cursor      uint64
	cursorKnown bool
	retry
}

// step serves one tenant once: a batch at most for each consumer, expiry
// if due, and, when every consumer has had every event it found (a batch
// that was not full), settles the tenant.
func (r *runner) step(ctx context.Context, t *tenant, due bool) stepResult {
	var res stepResult
	if !r.open(t) {
		return res
	}
	ctx = withTenant(ctx, t.name)
	caughtUp := len(t.cons) > 0
	for _, c := range t.cons {
		if stopped(r.w.stop) || ctx.Err() != nil {
			return res
		}
		if time.Now().Before(c.notBefore) {
			// Backing off: keep the lease meanwhile, so that the tenant
			// stays with this process.
			res.retryAt(r.keepLease(ctx, c))
			caughtUp = false
			continue
		}
		n, err := r.deliver(ctx, t, c)
		t.delivered = t.delivered || n > 0
		switch {
		case stopped(r.w.stop) || ctx.Err() != nil:
			return res
		case errors.Is(err, errNotHeld):
			// Another process delivers; try again when its lease may
			// have lapsed.
			c.notBefore = time.Now().Add(r.w.cfg.LeaseTTL / 3)
			res.retryAt(c.notBefore)
			caughtUp = false
		case err != nil && n > 0:
			// Some events got through: start the backoff over.
			res.retryAt(c.progressed())
			caughtUp = false
		case err != nil:
			res.retryAt(c.failed(ctx, err))
			caughtUp = false
		default:
			c.ok(ctx)
			if n == r.w.cfg.BatchSize {
				res.again, caughtUp = true, false // there may be more
			}
		}
	}
	if (due || !t.expiry.notBefore.IsZero()) && !stopped(r.w.stop) {
		if at, ok := r.expire(ctx, t); !ok {
			return res
		} else if !at.IsZero() {
			res.retryAt(at)
		}
	}
	if _, one := r.w.src.(*oneTenant); one && !t.delivered {
		caughtUp = false // settled already, and nothing new since
	}
	if caughtUp && !stopped(r.w.stop) {
		settled, err := r.w.src.Settle(ctx, t.name, r.names)
		t.delivered = t.delivered && (err != nil || !settled)
		switch {
		case err != nil:
			// The tenant stays pending: the next poll brings it back.
			if ctx.Err() == nil {
				t.log.DebugContext(ctx, "onlinestock: settling the tenant failed", "err", err)
			}
		case !settled:
			res.again = true // events committed since this step read them
		}
	}
	return res
}

// open makes t's Service and dispatchers on first use, and reports
// whether the tenant can be served.
func (r *runner) open(t *tenant) bool {
	if t.opened {
		return t.svc != nil
	}
	t.opened = true
	w := r.w
	t.log = w.log
	if _, one := w.src.(*oneTenant); !one {
		t.log = w.log.With("tenant", t.name)
	}
	svc, err := w.open(t.name)
	if err != nil {
		t.log.Warn("onlinestock: tenant cannot be served", "err", err)
		return false
	}
	t.svc, t.delivered = svc, true // whatever is pending from before
	t.expiry = newRetry(w.cfg, t.log, "onlinestock: expiring reservations")
	for _, c := range w.cons {
		d, err := NewDispatcher(svc.Store(), c.notifier, DispatcherConfig{
			Consumer: c.name, BatchSize: w.cfg.BatchSize, PollInterval: w.cfg.PollInterval,
			MinBackoff: w.cfg.MinBackoff, MaxBackoff: w.cfg.MaxBackoff, Logger: t.log, Clock: w.svcCfg.Clock,
		})
		if err != nil { // the names were checked by the constructor
			t.log.Error("onlinestock: tenant cannot be served", "err", err)
			t.svc = nil
			return false
		}
		d.onDelivered = func(events []onlinestock.Event, at time.Time) { w.metrics.delivered(c.attrs, events, at) }
		d.onRetry = func(events []onlinestock.Event) {
			w.metrics.retried.Add(context.Background(), int64(len(events)), c.attrs)
		}
		d.onDead = func(onlinestock.Event) { w.metrics.dead.Add(context.Background(), 1, c.attrs) }
		t.cons = append(t.cons, &delivery{c: c, d: d, retry: newRetry(w.cfg, c.log, "onlinestock: delivery")})
	}
	return true
}

// deliver delivers a batch at most to c, under c's lease: it takes the
// lease, or renews it if it was last renewed LeaseTTL/3 ago or more, and
// keeps it renewed while the batch is in flight. It returns how many
// events it handed on (acknowledged by the Notifier or dead-lettered),
// even when it fails after some, and errNotHeld when another process
// holds the lease, or took it meanwhile.
func (r *runner) deliver(ctx context.Context, t *tenant, c *delivery) (int, error) {
	w := r.w
	store := t.svc.Store()
	if err := r.lease(ctx, store, c); err != nil {
		return 0, err
	}
	lctx, release := w.guard(ctx, store, c.c.lease, c.renewed)
	n, cursor, err := c.d.step(lctx, w.stop, c.cursorKnown, c.cursor)
	lost := errors.Is(context.Cause(lctx), errLeaseLost)
	c.renewed = release()
	c.cursor, c.cursorKnown = cursor, (err == nil || n > 0) && !lost
	if lost {
		r.dropLease(ctx, c)
		t.log.WarnContext(ctx, "onlinestock: lease lost, another process delivers", "consumer", c.c.name, "holder", w.cfg.Holder)
		return n, errNotHeld
	}
	if errors.Is(err, errStopping) {
		return n, nil
	}
	return n, err
}

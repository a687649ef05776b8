package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onlinestock/onlinestock"
)

// A consumer's lease, one per tenant, named "deliver:" and the consumer's
// name, lets one process at a time deliver its events. A process takes it
// when it has events to deliver, renews it every LeaseTTL/3 while it
// delivers (in the background during a batch) and while it backs off
// after a failed one, and releases it when it stops. Another process
// tries to take it every LeaseTTL/3, so when the holder dies it delivers
// again within LeaseTTL and a third.

var (
	// errLeaseLost cancels a delivery whose lease another process took.
	errLeaseLost = errors.New("onlinestock: lease lost")
	// errNotHeld says another process holds a lease.
	errNotHeld = errors.New("onlinestock: lease held by another process")
)

// lease takes c's lease, or renews it if it was last renewed LeaseTTL/3
// ago or more. It returns errNotHeld when another process holds it.
func (r *runner) lease(ctx context.Context, store onlinestock.Outbox, c *delivery) error {
	w := r.w
	if !c.renewed.IsZero() && time.Since(c.renewed) < w.cfg.LeaseTTL/3 {
		return nil
	}
	start := time.Now()
	held, err := store.TryLease(ctx, c.c.lease, w.cfg.Holder, w.cfg.LeaseTTL)
	if err != nil || !held {
		r.dropLease(ctx, c)
		if err == nil {
			err = errNotHeld
		}
		return err
	}
	if c.renewed.IsZero() {
		c.c.log.DebugContext(ctx, "onlinestock: delivering", "holder", w.cfg.Holder)
		w.metrics.leases.Add(ctx, 1, c.c.attrs)
	}
	if c.renewed.IsZero() || start.Sub(c.renewed) >= w.cfg.LeaseTTL {
		c.cursorKnown = false // the lease may have lapsed: another process may have delivered
	}
	c.renewed = start
	return nil
}

// keepLease renews c's lease, if held, while c waits to retry until
// c.notBefore, and returns when to come back: at c.notBefore, or sooner
// to renew the lease again.
func (r *runner) keepLease(ctx context.Context, c *delivery) time.Time {
	if c.renewed.IsZero() {
		return c.notBefore
	}
	if err := r.lease(ctx, c.d.store, c); err != nil {
		return c.notBefore
	}
	return minTime(c.notBefore, c.renewed.Add(r.w.cfg.LeaseTTL/3))
}

// dropLease forgets that c holds its lease.
func (r *runner) dropLease(ctx context.Context, c *delivery) {
	if !c.renewed.IsZero() {
		r.w.metrics.leases.Add(ctx, -1, c.c.attrs)
	}
	c.renewed, c.cursorKnown = time.Time{}, false
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// guard keeps the named lease of store, taken or last renewed by a
// TryLease that started at renewed, while the caller works under the
// returned context: it renews the lease in the background every
// LeaseTTL/3, and cancels the context with errLeaseLost when the Store
// says another holder has it, or when renewals have failed for two thirds
// of the TTL (so it may lapse before the next try). release stops the
// renewals and returns when they have stopped, with the start of the last
// renewal that succeeded.
func (w *Worker) guard(ctx context.Context, store onlinestock.Outbox, lease string, renewed time.Time) (context.Context, func() time.Time) {
	lctx, lose := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		renewed = w.renew(lctx, store, lease, renewed, lose)
	}()
	return lctx, func() time.Time {
		lose(nil)
		<-done
		return renewed
	}
}

// renew is guard's background work. It returns the start of the last
// renewal that succeeded.
func (w *Worker) renew(ctx context.Context, store onlinestock.Outbox, lease string, renewed time.Time, lose context.CancelCauseFunc) time.Time {
	next := renewed.Add(w.cfg.LeaseTTL / 3)
	for sleep(ctx, nil, time.Until(next)) == nil {
		start := time.Now()
		next = start.Add(w.cfg.LeaseTTL / 3)
		held, err := store.TryLease(ctx, lease, w.cfg.Holder, w.cfg.LeaseTTL)
		switch {
		case ctx.Err() != nil:
			return renewed
		case err == nil && held:
			renewed = start
		case err == nil && !held:
			lose(errLeaseLost)
			return renewed
		case time.Since(renewed) > 2*w.cfg.LeaseTTL/3:
			lose(fmt.Errorf("%w: renewing failed: %w", errLeaseLost, err))
			return renewed
		}
	}
	return renewed
}

// releaseLeases releases the leases the Worker may still hold, so other
// processes take over at once rather than when they lapse.
func (r *runner) releaseLeases(ctx context.Context) {
	w := r.w
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	r.mu.Lock()
	var held []func()
	for _, t := range r.states {
		if t.svc == nil {
			continue
		}
		for _, c := range t.cons {
			if !c.renewed.IsZero() && time.Since(c.renewed) < w.cfg.LeaseTTL {
				store, lease := t.svc.Store(), c.c.lease
				held = append(held, func() { _ = store.ReleaseLease(rctx, lease, w.cfg.Holder) })
			}
			r.dropLease(rctx, c)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	work := make(chan func())
	for range min(w.cfg.Concurrency, len(held)) {
		wg.Go(func() {
			for release := range work {
				release()
			}
		})
	}
	for _, release := range held {
		work <- release
	}
	close(work)
	wg.Wait()
}

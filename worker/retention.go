package worker

import (
	"context"
	"time"

	"github.com/onlinestock/onlinestock"
)

// retain prunes every tenant once per RetentionEvery, the tenants spread
// over the period, each in batches until a batch finds less than a full
// one to delete.
func (r *runner) retain(ctx context.Context) {
	w := r.w
	health := failureLog{logger: w.log, msg: "onlinestock: retention"}
	retry := newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff)
	wait := time.Duration(0)
	for sleep(ctx, w.stop, wait) == nil {
		start := time.Now()
		wait = w.cfg.RetentionEvery
		var names []string
		if err := page(ctx, w.src.List, func(name string) { names = append(names, name) }); err != nil {
			if ctx.Err() == nil {
				health.failed(ctx, err)
				wait = retry.next()
			}
			continue
		}
		gap := w.cfg.RetentionEvery / time.Duration(max(len(names), 1))
		failed := false
		for i, name := range names {
			if sleep(ctx, w.stop, time.Until(start.Add(time.Duration(i)*gap))) != nil {
				return
			}
			store, err := w.src.Store(name)
			if err != nil {
				continue
			}
			if err := w.prune(ctx, store, r.names); err != nil {
				if ctx.Err() != nil {
					return
				}
				health.failed(ctx, err)
				failed = true
				wait = max(wait, retry.next())
			}
		}
		if !failed {
			health.ok(ctx)
			retry.reset()
		}
	}
}

// prune prunes store in batches until a batch deletes less than a full
// one, or the Worker stops.
func (w *Worker) prune(ctx context.Context, store onlinestock.Outbox, consumers []string) error {
	for !stopped(w.stop) {
		done, err := store.Prune(ctx, w.retention(consumers))
		if err != nil {
			return err
		}
		w.metrics.pruned(ctx, done)
		if max(done.Events, done.Reservations, done.Keys, done.Movements) < w.cfg.RetentionBatch {
			return nil
		}
	}
	return nil
}

// retention says what may be pruned now.
func (w *Worker) retention(consumers []string) onlinestock.Retention {
	now := w.svcCfg.Clock()
	r := onlinestock.Retention{Consumers: consumers, Limit: w.cfg.RetentionBatch, KeysBefore: now.Add(-w.svcCfg.KeyRetention)}
	if w.cfg.RetainEvents > 0 {
		r.EventsBefore = now.Add(-w.cfg.RetainEvents)
	}
	if w.cfg.RetainReservations > 0 {
		r.ReservationsBefore = now.Add(-w.cfg.RetainReservations)
	}
	if w.cfg.RetainMovements > 0 {
		r.MovementsBefore = now.Add(-w.cfg.RetainMovements)
	}
	return r
}

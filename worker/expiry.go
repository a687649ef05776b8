package worker

import (
	"context"
	"time"
)

// expire releases t's reservations past their deadline, unless a failed
// attempt is still backing off. It returns when to try again after a
// failure (zero when there is nothing to retry), and false when ctx ended.
func (r *runner) expire(ctx context.Context, t *tenant) (time.Time, bool) {
	if time.Now().Before(t.expiry.notBefore) {
		return t.expiry.notBefore, true
	}
	expired, err := t.svc.ExpireReservations(ctx, r.w.svcCfg.Clock())
	if err != nil {
		if ctx.Err() != nil {
			return time.Time{}, false
		}
		return t.expiry.failed(ctx, err), true
	}
	t.expiry.ok(ctx)
	if len(expired) > 0 {
		r.w.metrics.expired.Add(ctx, int64(len(expired)), r.w.metrics.tenant)
		t.log.DebugContext(ctx, "onlinestock: reservations expired", "orders", expired)
	}
	return time.Time{}, true
}

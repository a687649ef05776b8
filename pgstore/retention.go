package pgstore

import (
	"context"

	"github.com/onlinestock/onlinestock"
)

// defaultPruneLimit is Retention.Limit's default.
const defaultPruneLimit = 1000

// Prune implements [onlinestock.Store]. Each kind is one set-based DELETE
// of at most r.Limit rows, in its own short transaction, so a batch holds
// its row locks briefly. Reservations and keys that a running transaction
// has locked are skipped (SKIP LOCKED), not waited for: the next batch gets
// them. Deleting events takes no lock a Service call waits for.
func (s *Store) Prune(ctx context.Context, r onlinestock.Retention) (onlinestock.Pruned, error) {
	var done onlinestock.Pruned
	if err := ctx.Err(); err != nil {
		return done, err
	}
	limit := r.Limit
	if limit <= 0 {
		limit = defaultPruneLimit
	}
	if len(r.Consumers) > 0 && !r.EventsBefore.IsZero() {
		// The oldest events, up to the lowest cursor of the listed
		// consumers (0 for one never seen) and short of the lowest dead
		// letter of any consumer; the batch stops at its first event not
		// older than EventsBefore, so what is deleted is always a prefix
		// of the outbox. Unnumbered events (seq NULL) are never touched.
		rows, err := s.pool.Query(ctx, `WITH bound AS MATERIALIZED (
				SELECT least(
					(SELECT min(coalesce(c.seq, 0)) FROM unnest($2::text[]) AS k(consumer)
						LEFT JOIN onlinestock_cursors c ON c.tenant = $1 AND c.consumer = k.consumer),
					(SELECT min(seq) - 1 FROM onlinestock_dead_letters WHERE tenant = $1)
				) AS seq
			), batch AS MATERIALIZED (
				SELECT e.seq, e.time_ns FROM onlinestock_events e, bound
				WHERE e.tenant = $1 AND e.seq IS NOT NULL AND e.seq > $5 AND e.seq <= bound.seq
				ORDER BY e.seq LIMIT $4
			), stop AS (
				SELECT coalesce(min(seq), 9223372036854775807) AS seq FROM batch
				WHERE time_ns IS NULL OR time_ns >= $3
			)
			DELETE FROM onlinestock_events e USING batch b, stop
			WHERE e.tenant = $1 AND e.seq IS NOT NULL AND e.seq = b.seq AND b.seq < stop.seq
			RETURNING e.seq`,
			s.cfg.Tenant, r.Consumers, clampNanos(r.EventsBefore), limit, int64(s.pruned.Load()))
		if err != nil {
			return done, interpretError(ctx, err)
		}
		var high uint64
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return done, interpretError(ctx, err)
			}
			high = max(high, uint64(seq))
			done.Events++
		}
		if err := rows.Err(); err != nil {
			return done, interpretError(ctx, err)
		}
		// What is deleted is a prefix: nothing at or below high is left,
		// so the next batch's index scan starts above it rather than
		// wading through the entries of rows just deleted.
		if high > 0 {
			for cur := s.pruned.Load(); high > cur && !s.pruned.CompareAndSwap(cur, high); cur = s.pruned.Load() {
			}
		}
	}
	if !r.ReservationsBefore.IsZero() {
		tag, err := s.pool.Exec(ctx, `WITH d AS MATERIALIZED (
				SELECT order_id FROM onlinestock_reservations
				WHERE tenant = $1 AND status <> 'open' AND created_ns < $2
				ORDER BY created_ns, order_id LIMIT $3
				FOR UPDATE SKIP LOCKED
			)
			DELETE FROM onlinestock_reservations r USING d
			WHERE r.tenant = $1 AND r.order_id = d.order_id AND r.status <> 'open'`,
			s.cfg.Tenant, clampNanos(r.ReservationsBefore), limit)
		if err != nil {
			return done, interpretError(ctx, err)
		}
		done.Reservations = int(tag.RowsAffected())
	}
	if !r.MovementsBefore.IsZero() {
		n, err := s.pruneMovements(ctx, clampNanos(r.MovementsBefore), limit)
		if err != nil {
			return done, err
		}
		done.Movements = n
	}
	if !r.KeysBefore.IsZero() {
		tag, err := s.pool.Exec(ctx, `WITH d AS MATERIALIZED (
				SELECT key FROM onlinestock_keys
				WHERE tenant = $1 AND claimed_ns < $2
				ORDER BY claimed_ns, key LIMIT $3
				FOR UPDATE SKIP LOCKED
			)
			DELETE FROM onlinestock_keys k USING d
			WHERE k.tenant = $1 AND k.key = d.key AND k.claimed_ns < $2`,
			s.cfg.Tenant, clampNanos(r.KeysBefore), limit)
		if err != nil {
			return done, interpretError(ctx, err)
		}
		done.Keys = int(tag.RowsAffected())
	}
	return done, nil
}

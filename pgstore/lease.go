package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onlinestock/onlinestock"
)

// TryLease implements [onlinestock.Store]. Expiry is by the database's
// clock (clock_timestamp()), so processes with skewed clocks agree; taking
// an expired lease and renewing one's own are one upsert, whose row lock
// serializes concurrent callers. The upsert's condition compares the held
// lease's expiry plus the TTL with the new expiry (the clock plus the TTL),
// in UTC, rather than the expiry with the clock: it then calls only
// immutable functions, which Citus requires of that condition, and it
// reads the clock once, in the row it inserts.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("pgstore: lease ttl %v: not positive: %w", ttl, onlinestock.ErrInvalid)
	}
	var held bool
	err := s.pool.QueryRow(ctx, `INSERT INTO onlinestock_leases AS l (tenant, name, holder, expires_at)
		VALUES ($1, $2, $3, clock_timestamp() + $4::bigint * interval '1 microsecond')
		ON CONFLICT (tenant, name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE l.holder = excluded.holder
			OR (l.expires_at AT TIME ZONE 'UTC') + $4::bigint * interval '1 microsecond' <= (excluded.expires_at AT TIME ZONE 'UTC')
		RETURNING true`, s.cfg.Tenant, name, holder, max(ttl.Microseconds(), 1)).Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, interpretError(ctx, err)
	}
	return held, nil
}

// ReleaseLease implements [onlinestock.Store].
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := checkLease(name, holder); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM onlinestock_leases WHERE tenant = $1 AND name = $2 AND holder = $3`,
		s.cfg.Tenant, name, holder)
	return interpretError(ctx, err)
}

func checkLease(name, holder string) error {
	if name == "" {
		return fmt.Errorf("pgstore: lease name: empty: %w", onlinestock.ErrInvalid)
	}
	if holder == "" {
		return fmt.Errorf("pgstore: lease holder: empty: %w", onlinestock.ErrInvalid)
	}
	return nil
}

package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/worker"
)

var (
	_ worker.Tenants  = (*Tenants)(nil)
	_ worker.Listener = (*Tenants)(nil)
	_ worker.Listener = (*Store)(nil)
	_ worker.Settler  = (*Store)(nil)
)

// notifyChannel is the channel on which a transaction that wrote events
// names its schema and tenant, at commit, when the tenant had nothing
// pending.
const notifyChannel = "onlinestock"

// Tenants is every tenant of a database, as one [worker.Worker]
// serving them all sees them ([worker.NewTenants]). It is safe
// for concurrent use.
//
// A transaction that writes events marks its tenant as pending, and the
// first one to do so also sends a notification at commit (LISTEN/NOTIFY),
// which [Tenants.Listen] hands to the Worker. A Worker therefore finds the
// tenants with work by reading the marks ([Tenants.Pending]) and the
// index of open reservations by deadline ([Tenants.Due]), not by reading
// every tenant, and removes a tenant's mark ([Tenants.Settle]) once its
// consumers have every event.
type Tenants struct {
	pool  *pgxpool.Pool
	cfg   Config
	citus bool
	// prefix restricts the tenants to those whose name starts with it,
	// so that tests sharing a database keep to their own.
	prefix string
}

// NewTenants returns the tenants of the database pool is connected to.
// cfg configures the Store of each, except for its Tenant, which must be
// empty. Like [New], it checks the schema and refuses a Citus worker node.
// The pool is the caller's to close, after the Tenants is no longer used.
func NewTenants(pool *pgxpool.Pool, cfg Config) (*Tenants, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgstore: nil pool: %w", onlinestock.ErrInvalid)
	}
	if cfg.Tenant != "" {
		return nil, fmt.Errorf("pgstore: Config.Tenant: %q: each tenant's Store gets its own: leave it empty: %w", cfg.Tenant, onlinestock.ErrInvalid)
	}
	citus, err := checkDatabase(pool)
	if err != nil {
		return nil, err
	}
	return &Tenants{pool: pool, cfg: cfg.withDefaults(), citus: citus}, nil
}

// Store returns the Store of tenant, as [New] would with the Config given
// to NewTenants, without checking the schema again. A tenant name New
// would refuse is ErrInvalid.
func (t *Tenants) Store(tenant string) (onlinestock.Store, error) {
	cfg := t.cfg
	cfg.Tenant = tenant
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Store{pool: t.pool, cfg: cfg, citus: t.citus}, nil
}

// Pending implements [worker.Tenants]: the tenants marked pending,
// in name order.
func (t *Tenants) Pending(ctx context.Context, after string, limit int) ([]string, error) {
	return t.names(ctx, `SELECT tenant FROM onlinestock_pending
		WHERE tenant > $1 AND starts_with(tenant, $2) ORDER BY tenant LIMIT $3`, after, t.prefix, pageLimit(limit))
}

// Due implements [worker.Tenants], through the index of open
// reservations by deadline: its cost grows with the reservations due, not
// with the tenants.
func (t *Tenants) Due(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	return t.names(ctx, `SELECT DISTINCT tenant FROM onlinestock_reservations
		WHERE status = 'open' AND deadline_ns <= $1 AND tenant > $2 AND starts_with(tenant, $3)
		ORDER BY tenant LIMIT $4`, clampNanos(now), after, t.prefix, pageLimit(limit))
}

// List implements [worker.Tenants]: every tenant that has written
// anything, in name order.
func (t *Tenants) List(ctx context.Context, after string, limit int) ([]string, error) {
	return t.names(ctx, `SELECT tenant FROM onlinestock_setup
		WHERE tenant > $1 AND starts_with(tenant, $2) ORDER BY tenant LIMIT $3`, after, t.prefix, pageLimit(limit))
}

func pageLimit(limit int) int {
	if limit <= 0 {
		return 1000
	}
	return limit
}

func (t *Tenants) names(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := t.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// Settle implements [worker.Tenants]. In one short transaction it
// takes the tenant's pending lock exclusively, which waits for the
// transactions committing events of the tenant at that moment (they hold
// it shared from just before their events until they commit), then
// removes the tenant's mark if no event waits for a number and each
// consumer's cursor is at the last number given out. A transaction that
// commits events later marks the tenant again. Like [Store.SetCursor] it
// commits without waiting for the disk: a mark a crash brings back only
// makes a Worker look at the tenant once more.
func (t *Tenants) Settle(ctx context.Context, tenant string, consumers []string) (bool, error) {
	return settle(ctx, t.pool, t.citus, tenant, consumers)
}

// Settle is [Tenants.Settle] for the Store's tenant. A Worker over one
// Service settles its Store this way, so that the next commit of events
// notifies its listener ([Store.Listen]) again.
func (s *Store) Settle(ctx context.Context, consumers []string) (bool, error) {
	return settle(ctx, s.pool, s.citus, s.cfg.Tenant, consumers)
}

func settle(ctx context.Context, pool *pgxpool.Pool, citus bool, tenant string, consumers []string) (bool, error) {
	if consumers == nil {
		consumers = []string{}
	}
	var marked bool
	err := runLazy(ctx, pool, citus, func(b *pgx.Batch) {
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, $2))`, tenant, seedPending)
		b.Queue(sqlSettle, tenant, consumers)
		b.Queue(`SELECT EXISTS (SELECT 1 FROM onlinestock_pending WHERE tenant = $1)`, tenant)
	}, func(br pgx.BatchResults) error {
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return br.QueryRow().Scan(&marked)
	})
	return !marked, err
}

// sqlSettle deletes tenant $1's pending mark if none of its events waits
// for a number and each consumer of $2 has acknowledged the last number
// given out (one never seen has acknowledged nothing). It looks for an
// unnumbered event as the numbering does, the first in the order of their
// index, LIMIT 1 (a NOT EXISTS would let the planner join every event),
// and each consumer's cursor by its key.
const sqlSettle = `DELETE FROM onlinestock_pending p WHERE p.tenant = $1
	AND (SELECT e.pending_id FROM onlinestock_events e WHERE e.tenant = $1 AND e.seq IS NULL
		ORDER BY e.pending_id, e.pending_ord LIMIT 1) IS NULL
	AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) AS k(consumer)
		WHERE coalesce((SELECT c.seq FROM onlinestock_cursors c WHERE c.tenant = $1 AND c.consumer = k.consumer), 0)
			< (SELECT n.last_seq FROM onlinestock_event_counter n WHERE n.tenant = $1))`

// Listen implements [worker.Listener]. It opens a connection of its
// own, with the pool's settings but outside the pool, listens there, and
// hands wake each tenant that a transaction notifies when it commits
// events while the tenant has nothing pending. It returns when ctx ends or
// the connection fails, and closes the connection.
func (t *Tenants) Listen(ctx context.Context, listening func(), wake func(tenant string)) error {
	return listen(ctx, t.pool, listening, func(tenant string) {
		if strings.HasPrefix(tenant, t.prefix) {
			wake(tenant)
		}
	})
}

// Listen implements [worker.Listener] for the Store's tenant, as
// [Tenants.Listen] does for every tenant: a Worker over one Service is
// woken at once when the Store commits events while it had nothing
// pending (since the Worker last settled it, [Store.Settle]). The Stores
// of one pool share one listening connection, outside the pool.
func (s *Store) Listen(ctx context.Context, listening func(), wake func(tenant string)) error {
	sub := &subscriber{tenant: s.cfg.Tenant, wake: wake, live: make(chan struct{}), failed: make(chan error, 1)}
	h := subscribe(s.pool, sub)
	defer h.leave(sub)
	live := sub.live
	for {
		select {
		case <-live:
			if listening != nil {
				listening()
			}
			live = nil
		case err := <-sub.failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// listen listens for the notifications of commits on a connection of its
// own and hands wake the tenant of each, among the tenants of the
// connection's schema.
func listen(ctx context.Context, pool *pgxpool.Pool, listening func(), wake func(tenant string)) error {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return connectionError(ctx, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return interpretError(ctx, err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel}.Sanitize()); err != nil {
		return interpretError(ctx, err)
	}
	if listening != nil {
		listening()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return interpretError(ctx, err)
		}
		// Tenants of other schemas of the database are not this one's.
		if tenant, ok := strings.CutPrefix(n.Payload, schema+idSeparator); ok {
			wake(tenant)
		}
	}
}

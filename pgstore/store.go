package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
)

var _ onlinestock.Store = (*Store)(nil)

// Config configures a [Store].
type Config struct {
	// Tenant names the retailer whose data the Store reads and writes.
	// Required: non-empty, at most [onlinestock.MaxIDBytes] bytes, valid
	// UTF-8, no control characters. Stores with different tenants share a
	// database without seeing each other's data.
	Tenant string

	// MaxRetries is how many times [Store.Update] runs its function again
	// after a serialization failure or a deadlock. Zero means
	// [DefaultMaxRetries]; a negative value turns retries off.
	MaxRetries int

	// KeySweepEvery makes every KeySweepEvery-th committed transaction that
	// claimed idempotency keys also delete up to [KeySweepBatch] expired
	// keys of the tenant, after its commit. Zero means
	// [DefaultKeySweepEvery]; a negative value turns the sweep off.
	KeySweepEvery int
}

// Defaults for the zero values of [Config].
const (
	DefaultMaxRetries    = 10
	DefaultKeySweepEvery = 64
	// KeySweepBatch is the most expired keys one sweep deletes.
	KeySweepBatch = 1000
)

func (c Config) withDefaults() Config {
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	c.MaxRetries = max(c.MaxRetries, 0)
	if c.KeySweepEvery == 0 {
		c.KeySweepEvery = DefaultKeySweepEvery
	}
	return c
}

func (c Config) validate() error {
	t := c.Tenant
	switch {
	case t == "":
		return fmt.Errorf("pgstore: Config.Tenant: empty: %w", onlinestock.ErrInvalid)
	case len(t) > onlinestock.MaxIDBytes:
		return fmt.Errorf("pgstore: Config.Tenant: %d bytes, longer than %d: %w", len(t), onlinestock.MaxIDBytes, onlinestock.ErrInvalid)
	case !utf8.ValidString(t):
		return fmt.Errorf("pgstore: Config.Tenant: invalid UTF-8: %w", onlinestock.ErrInvalid)
	case strings.ContainsFunc(t, unicode.IsControl):
		return fmt.Errorf("pgstore: Config.Tenant: control character: %w", onlinestock.ErrInvalid)
	}
	return nil
}

// Store is the PostgreSQL [onlinestock.Store] of one tenant. It is safe for
// concurrent use, and any number of Stores, in any number of processes, may
// share a database and a tenant.
type Store struct {
	pool *pgxpool.Pool
	cfg  Config

	citus       bool        // the database is a Citus cluster
	setupExists atomic.Bool // the tenant's setup row is known to exist
	cache       atomic.Pointer[setupCache]
	claims      atomic.Uint64 // committed transactions that claimed keys, for the sweep
	pruned      atomic.Uint64 // every event up to this seq is deleted (see Prune)
}

// New returns the Store of cfg.Tenant over pool. The pool is the caller's to
// close, after the Store is no longer used.
//
// New reads the schema version, waiting at most [SchemaCheckTimeout]: when
// the database lacks a migration this build needs it fails with an error
// matching [ErrSchemaOutdated] that names the migrations to run ([Migrate],
// or "onlinestock migrate"), and when PostgreSQL cannot be reached it says
// so, wrapping the driver's [pgconn.ConnectError].
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgstore: nil pool: %w", onlinestock.ErrInvalid)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	citus, err := checkDatabase(pool)
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool, cfg: cfg.withDefaults(), citus: citus}, nil
}

// checkDatabase refuses a Citus worker node and a schema this build cannot
// use, waiting at most SchemaCheckTimeout, and reports whether the
// database is a Citus cluster.
func checkDatabase(pool *pgxpool.Pool) (citus bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), SchemaCheckTimeout)
	defer cancel()
	if citus, err = checkNode(ctx, pool); err != nil {
		return false, err
	}
	return citus, CheckSchema(ctx, pool)
}

// SchemaCheckTimeout bounds the schema check of [New].
const SchemaCheckTimeout = 30 * time.Second

// setupCache is the tenant's setup, methods and catalog as they were at a version
// of its setup row (see DESIGN.md). A transaction that reads the version
// it holds is spared reading and decoding them again.
type setupCache struct {
	version int64
	setup   *onlinestock.Setup
	methods []onlinestock.Method // nil: not read at this version
	catalog *onlinestock.Catalog // nil: not read at this version
}

// Tenant returns the tenant the Store is scoped to.
func (s *Store) Tenant() string { return s.cfg.Tenant }

// Update implements [onlinestock.Store]. It runs fn in one READ COMMITTED
// transaction whose reads take the locks the Tx contract describes, and
// flushes fn's buffered writes and the COMMIT in one round trip. When the
// database aborts the transaction with a serialization failure or a
// deadlock, fn runs again in a new transaction, up to Config.MaxRetries
// times, after a short randomized backoff.
func (s *Store) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	backoff := time.Millisecond
	for attempt := 0; ; attempt++ {
		err := s.run(ctx, fn, false)
		if err == nil || !retryable(err) || attempt >= s.cfg.MaxRetries || ctx.Err() != nil {
			return err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 64*time.Millisecond)
	}
}

// View implements [onlinestock.Store]. It runs fn in one REPEATABLE READ,
// READ ONLY transaction, which takes no locks and sees one snapshot.
func (s *Store) View(ctx context.Context, fn func(onlinestock.Tx) error) error {
	return s.run(ctx, fn, true)
}

func (s *Store) run(ctx context.Context, fn func(onlinestock.Tx) error, readOnly bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return interpretError(ctx, err)
	}
	defer conn.Release() // a connection left inside a transaction is destroyed, not reused
	t := &tx{s: s, conn: conn, readOnly: readOnly}
	err = fn(t)
	if t.deferred {
		// fn decided on a cached setup whose lock it never took: check it
		// now, in a round trip of its own, before its outcome counts (and
		// never in the COMMIT's batch, which would commit whatever the
		// check found).
		if cerr := t.takeDeferredSetup(ctx); cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		t.rollback(ctx)
		return err
	}
	if readOnly {
		return t.finish(ctx)
	}
	return t.commit(ctx)
}

// EventsSince implements [onlinestock.Store]. It first numbers the events
// committed since the last numbering (see DESIGN.md), then reads
// by sequence number, in one round trip.
func (s *Store) EventsSince(ctx context.Context, after uint64, limit int) ([]onlinestock.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	out := []onlinestock.Event{}
	if after >= math.MaxInt64 {
		return out, ctx.Err()
	}
	err := s.readNumbered(ctx, eventLog, limit, func(rows pgx.Rows) error {
		var e onlinestock.Event
		var seq int64
		var at *int64
		var kind, beforeLabel, afterLabel string
		var orderDetail []byte
		if err := rows.Scan(&seq, &kind, &at, &e.Product, &e.Before.Quantity, &beforeLabel,
			&e.After.Quantity, &afterLabel, &e.Outlet, &e.Previous, &e.Methods, &orderDetail); err != nil {
			return interpretError(ctx, err)
		}
		if err := decodeOrderDetail(orderDetail, &e); err != nil {
			return fmt.Errorf("pgstore: event %d: %w", seq, err)
		}
		e.Seq, e.Kind, e.Time = uint64(seq), onlinestock.EventKind(kind), fromNanos(at)
		e.Before.Label, e.After.Label = onlinestock.Label(beforeLabel), onlinestock.Label(afterLabel)
		out = append(out, e)
		return nil
	}, sqlEventsSince, s.cfg.Tenant, int64(after), limit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readNumbered numbers a chunk of l's rows committed since the last
// numbering (see DESIGN.md), then runs query with args and hands each row
// it returns to scan, all in one round trip.
func (s *Store) readNumbered(ctx context.Context, l numberedLog, limit int, scan func(pgx.Rows) error, query string, args ...any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return interpretError(ctx, err)
	}
	defer conn.Release() // a connection left inside a transaction is destroyed, not reused
	b := &pgx.Batch{}
	numbering := s.queueNumbering(b, l, limit)
	// After the COMMIT, in a statement (and snapshot) of its own: it sees
	// every number given out so far, and only those.
	b.Queue(query, args...)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range numbering {
		if _, err := br.Exec(); err != nil {
			br.Close()
			rollbackConn(ctx, conn)
			return interpretError(ctx, err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		return interpretError(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return interpretError(ctx, err)
	}
	rows.Close()
	if err := br.Close(); err != nil {
		return interpretError(ctx, err)
	}
	return nil
}

// sqlEventsSince reads numbered events in order, from the index of
// numbered events, whose order the ORDER BY … LIMIT follows.
const sqlEventsSince = `SELECT seq, kind, time_ns, product, before_quantity, before_label,
		after_quantity, after_label, outlet, previous, methods, order_detail
		FROM onlinestock_events WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3`

// Bounds of the events one numbering transaction numbers.
const (
	minNumberChunk = 1_000
	maxNumberChunk = 10_000
)

// numberedLog is a table numbered after commit, the outbox or the stock ledger,
// and what numbering it takes: the lock that serializes its numberings
// and the statements of [Store.queueNumbering].
type numberedLog struct {
	seed          int64  // of the tenant's advisory lock for numbering
	createCounter string // see numberingStatements
	number        string
}

var (
	eventLog    = numberingStatements("onlinestock_events", "onlinestock_event_counter", seedSequence)
	movementLog = numberingStatements("onlinestock_movements", "onlinestock_movement_counter", seedLedger)
)

// Numbering statements of the outbox and of the stock ledger, by name for
// the plan and shard tests.
var (
	sqlCreateCounter       = eventLog.createCounter
	sqlNumberEvents        = eventLog.number
	sqlCreateLedgerCounter = movementLog.createCounter
	sqlNumberMovements     = movementLog.number
)

// queueNumbering queues the short transaction that numbers the tenant's
// committed, unnumbered rows of l: under a transaction-scoped advisory lock
// on the tenant, it reads the tenant's last sequence number n and gives the
// rows n+1, n+2, … in the order of their pending keys, and records the new
// last number. The UPDATE is a statement of its own, after the one that
// waits for the lock, so under READ COMMITTED its snapshot is taken once the
// lock is held and sees everything the previous numbering committed. Before
// it, the tenant's counter row is created if rows wait for a number and
// there is none yet, so that the numbering itself is an UPDATE of that row,
// which a distributed database runs on the tenant's shard. When there is
// nothing to number it writes nothing, and its COMMIT does not wait for a
// disk flush.
//
// It numbers a bounded chunk of about limit rows, never fewer than
// minNumberChunk nor more than maxNumberChunk (but always whole
// transactions, so one transaction's rows stay consecutive), so its cost
// and the time it holds the lock do not grow with the backlog: every call
// makes progress, and a backlog is worked off in linear time.
//
// It returns how many statements it queued.
func (s *Store) queueNumbering(b *pgx.Batch, l numberedLog, limit int) int {
	chunk := min(max(limit, minNumberChunk), maxNumberChunk)
	queued := len(b.QueuedQueries)
	b.Queue(beginUpdate)
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, $2))`, s.cfg.Tenant, l.seed)
	b.Queue(sqlNumberingPlan)
	if s.citus {
		for _, set := range citusNumberingPlan {
			b.Queue(set)
		}
	}
	b.Queue(l.createCounter, s.cfg.Tenant)
	b.Queue(l.number, s.cfg.Tenant, chunk)
	b.Queue("COMMIT")
	return len(b.QueuedQueries) - queued
}

// sqlNumberingPlan turns off, for the rest of the numbering transaction,
// the plans that would read every row of the table to number a chunk: a
// sequential scan, and the hash and merge joins that need one.
const sqlNumberingPlan = `SELECT set_config('enable_seqscan', 'off', true),
	set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`

// citusNumberingPlan are the settings of sqlNumberingPlan as SET LOCAL
// commands, which Citus passes on to the worker that plans the numbering
// (it does not pass on set_config).
var citusNumberingPlan = []string{sqlPropagateSettings,
	`SET LOCAL enable_seqscan = off`, `SET LOCAL enable_hashjoin = off`, `SET LOCAL enable_mergejoin = off`}

// numberingStatements returns the numbering of table, whose last numbers
// counter keeps, under the lock of seed:
//
// createCounter creates the counter row of tenant $1 at zero when the
// tenant has an unnumbered row and no counter row. It selects the tenant
// from a row of its own, so that a distributed database inserts on the
// tenant's shard; an existing counter row is neither written nor locked.
// Its ORDER BY is the order of the index of unnumbered rows, which it then
// reads one entry of.
//
// number numbers the first $2 unnumbered rows of tenant $1 in pending-key
// order, and the rest of the last one's transaction. Its shape keeps its
// plan linear whatever the statistics say (they usually under-count the
// unnumbered rows, which come and go between two runs of autovacuum): the
// chunk is read in order from the index of unnumbered rows, a LIMIT
// reading no further than it needs, the rest of the last transaction by
// its pending key, and each row is then updated through its row ID. The
// UPDATE names no condition an index could serve (the rows are unnumbered,
// and only numbering, under the lock this holds, changes that), and
// sqlNumberingPlan, run first in the same transaction, leaves the planner
// no way to join the chunk to the table but a nested loop over the chunk,
// so it has no path but the row IDs. It ends with an UPDATE of the counter
// row createCounter made sure of, not an upsert, and every table it reads
// is filtered by the tenant, so a distributed database runs the whole
// statement on the tenant's shard.
func numberingStatements(table, counter string, seed int64) numberedLog {
	return numberedLog{
		seed: seed,
		createCounter: `INSERT INTO ` + counter + ` (tenant, last_seq)
	SELECT r.tenant, 0 FROM ` + table + ` r WHERE r.tenant = $1 AND r.seq IS NULL
	ORDER BY r.pending_id, r.pending_ord LIMIT 1
	ON CONFLICT (tenant) DO NOTHING`,
		number: `WITH head AS MATERIALIZED (
		SELECT ctid AS row, pending_id AS id, pending_ord AS ord FROM ` + table + `
		WHERE tenant = $1 AND seq IS NULL ORDER BY pending_id, pending_ord LIMIT $2
	), tail AS MATERIALIZED (
		SELECT r.row, r.id, r.ord FROM (SELECT id, ord FROM head ORDER BY id DESC, ord DESC LIMIT 1) l
		CROSS JOIN LATERAL (SELECT ctid AS row, pending_id AS id, pending_ord AS ord FROM ` + table + `
			WHERE tenant = $1 AND seq IS NULL AND pending_id = l.id AND pending_ord > l.ord OFFSET 0) r
	), chunk AS MATERIALIZED (
		SELECT row, row_number() OVER (ORDER BY id, ord) AS n
		FROM (SELECT * FROM head UNION ALL SELECT * FROM tail) c
	), last AS (
		SELECT last_seq AS seq FROM ` + counter + ` WHERE tenant = $1
	), done AS (
		UPDATE ` + table + ` r SET seq = last.seq + chunk.n FROM chunk, last
		WHERE r.tenant = $1 AND r.ctid = chunk.row
		RETURNING r.seq
	)
	UPDATE ` + counter + ` c SET last_seq = d.seq
	FROM (SELECT max(seq) AS seq FROM done) d WHERE c.tenant = $1 AND d.seq IS NOT NULL`,
	}
}

// rollbackConn ends a transaction a failed batch left open on conn; if that
// fails too, the pool destroys the connection when it is released.
func rollbackConn(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = conn.Exec(rctx, "ROLLBACK")
}

// Cursor implements [onlinestock.Store].
func (s *Store) Cursor(ctx context.Context, consumer string) (uint64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM onlinestock_cursors WHERE tenant = $1 AND consumer = $2`,
		s.cfg.Tenant, consumer).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, interpretError(ctx, err)
	}
	return uint64(seq), nil
}

// SetCursor implements [onlinestock.Store]. The cursor only moves forward,
// also when several processes set it at once. Sequence numbers above
// math.MaxInt64 are ErrInvalid.
//
// It commits without waiting for the disk (synchronous_commit off), as a
// cursor is set after every batch a consumer acknowledges: should the
// database server crash, it may come back with a cursor a few batches
// back, and those events are delivered again, which at-least-once
// delivery allows. A later durable commit (a numbering, a retention
// batch, any Service call) makes it durable too, so retention never
// prunes past a cursor that could be lost.
func (s *Store) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	if seq > math.MaxInt64 {
		return fmt.Errorf("pgstore: cursor %d out of range: %w", seq, onlinestock.ErrInvalid)
	}
	return s.exec(ctx, true, `INSERT INTO onlinestock_cursors AS c (tenant, consumer, seq) VALUES ($1, $2, $3)
		ON CONFLICT (tenant, consumer) DO UPDATE SET seq = excluded.seq WHERE c.seq < excluded.seq`,
		s.cfg.Tenant, consumer, int64(seq))
}

// exec runs one statement in a transaction of its own, in one round trip;
// with lazy, the COMMIT does not wait for the disk.
func (s *Store) exec(ctx context.Context, lazy bool, sql string, args ...any) error {
	if !lazy {
		_, err := s.pool.Exec(ctx, sql, args...)
		return interpretError(ctx, err)
	}
	return runLazy(ctx, s.pool, s.citus, func(b *pgx.Batch) { b.Queue(sql, args...) }, nil)
}

// runLazy runs the statements queue queues in one transaction that
// commits without waiting for the disk, in one round trip, and hands the
// results of the statements to read, if any (which must read them all).
// On a distributed database the setting is passed on to the worker that
// commits.
func runLazy(ctx context.Context, pool *pgxpool.Pool, citus bool, queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return interpretError(ctx, err)
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(beginUpdate)
	if citus {
		b.Queue(sqlPropagateSettings)
	}
	b.Queue(sqlLazyCommit)
	head := len(b.QueuedQueries)
	queue(b)
	n := len(b.QueuedQueries) - head
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	for range head {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if err == nil {
		if read != nil {
			err = read(br)
		} else {
			for range n {
				if _, err = br.Exec(); err != nil {
					break
				}
			}
		}
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollbackConn(ctx, conn)
		return interpretError(ctx, err)
	}
	return nil
}

// sqlLazyCommit makes the transaction's COMMIT return without waiting for
// its record to reach the disk.
const sqlLazyCommit = `SET LOCAL synchronous_commit = off`

// PutDeadLetter implements [onlinestock.Store]. The reason is stored as
// bytes, so any string, valid UTF-8 or not, NUL included, reads back as it
// was given.
func (s *Store) PutDeadLetter(ctx context.Context, consumer string, d onlinestock.DeadLetter) error {
	if d.Seq > math.MaxInt64 {
		return fmt.Errorf("pgstore: dead letter seq %d out of range: %w", d.Seq, onlinestock.ErrInvalid)
	}
	at, err := toNanos(d.Time)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO onlinestock_dead_letters (tenant, consumer, seq, reason, time_ns) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant, consumer, seq) DO UPDATE SET reason = excluded.reason, time_ns = excluded.time_ns`,
		s.cfg.Tenant, consumer, int64(d.Seq), []byte(d.Reason), at)
	return interpretError(ctx, err)
}

// DeadLetters implements [onlinestock.Store].
func (s *Store) DeadLetters(ctx context.Context, consumer string) ([]onlinestock.DeadLetter, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, reason, time_ns FROM onlinestock_dead_letters
		WHERE tenant = $1 AND consumer = $2 ORDER BY seq`, s.cfg.Tenant, consumer)
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	defer rows.Close()
	out := []onlinestock.DeadLetter{}
	for rows.Next() {
		var d onlinestock.DeadLetter
		var seq int64
		var at *int64
		var reason []byte
		if err := rows.Scan(&seq, &reason, &at); err != nil {
			return nil, interpretError(ctx, err)
		}
		d.Seq, d.Reason, d.Time = uint64(seq), string(reason), fromNanos(at)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return out, nil
}

// DeleteDeadLetter implements [onlinestock.Store].
func (s *Store) DeleteDeadLetter(ctx context.Context, consumer string, seq uint64) error {
	if seq > math.MaxInt64 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM onlinestock_dead_letters WHERE tenant = $1 AND consumer = $2 AND seq = $3`,
		s.cfg.Tenant, consumer, int64(seq))
	return interpretError(ctx, err)
}

// PostgreSQL error codes the Store treats specially.
const (
	codeSerializationFailure     = "40001"
	codeDeadlockDetected         = "40P01"
	codeUniqueViolation          = "23505"
	codeCharacterNotInRepertoire = "22021"
	codeUntranslatableCharacter  = "22P05"
	codeProgramLimitExceeded     = "54000"
	codeQueryCanceled            = "57014"
)

// interpretError maps a driver error to what callers of a Store test for:
// the context's error when ctx is done, [onlinestock.ErrInvalid] for values
// PostgreSQL cannot store, [onlinestock.ErrConflict] for a unique
// violation. The driver error stays in the chain, so a serialization failure
// or deadlock is still recognized for a retry.
func interpretError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("pgstore: %w (%w)", ctxErr, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeSerializationFailure, codeDeadlockDetected:
			return fmt.Errorf("pgstore: transaction aborted, retry: %w", err)
		case codeUniqueViolation:
			return fmt.Errorf("pgstore: %w: %w", onlinestock.ErrConflict, err)
		case codeCharacterNotInRepertoire, codeUntranslatableCharacter, codeProgramLimitExceeded:
			return fmt.Errorf("pgstore: %w: %w", onlinestock.ErrInvalid, err)
		case codeQueryCanceled:
			return fmt.Errorf("pgstore: %w: %w", context.Canceled, err)
		}
	}
	if strings.HasPrefix(err.Error(), "pgstore:") {
		return err
	}
	return fmt.Errorf("pgstore: %w", err)
}

// retryable reports whether err aborted a transaction that may succeed when
// run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, errStaleSetup) ||
		errors.As(err, &pgErr) && (pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected)
}

// Times are stored as Unix nanoseconds so they round-trip exactly; the zero
// time is NULL.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func toNanos(t time.Time) (*int64, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("pgstore: time %v outside the years 1678 to 2262: %w", t, onlinestock.ErrInvalid)
	}
	n := t.UnixNano()
	return &n, nil
}

// clampNanos is toNanos for a bound in a comparison, where clamping keeps
// the comparison's result.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n)
}

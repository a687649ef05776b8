package pgstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
)

var errReadOnly = errors.New("pgstore: write in a read-only transaction")

const (
	beginUpdate = `BEGIN ISOLATION LEVEL READ COMMITTED`
	beginView   = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	// Seeds of the advisory-lock hashes, one per kind of locked name.
	seedOrder    = 1
	seedProduct  = 2
	seedSequence = 3 // the tenant's event numbering
	seedSetup    = 4 // the tenant's setup: shared by every writer, exclusive to setup changes
	seedLedger   = 5 // the tenant's movement numbering
	seedPending  = 6 // the tenant's pending mark: shared by writers of events, exclusive to Tenants.Settle
)

// idSeparator joins a tenant and an ID into one lock name, and a method
// list into one text: IDs never contain control characters.
const idSeparator = "\x1f"

// tx is one transaction on one pooled connection. Its BEGIN is sent with its
// first query and its writes are buffered, then sent with the COMMIT in one
// batch.
type tx struct {
	s        *Store
	conn     *pgxpool.Conn
	readOnly bool
	begun    bool
	// xid is the transaction's ID, as text, read with its BEGIN in an
	// Update: if the connection is lost during the COMMIT, the database can
	// still be asked whether it committed.
	xid string

	setup     *onlinestock.Setup
	catalog   *onlinestock.Catalog // read by Catalog
	exclusive bool                 // LockSetup taken
	// deferred says Setup returned the cached setup without its shared
	// lock: the transaction's next round trip takes the lock and checks the
	// version first (deferredRead, queued by batch and scanned by send).
	deferred     bool
	deferredRead *setupRead
	createdSetup bool  // this transaction inserted the setup row
	version      int64 // the setup row's version, once read: see setupCache
	versionKnown bool
	// placeholders are the product rows Products inserted to lock products
	// that did not exist; commit deletes those that got no level.
	placeholders map[string]struct{}
	created      int        // placeholders that got a level: new products
	read         [][]string // the sorted ID lists Products was called with

	outlets       []onlinestock.Outlet
	registers     []onlinestock.Register
	orderRegister *string
	methods       []onlinestock.Method
	deleted       []string
	bundles       []onlinestock.Bundle
	unbundled     []string // bundles deleted
	backorders    []onlinestock.Backorder
	unbackordered []string // backorder policies deleted
	levels        []onlinestock.Level
	enabled       []string
	disabled      []string
	claimed       bool
	claimBefore   time.Time
	events        []onlinestock.Event
	movements     []onlinestock.Movement
	reservations  []onlinestock.Reservation
}

// batch returns a batch that starts the transaction if it has not started,
// and takes the setup lock Setup deferred, if any.
func (t *tx) batch() *pgx.Batch {
	b := &pgx.Batch{}
	if !t.begun {
		if t.readOnly {
			b.Queue(beginView)
		} else {
			b.Queue(beginUpdate)
			b.Queue(`SELECT pg_current_xact_id()::text`)
		}
	}
	if t.deferred && t.deferredRead == nil {
		t.deferredRead = t.queueSetup(b, false)
	}
	return b
}

// send sends b and consumes the result of the BEGIN it may start with, and
// of the setup read batch queued for Setup. It fails with errStaleSetup if
// the setup changed since the cached version Setup returned.
func (t *tx) send(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	br := t.conn.SendBatch(ctx, b)
	if !t.begun {
		_, err := br.Exec()
		if err == nil && !t.readOnly {
			err = br.QueryRow().Scan(&t.xid)
		}
		if err != nil {
			br.Close()
			return nil, interpretError(ctx, err)
		}
		t.begun = true
	}
	if read := t.deferredRead; read != nil {
		t.deferred, t.deferredRead = false, nil
		returned := t.version
		if err := read.scan(ctx, br); err != nil {
			br.Close()
			return nil, err
		}
		if t.version != returned {
			br.Close()
			return nil, errStaleSetup
		}
	}
	return br, nil
}

// errStaleSetup aborts a transaction whose Setup returned a cached setup
// that the lock, once taken, found changed: Update runs it again.
var errStaleSetup = errors.New("pgstore: the setup changed since it was cached: transaction run again")

// takeDeferredSetup takes the setup lock Setup deferred, in a round trip
// of its own, for a transaction about to commit without another read.
func (t *tx) takeDeferredSetup(ctx context.Context) error {
	if !t.deferred {
		return nil
	}
	br, err := t.send(ctx, t.batch())
	if err != nil {
		return err
	}
	if err := br.Close(); err != nil {
		return interpretError(ctx, err)
	}
	return nil
}

func (t *tx) tenant() string { return t.s.cfg.Tenant }

func (t *tx) rollback(ctx context.Context) {
	if !t.begun || t.conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	// A cancelled ctx must not leave the transaction open on a connection
	// the pool would reuse; if this fails the pool destroys the connection.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = t.conn.Exec(rctx, "ROLLBACK")
}

// finish ends a read-only transaction.
func (t *tx) finish(ctx context.Context) error {
	if !t.begun {
		return nil
	}
	if _, err := t.conn.Exec(ctx, "COMMIT"); err != nil {
		t.rollback(ctx)
		return interpretError(ctx, err)
	}
	return nil
}

func (t *tx) writable() error {
	if t.readOnly {
		return errReadOnly
	}
	return nil
}

func (t *tx) Setup(ctx context.Context) (*onlinestock.Setup, error) {
	return t.readSetup(ctx, false)
}

func (t *tx) LockSetup(ctx context.Context) (*onlinestock.Setup, error) {
	return t.readSetup(ctx, true)
}

func (t *tx) readSetup(ctx context.Context, exclusive bool) (*onlinestock.Setup, error) {
	if t.setup != nil && (t.exclusive || !exclusive || t.readOnly) {
		return t.setup, nil
	}
	// In an Update, the shared lock and the check of the cached version
	// can wait for the transaction's next round trip: the Service reads
	// the setup first of all, so the next round trip takes the next lock,
	// and the setup lock comes first in it. A Reserve thus costs no round
	// trip of its own for the setup.
	if c := t.s.cache.Load(); !exclusive && !t.readOnly && t.setup == nil && c != nil {
		t.setup, t.version, t.versionKnown, t.deferred = c.setup, c.version, true, true
		return t.setup, nil
	}
	t.deferred = false // an exclusive lock instead of the shared one deferred
	b := t.batch()
	read := t.queueSetup(b, exclusive)
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	if err := read.scan(ctx, br); err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return t.setup, nil
}

// setupRead is a read of the setup queued in a batch: [tx.queueSetup]
// queues its statements, scan reads their results, in the order queued,
// and makes the setup the transaction's.
type setupRead struct {
	t         *tx
	exclusive bool
	create    bool        // the setup row is inserted if missing
	cached    *setupCache // the cache when the read was queued
}

// queueSetup queues, in b, the statements that read the setup under the
// setup lock, shared or exclusive, so that another read can share their
// round trip.
func (t *tx) queueSetup(b *pgx.Batch, exclusive bool) *setupRead {
	read := &setupRead{t: t, exclusive: exclusive, create: !t.readOnly && !t.createdSetup && !t.s.setupExists.Load()}
	if !t.readOnly {
		// The setup lock is an advisory lock on the tenant, not a row lock
		// on its setup row: many transactions sharing a row lock would make
		// PostgreSQL create a multixact for each new sharer, and every
		// writer of the tenant shares it.
		lock := `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, $2))`
		if exclusive {
			lock = `SELECT pg_advisory_xact_lock(hashtextextended($1, $2))`
		}
		b.Queue(lock, t.tenant(), seedSetup)
		if read.create {
			b.Queue(sqlCreateSetup, t.tenant()) // on first use
		}
	}
	// The outlets and registers are read only when the cache does not hold
	// the setup at the version read: each statement is then empty.
	read.cached = t.s.cache.Load()
	cachedVersion := int64(-1)
	if read.cached != nil {
		cachedVersion = read.cached.version
	}
	b.Queue(sqlReadSetup, t.tenant())
	// Read after the lock is granted, so under READ COMMITTED these see the
	// state the last setup writer committed.
	b.Queue(sqlReadOutlets, t.tenant(), cachedVersion)
	b.Queue(sqlReadRegisters, t.tenant(), cachedVersion)
	return read
}

// scan reads the results of the statements queueSetup queued.
func (r *setupRead) scan(ctx context.Context, br pgx.BatchResults) error {
	t := r.t
	if !t.readOnly {
		if _, err := br.Exec(); err != nil {
			return interpretError(ctx, err)
		}
	}
	if r.create {
		if _, err := br.Exec(); err != nil {
			return interpretError(ctx, err)
		}
	}
	setup := &onlinestock.Setup{}
	var version int64
	err := br.QueryRow().Scan(&setup.OrderRegister, &version)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && t.readOnly:
		// A tenant never written: the empty setup.
		version = -2 // no version: matches no cache
	case err != nil:
		return interpretError(ctx, err)
	case r.create:
		t.createdSetup = true // known to exist once this transaction commits
	}
	rows, err := br.Query()
	if err != nil {
		return interpretError(ctx, err)
	}
	for rows.Next() {
		var o onlinestock.Outlet
		var rank int64
		if err := rows.Scan(&o.ID, &o.Name, &o.Connected, &o.Buffer, &rank); err != nil {
			rows.Close()
			return interpretError(ctx, err)
		}
		o.Rank = int(rank)
		setup.Outlets = append(setup.Outlets, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpretError(ctx, err)
	}
	rows, err = br.Query()
	if err != nil {
		return interpretError(ctx, err)
	}
	for rows.Next() {
		var reg onlinestock.Register
		if err := rows.Scan(&reg.ID, &reg.Outlet, &reg.Name); err != nil {
			rows.Close()
			return interpretError(ctx, err)
		}
		setup.Registers = append(setup.Registers, reg)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpretError(ctx, err)
	}
	if version >= 0 {
		t.version, t.versionKnown = version, true
		if r.cached != nil && r.cached.version == version {
			setup = r.cached.setup
		} else {
			t.s.cache.Store(&setupCache{version: version, setup: setup})
		}
	}
	t.setup = setup
	t.exclusive = t.exclusive || (r.exclusive && !t.readOnly)
	return nil
}

// Catalog implements [onlinestock.Tx]. The catalog changes only under the
// exclusive setup lock, with the setup's version: at the version this
// transaction read, under the lock it holds (or in its snapshot), it is
// the cached one; else it is read, and cached at that version.
func (t *tx) Catalog(ctx context.Context) (*onlinestock.Catalog, error) {
	if t.catalog != nil {
		return t.catalog, nil
	}
	if t.setup == nil {
		if _, err := t.readSetup(ctx, false); err != nil {
			return nil, err
		}
	}
	c := t.s.cache.Load()
	if t.versionKnown && c != nil && c.version == t.version && c.catalog != nil {
		t.catalog = c.catalog
		return t.catalog, nil
	}
	b := t.batch()
	b.Queue(sqlCatalogBundles, t.tenant())
	b.Queue(sqlCatalogBackorders, t.tenant())
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	cat, err := scanCatalog(br)
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	if err := br.Close(); err != nil {
		return nil, interpretError(ctx, err)
	}
	t.catalog = cat
	if t.versionKnown && c != nil && c.version == t.version {
		t.s.cache.CompareAndSwap(c, &setupCache{version: c.version, setup: c.setup, methods: c.methods, catalog: cat})
	}
	return cat, nil
}

// sqlCatalogBundles reads the components of every bundle of tenant $1,
// and sqlCatalogBackorders its backorder policies.
const (
	sqlCatalogBundles = `SELECT bundle, component, quantity FROM onlinestock_bundle_components
		WHERE tenant = $1 ORDER BY bundle, component`
	sqlCatalogBackorders = `SELECT product, backorder_limit, expected_ns, outlet FROM onlinestock_backorders
		WHERE tenant = $1 ORDER BY product`
)

// scanCatalog reads the results of sqlCatalogBundles and
// sqlCatalogBackorders.
func scanCatalog(br pgx.BatchResults) (*onlinestock.Catalog, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	var bundles []onlinestock.Bundle
	var bundle string
	var c onlinestock.Component
	_, err = pgx.ForEachRow(rows, []any{&bundle, &c.Product, &c.Quantity}, func() error {
		if n := len(bundles); n == 0 || bundles[n-1].ID != bundle {
			bundles = append(bundles, onlinestock.Bundle{ID: bundle})
		}
		b := &bundles[len(bundles)-1]
		b.Components = append(b.Components, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var policies []onlinestock.Backorder
	var p onlinestock.Backorder
	var expected *int64
	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	_, err = pgx.ForEachRow(rows, []any{&p.Product, &p.Limit, &expected, &p.Outlet}, func() error {
		p.Expected = fromNanos(expected)
		policies = append(policies, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return onlinestock.NewCatalog(bundles, policies), nil
}

func (t *tx) PutBundle(ctx context.Context, b onlinestock.Bundle) error {
	if err := t.writable(); err != nil {
		return err
	}
	b.Components = slices.Clone(b.Components)
	t.bundles = append(slices.DeleteFunc(t.bundles, func(x onlinestock.Bundle) bool { return x.ID == b.ID }), b)
	t.unbundled = slices.DeleteFunc(t.unbundled, func(id string) bool { return id == b.ID })
	return nil
}

func (t *tx) PutBackorder(ctx context.Context, b onlinestock.Backorder) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.backorders = append(slices.DeleteFunc(t.backorders, func(x onlinestock.Backorder) bool { return x.Product == b.Product }), b)
	t.unbackordered = slices.DeleteFunc(t.unbackordered, func(id string) bool { return id == b.Product })
	return nil
}

func (t *tx) DeleteBackorder(ctx context.Context, product string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.backorders = slices.DeleteFunc(t.backorders, func(b onlinestock.Backorder) bool { return b.Product == product })
	t.unbackordered = append(t.unbackordered, product)
	return nil
}

func (t *tx) DeleteBundle(ctx context.Context, id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.bundles = slices.DeleteFunc(t.bundles, func(b onlinestock.Bundle) bool { return b.ID == id })
	t.unbundled = append(t.unbundled, id)
	return nil
}

func (t *tx) PutOutlet(ctx context.Context, o onlinestock.Outlet) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.outlets = append(t.outlets, o)
	return nil
}

func (t *tx) PutRegister(ctx context.Context, r onlinestock.Register) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.registers = append(t.registers, r)
	return nil
}

func (t *tx) SetOrderRegister(ctx context.Context, register string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.orderRegister = &register
	return nil
}

func (t *tx) Methods(ctx context.Context) ([]onlinestock.Method, error) {
	// The methods change only under the exclusive setup lock, with the
	// version: at the version this transaction read, under the lock it
	// holds (or in its snapshot), they are the cached ones.
	c := t.s.cache.Load()
	if t.versionKnown && c != nil && c.version == t.version && c.methods != nil {
		return c.methods, nil
	}
	out, err := t.readMethods(ctx)
	if err != nil {
		return nil, err
	}
	if t.versionKnown && c != nil && c.version == t.version {
		methods := slices.Clip(out)
		if methods == nil {
			methods = []onlinestock.Method{} // read, and none
		}
		t.s.cache.CompareAndSwap(c, &setupCache{version: c.version, setup: c.setup, methods: methods, catalog: c.catalog})
	}
	return out, nil
}

func (t *tx) readMethods(ctx context.Context) ([]onlinestock.Method, error) {
	b := t.batch()
	b.Queue(`SELECT id, name, kind, outlet, rule FROM onlinestock_methods WHERE tenant = $1 ORDER BY id`, t.tenant())
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	defer rows.Close()
	var out []onlinestock.Method
	for rows.Next() {
		var m onlinestock.Method
		var kind, rule string
		if err := rows.Scan(&m.ID, &m.Name, &kind, &m.Outlet, &rule); err != nil {
			return nil, interpretError(ctx, err)
		}
		m.Kind, m.Rule = onlinestock.MethodKind(kind), onlinestock.Rule(rule)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return out, nil
}

func (t *tx) PutMethod(ctx context.Context, m onlinestock.Method) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.methods = append(t.methods, m)
	t.deleted = slices.DeleteFunc(t.deleted, func(id string) bool { return id == m.ID })
	return nil
}

func (t *tx) DeleteMethod(ctx context.Context, id string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.methods = slices.DeleteFunc(t.methods, func(m onlinestock.Method) bool { return m.ID == id })
	t.deleted = append(t.deleted, id)
	return nil
}

func (t *tx) Products(ctx context.Context, ids []string) ([]onlinestock.Product, error) {
	if len(ids) == 0 {
		return []onlinestock.Product{}, nil
	}
	b := t.batch()
	// No row locks in a View, nor under the exclusive setup lock: every
	// writer of products holds the setup lock shared, so it is excluded.
	lock := !t.readOnly && !t.exclusive
	ensured := false
	if lock {
		// Lock every product in ID order, in one pass: an existing row is
		// locked by the conflict (WHERE false locks without writing), a
		// missing one is inserted as a placeholder, whose uncommitted key
		// makes a concurrent transaction creating the same product wait for
		// this one. RETURNING lists the placeholders. Because existing and
		// new products are locked in the same order, transactions cannot
		// deadlock on products.
		ensured = t.queueEnsureSetup(b)
		b.Queue(sqlLockProducts, t.tenant(), ids)
	}
	// Read after the locks are granted, so under READ COMMITTED this sees
	// what the last writer of these products committed.
	t.queueProducts(b, ids)
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	if ensured {
		if _, err := br.Exec(); err != nil {
			return nil, interpretError(ctx, err)
		}
	}
	if lock {
		if err := t.scanPlaceholders(ctx, br); err != nil {
			return nil, err
		}
	}
	products, err := t.scanProducts(ctx, br)
	if err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, interpretError(ctx, err)
	}
	t.read = append(t.read, ids)
	return products, nil
}

// PeekProducts implements [onlinestock.Tx]: the read of Products, with no
// lock and no placeholder.
func (t *tx) PeekProducts(ctx context.Context, ids []string) ([]onlinestock.Product, error) {
	if len(ids) == 0 {
		return []onlinestock.Product{}, nil
	}
	b := t.batch()
	t.queueProducts(b, ids)
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	products, err := t.scanProducts(ctx, br)
	if err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return products, nil
}

// sqlLockProducts locks products $2 of tenant $1, in ID order, inserting
// the missing ones as placeholders, and returns the placeholders' IDs. Like
// every statement here that inserts rows built from arrays, it selects the
// tenant from its setup row (which queueEnsureSetup makes sure of) rather
// than from a parameter: a distributed database then sees an INSERT …
// SELECT from a table of the tenant's shard and runs it on that shard alone.
const sqlLockProducts = `INSERT INTO onlinestock_products AS p (tenant, id)
	SELECT s.tenant, k.id FROM onlinestock_setup s CROSS JOIN unnest($2::text[]) AS k(id)
	WHERE s.tenant = $1 ORDER BY k.id COLLATE "C"
	ON CONFLICT (tenant, id) DO UPDATE SET enabled = p.enabled WHERE false
	RETURNING id`

// sqlClaimKeys claims keys $2 of tenant $1 at $3 for changes $5, in key
// order: those not claimed yet or last claimed before $4. It returns the
// keys it claimed.
const sqlClaimKeys = `INSERT INTO onlinestock_keys AS k (tenant, key, claimed_ns, change)
	SELECT s.tenant, c.key, $3::bigint, c.change FROM onlinestock_setup s
	CROSS JOIN unnest($2::text[], $5::text[]) AS c(key, change)
	WHERE s.tenant = $1 ORDER BY c.key COLLATE "C"
	ON CONFLICT (tenant, key) DO UPDATE SET claimed_ns = excluded.claimed_ns, change = excluded.change
	WHERE k.claimed_ns < $4::bigint
	RETURNING key`

// sqlClaimedKeys reads the changes keys $2 of tenant $1 were claimed for,
// key by key.
const sqlClaimedKeys = `SELECT k.key, k.change FROM unnest($2::text[]) AS c(key)
	CROSS JOIN LATERAL (SELECT key, change FROM onlinestock_keys
		WHERE tenant = $1 AND key = c.key OFFSET 0) k`

// queueEnsureSetup queues the insert of the tenant's setup row, unless the
// row is known to exist, and reports whether it did. The set-based inserts
// select the tenant from that row.
func (t *tx) queueEnsureSetup(b *pgx.Batch) bool {
	if t.createdSetup || t.s.setupExists.Load() {
		return false
	}
	b.Queue(sqlCreateSetup, t.tenant())
	t.createdSetup = true
	return true
}

// sqlReadSetup reads the tenant's order register and the version of its
// setup, which every transaction that changes the setup or the methods
// moves on at commit.
const sqlReadSetup = `SELECT order_register, version FROM onlinestock_setup WHERE tenant = $1`

// sqlReadOutlets and sqlReadRegisters read the tenant's outlets and
// registers, unless its setup is still at version $2, the one the Store
// has cached.
const (
	sqlReadOutlets = `SELECT id, name, connected, buffer, rank FROM onlinestock_outlets
		WHERE tenant = $1 AND NOT EXISTS (SELECT FROM onlinestock_setup WHERE tenant = $1 AND version = $2) ORDER BY id`
	sqlReadRegisters = `SELECT id, outlet, name FROM onlinestock_registers
		WHERE tenant = $1 AND NOT EXISTS (SELECT FROM onlinestock_setup WHERE tenant = $1 AND version = $2) ORDER BY id`
)

// sqlBumpSetupVersion moves the setup's version on, at the commit of a
// transaction that changed the setup or the methods.
const sqlBumpSetupVersion = `UPDATE onlinestock_setup SET version = version + 1 WHERE tenant = $1`

// sqlCreateSetup creates the setup row of tenant $1 if it does not exist.
// DO NOTHING waits for a concurrent insert of it to commit.
const sqlCreateSetup = `INSERT INTO onlinestock_setup (tenant) VALUES ($1) ON CONFLICT DO NOTHING`

// Hot reads look rows up key by key: each key drives an index lookup in a
// LATERAL subquery that OFFSET 0 keeps from being flattened into a join.
// The planner then has no join order or method to choose, and the lookup of
// a whole key (or a key's prefix) by its index is the cheapest path whatever
// the table's statistics say, so the plan does not change when they are
// stale: right after a bulk load, or when another tenant dominates them.
const (
	// sqlProducts reads products $2 (sorted, unique) with their levels,
	// sorted by product and outlet.
	sqlProducts = `SELECT p.id, p.enabled, l.outlet, l.on_hand, l.reserved, l.version
		FROM unnest($2::text[]) WITH ORDINALITY AS k(id, ord)
		CROSS JOIN LATERAL (SELECT id, enabled FROM onlinestock_products
			WHERE tenant = $1 AND id = k.id OFFSET 0) p
		LEFT JOIN LATERAL (SELECT outlet, on_hand, reserved, version FROM onlinestock_levels
			WHERE tenant = $1 AND product = k.id OFFSET 0) l ON true
		ORDER BY k.ord, l.outlet`
	// sqlProductsAt reads the products stocked at outlets $2 the same
	// way, through the levels' outlet index.
	sqlProductsAt = `WITH at AS MATERIALIZED (
			SELECT DISTINCT l.product FROM unnest($2::text[]) AS o(id)
			CROSS JOIN LATERAL (SELECT product FROM onlinestock_levels
				WHERE tenant = $1 AND outlet = o.id OFFSET 0) l
		)
		SELECT p.id, p.enabled, l.outlet, l.on_hand, l.reserved, l.version
		FROM at
		CROSS JOIN LATERAL (SELECT id, enabled FROM onlinestock_products
			WHERE tenant = $1 AND id = at.product OFFSET 0) p
		LEFT JOIN LATERAL (SELECT outlet, on_hand, reserved, version FROM onlinestock_levels
			WHERE tenant = $1 AND product = at.product OFFSET 0) l ON true
		ORDER BY p.id, l.outlet`
	// sqlLockProductsAt locks the products stocked at outlets $2, in ID
	// order.
	sqlLockProductsAt = `SELECT p.id FROM (
			SELECT DISTINCT l.product FROM unnest($2::text[]) AS o(id)
			CROSS JOIN LATERAL (SELECT product FROM onlinestock_levels
				WHERE tenant = $1 AND outlet = o.id OFFSET 0) l
			ORDER BY l.product
		) at
		CROSS JOIN LATERAL (SELECT id FROM onlinestock_products
			WHERE tenant = $1 AND id = at.product FOR UPDATE) p`
)

// sqlProductsAtPlan is the planner setting of a transaction that reads an
// outlet's products.
const sqlProductsAtPlan = `SET LOCAL enable_seqscan = off`

// queueProducts queues sqlProducts for products ids, planned once per
// connection: a custom plan for each call (PostgreSQL's choice for it,
// since no generic estimate of an array's length matches the array given)
// cost more than running it. Its plan is the same either way, an index
// lookup per key (see sqlProducts), and TestHotPlansUseIndexes checks the
// generic one. The setting is put back as it was right after, so no other
// statement runs with it. On Citus, which routes a statement by the
// tenant it is given and cannot route this one's generic plan, it is
// planned for each call.
func (t *tx) queueProducts(b *pgx.Batch, ids []string) {
	if t.s.citus {
		b.Queue(sqlProducts, t.tenant(), ids)
		return
	}
	b.Queue(sqlGenericPlan)
	b.Queue(sqlProducts, t.tenant(), ids)
	b.Queue(sqlRestorePlan)
}

const (
	// sqlGenericPlan keeps the plan cache mode in a transaction-local
	// setting of its own, then has the next statements use their generic
	// plan; sqlRestorePlan puts the mode back.
	sqlGenericPlan = `SELECT set_config('onlinestock.plan_cache_mode', current_setting('plan_cache_mode'), true),
		set_config('plan_cache_mode', 'force_generic_plan', true)`
	sqlRestorePlan = `SELECT set_config('plan_cache_mode', current_setting('onlinestock.plan_cache_mode'), true)`
)

// scanProducts reads the results of the statements queueProducts queued.
func (t *tx) scanProducts(ctx context.Context, br pgx.BatchResults) ([]onlinestock.Product, error) {
	if t.s.citus {
		return t.scanProductRows(ctx, br)
	}
	if _, err := br.Exec(); err != nil { // sqlGenericPlan
		return nil, interpretError(ctx, err)
	}
	products, err := t.scanProductRows(ctx, br)
	if err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil { // sqlRestorePlan
		return nil, interpretError(ctx, err)
	}
	return products, nil
}

// scanProductRows reads rows of (id, enabled, outlet, on_hand, reserved,
// version), sorted by product and outlet, with a NULL outlet for a product
// without levels, leaving out this transaction's placeholders.
func (t *tx) scanProductRows(ctx context.Context, br pgx.BatchResults) ([]onlinestock.Product, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	defer rows.Close()
	var products []onlinestock.Product
	var levels []onlinestock.Level
	// Scanned as the driver's bytes, valid until the next row, so a
	// product's ID is allocated once, not once per level, and each outlet's
	// ID once per call.
	var id, outlet pgtype.DriverBytes
	var enabled bool
	var onHand, reserved, version pgtype.Int8
	outletIDs := map[string]string{}
	dest := []any{&id, &enabled, &outlet, &onHand, &reserved, &version} // one allocation, not one per row
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, interpretError(ctx, err)
		}
		if len(products) == 0 || products[len(products)-1].ID != string(id) {
			if _, ok := t.placeholders[string(id)]; ok {
				continue
			}
			products = append(products, onlinestock.Product{ID: string(id), Enabled: enabled})
		}
		if outlet != nil {
			o, ok := outletIDs[string(outlet)]
			if !ok {
				o = string(outlet)
				outletIDs[o] = o
			}
			levels = append(levels, onlinestock.Level{Product: products[len(products)-1].ID, Outlet: o,
				OnHand: onHand.Int64, Reserved: reserved.Int64, Version: version.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return joinLevels(products, levels), nil
}

// scanPlaceholders reads which products the placeholder insert created.
func (t *tx) scanPlaceholders(ctx context.Context, br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return interpretError(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return interpretError(ctx, err)
		}
		if t.placeholders == nil {
			t.placeholders = map[string]struct{}{}
		}
		t.placeholders[id] = struct{}{}
	}
	return interpretError(ctx, rows.Err())
}

// wasRead reports whether Products was asked for product in this
// transaction, which then either exists or has a placeholder row.
func (t *tx) wasRead(product string) bool {
	for _, ids := range t.read {
		if _, ok := slices.BinarySearch(ids, product); ok {
			return true
		}
	}
	return false
}

func (t *tx) ProductsAt(ctx context.Context, outlets []string) ([]onlinestock.Product, error) {
	if len(outlets) == 0 {
		return []onlinestock.Product{}, nil
	}
	b := t.batch()
	// An outlet may hold a large share of the levels table (in a database
	// of one retailer, say), and fresh statistics then make a sequential
	// scan look cheaper than the outlet's index; stale ones can make it look
	// so for a small outlet among many tenants. The index is never far off
	// the best plan and a scan of every tenant's levels can be far worse, so
	// it is taken whatever the statistics say, for the rest of this
	// transaction, which has no other use for a sequential scan. On Citus
	// the setting is passed on to the worker that plans the statements.
	if t.s.citus {
		b.Queue(sqlPropagateSettings)
	}
	b.Queue(sqlProductsAtPlan)
	lock := !t.readOnly && !t.exclusive
	if lock {
		b.Queue(sqlLockProductsAt, t.tenant(), outlets)
	}
	// Read after the locks are granted, as in Products.
	b.Queue(sqlProductsAt, t.tenant(), outlets)
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	if t.s.citus {
		if _, err := br.Exec(); err != nil {
			return nil, interpretError(ctx, err)
		}
	}
	if _, err := br.Exec(); err != nil {
		return nil, interpretError(ctx, err)
	}
	if lock {
		if _, err := br.Exec(); err != nil {
			return nil, interpretError(ctx, err)
		}
	}
	products, err := t.scanProductRows(ctx, br)
	if err != nil {
		return nil, err
	}
	if err := br.Close(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return products, nil
}

// joinLevels hands each product its run of levels; both lists are sorted
// by product ID.
func joinLevels(products []onlinestock.Product, levels []onlinestock.Level) []onlinestock.Product {
	j := 0
	for i := range products {
		for j < len(levels) && levels[j].Product < products[i].ID {
			j++
		}
		start := j
		for j < len(levels) && levels[j].Product == products[i].ID {
			j++
		}
		products[i].Levels = levels[start:j:j]
	}
	if products == nil {
		products = []onlinestock.Product{}
	}
	return products
}

func (t *tx) PutLevels(ctx context.Context, levels []onlinestock.Level) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.levels = append(t.levels, levels...)
	return nil
}

func (t *tx) SetEnabled(ctx context.Context, ids []string, enabled bool) error {
	if err := t.writable(); err != nil {
		return err
	}
	if enabled {
		t.enabled = append(t.enabled, ids...)
	} else {
		t.disabled = append(t.disabled, ids...)
	}
	return nil
}

func (t *tx) ClaimKeys(ctx context.Context, claims []onlinestock.KeyClaim, now, notBefore time.Time) ([]string, error) {
	if err := t.writable(); err != nil {
		return nil, err
	}
	prior := make([]string, len(claims))
	if len(claims) == 0 {
		return prior, nil
	}
	at, err := toNanos(now)
	if err != nil {
		return nil, err
	}
	if at == nil {
		zero := int64(0) // the zero time as a claim time: expired for any real notBefore
		at = &zero
	}
	keys, changes := make([]string, len(claims)), make([]string, len(claims))
	for i, c := range claims {
		keys[i], changes[i] = c.Key, c.Change
	}
	// The claim is written now, not at commit, so that a concurrent claim of
	// the same key waits for this transaction and then sees its outcome. A
	// key comes back when it was inserted or its old claim had expired;
	// keys are inserted in order so that two batches cannot deadlock on them.
	// The keys that did not come back were claimed before: the next
	// statement, with a snapshot taken after the claim (which waited for
	// any concurrent claimer to end), reads what they were claimed for.
	b := t.batch()
	ensured := t.queueEnsureSetup(b)
	b.Queue(sqlClaimKeys, t.tenant(), keys, *at, clampNanos(notBefore), changes)
	b.Queue(sqlClaimedKeys, t.tenant(), keys)
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	if ensured {
		if _, err := br.Exec(); err != nil {
			return nil, interpretError(ctx, err)
		}
	}
	fresh := make(map[string]struct{}, len(claims))
	if err := scanKeys(br, func(k, _ string) { fresh[k] = struct{}{} }); err != nil {
		return nil, interpretError(ctx, err)
	}
	stored := make(map[string]string, len(claims)-len(fresh))
	if err := scanKeys(br, func(k, change string) { stored[k] = change }); err != nil {
		return nil, interpretError(ctx, err)
	}
	if err := br.Close(); err != nil {
		return nil, interpretError(ctx, err)
	}
	for i, c := range claims {
		if _, isNew := fresh[c.Key]; isNew {
			continue
		}
		// A key claimed before its change was recorded stands for
		// whatever change uses it: a duplicate, as it was then.
		prior[i] = cmp.Or(stored[c.Key], c.Change)
	}
	t.claimed, t.claimBefore = true, notBefore
	return prior, nil
}

// scanKeys reads the next result of br, rows of a key and, when there is a
// second column, a change.
func scanKeys(br pgx.BatchResults, fn func(key, change string)) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		k, _ := vals[0].(string)
		var change string
		if len(vals) > 1 {
			change, _ = vals[1].(string)
		}
		fn(k, change)
	}
	return rows.Err()
}

func (t *tx) AppendEvents(ctx context.Context, events []onlinestock.Event) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.events = slices.Grow(t.events, len(events))
	for _, e := range events {
		e.Methods = slices.Clone(e.Methods)
		t.events = append(t.events, e)
	}
	return nil
}

func (t *tx) Reservation(ctx context.Context, order string) (onlinestock.Reservation, bool, error) {
	b := t.batch()
	// Every update that reads a reservation reads the setup too: when it
	// is not read yet, it is read in the same round trip, first, so the
	// setup lock is still taken before the order's.
	var setup *setupRead
	if t.setup == nil && !t.readOnly {
		setup = t.queueSetup(b, false)
	}
	if !t.readOnly {
		// Lock the order ID, whether or not it has a reservation yet, so that
		// concurrent transactions on one order run one after the other.
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1 || $2 || $3, $4))`, t.tenant(), idSeparator, order, seedOrder)
	}
	b.Queue(`SELECT method, line_products, line_quantities, alloc_products, alloc_outlets, alloc_quantities,
		status, created_ns, deadline_ns, detail FROM onlinestock_reservations WHERE tenant = $1 AND order_id = $2`, t.tenant(), order)
	br, err := t.send(ctx, b)
	if err != nil {
		return onlinestock.Reservation{}, false, err
	}
	defer br.Close()
	if setup != nil {
		if err := setup.scan(ctx, br); err != nil {
			return onlinestock.Reservation{}, false, err
		}
	}
	if !t.readOnly {
		if _, err := br.Exec(); err != nil {
			return onlinestock.Reservation{}, false, interpretError(ctx, err)
		}
	}
	var row reservationRow
	err = br.QueryRow().Scan(row.dest()[1:]...)
	if errors.Is(err, pgx.ErrNoRows) {
		return onlinestock.Reservation{}, false, nil
	}
	if err != nil {
		return onlinestock.Reservation{}, false, interpretError(ctx, err)
	}
	row.order = order
	r, err := row.reservation()
	if err != nil {
		return onlinestock.Reservation{}, false, err
	}
	return r, true, nil
}

func (t *tx) PutReservation(ctx context.Context, r onlinestock.Reservation) error {
	if err := t.writable(); err != nil {
		return err
	}
	r.Lines = slices.Clone(r.Lines)
	r.Allocations = slices.Clone(r.Allocations)
	r.Sources = slices.Clone(r.Sources)
	r.Parts = slices.Clone(r.Parts) // their slices are never modified in place
	t.reservations = append(t.reservations, r)
	return nil
}

func (t *tx) DueReservations(ctx context.Context, now time.Time) ([]string, error) {
	b := t.batch()
	b.Queue(`SELECT order_id FROM onlinestock_reservations
		WHERE tenant = $1 AND status = 'open' AND deadline_ns IS NOT NULL AND deadline_ns <= $2 ORDER BY order_id`,
		t.tenant(), clampNanos(now))
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	defer rows.Close()
	var due []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, interpretError(ctx, err)
		}
		due = append(due, id)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return due, nil
}

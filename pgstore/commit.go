package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/onlinestock/onlinestock"
)

// commit sends the buffered writes and the COMMIT in one batch. Lists that
// may be long (levels, products, events) are written set-based, from
// arrays, in one statement each. Events are inserted last, just before the
// COMMIT, and without a sequence number: they are numbered after they
// commit, so committing takes no lock shared by the tenant's writers.
func (t *tx) commit(ctx context.Context) error {
	if !t.dirty() {
		if !t.begun {
			return nil
		}
		if err := t.finish(ctx); err != nil {
			return err
		}
		t.committed(ctx)
		return nil
	}
	b := t.batch()
	n := len(b.QueuedQueries) // statements whose results are not checked one by one
	tenant := t.tenant()
	for _, o := range t.outlets {
		b.Queue(`INSERT INTO onlinestock_outlets (tenant, id, name, connected, buffer, rank) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name, connected = excluded.connected,
			buffer = excluded.buffer, rank = excluded.rank`, tenant, o.ID, o.Name, o.Connected, o.Buffer, int64(o.Rank))
	}
	for _, r := range t.registers {
		b.Queue(`INSERT INTO onlinestock_registers (tenant, id, outlet, name) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, id) DO UPDATE SET outlet = excluded.outlet, name = excluded.name`, tenant, r.ID, r.Outlet, r.Name)
	}
	if t.orderRegister != nil {
		b.Queue(`INSERT INTO onlinestock_setup (tenant, order_register) VALUES ($1, $2)
			ON CONFLICT (tenant) DO UPDATE SET order_register = excluded.order_register`, tenant, *t.orderRegister)
	}
	for _, m := range t.methods {
		b.Queue(`INSERT INTO onlinestock_methods (tenant, id, name, kind, outlet, rule) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
			outlet = excluded.outlet, rule = excluded.rule`, tenant, m.ID, m.Name, string(m.Kind), m.Outlet, string(m.Rule))
	}
	if len(t.deleted) > 0 {
		b.Queue(`DELETE FROM onlinestock_methods WHERE tenant = $1 AND id = ANY($2)`, tenant, t.deleted)
	}
	if len(t.bundles)+len(t.unbundled)+len(t.backorders)+len(t.unbackordered) > 0 {
		if err := t.queueCatalog(b); err != nil {
			t.rollback(ctx)
			return err
		}
	}
	if len(t.outlets)+len(t.registers)+len(t.methods)+len(t.deleted)+
		len(t.bundles)+len(t.unbundled)+len(t.backorders)+len(t.unbackordered) > 0 || t.orderRegister != nil {
		t.queueEnsureSetup(b)
		b.Queue(sqlBumpSetupVersion, tenant)
	}
	if len(t.levels)+len(t.enabled)+len(t.disabled)+len(t.events)+len(t.movements) > 0 {
		t.queueEnsureSetup(b) // the set-based inserts below select the tenant from it
	}
	if len(t.levels) > 0 {
		t.queueLevels(b)
	}
	if len(t.placeholders) > 0 {
		unused := make([]string, 0, len(t.placeholders))
		for id := range t.placeholders {
			unused = append(unused, id)
		}
		b.Queue(sqlDeletePlaceholders, tenant, unused)
	}
	if len(t.enabled) > 0 {
		b.Queue(sqlSetEnabled, tenant, t.enabled, true)
	}
	if len(t.disabled) > 0 {
		b.Queue(sqlSetEnabled, tenant, t.disabled, false)
	}
	for _, r := range t.reservations {
		if err := queueReservation(b, tenant, r); err != nil {
			t.rollback(ctx)
			return err
		}
	}
	if len(t.events)+len(t.movements) > 0 {
		// One pending key for the transaction's events and movements,
		// drawn after every lock it takes.
		b.Queue(sqlDrawPending)
	}
	if len(t.events) > 0 {
		t.queuePending(b)
		if err := t.queueEvents(b); err != nil {
			t.rollback(ctx)
			return err
		}
	}
	if len(t.movements) > 0 {
		if err := t.queueMovements(b); err != nil {
			t.rollback(ctx)
			return err
		}
	}
	b.Queue("COMMIT")

	// A caller whose ctx ended before the COMMIT left has nothing kept.
	// Once it is on its way, the outcome is learned whatever becomes of
	// ctx: a call must never report a failure when it committed.
	if err := ctx.Err(); err != nil {
		t.rollback(ctx)
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	br, err := t.send(cctx, b)
	if err == nil {
		for range len(b.QueuedQueries) - n {
			if _, err = br.Exec(); err != nil {
				break
			}
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		var pgErr *pgconn.PgError
		pc := t.conn.Conn().PgConn()
		ended := pc.IsClosed() || pc.TxStatus() == 'I'
		if ended && (!errors.As(err, &pgErr) || pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC") {
			// No answer from the server, or the end of the session (a
			// terminated backend, a server shutting down), and the
			// transaction is no longer open here: the COMMIT may or may
			// not have taken effect.
			return t.s.commitOutcome(ctx, t.xid, err)
		}
		// A failed statement leaves the transaction aborted, not ended.
		t.rollback(ctx)
		return interpretError(ctx, err)
	}
	t.committed(ctx)
	return nil
}

// How long a COMMIT may take before its outcome is asked of the database
// on another connection, and how long that asking may take before the
// outcome is reported unknown.
const (
	commitTimeout  = 30 * time.Second
	outcomeTimeout = 10 * time.Second
)

// commitOutcome learns whether the transaction xid committed after its
// connection failed during the COMMIT with cause: it asks the database on
// another connection, again while the transaction is still in progress
// there (a server that has not yet seen the connection go), until
// outcomeTimeout. It returns nil if the transaction committed, cause if it
// did not, and an error wrapping [onlinestock.ErrCommitUnknown] if it
// cannot tell.
func (s *Store) commitOutcome(ctx context.Context, xid string, cause error) error {
	unknown := fmt.Errorf("pgstore: %w: connection lost during COMMIT: %w", onlinestock.ErrCommitUnknown, cause)
	if xid == "" {
		return unknown
	}
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeTimeout)
	defer cancel()
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var status *string
		err := s.pool.QueryRow(octx, `SELECT pg_xact_status($1::xid8)`, xid).Scan(&status)
		if err == nil && status != nil {
			switch *status {
			case "committed":
				return nil
			case "aborted":
				return fmt.Errorf("pgstore: transaction rolled back: %w", interpretError(ctx, cause))
			}
		}
		select {
		case <-octx.Done():
			return unknown
		case <-time.After(wait):
		}
	}
}

// Writes of many products, shaped so that each row is found through its
// key's index whatever the statistics say (see sqlProducts): an upsert finds
// each row through its conflict index; the placeholders, rows this
// transaction inserted and so no other can touch, are deleted by their
// row IDs, looked up key by key.
const (
	// sqlSetEnabled sets enabled to $3 for products $2, which exist: the
	// Service checked, and holds them locked.
	sqlSetEnabled = `INSERT INTO onlinestock_products AS p (tenant, id, enabled)
		SELECT s.tenant, k.id, $3::boolean FROM onlinestock_setup s CROSS JOIN unnest($2::text[]) AS k(id)
		WHERE s.tenant = $1 ORDER BY k.id COLLATE "C"
		ON CONFLICT (tenant, id) DO UPDATE SET enabled = excluded.enabled`
	//
	// sqlDeletePlaceholders names the tenant for a distributed database,
	// which routes the DELETE to the tenant's shard by it, but compares it
	// under the "POSIX" collation, byte by byte like the column's "C": the
	// comparison means the same, and as no index has that collation the
	// planner cannot scan every product of the tenant by the primary key
	// in place of the lookups by row ID (which it would, when its
	// statistics under-count the tenant's products).
	sqlDeletePlaceholders = `DELETE FROM onlinestock_products WHERE tenant = $1::text COLLATE "POSIX" AND ctid = ANY(ARRAY(
		SELECT (SELECT ctid FROM onlinestock_products WHERE tenant = $1 AND id = k.id) FROM unnest($2::text[]) AS k(id)))`
	// sqlCreateProducts creates products $2 (with repeats) that do not exist.
	sqlCreateProducts = `INSERT INTO onlinestock_products (tenant, id)
		SELECT DISTINCT s.tenant, k.id FROM onlinestock_setup s CROSS JOIN unnest($2::text[]) AS k(id)
		WHERE s.tenant = $1 ON CONFLICT DO NOTHING`
	// sqlPutLevels writes levels from arrays $2 … $6.
	sqlPutLevels = `INSERT INTO onlinestock_levels (tenant, product, outlet, on_hand, reserved, version)
		SELECT s.tenant, l.* FROM onlinestock_setup s
		CROSS JOIN unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) AS l
		WHERE s.tenant = $1
		ON CONFLICT (tenant, product, outlet) DO UPDATE
		SET on_hand = excluded.on_hand, reserved = excluded.reserved, version = excluded.version`
)

// committed runs after a successful commit.
func (t *tx) committed(ctx context.Context) {
	if t.createdSetup {
		t.s.setupExists.Store(true)
	}
	if t.claimed {
		t.sweepKeys(ctx)
	}
	if t.created >= bulkProducts {
		t.analyze(ctx)
	}
}

// bulkProducts is how many new products one transaction creates before
// the Store refreshes the planner's statistics itself.
const bulkProducts = 5_000

// analyze refreshes the planner's statistics of the product and level
// tables after a bulk write. Until autovacuum gets to it, the statistics
// may still describe a tenant with a handful of rows, and the planner then
// picks nested loops that take minutes on the 100,000 rows it now has.
// ANALYZE samples a fixed number of rows, so it stays cheap however large
// the tables are. It is best effort: a role that may not analyze the tables
// leaves it to autovacuum.
func (t *tx) analyze(ctx context.Context) {
	_, _ = t.conn.Exec(ctx, `ANALYZE onlinestock_products, onlinestock_levels`)
}

// queueCatalog writes the bundles put and deleted (creating the products
// of those put) and the backorder policies put and deleted. The setup's
// version moves with them.
func (t *tx) queueCatalog(b *pgx.Batch) error {
	t.queueEnsureSetup(b)
	if len(t.bundles)+len(t.unbundled) > 0 {
		t.queueBundles(b)
	}
	if len(t.unbackordered) > 0 {
		b.Queue(`DELETE FROM onlinestock_backorders WHERE tenant = $1 AND product = ANY($2)`, t.tenant(), t.unbackordered)
	}
	if n := len(t.backorders); n > 0 {
		products, outlets := make([]string, n), make([]string, n)
		limits, expected := make([]int64, n), make([]*int64, n)
		for i, p := range t.backorders {
			at, err := toNanos(p.Expected)
			if err != nil {
				return err
			}
			products[i], limits[i], expected[i], outlets[i] = p.Product, p.Limit, at, p.Outlet
		}
		b.Queue(sqlPutBackorders, t.tenant(), products, limits, expected, outlets)
	}
	return nil
}

// sqlPutBackorders writes the backorder policies of arrays $2 … $5.
const sqlPutBackorders = `INSERT INTO onlinestock_backorders (tenant, product, backorder_limit, expected_ns, outlet)
	SELECT s.tenant, p.* FROM onlinestock_setup s
	CROSS JOIN unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[]) AS p
	WHERE s.tenant = $1
	ON CONFLICT (tenant, product) DO UPDATE SET backorder_limit = excluded.backorder_limit,
	expected_ns = excluded.expected_ns, outlet = excluded.outlet`

// queueBundles writes the bundles put and deleted, and creates the
// products of those put.
func (t *tx) queueBundles(b *pgx.Batch) {
	ids := slices.Clone(t.unbundled)
	var bundles, components []string
	var quantities []int64
	var created []string
	for _, x := range t.bundles {
		ids = append(ids, x.ID)
		created = append(created, x.ID)
		for _, c := range x.Components {
			bundles, components, quantities = append(bundles, x.ID), append(components, c.Product), append(quantities, c.Quantity)
		}
	}
	b.Queue(`DELETE FROM onlinestock_bundle_components WHERE tenant = $1 AND bundle = ANY($2)`, t.tenant(), ids)
	if len(created) > 0 {
		b.Queue(sqlCreateProducts, t.tenant(), created)
		b.Queue(sqlPutBundles, t.tenant(), bundles, components, quantities)
	}
}

// sqlPutBundles inserts the components of arrays $2 … $4.
const sqlPutBundles = `INSERT INTO onlinestock_bundle_components (tenant, bundle, component, quantity)
	SELECT s.tenant, c.* FROM onlinestock_setup s
	CROSS JOIN unnest($2::text[], $3::text[], $4::bigint[]) AS c
	WHERE s.tenant = $1`

func (t *tx) dirty() bool {
	return len(t.placeholders) > 0 || len(t.bundles)+len(t.unbundled)+len(t.backorders)+len(t.unbackordered) > 0 || len(t.outlets)+len(t.registers)+len(t.methods)+len(t.deleted)+len(t.levels)+
		len(t.enabled)+len(t.disabled)+len(t.events)+len(t.movements)+len(t.reservations) > 0 || t.orderRegister != nil
}

// queueLevels writes the levels, creating the products not seen in this
// transaction first.
func (t *tx) queueLevels(b *pgx.Batch) {
	n := len(t.levels)
	products, outlets := make([]string, n), make([]string, n)
	onHand, reserved, version := make([]int64, n), make([]int64, n), make([]int64, n)
	var unread []string
	for i, l := range t.levels {
		products[i], outlets[i] = l.Product, l.Outlet
		onHand[i], reserved[i], version[i] = l.OnHand, l.Reserved, l.Version
		if _, placeholder := t.placeholders[l.Product]; placeholder {
			t.created++ // a new product: its placeholder row is kept
			delete(t.placeholders, l.Product)
		}
		if !t.wasRead(l.Product) {
			unread = append(unread, l.Product)
		}
	}
	// Products read by this transaction exist or have their placeholder;
	// this creates any other.
	if len(unread) > 0 {
		b.Queue(sqlCreateProducts, t.tenant(), unread)
	}
	b.Queue(sqlPutLevels, t.tenant(), products, outlets, onHand, reserved, version)
}

func queueReservation(b *pgx.Batch, tenant string, r onlinestock.Reservation) error {
	created, err := toNanos(r.Created)
	if err != nil {
		return err
	}
	deadline, err := toNanos(r.Deadline)
	if err != nil {
		return err
	}
	var lineProducts, allocProducts, allocOutlets []string
	var lineQuantities, allocQuantities []int64
	if r.Lines != nil {
		lineProducts, lineQuantities = make([]string, len(r.Lines)), make([]int64, len(r.Lines))
		for i, l := range r.Lines {
			lineProducts[i], lineQuantities[i] = l.Product, l.Quantity
		}
	}
	if r.Allocations != nil {
		n := len(r.Allocations)
		allocProducts, allocOutlets, allocQuantities = make([]string, n), make([]string, n), make([]int64, n)
		for i, a := range r.Allocations {
			allocProducts[i], allocOutlets[i], allocQuantities[i] = a.Product, a.Outlet, a.Quantity
		}
	}
	detail, err := encodeDetail(r)
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO onlinestock_reservations (tenant, order_id, method, line_products, line_quantities,
		alloc_products, alloc_outlets, alloc_quantities, status, created_ns, deadline_ns, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (tenant, order_id) DO UPDATE SET method = excluded.method,
		line_products = excluded.line_products, line_quantities = excluded.line_quantities,
		alloc_products = excluded.alloc_products, alloc_outlets = excluded.alloc_outlets,
		alloc_quantities = excluded.alloc_quantities, status = excluded.status,
		created_ns = excluded.created_ns, deadline_ns = excluded.deadline_ns, detail = excluded.detail`,
		tenant, r.Order, r.Method, lineProducts, lineQuantities, allocProducts, allocOutlets, allocQuantities,
		string(r.Status), created, deadline, detail)
	return nil
}

// queueEvents inserts the events unnumbered, in one statement, under one
// pending key drawn from a sequence as the statement runs (after every lock
// the transaction takes) and their positions in t.events. They get their
// sequence numbers after they commit, from [Store.queueNumbering]; see
// DESIGN.md for why that keeps the numbers gapless and each
// product's events in order.
func (t *tx) queueEvents(b *pgx.Batch) error {
	n := len(t.events)
	kinds, products, beforeLabels, afterLabels := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	outlets, previous := make([]string, n), make([]string, n)
	methods := make([]*string, n)
	times := make([]*int64, n)
	beforeQty, afterQty := make([]int64, n), make([]int64, n)
	orders := make([]*string, n)
	for i, e := range t.events {
		at, err := toNanos(e.Time)
		if err != nil {
			return err
		}
		times[i] = at
		kinds[i], products[i], outlets[i], previous[i] = string(e.Kind), e.Product, e.Outlet, e.Previous
		beforeQty[i], beforeLabels[i] = e.Before.Quantity, string(e.Before.Label)
		afterQty[i], afterLabels[i] = e.After.Quantity, string(e.After.Label)
		if e.Methods != nil {
			joined := strings.Join(e.Methods, idSeparator)
			methods[i] = &joined
		}
		if orders[i], err = encodeOrderDetail(e); err != nil {
			return err
		}
	}
	b.Queue(sqlInsertEvents, t.tenant(), idSeparator, kinds, times, products, beforeQty, beforeLabels, afterQty, afterLabels,
		outlets, previous, methods, orders)
	return nil
}

// sqlDrawPending draws the transaction's pending key from the sequence and
// keeps it in a transaction-local setting, which sqlInsertEvents and
// sqlInsertMovements read. The
// two are separate statements because a distributed database runs an
// INSERT … SELECT on the tenant's shard only when it calls no volatile
// function; it evaluates the stable current_setting itself, on the node
// the client is connected to, where the setting was made.
const sqlDrawPending = `SELECT set_config('onlinestock.pending', nextval('onlinestock_event_pending')::text, true)`

// sqlInsertEvents inserts the events of arrays $3 … $13 under the pending
// key sqlDrawPending drew, method lists joined by $2.
const sqlInsertEvents = `INSERT INTO onlinestock_events (tenant, pending_id, pending_ord, kind, time_ns, product,
		before_quantity, before_label, after_quantity, after_label, outlet, previous, methods, order_detail)
	SELECT s.tenant, current_setting('onlinestock.pending')::bigint, e.ord, e.kind, e.time_ns, e.product,
		e.bq, e.bl, e.aq, e.al, e.outlet, e.previous, string_to_array(e.methods, $2::text), e.od::jsonb
	FROM onlinestock_setup s CROSS JOIN unnest($3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[],
		$8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
		WITH ORDINALITY AS e(kind, time_ns, product, bq, bl, aq, al, outlet, previous, methods, od, ord)
	WHERE s.tenant = $1`

// queuePending queues, before the events, the statements that list the
// tenant among those with events to deliver (see [Tenants]): under the
// tenant's pending lock, shared, which orders them against Tenants.Settle,
// they insert the tenant's pending mark and, when the mark was not there,
// notify listening Workers, at commit. Only that first transaction
// notifies: a Worker that is told of a tenant delivers until it can
// settle it, and PostgreSQL serializes the commits of notifying
// transactions, so a notification per commit would cost writers dearly.
func (t *tx) queuePending(b *pgx.Batch) {
	b.Queue(sqlLockPending, t.tenant(), seedPending)
	b.Queue(sqlMarkPending, t.tenant(), notifyChannel, idSeparator)
}

const (
	// sqlLockPending takes tenant $1's pending lock, shared.
	sqlLockPending = `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, $2))`
	// sqlMarkPending inserts tenant $1's pending mark, and if it was not
	// there sends, on channel $2 at commit, the schema and the tenant
	// joined by $3 (a database may hold the tables of several
	// installations, each in its schema). On a distributed database the
	// INSERT runs on the tenant's shard and the notification on the node
	// the client is connected to, where Workers listen.
	sqlMarkPending = `WITH mark AS (INSERT INTO onlinestock_pending (tenant) VALUES ($1::text) ON CONFLICT DO NOTHING RETURNING tenant)
	SELECT pg_notify($2::text, current_schema() || $3::text || tenant) FROM mark`
)

// sweepKeys deletes some expired idempotency keys, every KeySweepEvery-th
// time a transaction that claimed keys commits. It runs after the commit,
// in its own statement, and ignores failure: an expired key left behind is
// claimed afresh anyway.
func (t *tx) sweepKeys(ctx context.Context) {
	every := t.s.cfg.KeySweepEvery
	if every < 0 || (t.s.claims.Add(1)-1)%uint64(every) != 0 {
		return
	}
	_, _ = t.conn.Exec(ctx, sqlSweepKeys, t.tenant(), clampNanos(t.claimBefore), KeySweepBatch)
}

// sqlSweepKeys deletes up to $3 keys of tenant $1 claimed before $2.
const sqlSweepKeys = `DELETE FROM onlinestock_keys WHERE tenant = $1 AND key IN (
	SELECT key FROM onlinestock_keys WHERE tenant = $1 AND claimed_ns < $2 LIMIT $3)
	AND claimed_ns < $2`

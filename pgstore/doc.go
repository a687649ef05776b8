// Package pgstore is the PostgreSQL [onlinestock.Store]: durable, shared by
// any number of processes, and multi-tenant. It talks to PostgreSQL through
// a [github.com/jackc/pgx/v5/pgxpool.Pool] the caller opens and closes.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	if err := pgstore.Migrate(ctx, pool); err != nil { ... }
//	store, err := pgstore.New(pool, pgstore.Config{Tenant: "retailer-42"})
//	...
//	svc, err := onlinestock.New(store, onlinestock.Config{})
//
// # Tenancy
//
// Every table has a tenant column, first in its primary key, and every
// statement the Store runs names [Config.Tenant]. Many retailers therefore
// share one database, each through its own Store, and none can read or
// change another's outlets, stock, orders, keys or events: even the event
// sequence numbers, cursors and dead letters are per tenant. Stores of the
// same tenant in several processes see one state.
//
// # Migrations
//
// The schema lives in migrations embedded in the package
// (migrations/0001_init.sql, …). [Migrate] applies the ones not yet recorded
// in the onlinestock_migrations table, in order, each in its own
// transaction together with its record, so a failed migration leaves
// nothing behind and running Migrate again is a no-op. Processes that
// migrate at once are serialized by a transaction-scoped advisory lock. The
// onlinestock command runs it from the shell:
//
//	onlinestock migrate --database-url postgres://…
//
// Identifier columns use the "C" collation, so that the database sorts IDs
// byte by byte, as Go does. Times are stored as Unix nanoseconds, so they
// round-trip exactly; the years 1678 to 2262 can be stored.
//
// # Transactions and locks
//
// [Store.View] runs in a REPEATABLE READ, READ ONLY transaction: one
// snapshot, no locks, never blocked by writers.
//
// [Store.Update] runs in a READ COMMITTED transaction and makes it
// serializable with explicit locks, taken by the reads in the one order the
// Service reads in:
//
//   - Setup locks the tenant's row in onlinestock_setup FOR SHARE (the row
//     is created on first use), LockSetup FOR UPDATE. Changes to outlets,
//     registers and methods take it exclusively, so every other Update sees
//     a setup that cannot change under it.
//   - Reservation takes a transaction-scoped advisory lock on a hash of
//     (tenant, order) before it reads, so two Reserves of one new order run
//     one after the other.
//   - Products locks the product rows, in ID order. A product that does not
//     exist yet is inserted as a placeholder in the same ordered pass, so a
//     concurrent transaction creating it waits for this one; a placeholder
//     that gets no level is deleted at commit, and reads never return one.
//     ProductsAt locks the same way; under LockSetup, which already excludes
//     every writer of stock, it takes no row locks, so connecting an outlet
//     that holds 100,000 products does not lock 100,000 rows.
//   - ClaimKeys inserts its keys at once, in key order, with ON CONFLICT: of
//     two transactions claiming one key, the second waits for the first and
//     then sees its claim (or, if the first rolled back, claims the key).
//     A claim older than the retention is claimed afresh. Expired keys are
//     deleted by a small sweep after every [Config.KeySweepEvery]-th commit
//     that claimed keys.
//
// Reads see what is committed when they run; writes are buffered in the
// transaction and do not show in its reads. At commit the writes are sent
// with the COMMIT in one pipelined batch, one round trip, long lists
// (levels, new products, events) as one set-based statement each, built
// from arrays. An Update therefore costs a round trip for the setup, one
// for the products and one for the commit.
//
// # Retries
//
// Locking in one order avoids deadlocks between Service calls, but
// PostgreSQL may still abort a transaction with a serialization failure
// (40001) or a deadlock (40P01), for example when a program drives a Tx in
// its own order. Update then runs its function again in a new transaction,
// up to [Config.MaxRetries] times, after a randomized backoff starting at a
// millisecond; the function must be safe to run again, as the
// [onlinestock.Store] contract requires. Other errors are returned at once.
// Driver errors are mapped in one place: a cancelled or expired context
// comes back as the context's error, values PostgreSQL cannot store as
// [onlinestock.ErrInvalid], and the driver's error stays in the chain.
//
// # Outbox
//
// The events of an Update are inserted by the commit batch, just before the
// COMMIT. Their sequence numbers come from the tenant's row in
// onlinestock_event_counter (a table apart from the setup row, so taking it
// never upgrades a lock held there), incremented by the number of events in
// the same statement that inserts them. The row stays locked until the
// transaction ends, so numbers are handed out in commit order, and a
// transaction that rolls back gives its numbers back: the committed events
// of a tenant are numbered 1, 2, 3, … with no gap, and a reader never sees
// a later number before an earlier one. The price is that Updates that
// write events commit one at a time per tenant; Updates that write none
// (a change absorbed by a buffer, at a disconnected outlet, of a product
// not for sale) do not touch the counter.
//
// [Store.EventsSince], consumer cursors ([Store.SetCursor] never moves one
// back) and dead letters are plain tables, so a [onlinestock.Dispatcher]
// restarted on a new process resumes after the last event it acknowledged.
package pgstore

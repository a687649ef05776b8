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
//   - Setup takes a transaction-scoped advisory lock on a hash of the
//     tenant, shared; LockSetup takes it exclusively. (A shared row lock
//     would make PostgreSQL create a multixact for every new sharer, and
//     every writer of the tenant shares this lock.) Changes to outlets,
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
// for the products and one for the commit. Events get their sequence
// numbers later, when they are first read (see Outbox).
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
// # Bulk loads
//
// A transaction that creates 5,000 products or more (a POS loading its
// catalogue) is followed by an ANALYZE of the product and level tables, so
// the reads that come next are planned for the rows the tenant now has,
// not for the handful autovacuum last saw. It is best effort: a role that
// may not analyze the tables leaves it to autovacuum.
//
// # Outbox
//
// The events of an Update are inserted by the commit batch, just before the
// COMMIT, without a sequence number: seq is NULL and the events carry a
// pending key instead, (pending_id, pending_ord), where pending_id is drawn
// once per transaction from the onlinestock_event_pending sequence when the
// INSERT runs, after every lock the transaction takes, and pending_ord is
// the event's position in the transaction. Committing therefore takes no
// lock that the tenant's writers share; Updates that write events commit
// side by side, like those that write none.
//
// Events are numbered after they commit. Before [Store.EventsSince] reads
// (and so before a Dispatcher delivers or redelivers), it runs a short
// transaction that takes a transaction-scoped advisory lock on the tenant,
// reads the tenant's last number n from onlinestock_event_counter and, in
// one set-based UPDATE, gives the first of the tenant's committed
// unnumbered events n+1, n+2, … in pending-key order, then records the new
// last number. It numbers a chunk of whole transactions' events, about as
// many as the read asks for (1,000 to 10,000), so each read makes progress
// in bounded time however long the backlog, and a backlog is worked off in
// time linear in its length. The
// UPDATE runs in a statement of its own after the lock is granted, so under
// READ COMMITTED its snapshot sees everything the previous numbering
// committed. The read by seq follows in another statement, after the
// COMMIT, all in one round trip; when nothing waits for a number the
// numbering writes nothing.
//
// This keeps every guarantee the counter taken at commit gave:
//
//   - Only committed events are numbered (the UPDATE sees nothing else),
//     each once (seq IS NULL is part of the UPDATE's condition, and the
//     numberings of a tenant run one at a time under the lock), with
//     consecutive numbers starting after the last one handed out. So the
//     committed, numbered events of a tenant are 1, 2, 3, … with no gap.
//   - A reader never sees a number that a later numbering could fill in
//     below: a numbering only hands out numbers above every number already
//     committed, and commits all of its numbers at once. Any snapshot thus
//     sees the numbers 1 … k for some k, and k only grows. A rolled-back
//     transaction's events are never seen, so they take no number.
//   - Each product's events stay in order. Two transactions that write
//     events about one product are serialized by that product's lock, so
//     the second draws its pending_id only after the first has committed
//     (the sequence hands out values in the order they are asked for; it
//     has no per-session cache). Whenever the second is visible the first
//     is too, and the numbering, in pending-key order, gives the first's
//     events the smaller numbers. Within a transaction the events keep the
//     order they were appended in, and are numbered consecutively.
//   - Events of transactions that hold no common lock (different products
//     under the shared setup lock) may be numbered in either order, or be
//     numbered in different runs; the numbers stay strictly increasing,
//     which is all the SPEC asks across products.
//
// Every path that writes events holds a lock that orders it against every
// other writer of the same subject: stock changes, reservations, releases
// and expiries, and enabling or disabling products all lock the products
// they write events about (Tx.Products, after the shared setup lock);
// connecting, disconnecting, saving the selection, activating a register
// and changing a buffer run under LockSetup, which excludes every
// transaction holding the setup lock shared, that is every writer of
// products, so their events (outlet events and the availability changes
// they cause) are ordered against every other event-writing transaction.
//
// Numbering is durable like any commit (with synchronous_commit on, the
// default): once a reader has seen a number, it belongs to that event for
// good. Rows written before migration 0002 keep the numbers they were given
// at commit, and the counter continues from them. All processes sharing a
// database must run a version that numbers after commit once 0002 is
// applied.
//
// [Store.EventsSince], consumer cursors ([Store.SetCursor] never moves one
// back) and dead letters are plain tables, so a [onlinestock.Dispatcher]
// restarted on a new process resumes after the last event it acknowledged.
package pgstore

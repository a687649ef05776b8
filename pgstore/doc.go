// Package pgstore is the PostgreSQL [onlinestock.Store]: durable, shared by
// any number of processes, and multi-tenant. It talks to PostgreSQL through
// a [github.com/jackc/pgx/v5/pgxpool.Pool] the caller opens and closes.
//
// # Getting started
//
// Create a database (any name), bring its schema up to date once per
// release, and open a Store per tenant:
//
//	createdb -h 127.0.0.1 -U postgres onlinestock
//	export DATABASE_URL='postgres://postgres@127.0.0.1:5432/onlinestock?sslmode=disable'
//	go run github.com/onlinestock/onlinestock/cmd/onlinestock migrate
//
// and in Go (see the package Example):
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	store, err := pgstore.New(pool, pgstore.Config{Tenant: "retailer-42"})
//	...
//	svc, err := onlinestock.New(store, onlinestock.Config{})
//
// # Migrations
//
// The schema lives in migrations embedded in the package. [Migrate] (or
// [ApplyPending], which also tells what it applied, or "onlinestock
// migrate") applies those the database lacks, each in its own transaction,
// so a failed migration leaves nothing behind; running it again is a
// no-op, and processes that migrate at once are safe. [Status] (or
// "onlinestock migrate status") lists the applied and pending migrations.
//
// [New] checks the schema: when the database lacks a migration this build
// needs, it fails with an error matching [ErrSchemaOutdated] that names the
// migrations to run, rather than letting the first call fail on a missing
// table. A schema newer than the build is accepted, so a database can be
// migrated before the processes using it are replaced.
//
// # Tenancy
//
// Every row belongs to a tenant, and a Store reads and writes only its
// [Config.Tenant]'s. Many retailers therefore share one database, each
// through its own Store, and none can read or change another's outlets,
// stock, orders, keys or events: event sequence numbers, consumer cursors
// and dead letters are per tenant too. Stores of the same tenant in several
// processes see one state.
//
// # Tenants and API keys
//
// A server that serves many tenants needs to know which exist and who may
// reach each: [Access] keeps both. A tenant exists once created
// ([Access.CreateTenant], or with its first key); an API key
// ([Access.CreateKey]) belongs to one tenant and has one role, and only
// the SHA-256 of its secret is kept, the secret being told once.
// [Access.Authenticate] reads the key at every call, so a revoked key
// ([Access.RevokeKey]) is refused from the next call on in every process,
// and records its last use at most once a minute. "onlinestock keys" and
// "onlinestock tenants" manage them, and "onlinestock serve" answers only
// their holders. On Citus both tables are reference tables, on every
// node: a request finds its key before it knows its tenant.
//
// # Transactions
//
// [Store.View] reads one consistent snapshot and never waits for writers.
// [Store.Update] runs its function in one transaction that behaves as if
// transactions ran one at a time; concurrent calls about different
// products commit in parallel. When PostgreSQL aborts a transaction with a
// serialization failure or a deadlock, Update runs the function again, up
// to [Config.MaxRetries] times, so the function must be safe to run again,
// as the [onlinestock.Store] contract requires. Every committed Update is
// durable.
//
// A transaction that creates many products at once (a POS loading its
// catalogue) is followed by an ANALYZE of the stock tables, so that the
// reads after a first load are planned for the rows the tenant now has.
//
// # Errors
//
// A cancelled or expired context comes back as the context's error. When
// PostgreSQL cannot be reached, [New] and [Migrate] say so and wrap the
// driver's [github.com/jackc/pgx/v5/pgconn.ConnectError]. Values
// PostgreSQL cannot store match [onlinestock.ErrInvalid]. A commit whose
// outcome could not be learned, because the connection was lost while it
// was on its way, wraps [onlinestock.ErrCommitUnknown]. The driver's error
// stays in the chain for [errors.As].
//
// # Events
//
// Each Update writes its events in the same transaction, and they are
// numbered 1, 2, 3, … per tenant, with no gap, each product's in the order
// they happened. [Store.EventsSince], consumer cursors ([Store.SetCursor]
// never moves one back) and dead letters are tables, so a
// [worker.Dispatcher] restarted in a new process resumes after the
// last event it acknowledged.
//
// # Leases and retention
//
// Leases ([Store.TryLease]) expire by the database's clock, so processes
// whose clocks disagree still agree on when a lease ends, and at most one
// process holds a lease at a time. A [worker.Worker] in each process
// holds one per consumer while it delivers: one process at a time delivers
// a tenant's events to a consumer, and another takes over once the holder
// stops renewing. A Store is a [worker.Listener]: a Worker over its
// Service is woken when a commit writes events, through LISTEN/NOTIFY, as
// a Worker over [Tenants] is, and settles the Store ([Store.Settle]) once
// its consumers have every event, so that the next commit notifies again.
//
// [Store.Prune] deletes in short statements of at most Retention.Limit rows
// each: the oldest numbered events up to the lowest cursor of the listed
// consumers and short of the lowest dead letter (a prefix of the outbox, so
// sequence numbers stay gap-free above it); closed reservations, oldest
// first; and idempotency keys past their window. Rows a running transaction
// has locked are skipped, not waited for, and events not yet numbered are
// never deleted.
//
// A consumer's cursor ([Store.SetCursor]) is committed without waiting for
// the disk: should the database server crash, it may come back a few
// batches back, and those events are delivered again, as at-least-once
// delivery allows.
//
// # One Worker for every tenant
//
// [Tenants] is every tenant of the database, for one
// [worker.NewTenants] in each process to serve them all:
//
//	tenants, err := pgstore.NewTenants(pool, pgstore.Config{})
//	...
//	w, err := worker.NewTenants(tenants, onlinestock.Config{}, worker.Config{
//		Consumers: []worker.Consumer{{Name: "shop", Notifier: n}}, // n tells tenants apart by worker.TenantOf(ctx)
//	})
//
// Every transaction that writes events also marks its tenant as pending,
// in the same transaction, and the first to mark it (the tenant had
// nothing pending) sends a notification at commit (NOTIFY, on the channel
// "onlinestock", the payload naming the schema and the tenant). The
// Worker listens on a connection of its own ([Tenants.Listen]) and serves
// the tenant at once; it also polls the marks ([Tenants.Pending]) every
// PollInterval, so a notification lost while it was not listening (its
// connection dropped; it connects again with backoff, and polls as soon as
// it listens) delays delivery by a poll at most. Once the tenant's consumers have every event
// the Worker removes the mark ([Tenants.Settle]), and the next commit
// notifies again. Tenants with reservations due are found through an index
// of open reservations by deadline ([Tenants.Due]). Finding work therefore
// costs a query or two a poll, whatever the number of tenants, and nothing
// between polls; a writer pays for one more statement in its commit's
// round trip, and a notification only when its tenant had nothing pending
// (PostgreSQL serializes the commits of transactions that notify).
//
// On Citus, processes listen on the coordinator, where every client
// connects, and the notification is sent there.
//
// # Scaling out on Citus
//
// When one PostgreSQL server is no longer enough for all retailers
// together, the same schema runs on a Citus cluster. [Migrate] distributes
// it when the database has the citus extension: every table is distributed
// by tenant and co-located, so each retailer's rows live on one node and
// each of its transactions runs there, with the semantics of a single
// server, while retailers spread over the nodes. Every statement of the hot
// paths (stock changes, reservations, the availability page, events and
// their numbering, idempotency keys, connecting and disconnecting outlets)
// touches one tenant's rows and is routed to that tenant's shard alone; no
// call fans out to every node.
//
// Migrate distributes whatever is not yet distributed each time it runs, so
// an existing single-server database moves to Citus with one more run of
// it, once the extension exists and the nodes are known (the rows the
// tables hold move to the shards); later migrations are distributed by the
// run that applies them:
//
//	CREATE EXTENSION citus;  -- in the database, on every node; then on the coordinator:
//	SELECT citus_set_coordinator_host('coordinator-host', 5432);
//	SELECT citus_add_node('worker-host', 5432);  -- for each worker
//	onlinestock migrate --database-url postgres://…@coordinator-host/…
//
// Every process must connect to the coordinator, with Migrate and with
// every Store: never to a worker. The locks that serialize a tenant's
// transactions and the sequence that orders its events are kept on the
// node a transaction starts on, so clients on two nodes would not exclude
// each other. [New] and [Migrate] check this and refuse a worker with
// [ErrWorkerNode]; a pool that names several hosts must name only the
// coordinator and its standbys.
//
// How the Store keeps these promises (its locks, its round trips, how
// events are numbered after they commit) is described in DESIGN.md, in the
// package's folder.
package pgstore

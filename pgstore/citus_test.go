package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// citusPool returns a pool of the test database, or skips tb when the
// database is not a Citus cluster.
func citusPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool := sharedPool(tb)
	var citus bool
	if err := pool.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&citus); err != nil {
		tb.Fatal(err)
	}
	if !citus {
		tb.Skip("the test database has no Citus extension")
	}
	return pool
}

// TestMigrateDistributesEveryTable checks that on Citus every onlinestock
// table with a tenant column is distributed by it, co-located with the
// setup table, but the tenants and their API keys, which are reference
// tables, and that running Migrate again changes nothing.
func TestMigrateDistributesEveryTable(t *testing.T) {
	pool := citusPool(t)
	ctx := context.Background()
	must(t, pgstore.Migrate(ctx, pool))
	rows, err := pool.Query(ctx, `SELECT c.relname, coalesce(d.partmethod::text, ''), d.partmethod IS NOT DISTINCT FROM 'h',
			d.colocationid IS NOT DISTINCT FROM (SELECT colocationid FROM pg_dist_partition
				WHERE logicalrelid = 'onlinestock_setup'::regclass),
			coalesce(column_to_column_name(d.logicalrelid, d.partkey), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant' AND NOT a.attisdropped
		LEFT JOIN pg_dist_partition d ON d.logicalrelid = c.oid
		WHERE c.relkind IN ('r', 'p') AND c.relname LIKE 'onlinestock\_%' ORDER BY c.relname`)
	must(t, err)
	var tables []string
	for rows.Next() {
		var name, method, column string
		var hashed, colocated bool
		must(t, rows.Scan(&name, &method, &hashed, &colocated, &column))
		tables = append(tables, name)
		if name == "onlinestock_tenants" || name == "onlinestock_api_keys" {
			if method != "n" {
				t.Errorf("%s: partition method %q, want a reference table (n)", name, method)
			}
			continue
		}
		if !hashed || !colocated || column != "tenant" {
			t.Errorf("%s: hash-distributed %v, co-located with onlinestock_setup %v, by column %q", name, hashed, colocated, column)
		}
	}
	must(t, rows.Err())
	for _, want := range []string{"onlinestock_setup", "onlinestock_levels", "onlinestock_events", "onlinestock_keys", "onlinestock_tenants", "onlinestock_api_keys"} {
		if !slices.Contains(tables, want) {
			t.Errorf("table %s not found among %v", want, tables)
		}
	}
}

// TestDistributeExistingDatabase builds a single-server database with
// data in a schema of its own, then creates the extension's tables by
// running Migrate again, as an existing deployment moving to Citus does,
// and checks that the data is still there, now on the shards.
func TestDistributeExistingDatabase(t *testing.T) {
	pool := citusPool(t)
	ctx := context.Background()
	schema := "onlinestock_single_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+schema)
	must(t, err)
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	cfg := poolConfig(t, databaseURL(t), 4)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	reserveConns(t, 4)
	local, err := pgxpool.NewWithConfig(ctx, cfg)
	must(t, err)
	t.Cleanup(local.Close)
	for _, m := range mustMigrations(t) {
		_, err := local.Exec(ctx, m.SQL)
		must(t, err)
		_, err = local.Exec(ctx, `CREATE TABLE IF NOT EXISTS onlinestock_migrations (version integer PRIMARY KEY,
			name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
		must(t, err)
		_, err = local.Exec(ctx, `INSERT INTO onlinestock_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
		must(t, err)
	}
	var distributed int
	must(t, local.QueryRow(ctx, `SELECT count(*) FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, schema).Scan(&distributed))
	if distributed != 0 {
		t.Fatalf("%d tables distributed before Migrate", distributed)
	}
	// Data written before distribution, through the Store on the
	// coordinator's local tables.
	store, err := pgstore.New(local, pgstore.Config{Tenant: "before"})
	must(t, err)
	svc := newService(t, store, onlinestock.Config{})
	setUpOutlets(t, svc)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p1", "a", 5), onlinestock.Set("p2", "b", 3)})
	must(t, err)
	must(t, svc.EnableOnline(ctx, "p1", "p2"))
	before := readState(t, store)
	eventsBefore := allEvents(t, store)

	must(t, pgstore.Migrate(ctx, local))
	must(t, local.QueryRow(ctx, `SELECT count(*) FROM pg_dist_partition d JOIN pg_class c ON c.oid = d.logicalrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, schema).Scan(&distributed))
	if distributed < 12 {
		t.Fatalf("%d tables distributed after Migrate, want every table", distributed)
	}
	store, err = pgstore.New(local, pgstore.Config{Tenant: "before"})
	must(t, err)
	svc = newService(t, store, onlinestock.Config{})
	if diff := cmp.Diff(before, readState(t, store), cmp.AllowUnexported(state{})); diff != "" {
		t.Errorf("state changed by distributing (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(eventsBefore, allEvents(t, store)); diff != "" {
		t.Errorf("events changed by distributing (-before +after):\n%s", diff)
	}
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("p1", "a", -1)})
	must(t, err)
	if got := allEvents(t, store); len(got) <= len(eventsBefore) || got[len(got)-1].Seq != uint64(len(got)) {
		t.Errorf("events after distributing: %d, last %+v; want more than %d, numbered on", len(got), got[len(got)-1], len(eventsBefore))
	}
}

func mustMigrations(t *testing.T) []pgstore.Migration {
	t.Helper()
	ms, err := pgstore.Migrations()
	must(t, err)
	return ms
}

// statementLog records every statement a pool sends, with the arguments
// of its first run.
type statementLog struct {
	mu   sync.Mutex
	seen map[string][]any
}

func (l *statementLog) add(sql string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[sql]; !ok {
		l.seen[sql] = args
	}
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.add(d.SQL, d.Args)
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	for _, q := range d.Batch.QueuedQueries {
		l.add(q.SQL, q.Arguments)
	}
	return ctx
}

func (l *statementLog) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (l *statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestHotPathsRunOnOneShard drives every hot path of the Service (Apply
// with idempotency keys, the availability page, Reserve, Release,
// Fulfill, expiry, EventsSince and its numbering, Connect and Disconnect,
// enabling products, cursors) through a pool that records every statement
// it sends and on which Citus turns any statement that runs more than one
// task into an error. It then explains each recorded statement with the
// arguments it ran with, and requires a plan that Citus routes to a single
// shard: one task, nothing pulled to the coordinator or repartitioned, no
// subplan run beforehand. Statements on no distributed table (transaction
// control, advisory locks, the pending-key sequence) run on the
// coordinator alone.
func TestHotPathsRunOnOneShard(t *testing.T) {
	citusPool(t)
	ctx := context.Background()
	cfg := poolConfig(t, databaseURL(t), 4)
	log := &statementLog{seen: map[string][]any{}}
	cfg.ConnConfig.Tracer = log
	cfg.ConnConfig.RuntimeParams["citus.multi_task_query_log_level"] = "error"
	reserveConns(t, 4)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	must(t, err)
	t.Cleanup(pool.Close)

	store, err := pgstore.New(pool, pgstore.Config{Tenant: newTenant(t, sharedPool(t)), KeySweepEvery: 1})
	must(t, err)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	svc := newService(t, store, onlinestock.Config{Clock: func() time.Time { return now }})
	setUpOutlets(t, svc)
	products := productIDs(6)
	var stock []onlinestock.Change
	for _, p := range products {
		stock = append(stock, onlinestock.Set(p, "a", 10), onlinestock.Set(p, "b", 4))
	}
	_, err = svc.Apply(ctx, stock)
	must(t, err)
	must(t, svc.EnableOnline(ctx, products...))
	must(t, svc.DisableOnline(ctx, products[5]))
	adjust := onlinestock.Adjust(products[0], "a", -1)
	adjust.Key = "sale-1"
	for range 2 { // the second is a duplicate
		_, err = svc.Apply(ctx, []onlinestock.Change{adjust, onlinestock.Set("new", "c", 2)})
		must(t, err)
	}
	// A bundle, on a page, in an order, redefined, deleted.
	kit := onlinestock.Bundle{ID: "kit", Components: []onlinestock.Component{{Product: products[3], Quantity: 2}, {Product: products[4], Quantity: 1}}}
	must(t, svc.SaveBundle(ctx, kit))
	must(t, svc.EnableOnline(ctx, "kit"))
	_, err = svc.Availability(ctx, append(products, "kit")...)
	must(t, err)
	_, err = svc.Reserve(ctx, onlinestock.Order{ID: "kit-order", Lines: []onlinestock.Line{{Product: "kit", Quantity: 1}, {Product: products[3], Quantity: 1}}})
	must(t, err)
	_, err = svc.Release(ctx, "kit-order")
	must(t, err)
	kit.Components[0].Quantity = 1
	must(t, svc.SaveBundle(ctx, kit))
	must(t, svc.DeleteBundle(ctx, "kit"))
	// A backorder policy, a backordered order, the policy deleted.
	must(t, svc.SetBackorder(ctx, onlinestock.Backorder{Product: products[2], Limit: 30, Expected: now.Add(time.Hour)}))
	_, err = svc.Reserve(ctx, onlinestock.Order{ID: "pre-order", Lines: []onlinestock.Line{{Product: products[2], Quantity: 20}}})
	must(t, err)
	_, err = svc.Release(ctx, "pre-order")
	must(t, err)
	must(t, svc.DeleteBackorder(ctx, products[2]))
	_, err = svc.Availability(ctx, products...)
	must(t, err)
	_, err = svc.Levels(ctx, products[1])
	must(t, err)
	for i, end := range []func(context.Context, string) (onlinestock.Reservation, error){svc.Release, svc.Fulfill, nil} {
		id := fmt.Sprintf("order-%d", i)
		_, err = svc.Reserve(ctx, onlinestock.Order{ID: id, TTL: time.Minute, Lines: []onlinestock.Line{
			{Product: products[1], Quantity: 2}, {Product: products[2], Quantity: 1}}})
		must(t, err)
		if end != nil {
			_, err = end(ctx, id)
			must(t, err)
		}
		_, err = svc.Reservation(ctx, id)
		must(t, err)
	}
	now = now.Add(time.Hour)
	_, err = svc.ExpireReservations(ctx, now)
	must(t, err)
	_, err = svc.Disconnect(ctx, "b")
	must(t, err)
	_, err = svc.Connect(ctx, "b")
	must(t, err)
	_, err = svc.SetBuffer(ctx, "a", 1)
	must(t, err)
	events, err := svc.EventsSince(ctx, 0, 5)
	must(t, err)
	if len(events) != 5 {
		t.Fatalf("EventsSince: %d events, want 5", len(events))
	}
	for _, f := range []onlinestock.MovementFilter{{}, {Product: products[1]}, {Ref: "order-0"}} {
		if _, err := svc.Movements(ctx, f); err != nil {
			t.Fatalf("Movements(%+v): %v", f, err)
		}
	}
	// Paths of the Tx the Service does not take: products read under the
	// shared setup lock by outlet, a product read but never written (its
	// placeholder is deleted), a level of a product not read.
	must(t, store.Update(ctx, func(tx onlinestock.Tx) error {
		if _, err := tx.Setup(ctx); err != nil {
			return err
		}
		if _, err := tx.ProductsAt(ctx, []string{"a"}); err != nil {
			return err
		}
		if _, err := tx.Products(ctx, []string{"ghost"}); err != nil {
			return err
		}
		return tx.PutLevels(ctx, []onlinestock.Level{{Product: "unread", Outlet: "c", OnHand: 1}})
	}))
	must(t, store.SetCursor(ctx, "c", events[4].Seq))
	_, err = store.Cursor(ctx, "c")
	must(t, err)
	tenants, err := pgstore.NewTenants(pool, pgstore.Config{})
	must(t, err)
	_, err = tenants.Settle(ctx, store.Tenant(), []string{"c"})
	must(t, err)

	log.mu.Lock()
	defer log.mu.Unlock()
	var missing []string
	for name, sql := range pgstore.HotStatements {
		if _, ok := log.seen[sql]; !ok {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for _, name := range missing {
		if name != "sweep-keys" || !testing.Short() {
			t.Errorf("hot statement %s was not run", name)
		}
	}
	// The check itself: a statement on every shard fails it.
	const everyShard = `SELECT count(*) FROM onlinestock_setup`
	rows, err := sharedPool(t).Query(ctx, "EXPLAIN "+everyShard)
	must(t, err)
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	rows, err = sharedPool(t).Query(ctx, `SELECT logicalrelid::text FROM pg_dist_partition`)
	must(t, err)
	distributed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	if notOneShard(everyShard, strings.Join(all, "\n"), distributed) == "" {
		t.Errorf("a count of every tenant passes as one shard:\n%s", strings.Join(all, "\n"))
	}
	explained := 0
	for sql, args := range log.seen {
		word := strings.ToUpper(strings.Fields(sql)[0])
		if slices.Contains([]string{"BEGIN", "COMMIT", "ROLLBACK", "SET", "ANALYZE"}, word) {
			continue
		}
		var plan []string
		err := pgx.BeginFunc(ctx, sharedPool(t), func(tx pgx.Tx) error {
			// Set as sqlDrawPending sets it before the events are inserted.
			if _, err := tx.Exec(ctx, `SELECT set_config('onlinestock.pending', '0', true)`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "EXPLAIN "+sql, args...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", sql, err)
			continue
		}
		text := strings.Join(plan, "\n")
		if sql == pgstore.HotStatements["mark-pending"] {
			// The INSERT on the tenant's shard, then the notification on
			// the coordinator, where Workers listen, from its result.
			if bad := notShardThenCoordinator(text); bad != "" {
				t.Errorf("%s:\n%s\n%s", bad, sql, text)
			}
			explained++
			continue
		}
		if bad := notOneShard(sql, text, distributed); bad != "" {
			t.Errorf("%s:\n%s\n%s", bad, sql, text)
		}
		explained++
	}
	t.Logf("%d statements explained", explained)
}

// notOneShard says why an EXPLAIN of sql on Citus does not show a plan run
// on one shard, or returns "". A statement on none of the distributed
// tables runs on the coordinator alone.
func notOneShard(sql, plan string, distributed []string) string {
	if !strings.Contains(plan, "Custom Scan (Citus") {
		for _, table := range distributed {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(table) + `\b`).MatchString(sql) {
				return "a statement on " + table + " not planned by Citus"
			}
		}
		return ""
	}
	switch {
	case strings.Count(plan, "Custom Scan (Citus") != 1:
		return "more than one distributed scan"
	case strings.Count(plan, "Task Count: 1\n") != 1 && !strings.HasSuffix(plan, "Task Count: 1"):
		return "not one task"
	case strings.Contains(plan, "pull to coordinator"), strings.Contains(plan, "repartition"),
		strings.Contains(plan, "Distributed Subplan"), strings.Contains(plan, "Task Count: 0"):
		return "not routed to one shard"
	}
	return ""
}

// notShardThenCoordinator says why an EXPLAIN on Citus does not show a
// statement run on one shard, whose result a query on the coordinator then
// reads, or returns "".
func notShardThenCoordinator(plan string) string {
	top, rest, ok := strings.Cut(plan, "Distributed Subplan")
	switch {
	case !ok || strings.Contains(rest, "Distributed Subplan"):
		return "not one subplan"
	case strings.Count(top, "Custom Scan (Citus") != 1 || strings.Count(rest, "Custom Scan (Citus") != 1:
		return "not one distributed scan for the subplan and one for the query on its result"
	case strings.Count(rest, "Task Count: 1\n") != 2:
		return "the subplan or the query on its result is not one task"
	case !strings.Contains(rest, "Insert on onlinestock_pending_"):
		return "the subplan does not insert on a shard"
	case !strings.Contains(rest, "Function Scan on read_intermediate_result"):
		return "the query on the subplan's result reads more than its result"
	}
	return ""
}

// TestWorkerNodeRefused connects to a worker node of the cluster, which
// the package documentation rules out, and checks that New and Migrate
// refuse it: the locks and the pending-key sequence that keep a tenant's
// transactions and events in order are the coordinator's.
func TestWorkerNodeRefused(t *testing.T) {
	pool := citusPool(t)
	ctx := context.Background()
	var host string
	var port int
	must(t, pool.QueryRow(ctx, `SELECT nodename, nodeport FROM pg_dist_node
		WHERE groupid <> 0 AND noderole = 'primary' AND isactive ORDER BY nodeid LIMIT 1`).Scan(&host, &port))
	cfg := poolConfig(t, databaseURL(t), 2)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(port)
	cfg.ConnConfig.Fallbacks = nil
	worker, err := pgxpool.NewWithConfig(ctx, cfg)
	must(t, err)
	t.Cleanup(worker.Close)
	if err := worker.Ping(ctx); err != nil {
		t.Skipf("worker %s unreachable: %v", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	if _, err := pgstore.New(worker, pgstore.Config{Tenant: newTenant(t, pool)}); !errors.Is(err, pgstore.ErrWorkerNode) {
		t.Errorf("New through a worker: %v, want ErrWorkerNode", err)
	}
	if err := pgstore.Migrate(ctx, worker); !errors.Is(err, pgstore.ErrWorkerNode) {
		t.Errorf("Migrate through a worker: %v, want ErrWorkerNode", err)
	}
	// The same through the coordinator.
	if _, err := pgstore.New(pool, pgstore.Config{Tenant: newTenant(t, pool)}); err != nil {
		t.Errorf("New through the coordinator: %v", err)
	}
}

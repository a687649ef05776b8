package pgstore_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/storetest"
)

// urlEnv names the database the tests use. They create their own tenants
// in it and delete them when done.
const urlEnv = "ONLINESTOCK_TEST_DATABASE_URL"

var (
	migrateOnce sync.Once
	migrateErr  error
	sharedOnce  sync.Once
	shared      *pgxpool.Pool
	sharedErr   error
)

// The tests run in parallel, each with the pool it needs, and together
// they must stay well under PostgreSQL's default max_connections of 100.
// connBudget bounds the connections they may hold at once: the shared
// pool's, every test's own pool and the pools of child processes. A test
// waits for its share of the budget before it opens its pool and gives it
// back when its pool is closed.
const (
	connBudget  = 60
	sharedConns = 16 // the shared pool's share, held for the whole process
	// connLimit is what TestMain checks the database saw: the budget, the
	// monitor's own connection and a few backends of closed pools that are
	// still exiting.
	connLimit = connBudget + 10
)

var budget = struct {
	mu   sync.Mutex
	cond *sync.Cond
	used int
}{}

func init() { budget.cond = sync.NewCond(&budget.mu) }

// reserveConns waits until n more connections fit in the budget, takes
// them, and gives them back when tb ends, after the cleanups registered
// later (closing the pool) have run.
func reserveConns(tb testing.TB, n int) {
	tb.Helper()
	if n > connBudget-sharedConns {
		tb.Fatalf("a pool of %d connections does not fit the tests' budget of %d beside the shared pool's %d", n, connBudget, sharedConns)
	}
	takeConns(n)
	tb.Cleanup(func() { giveConns(n) })
}

func takeConns(n int) {
	budget.mu.Lock()
	defer budget.mu.Unlock()
	for budget.used+n > connBudget {
		budget.cond.Wait()
	}
	budget.used += n
}

func giveConns(n int) {
	budget.mu.Lock()
	defer budget.mu.Unlock()
	budget.used -= n
	budget.cond.Broadcast()
}

// appNameEnv passes the tests' application_name to child processes, whose
// connections then count with the parent's.
const appNameEnv = "PGSTORE_TEST_APPLICATION_NAME"

// appName is the application_name of every connection of this test
// process (and its children), which TestMain counts: appName itself, or
// appName, a space and more, for a pool a test must tell apart.
var appName = cmp.Or(os.Getenv(appNameEnv), fmt.Sprintf("onlinestock-pgstore-test-%d", os.Getpid()))

// TestMain runs the tests while a monitor counts the connections they hold,
// and fails the run if they ever held more than connLimit.
//
// It runs nothing when no test database is named, and says so where go
// test shows it: "go test ./..." prints only one line for a package that
// passes, and ends it with "[no tests to run]" when the test binary reports
// that it ran none, as this one does. Every test of the package needs
// PostgreSQL, so none is left out that could have run.
func TestMain(m *testing.M) {
	url := os.Getenv(urlEnv)
	if url == "" {
		fmt.Printf("pgstore: %s is not set: the PostgreSQL tests did not run.\n", urlEnv)
		fmt.Printf("pgstore: create a database and name it, e.g.\n")
		fmt.Printf("  createdb -h 127.0.0.1 -U postgres onlinestock_test\n")
		fmt.Printf("  %s='postgres://postgres@127.0.0.1:5432/onlinestock_test?sslmode=disable' go test ./...\n", urlEnv)
		fmt.Println("testing: warning: no tests to run")
		os.Exit(0)
	}
	if os.Getenv(crashEnv) != "" || os.Getenv(workerTenantsEnv) != "" {
		os.Exit(m.Run()) // a child process: its parent counts its connections
	}
	ctx, stop := context.WithCancel(context.Background())
	peak := make(chan int, 1)
	monitor, err := pgx.Connect(ctx, url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "connection monitor: %v\n", err)
		os.Exit(1)
	}
	go func() {
		most := 0
		for ctx.Err() == nil {
			var n int
			if err := monitor.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE application_name = $1 OR starts_with(application_name, $1 || ' ')`, appName).Scan(&n); err == nil {
				most = max(most, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		peak <- most
	}()
	code := m.Run()
	stop()
	most := <-peak
	_ = monitor.Close(context.Background())
	if testing.Verbose() {
		fmt.Printf("the tests held at most %d connections at once (limit %d)\n", most, connLimit)
	}
	if most > connLimit {
		fmt.Fprintf(os.Stderr, "FAIL: the tests held %d connections at once, more than %d (PostgreSQL's default max_connections is 100)\n", most, connLimit)
		code = 1
	}
	os.Exit(code)
}

// databaseURL returns the test database's URL, or skips tb when none is set.
func databaseURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(urlEnv)
	if url == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL tests (set it to a database URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", urlEnv)
	}
	return url
}

// newPool returns a pool of at most maxConns connections to the migrated
// test database, within the budget, closed when tb ends.
func newPool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	return openPool(tb, maxConns)
}

// openPool is newPool for a test that closes the pool itself before it
// ends; closing it again when tb ends does nothing.
func openPool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	cfg := poolConfig(tb, databaseURL(tb), maxConns)
	reserveConns(tb, int(maxConns))
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	migrateOnce.Do(func() { migrateErr = pgstore.Migrate(context.Background(), pool) })
	if migrateErr != nil {
		tb.Fatalf("Migrate: %v", migrateErr)
	}
	return pool
}

func poolConfig(tb testing.TB, url string, maxConns int32) *pgxpool.Config {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("%s: %v", urlEnv, err)
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	return cfg
}

// sharedPool is one pool for the tests that need few connections, kept for
// the whole process.
func sharedPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	url := databaseURL(tb)
	sharedOnce.Do(func() {
		cfg := poolConfig(tb, url, sharedConns)
		takeConns(sharedConns) // never given back
		shared, sharedErr = pgxpool.NewWithConfig(context.Background(), cfg)
		if sharedErr == nil {
			migrateOnce.Do(func() { migrateErr = pgstore.Migrate(context.Background(), shared) })
			sharedErr = migrateErr
		}
	})
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

// newTenant returns a tenant name no other test uses, and deletes the
// tenant's rows when tb ends.
func newTenant(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	tenant := "test-" + hex.EncodeToString(b[:])
	tb.Cleanup(func() { dropTenant(tb, pool, tenant) })
	return tenant
}

func dropTenant(tb testing.TB, pool *pgxpool.Pool, tenant string) {
	tb.Helper()
	// Every table of the schema with a tenant column, so that a table a
	// migration adds is never left out.
	rows, err := pool.Query(context.Background(), `SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant' AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'p') AND c.relname LIKE 'onlinestock\_%' AND NOT c.relispartition ORDER BY 1`)
	if err != nil {
		tb.Errorf("listing the tables of tenant %q: %v", tenant, err)
		return
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Errorf("listing the tables of tenant %q: %v", tenant, err)
		return
	}
	for _, table := range tables {
		if _, err := pool.Exec(context.Background(), "DELETE FROM "+table+" WHERE tenant = $1", tenant); err != nil {
			tb.Errorf("deleting tenant %q from %s: %v", tenant, table, err)
		}
	}
}

// newStore returns a Store of a fresh tenant over pool.
func newStore(tb testing.TB, pool *pgxpool.Pool) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.New(pool, pgstore.Config{Tenant: newTenant(tb, pool)})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func newService(tb testing.TB, store onlinestock.Store, cfg onlinestock.Config) *onlinestock.Service {
	tb.Helper()
	svc, err := onlinestock.New(store, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

func TestConformance(t *testing.T) {
	pool := sharedPool(t)
	storetest.Run(t, func(t *testing.T) onlinestock.Store { return newStore(t, pool) })
}

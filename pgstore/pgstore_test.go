package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"

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
// test database, closed when tb ends.
func newPool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	pool := openPool(tb, maxConns)
	tb.Cleanup(pool.Close)
	return pool
}

func openPool(tb testing.TB, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(databaseURL(tb))
	if err != nil {
		tb.Fatalf("%s: %v", urlEnv, err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	migrateOnce.Do(func() { migrateErr = pgstore.Migrate(context.Background(), pool) })
	if migrateErr != nil {
		pool.Close()
		tb.Fatalf("Migrate: %v", migrateErr)
	}
	return pool
}

// sharedPool is one pool for the tests that need few connections, kept for
// the whole process.
func sharedPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	databaseURL(tb)
	sharedOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(os.Getenv(urlEnv))
		if err != nil {
			sharedErr = err
			return
		}
		cfg.MaxConns = 48
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
	for _, table := range []string{"setup", "event_counter", "outlets", "registers", "methods", "products",
		"levels", "keys", "events", "reservations", "cursors", "dead_letters"} {
		if _, err := pool.Exec(context.Background(), "DELETE FROM onlinestock_"+table+" WHERE tenant = $1", tenant); err != nil {
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

package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock/pgstore"
)

// emptySchemaPool returns a pool whose connections use a new, empty
// PostgreSQL schema, dropped when tb ends: a database never migrated.
func emptySchemaPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	ctx := context.Background()
	admin := sharedPool(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "onlinestock_empty_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	cfg, err := pgxpool.ParseConfig(databaseURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func names(ms []pgstore.Migration) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestSchemaLifecycle(t *testing.T) {
	ctx := context.Background()
	pool := emptySchemaPool(t)
	all, err := pgstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	last := all[len(all)-1]

	t.Run("a database never migrated has every migration pending", func(t *testing.T) {
		status, err := pgstore.Status(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(names(all), names(status.Pending)); diff != "" {
			t.Errorf("Status().Pending mismatch (-want +got):\n%s", diff)
		}
		if len(status.Applied) != 0 || status.Version() != 0 {
			t.Errorf("Status() = %d applied at version %d, want none", len(status.Applied), status.Version())
		}
	})

	t.Run("New refuses a database never migrated and names the migrations", func(t *testing.T) {
		_, err := pgstore.New(pool, pgstore.Config{Tenant: "t"})
		if !errors.Is(err, pgstore.ErrSchemaOutdated) {
			t.Fatalf("New() error = %v, want ErrSchemaOutdated", err)
		}
		for _, want := range []string{"never migrated", "onlinestock migrate", all[0].Name, last.Name} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New() error %q does not mention %q", err, want)
			}
		}
	})

	t.Run("ApplyPending applies every migration and says so", func(t *testing.T) {
		applied, err := pgstore.ApplyPending(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(names(all), names(applied)); diff != "" {
			t.Errorf("ApplyPending() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("a second run applies nothing", func(t *testing.T) {
		applied, err := pgstore.ApplyPending(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Errorf("ApplyPending() applied %v again", names(applied))
		}
	})

	t.Run("Status lists what is applied, and New accepts the schema", func(t *testing.T) {
		status, err := pgstore.Status(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		if len(status.Pending) != 0 || status.Version() != last.Version || len(status.Applied) != len(all) {
			t.Errorf("Status() = %+v, want every migration applied, at version %d", status, last.Version)
		}
		for _, a := range status.Applied {
			if a.AppliedAt.IsZero() {
				t.Errorf("migration %s has no time applied", a.Name)
			}
		}
		if _, err := pgstore.New(pool, pgstore.Config{Tenant: "t"}); err != nil {
			t.Errorf("New() on a migrated schema: %v", err)
		}
	})

	t.Run("New refuses a schema missing the newest migration", func(t *testing.T) {
		if len(all) < 2 {
			t.Skip("one migration only")
		}
		if _, err := pool.Exec(ctx, "DELETE FROM onlinestock_migrations WHERE version = $1", last.Version); err != nil {
			t.Fatal(err)
		}
		_, err := pgstore.New(pool, pgstore.Config{Tenant: "t"})
		if !errors.Is(err, pgstore.ErrSchemaOutdated) || !strings.Contains(err.Error(), last.Name) {
			t.Errorf("New() error = %v, want ErrSchemaOutdated naming %s", err, last.Name)
		}
	})
}

func TestRefusedConnection(t *testing.T) {
	databaseURL(t) // with the other PostgreSQL tests
	ctx := context.Background()
	// Port 1 on the loopback interface: nothing listens, the connection is refused.
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for name, call := range map[string]func() error{
		"New":     func() error { _, err := pgstore.New(pool, pgstore.Config{Tenant: "t"}); return err },
		"Migrate": func() error { return pgstore.Migrate(ctx, pool) },
		"Status":  func() error { _, err := pgstore.Status(ctx, pool); return err },
	} {
		err := call()
		if !errors.As(err, new(*pgconn.ConnectError)) || !strings.Contains(err.Error(), "cannot connect to PostgreSQL") {
			t.Errorf("%s() error = %v, want a connection error that says so", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "migration") {
			t.Errorf("%s() error = %v, blames a migration", name, err)
		}
	}
}

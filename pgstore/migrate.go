package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serializes migrations across
// processes ("onlinestock" in ASCII, to stay clear of other users' keys).
const migrationLock int64 = 0x6f6e6c696e6573

// Migration is one embedded schema migration.
type Migration struct {
	Version int    // from the file name's numeric prefix, 1 for 0001_init.sql
	Name    string // the file name
	SQL     string
}

// Migrations returns the embedded migrations in the order [Migrate] applies
// them.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pgstore: migration %q: name must start with a positive number and '_'", name)
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("pgstore: migrations %q and %q share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// Migrate brings the database schema up to date: it applies, in version
// order, every embedded migration not yet recorded in the
// onlinestock_migrations table, each in its own transaction together with
// its record. Running it again is a no-op. Processes migrating at once are
// safe: each migration runs under a transaction-scoped advisory lock and
// checks the record table after taking it, so every migration is applied
// exactly once. [ApplyPending] does the same and tells what it applied.
//
// When the database has the Citus extension, Migrate then distributes every
// table not yet distributed by its tenant column, co-located, moving any
// rows it holds to the shards; see the package documentation. Running it
// again after creating the extension in a single-server database therefore
// distributes that database. On a Citus cluster, Migrate must run on the
// coordinator.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := ApplyPending(ctx, pool)
	return err
}

// ApplyPending is [Migrate], returning the migrations this call applied, in
// order: none when the schema was up to date, or when another process
// applied them first. When PostgreSQL cannot be reached, the error says so
// (it wraps the driver's [pgconn.ConnectError]) and nothing is applied.
func ApplyPending(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgstore: Migrate: nil pool")
	}
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		return nil, connectionError(ctx, err)
	}
	if _, err := checkNode(ctx, pool); err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range migrations {
		done, err := applyMigration(ctx, pool, m)
		if err != nil {
			return applied, fmt.Errorf("%w (migration %s)", connectionError(ctx, err), m.Name)
		}
		if done {
			applied = append(applied, m)
		}
	}
	if err := distribute(ctx, pool); err != nil {
		return applied, connectionError(ctx, err)
	}
	return applied, nil
}

// ErrSchemaOutdated is returned by [New] and [CheckSchema] when the database
// lacks migrations this build needs: run [Migrate], or "onlinestock
// migrate".
var ErrSchemaOutdated = errors.New("pgstore: database schema is not up to date")

// AppliedMigration is a migration recorded as applied in the database.
type AppliedMigration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

// SchemaStatus compares a database's schema with the migrations embedded in
// this build.
type SchemaStatus struct {
	Applied []AppliedMigration // recorded in the database, by version
	Pending []Migration        // embedded, not yet applied, by version
}

// Version is the highest applied migration's version, 0 when none is.
func (s SchemaStatus) Version() int {
	if len(s.Applied) == 0 {
		return 0
	}
	return s.Applied[len(s.Applied)-1].Version
}

// Status reads which migrations the database has applied and which of this
// build's are pending. A database never migrated has none applied. It
// changes nothing.
func Status(ctx context.Context, pool *pgxpool.Pool) (SchemaStatus, error) {
	if pool == nil {
		return SchemaStatus{}, fmt.Errorf("pgstore: Status: nil pool")
	}
	migrations, err := Migrations()
	if err != nil {
		return SchemaStatus{}, err
	}
	var status SchemaStatus
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('onlinestock_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return SchemaStatus{}, connectionError(ctx, err)
	}
	if exists {
		rows, err := pool.Query(ctx, `SELECT version, name, applied_at FROM onlinestock_migrations ORDER BY version`)
		if err != nil {
			return SchemaStatus{}, connectionError(ctx, err)
		}
		status.Applied, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (AppliedMigration, error) {
			var m AppliedMigration
			err := row.Scan(&m.Version, &m.Name, &m.AppliedAt)
			return m, err
		})
		if err != nil {
			return SchemaStatus{}, connectionError(ctx, err)
		}
	}
	for _, m := range migrations {
		if !slices.ContainsFunc(status.Applied, func(a AppliedMigration) bool { return a.Version == m.Version }) {
			status.Pending = append(status.Pending, m)
		}
	}
	return status, nil
}

// CheckSchema returns nil when every migration of this build is applied to
// the database, and otherwise an error matching [ErrSchemaOutdated] that
// names the pending migrations. A schema newer than the build (migrations it
// does not know) is accepted, so that a database can be migrated before the
// processes using it are replaced.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	status, err := Status(ctx, pool)
	if err != nil {
		return err
	}
	if len(status.Pending) == 0 {
		return nil
	}
	names := make([]string, len(status.Pending))
	for i, m := range status.Pending {
		names[i] = m.Name
	}
	at := fmt.Sprintf("at version %d", status.Version())
	if len(status.Applied) == 0 {
		at = "never migrated"
	}
	return fmt.Errorf("%w: %s, this build needs version %d: run \"onlinestock migrate\" or pgstore.Migrate (pending: %s)",
		ErrSchemaOutdated, at, status.Pending[len(status.Pending)-1].Version, strings.Join(names, ", "))
}

// connectionError says that PostgreSQL could not be reached when that is
// what err is, and otherwise maps err as every driver error is mapped.
func connectionError(ctx context.Context, err error) error {
	if ctx.Err() == nil && errors.As(err, new(*pgconn.ConnectError)) {
		return fmt.Errorf("pgstore: cannot connect to PostgreSQL (is it running, and does the URL name it?): %w", err)
	}
	return interpretError(ctx, err)
}

// applyMigration applies m unless it is recorded already, and reports
// whether it did.
func applyMigration(ctx context.Context, pool *pgxpool.Pool, m Migration) (applied bool, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		// Created under the lock: concurrent CREATE TABLE IF NOT EXISTS can
		// otherwise fail on the catalog's unique indexes.
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS onlinestock_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM onlinestock_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil { // no arguments: simple protocol, several statements
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO onlinestock_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied && err == nil, err
}

package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// distribute makes the schema distributed when the database has the Citus
// extension: every onlinestock table with a tenant column but the
// [referenceTables] is distributed by it and co-located with onlinestock_setup, so all of one retailer's rows
// live in one shard, on one node, and each of its transactions runs there
// with the full semantics of a single PostgreSQL server. The rows a table
// already holds (a single-server database being distributed) move to the
// shards. Tables already distributed are left as they are, so it is safe to
// run again, also by several processes at once: it runs in one transaction
// under the migration lock. Without Citus it does nothing. Migrate runs it
// last.
func distribute(ctx context.Context, pool *pgxpool.Pool) error {
	citus, err := hasCitus(ctx, pool)
	if err != nil || !citus {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		var coordinator bool
		if err := tx.QueryRow(ctx, `SELECT citus_is_coordinator()`).Scan(&coordinator); err != nil {
			return err
		}
		if !coordinator {
			return ErrWorkerNode
		}
		rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant' AND NOT a.attisdropped
			WHERE c.relkind IN ('r', 'p') AND c.relname LIKE 'onlinestock\_%' AND NOT c.relispartition
			AND c.relname <> ALL($1)
			AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid)
			ORDER BY c.relname <> 'onlinestock_setup', c.relname`, referenceTables)
		if err != nil {
			return err
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(tables) > 0 && tables[0] != "onlinestock_setup" {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_dist_partition
				WHERE logicalrelid = 'onlinestock_setup'::regclass AND partmethod = 'h')`).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("pgstore: onlinestock_setup is a Citus table but not distributed by tenant")
			}
		}
		for _, table := range tables {
			// The setup table leads its own co-location group, which
			// every other table joins.
			colocate := "onlinestock_setup"
			if table == colocate {
				colocate = "none"
			}
			if _, err := tx.Exec(ctx, `SELECT create_distributed_table($1::regclass, 'tenant', colocate_with => $2)`,
				pgx.Identifier{table}.Sanitize(), colocate); err != nil {
				return fmt.Errorf("pgstore: distributing %s: %w", table, err)
			}
			// The rows copied to the shards stay behind in the table on
			// the coordinator, invisible; they are removed.
			if _, err := tx.Exec(ctx, `SELECT truncate_local_data_after_distributing_table($1::regclass)`,
				pgx.Identifier{table}.Sanitize()); err != nil {
				return fmt.Errorf("pgstore: distributing %s: %w", table, err)
			}
		}
		for _, table := range referenceTables {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass)`,
				pgx.Identifier{table}.Sanitize()).Scan(&done); err != nil {
				return err
			}
			if done {
				continue
			}
			if _, err := tx.Exec(ctx, `SELECT create_reference_table($1::regclass)`, pgx.Identifier{table}.Sanitize()); err != nil {
				return fmt.Errorf("pgstore: making %s a reference table: %w", table, err)
			}
			if _, err := tx.Exec(ctx, `SELECT truncate_local_data_after_distributing_table($1::regclass)`,
				pgx.Identifier{table}.Sanitize()); err != nil {
				return fmt.Errorf("pgstore: making %s a reference table: %w", table, err)
			}
		}
		return nil
	})
}

// referenceTables are copied whole to every node instead of being
// distributed by tenant: the tenants and their API keys, which a request
// looks up by key before it knows its tenant, and which change seldom.
var referenceTables = []string{"onlinestock_tenants", "onlinestock_api_keys"}

// ErrWorkerNode is returned by [New] and [Migrate] when the pool is
// connected to a worker node of a Citus cluster rather than to its
// coordinator.
var ErrWorkerNode = errors.New("pgstore: connected to a Citus worker node: connect to the coordinator")

// hasCitus reports whether the database has the Citus extension.
func hasCitus(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (bool, error) {
	var citus bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&citus)
	return citus, err
}

// checkNode returns [ErrWorkerNode] when pool is connected to a worker
// node of a Citus cluster: the tenant's setup, order and numbering locks
// and the sequence that orders its events are kept on the node a
// transaction starts on, so every client must start its transactions on
// the same node, the coordinator. Any single server passes.
// It reports whether the database is a Citus cluster.
func checkNode(ctx context.Context, pool *pgxpool.Pool) (citus bool, err error) {
	citus, err = hasCitus(ctx, pool)
	if err != nil {
		return false, connectionError(ctx, err)
	}
	if !citus {
		return false, nil
	}
	var coordinator bool
	if err := pool.QueryRow(ctx, `SELECT citus_is_coordinator()`).Scan(&coordinator); err != nil {
		return true, connectionError(ctx, err)
	}
	if !coordinator {
		return true, ErrWorkerNode
	}
	return true, nil
}

// sqlPropagateSettings makes Citus pass the SET LOCAL commands that follow
// it in a transaction on to the workers the transaction uses, so that the
// planner settings a statement is run with apply where it is planned.
const sqlPropagateSettings = `SET LOCAL citus.propagate_set_commands = 'local'`

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/onlinestock/onlinestock/pgstore"
)

func migrateCommand(db *database) *cobra.Command {
	var timeout time.Duration
	connect := func(cmd *cobra.Command) (context.Context, *pgxpool.Pool, func(), error) {
		ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
		pool, err := db.pool(ctx, cmd)
		if err != nil {
			cancel()
			return nil, nil, nil, err
		}
		return ctx, pool, func() { pool.Close(); cancel() }, nil
	}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the pending schema migrations to a PostgreSQL database, listing them",
		Long: `Apply the pending schema migrations to a PostgreSQL database and list the
ones applied. Running it again is a no-op, and several processes may run it
at once.`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, pool, done, err := connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			return migrate(ctx, pool, cmd.OutOrStdout())
		},
	}
	cmd.PersistentFlags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "List the applied and pending migrations; exit status 3 when some are pending",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, pool, done, err := connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			return migrateStatus(ctx, pool, cmd.OutOrStdout())
		},
	})
	return cmd
}

func migrate(ctx context.Context, pool *pgxpool.Pool, stdout io.Writer) error {
	applied, err := pgstore.ApplyPending(ctx, pool)
	for _, m := range applied {
		fmt.Fprintf(stdout, "applied %s\n", m.Name)
	}
	if err != nil {
		return err
	}
	s, err := pgstore.Status(ctx, pool)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "nothing to apply: ")
	}
	fmt.Fprintf(stdout, "schema at version %d\n", s.Version())
	return nil
}

// errPending is migrate status's answer when migrations are pending: exit
// status 3, so scripts can wait for a migration.
var errPending = errors.New("migrations are pending: run \"onlinestock migrate\"")

func migrateStatus(ctx context.Context, pool *pgxpool.Pool, stdout io.Writer) error {
	s, err := pgstore.Status(ctx, pool)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "version\tmigration\tapplied")
	for _, m := range s.Applied {
		fmt.Fprintf(w, "%d\t%s\t%s\n", m.Version, m.Name, m.AppliedAt.UTC().Format(time.RFC3339))
	}
	for _, m := range s.Pending {
		fmt.Fprintf(w, "%d\t%s\tpending\n", m.Version, m.Name)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d, %d pending\n", s.Version(), len(s.Pending))
	if len(s.Pending) > 0 {
		return errPending
	}
	return nil
}

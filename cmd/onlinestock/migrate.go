package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock/pgstore"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	status := len(args) > 0 && args[0] == "status"
	name := "migrate"
	if status {
		args, name = args[1:], "migrate status"
	}
	c := newCommand(name, "[--database-url URL] [--timeout D]", stderr)
	timeout := c.fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := c.parse(args); err != nil {
		return err
	}
	if err := c.wantArgs(0, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pool, err := c.pool(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if status {
		return migrateStatus(ctx, pool, stdout)
	}
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

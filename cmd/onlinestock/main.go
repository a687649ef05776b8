// Command onlinestock administers the PostgreSQL store of the onlinestock
// library.
//
// Usage:
//
//	onlinestock migrate [--database-url URL]
//	onlinestock migrate status [--database-url URL]
//
// migrate brings the database schema up to date and lists the migrations it
// applied; running it again is a no-op, and several processes may run it at
// once. migrate status lists the applied and pending migrations and changes
// nothing; it exits with status 3 when migrations are pending. The URL
// defaults to the DATABASE_URL environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock/pgstore"
)

const usage = `usage: onlinestock <command> [flags]

commands:
  migrate          apply the pending schema migrations to a PostgreSQL database
  migrate status   list the applied and pending migrations

Run "onlinestock <command> -h" for a command's flags.
`

// usageError is a command line mistake: the exit code is 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(*usageError)):
		fmt.Fprintln(os.Stderr, "onlinestock:", err)
		os.Exit(2)
	case errors.Is(err, errPending):
		fmt.Fprintln(os.Stderr, "onlinestock:", err)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "onlinestock:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErrorf("no command given")
	}
	switch args[0] {
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageErrorf("unknown command %q", args[0])
	}
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	status := len(args) > 0 && args[0] == "status"
	name := "migrate"
	if status {
		args, name = args[1:], "migrate status"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: onlinestock %s [--database-url URL] [--timeout D]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErrorf("%s: %v", name, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageErrorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	if *url == "" {
		*url = os.Getenv("DATABASE_URL")
	}
	if *url == "" {
		fs.Usage()
		return usageErrorf("%s: no database: pass --database-url or set DATABASE_URL", name)
	}
	cfg, err := pgxpool.ParseConfig(*url)
	if err != nil {
		return usageErrorf("%s: --database-url: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
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

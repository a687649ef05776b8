// Command onlinestock administers the PostgreSQL store of the onlinestock
// library.
//
// Usage:
//
//	onlinestock migrate [--database-url URL]
//
// migrate brings the database schema up to date; running it again is a
// no-op, and several processes may run it at once. The URL defaults to the
// DATABASE_URL environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock/pgstore"
)

const usage = `usage: onlinestock <command> [flags]

commands:
  migrate   apply the pending schema migrations to a PostgreSQL database

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
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: onlinestock migrate [--database-url URL] [--timeout D]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErrorf("migrate: %v", err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageErrorf("migrate: unexpected argument %q", fs.Arg(0))
	}
	if *url == "" {
		*url = os.Getenv("DATABASE_URL")
	}
	if *url == "" {
		fs.Usage()
		return usageErrorf("migrate: no database: pass --database-url or set DATABASE_URL")
	}
	cfg, err := pgxpool.ParseConfig(*url)
	if err != nil {
		return usageErrorf("migrate: --database-url: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		return err
	}
	migrations, err := pgstore.Migrations()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema up to date at version %d\n", migrations[len(migrations)-1].Version)
	return nil
}

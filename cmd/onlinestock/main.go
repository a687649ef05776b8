// Command onlinestock runs and administers the onlinestock library over
// PostgreSQL: schema migrations, the HTTP API, inspection of a tenant's
// state, the first load of stock from a CSV file, and redelivery of dead
// letters.
//
// Usage:
//
//	onlinestock migrate [flags]                      apply the pending migrations, listing them
//	onlinestock migrate status [flags]               list applied and pending migrations
//	onlinestock serve --tenant T [flags]             serve the HTTP API (package httpapi)
//	onlinestock inspect WHAT [ARGS] --tenant T       show a tenant's state, as a table or --json
//	onlinestock import --tenant T FILE.csv           load stock levels (product,outlet,on_hand)
//	onlinestock redeliver --tenant T --webhook-url URL SEQ...   deliver dead letters again
//
// Every command takes --database-url, which defaults to the DATABASE_URL
// environment variable. Flags may come before or after arguments.
//
// migrate brings the database schema up to date and lists the migrations it
// applied; running it again is a no-op, and several processes may run it at
// once. migrate status lists the applied and pending migrations and changes
// nothing; it exits with status 3 when migrations are pending.
//
// The exit status is 0 on success, 1 on failure, 2 on a mistake in the
// command line and 3 when migrate status finds migrations pending.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: onlinestock <command> [flags]

commands:
  migrate          apply the pending schema migrations to a PostgreSQL database
  migrate status   list the applied and pending migrations
  serve            serve the HTTP API over PostgreSQL
  inspect          show a tenant's outlets, methods, levels, availability,
                   events, reservations or dead letters
  import           load stock levels from a CSV file (product,outlet,on_hand)
  redeliver        deliver dead-lettered events to a webhook again

Run "onlinestock <command> -h" for a command's flags.
`

// usageError is a command line mistake: the exit code is 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "inspect":
		return inspect(ctx, args[1:], stdout, stderr)
	case "import":
		return importCSV(ctx, args[1:], stdout, stderr)
	case "redeliver":
		return redeliver(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageErrorf("unknown command %q", args[0])
	}
}

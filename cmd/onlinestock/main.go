// Command onlinestock runs and administers the onlinestock library over
// PostgreSQL: schema migrations, the HTTP API and its tenants and API
// keys, inspection of a tenant's state, the first load of stock from a
// CSV file, and redelivery of dead letters.
//
// Usage:
//
//	onlinestock migrate [flags]                      apply the pending migrations, listing them
//	onlinestock migrate status [flags]               list applied and pending migrations
//	onlinestock serve [flags]                        serve the HTTP API (package httpapi) to API keys
//	onlinestock tenants create|list                  the tenants the server serves
//	onlinestock keys create|list|revoke              API keys: a tenant and a role each
//	onlinestock inspect WHAT [ARGS] --tenant T       show a tenant's state, as a table or --json
//	onlinestock import --tenant T FILE.csv           load stock levels (product,outlet,on_hand)
//	onlinestock redeliver --tenant T --webhook-url URL SEQ...   deliver dead letters again
//	onlinestock help [COMMAND]                       a command's flags
//	onlinestock completion bash|zsh|fish|powershell  a shell completion script
//
// Every command takes --database-url, which defaults to the DATABASE_URL
// environment variable. Flags may come before or after arguments, and a
// long flag may be written with one dash (-tenant) as well as two.
//
// migrate brings the database schema up to date and lists the migrations it
// applied; running it again is a no-op, and several processes may run it at
// once. migrate status lists the applied and pending migrations and changes
// nothing; it exits with status 3 when migrations are pending.
//
// inspect shows setup, methods, bundles, backorders, levels PRODUCT,
// availability PRODUCT..., events (--after, --limit), reservation
// ORDER..., reservations (a page of them by --status, --product, --outlet,
// --due-before, --after and --limit), movements (a page of the stock
// ledger by --product, --outlet, --ref, --after and --limit) or
// dead-letters (--consumer). A listing whose page is full says on standard
// error how to ask for the next.
//
// tenants create makes tenants exist; keys create makes an API key for a
// tenant (creating it) with a role, storefront, pos or admin, and prints
// it once; keys list and keys revoke list and revoke them. serve answers
// only the holders of keys, each reaching its own tenant with its role;
// serve --help says how to run it on a network.
//
// The exit status is 0 on success, 1 on failure, 2 on a mistake in the
// command line and 3 when migrate status finds migrations pending.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

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

// run runs the command line args. On a usage error it prints the usage of
// the command at fault to stderr and returns a *usageError.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRoot()
	root.SetArgs(longFlags(root, args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if errors.As(err, new(*usageError)) && cmd != nil {
		fmt.Fprint(stderr, cmd.UsageString())
	}
	return err
}

// newRoot returns the command tree.
func newRoot() *cobra.Command {
	db := &database{}
	root := &cobra.Command{
		Use:   "onlinestock",
		Short: "Run and administer the onlinestock library over PostgreSQL",
		Long: `onlinestock runs and administers the onlinestock library over PostgreSQL:
schema migrations, the HTTP API and its tenants and API keys, inspection
of a tenant's state, the first load of stock from a CSV file, and
redelivery of dead letters.

Exit status: 0 on success, 1 on failure, 2 on a mistake in the command line,
3 when "migrate status" finds migrations pending.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return usageErrorf("unknown command %q%s", args[0], suggest(cmd, args[0]))
		},
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("no command given")
		},
		SilenceErrors: true, // run and main print them
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf("%s: %v", name(cmd), err)
	})
	root.PersistentFlags().StringVar(&db.url, "database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL)")
	root.AddCommand(
		migrateCommand(db),
		serveCommand(db),
		tenantsCommand(db),
		keysCommand(db),
		inspectCommand(db),
		importCommand(db),
		redeliverCommand(db),
	)
	return root
}

// suggest names the subcommands of cmd that typed may be a typo of, for a
// message: ` (did you mean "inspect"?)`, or "" when none is close.
func suggest(cmd *cobra.Command, typed string) string {
	cmd.SuggestionsMinimumDistance = 2
	s := cmd.SuggestionsFor(typed)
	if len(s) == 0 {
		return ""
	}
	for i := range s {
		s[i] = strconv.Quote(s[i])
	}
	return " (did you mean " + strings.Join(s, " or ") + "?)"
}

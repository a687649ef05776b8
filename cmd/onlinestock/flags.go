package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// name is a command's path without the program's name, for messages:
// "migrate status", "inspect levels".
func name(cmd *cobra.Command) string {
	path := cmd.CommandPath()
	if rest, ok := strings.CutPrefix(path, cmd.Root().Name()+" "); ok {
		return rest
	}
	return path
}

// nargs checks that a command has from min to max arguments (max -1: any
// number).
func nargs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min {
			return usageErrorf("%s: missing argument", name(cmd))
		}
		if max >= 0 && len(args) > max {
			return usageErrorf("%s: unexpected argument %q", name(cmd), args[max])
		}
		return nil
	}
}

// longFlags rewrites the long flags of args written with one dash
// (-tenant, -database-url=URL), as the command took them before it read
// its flags with pflag, to the two dashes pflag reads. A short flag (-h)
// and anything after "--" are left as they are.
func longFlags(root *cobra.Command, args []string) []string {
	long := map[string]bool{"help": true}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.PersistentFlags(), c.LocalFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args)) // not nil: cobra reads os.Args for nil
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if flag, ok := strings.CutPrefix(a, "-"); ok && !strings.HasPrefix(flag, "-") {
			if n, _, _ := strings.Cut(flag, "="); len(n) > 1 && long[n] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// database is the --database-url every command takes.
type database struct{ url string }

// pool opens a pool on the database, closed by the caller.
func (d *database) pool(ctx context.Context, cmd *cobra.Command) (*pgxpool.Pool, error) {
	url := d.url
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		return nil, usageErrorf("%s: no database: pass --database-url or set DATABASE_URL", name(cmd))
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, usageErrorf("%s: --database-url: %v", name(cmd), err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name(cmd), err)
	}
	return pool, nil
}

// tenantFlag adds the --tenant flag to fs.
func tenantFlag(fs *pflag.FlagSet, tenant *string) {
	fs.StringVar(tenant, "tenant", "", "the tenant (retailer) to work on (required)")
}

// service opens the Service of tenant over the database. The schema must be
// up to date.
func (d *database) service(ctx context.Context, cmd *cobra.Command, tenant string) (*onlinestock.Service, *pgstore.Store, func(), error) {
	if tenant == "" {
		return nil, nil, nil, usageErrorf("%s: --tenant is required", name(cmd))
	}
	pool, err := d.pool(ctx, cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	store, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	svc, err := onlinestock.New(store, onlinestock.Config{})
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	return svc, store, pool.Close, nil
}

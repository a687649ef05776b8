package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// command is the flags and arguments of one command.
type command struct {
	name  string
	fs    *flag.FlagSet
	url   *string
	args  []string // the arguments left when the flags are taken out
	usage string   // the arguments, for the usage line
}

func newCommand(name, usage string, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &command{name: name, fs: fs, usage: usage}
	c.url = fs.String("database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: onlinestock %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return c
}

// parse takes the flags out of args, wherever they are, and keeps the
// rest, in order, in c.args. "--" ends the flags.
func (c *command) parse(args []string) error {
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageErrorf("%s: %v", c.name, err)
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			return nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			c.args = append(c.args, rest...)
			return nil
		}
		c.args = append(c.args, rest[0])
		args = rest[1:]
	}
}

// wantArgs checks the number of arguments.
func (c *command) wantArgs(min, max int) error {
	if len(c.args) < min || (max >= 0 && len(c.args) > max) {
		c.fs.Usage()
		if len(c.args) < min {
			return usageErrorf("%s: missing argument", c.name)
		}
		return usageErrorf("%s: unexpected argument %q", c.name, c.args[max])
	}
	return nil
}

// pool opens a pool on the --database-url, closed by the caller.
func (c *command) pool(ctx context.Context) (*pgxpool.Pool, error) {
	url := *c.url
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" {
		c.fs.Usage()
		return nil, usageErrorf("%s: no database: pass --database-url or set DATABASE_URL", c.name)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, usageErrorf("%s: --database-url: %v", c.name, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return pool, nil
}

// tenantFlag adds the --tenant flag.
func (c *command) tenantFlag() *string {
	return c.fs.String("tenant", "", "the tenant (retailer) to work on (required)")
}

// service opens the Service of tenant over the --database-url. The schema
// must be up to date.
func (c *command) service(ctx context.Context, tenant string) (*onlinestock.Service, *pgstore.Store, func(), error) {
	if tenant == "" {
		c.fs.Usage()
		return nil, nil, nil, usageErrorf("%s: --tenant is required", c.name)
	}
	pool, err := c.pool(ctx)
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

// Postgres tells the quickstart story on PostgreSQL: a retailer with three
// outlets starts selling online, with the order register in one outlet, a
// second outlet connected, stock reported by the POS, products enabled, a
// checkout, and an outlet disconnected. Every call is one PostgreSQL
// transaction, and the events come out of the database's outbox. Run it
// with:
//
//	go run ./examples/postgres --database-url postgres://user@host:5432/db
//
// or with DATABASE_URL set. It migrates the schema first and uses a new
// tenant on every run (or the one --tenant names), so it can run again and
// again on the same database.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/examples/internal/story"
	"github.com/onlinestock/onlinestock/pgstore"
)

func main() {
	url := flag.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL connection URL (default $DATABASE_URL)")
	tenant := flag.String("tenant", "", "tenant to use (default: a new one for this run)")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "postgres: pass --database-url or set DATABASE_URL")
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *url, *tenant); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url, tenant string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		return err
	}
	if tenant == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		tenant = "quickstart-" + hex.EncodeToString(b[:])
	}
	store, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
	if err != nil {
		return err
	}
	svc, err := onlinestock.New(store, onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		return err
	}
	if s, err := svc.Setup(ctx); err != nil {
		return err
	} else if len(s.Outlets) > 0 {
		return errors.New("tenant " + tenant + " already has outlets: pick a new --tenant, or leave it out")
	}
	fmt.Printf("tenant %s\n", tenant)

	return story.Tell(ctx, svc)
}

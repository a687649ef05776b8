package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/worker"
)

// A Service over PostgreSQL: open a pool, migrate (once per release, or
// with "onlinestock migrate"), then open the Store of a tenant. New refuses
// a database whose schema is out of date, naming the migrations to run.
// (Compiled, not run: it needs a database.)
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	applied, err := pgstore.ApplyPending(ctx, pool)
	if err != nil {
		log.Fatal(err) // a refused connection says so
	}
	for _, m := range applied {
		fmt.Println("applied", m.Name)
	}
	store, err := pgstore.New(pool, pgstore.Config{Tenant: "retailer-42"})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := onlinestock.New(store, onlinestock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	avail, err := svc.Availability(ctx, "tee")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(avail)
}

// One Worker serves every tenant of the database: woken at commit, it
// delivers each tenant's events to a Notifier that tells the tenants apart
// with worker.TenantOf, releases reservations past their deadline and
// prunes, until it is stopped. Run one in every process; they split the
// tenants between them. (Compiled, not run: it needs a database.)
func ExampleNewTenants() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	tenants, err := pgstore.NewTenants(pool, pgstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	notify := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		for _, e := range events {
			fmt.Println(worker.TenantOf(ctx), e)
		}
		return nil
	})
	w, err := worker.NewTenants(tenants, onlinestock.Config{}, worker.Config{
		Consumers: []worker.Consumer{{Name: "audit", Notifier: notify}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer w.Stop(ctx) // lets the deliveries in flight finish
}

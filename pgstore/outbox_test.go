package pgstore_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/worker"
)

func TestOutboxIsDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first := openPool(t, 4)
	tenant := newTenant(t, sharedPool(t))
	open := func(pool *pgxpool.Pool) (*pgstore.Store, *onlinestock.Service) {
		store, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
		must(t, err)
		return store, newService(t, store, onlinestock.Config{})
	}
	var delivered []uint64
	refuse := uint64(0) // a seq the notifier refuses for good
	notifier := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		for _, e := range events {
			if e.Seq == refuse {
				return onlinestock.Permanent(errors.New("receiver refuses it"))
			}
		}
		for _, e := range events {
			delivered = append(delivered, e.Seq)
		}
		return nil
	})
	dispatcher := func(store onlinestock.Store) *worker.Dispatcher {
		d, err := worker.NewDispatcher(store, notifier, worker.DispatcherConfig{Consumer: "hook", BatchSize: 2, Logger: slog.New(slog.DiscardHandler)})
		must(t, err)
		return d
	}

	store, svc := open(first)
	setUpRetailer(t, svc)
	_, err := svc.Disconnect(ctx, "b")
	must(t, err)
	before := allEvents(t, store)
	n, err := dispatcher(store).Flush(ctx)
	must(t, err)
	if n != len(before) {
		t.Fatalf("Flush() handed on %d events, want %d", n, len(before))
	}
	first.Close() // the process "restarts"

	second := newPool(t, 4)
	store, svc = open(second)
	if diff := cmp.Diff(before, allEvents(t, store)); diff != "" {
		t.Errorf("events read through a new pool mismatch (-want +got):\n%s", diff)
	}
	hasMethods := slices.ContainsFunc(before, func(e onlinestock.Event) bool { return e.Kind == onlinestock.OutletDisconnected && len(e.Methods) == 1 })
	if !hasMethods {
		t.Errorf("no OutletDisconnected event with its orphaned method among %v", before)
	}

	_, err = svc.Connect(ctx, "b")
	must(t, err)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("p", "a", 3)})
	must(t, err)
	all := allEvents(t, store)
	refuse = all[len(before)].Seq // the first event after the restart
	delivered = nil
	d := dispatcher(store)
	_, err = d.Flush(ctx)
	must(t, err)
	var want []uint64
	for _, e := range all[len(before)+1:] {
		want = append(want, e.Seq)
	}
	if diff := cmp.Diff(want, delivered); diff != "" {
		t.Errorf("delivered after the restart mismatch (-want +got):\n%s", diff)
	}
	dead, err := d.DeadLetters(ctx)
	must(t, err)
	if len(dead) != 1 || dead[0].Seq != refuse || dead[0].Reason == "" || dead[0].Time.IsZero() {
		t.Errorf("DeadLetters() = %+v, want seq %d", dead, refuse)
	}
	refuse = 0
	must(t, d.Redeliver(ctx, dead[0].Seq))
	if dead, err := d.DeadLetters(ctx); err != nil || len(dead) != 0 {
		t.Errorf("DeadLetters() after Redeliver = %v, %v; want none", dead, err)
	}
	cursor, err := store.Cursor(ctx, "hook")
	must(t, err)
	if cursor != all[len(all)-1].Seq {
		t.Errorf("Cursor() = %d, want %d", cursor, all[len(all)-1].Seq)
	}
	must(t, store.SetCursor(ctx, "hook", 1))
	if c, _ := store.Cursor(ctx, "hook"); c != cursor {
		t.Errorf("Cursor() after setting it back = %d, want it kept at %d", c, cursor)
	}
}

func TestMigrateConcurrentlyAndTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 8)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := pgstore.Migrate(ctx, pool); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	migrations, err := pgstore.Migrations()
	must(t, err)
	var count, latest int
	must(t, pool.QueryRow(ctx, `SELECT count(*), max(version) FROM onlinestock_migrations`).Scan(&count, &latest))
	if count != len(migrations) || latest != migrations[len(migrations)-1].Version {
		t.Errorf("onlinestock_migrations holds %d rows up to version %d, want %d up to %d",
			count, latest, len(migrations), migrations[len(migrations)-1].Version)
	}
}

// TestBacklogNumberedInChunks: 50,000 events committed while nobody reads,
// with statistics taken while nothing was waiting for its number (the
// usual state between two runs of autovacuum), are read by a poller whose
// every call has one second: each call must return events, never time out,
// until the poller has them all, in order and without a gap.
//
// It does not run in parallel with the package's other tests: what it
// measures is the numbering, not how the machine shares its disk among the
// bulk loads of other tests.
func TestBacklogNumberedInChunks(t *testing.T) {
	const products, rounds = 1_000, 25 // two events per product per round
	ctx := context.Background()
	pool := newPool(t, 4)
	store := newStore(t, pool)
	svc := newService(t, store, onlinestock.Config{})
	setUpOutlets(t, svc)
	ids := productIDs(products)
	var stock []onlinestock.Change
	for _, p := range ids {
		stock = append(stock, onlinestock.Set(p, "a", 5))
	}
	_, err := svc.Apply(ctx, stock)
	must(t, err)
	first, err := store.EventsSince(ctx, 0, 0)
	must(t, err)
	after := uint64(len(first))
	if _, err := pool.Exec(ctx, `ANALYZE onlinestock_events`); err != nil {
		t.Fatal(err)
	}

	for r := range rounds {
		if r%2 == 0 {
			must(t, svc.EnableOnline(ctx, ids...))
		} else {
			must(t, svc.DisableOnline(ctx, ids...))
		}
	}
	const backlog = 2 * products * rounds
	var got, calls int
	var slowest time.Duration
	for got < backlog {
		calls++
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		start := time.Now()
		page, err := store.EventsSince(callCtx, after, 1000)
		slowest = max(slowest, time.Since(start))
		cancel()
		if err != nil {
			t.Fatalf("call %d, after %d of %d events: %v", calls, got, backlog, err)
		}
		if len(page) == 0 {
			t.Fatalf("call %d returned no event, after %d of %d", calls, got, backlog)
		}
		for _, e := range page {
			if e.Seq != after+1 {
				t.Fatalf("event %d after %d: a gap or disorder", e.Seq, after)
			}
			after = e.Seq
		}
		got += len(page)
	}
	if got != backlog {
		t.Errorf("read %d events, want %d", got, backlog)
	}
	t.Logf("%d events read in %d calls, the slowest %v", got, calls, slowest)
}

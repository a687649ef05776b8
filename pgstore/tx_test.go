package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// seed creates products p1 and p2 at outlet a.
func seed(t *testing.T, store onlinestock.Store) {
	t.Helper()
	svc := newService(t, store, onlinestock.Config{})
	must(t, svc.SaveOutlet(context.Background(), "a", "A"))
	_, err := svc.Apply(context.Background(), []onlinestock.Change{onlinestock.Set("p1", "a", 1), onlinestock.Set("p2", "a", 1)})
	must(t, err)
}

func TestUpdateRetriesDeadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 4)
	store := newStore(t, pool)
	seed(t, store)

	// Two transactions lock p1 and p2 in opposite orders, each waiting until
	// the other holds its first lock: PostgreSQL aborts one with a deadlock,
	// and Update must run it again and succeed. The run again waits until
	// the other transaction has ended: started at once, it could take its
	// first lock back before the survivor, woken by the abort, takes it,
	// and deadlock a second time.
	var runs atomic.Int32
	var holding sync.WaitGroup
	holding.Add(2)
	ended := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	lockBoth := func(me int, first, second string) func(onlinestock.Tx) error {
		var once sync.Once
		return func(tx onlinestock.Tx) error {
			if runs.Add(1) > 2 {
				select {
				case <-ended[1-me]:
				case <-time.After(30 * time.Second):
					return errors.New("the other transaction never ended: both were aborted")
				}
			}
			if _, err := tx.Products(ctx, []string{first}); err != nil {
				return err
			}
			once.Do(func() { holding.Done(); holding.Wait() })
			if _, err := tx.Products(ctx, []string{second}); err != nil {
				return err
			}
			return tx.PutLevels(ctx, []onlinestock.Level{{Product: first, Outlet: "a", OnHand: 7, Version: 9}})
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for me, order := range [][2]string{{"p1", "p2"}, {"p2", "p1"}} {
		wg.Go(func() {
			defer close(ended[me])
			errs[me] = store.Update(ctx, lockBoth(me, order[0], order[1]))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	if got := runs.Load(); got != 3 {
		t.Errorf("the functions ran %d times, want 3: two, and one again after the deadlock", got)
	}
	for _, p := range []string{"p1", "p2"} {
		levels, err := newService(t, store, onlinestock.Config{}).Levels(ctx, p)
		must(t, err)
		if levels[0].OnHand != 7 {
			t.Errorf("%s: OnHand %d, want 7 written by both transactions", p, levels[0].OnHand)
		}
	}
}

func TestUpdateRetriesSerializationFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := sharedPool(t)
	store := newStore(t, pool)
	seed(t, store)
	failure := &pgconn.PgError{Code: "40001", Message: "could not serialize access"}

	runs := 0
	err := store.Update(ctx, func(tx onlinestock.Tx) error {
		runs++
		if _, err := tx.Products(ctx, []string{"p1"}); err != nil {
			return err
		}
		if runs < 3 {
			return failure
		}
		return tx.PutLevels(ctx, []onlinestock.Level{{Product: "p1", Outlet: "a", OnHand: 5, Version: 2}})
	})
	if err != nil || runs != 3 {
		t.Errorf("Update() = %v after %d runs, want success on the third", err, runs)
	}

	noRetry, err := pgstore.New(pool, pgstore.Config{Tenant: store.Tenant(), MaxRetries: -1})
	must(t, err)
	runs = 0
	err = noRetry.Update(ctx, func(tx onlinestock.Tx) error { runs++; return failure })
	if !errors.Is(err, failure) || runs != 1 {
		t.Errorf("Update() without retries = %v after %d runs, want the failure after 1", err, runs)
	}

	runs = 0
	other := errors.New("not retried")
	err = store.Update(ctx, func(tx onlinestock.Tx) error { runs++; return other })
	if !errors.Is(err, other) || runs != 1 {
		t.Errorf("Update() = %v after %d runs, want %v after 1", err, runs, other)
	}
}

func TestClaimKeysWaitsForConcurrentClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 4)
	store := newStore(t, pool)
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

	for _, commitFirst := range []bool{true, false} {
		key := "k-commit"
		if !commitFirst {
			key = "k-rollback"
		}
		claimed := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			err := store.Update(ctx, func(tx onlinestock.Tx) error {
				prior, err := tx.ClaimKeys(ctx, claims("first", key), now, now.Add(-time.Hour))
				if err != nil || prior[0] != "" {
					t.Errorf("first ClaimKeys() = %q, %v; want new", prior, err)
				}
				close(claimed)
				time.Sleep(200 * time.Millisecond) // the second claim must wait for this transaction
				if !commitFirst {
					return errors.New("roll back")
				}
				return nil
			})
			if commitFirst && err != nil {
				t.Error(err)
			}
		})
		<-claimed
		var prior []string
		must(t, store.Update(ctx, func(tx onlinestock.Tx) error {
			var err error
			prior, err = tx.ClaimKeys(ctx, claims("second", key, "other-"+key), now, now.Add(-time.Hour))
			return err
		}))
		wg.Wait()
		// Committed, the first claim stands, and what it was for is seen.
		want := []string{"", ""}
		if commitFirst {
			want[0] = "first"
		}
		if !slices.Equal(prior, want) {
			t.Errorf("second ClaimKeys() with the first transaction committed=%v = %q, want %q", commitFirst, prior, want)
		}
	}

	// A claim older than notBefore has expired and is claimed afresh; the
	// boundary itself is still a duplicate.
	claim := func(at time.Time) bool {
		var prior []string
		must(t, store.Update(ctx, func(tx onlinestock.Tx) error {
			var err error
			prior, err = tx.ClaimKeys(ctx, claims("again", "k-commit"), at, at.Add(-time.Hour))
			return err
		}))
		return prior[0] != ""
	}
	if !claim(now.Add(time.Hour)) {
		t.Error("a claim exactly at notBefore must still count as a duplicate")
	}
	if claim(now.Add(time.Hour + time.Nanosecond)) {
		t.Error("a claim older than notBefore must be claimed afresh")
	}
}

// claims returns a claim of each key for change.
func claims(change string, keys ...string) []onlinestock.KeyClaim {
	out := make([]onlinestock.KeyClaim, len(keys))
	for i, k := range keys {
		out[i] = onlinestock.KeyClaim{Key: k, Change: change}
	}
	return out
}

func TestExpiredKeysAreSwept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := sharedPool(t)
	store, err := pgstore.New(pool, pgstore.Config{Tenant: newTenant(t, pool), KeySweepEvery: 1})
	must(t, err)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	claim := func(now time.Time, keys ...string) {
		t.Helper()
		must(t, store.Update(ctx, func(tx onlinestock.Tx) error {
			_, err := tx.ClaimKeys(ctx, claims("adjust", keys...), now, now.Add(-72*time.Hour))
			return err
		}))
	}
	claim(old, "a", "b", "c")
	claim(old.Add(100*time.Hour), "d")
	var keys []string
	rows, err := pool.Query(ctx, `SELECT key FROM onlinestock_keys WHERE tenant = $1 ORDER BY key`, store.Tenant())
	must(t, err)
	for rows.Next() {
		var k string
		must(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	must(t, rows.Err())
	if len(keys) != 1 || keys[0] != "d" {
		t.Errorf("keys left after the sweep: %v, want [d]", keys)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t, sharedPool(t))
	err := store.View(ctx, func(tx onlinestock.Tx) error {
		return tx.PutLevels(ctx, []onlinestock.Level{{Product: "p", Outlet: "a"}})
	})
	if err == nil {
		t.Error("PutLevels in a View succeeded")
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	pool := newPool(t, 4)
	store := newStore(t, pool)
	seed(t, store)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := store.Update(cancelled, func(onlinestock.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Update(cancelled) = %v, want context.Canceled", err)
	}

	// A transaction waiting for a lock gives up when its context ends, and
	// the store stays usable.
	ctx := context.Background()
	locked, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		must(t, store.Update(ctx, func(tx onlinestock.Tx) error {
			_, err := tx.Products(ctx, []string{"p1"})
			close(locked)
			<-release
			return err
		}))
	})
	<-locked
	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stop()
	err := store.Update(short, func(tx onlinestock.Tx) error {
		_, err := tx.Products(short, []string{"p1"})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update() blocked on a lock past its deadline = %v, want context.DeadlineExceeded", err)
	}
	close(release)
	wg.Wait()
	must(t, store.Update(ctx, func(tx onlinestock.Tx) error {
		_, err := tx.Products(ctx, []string{"p1", "p2"})
		return err
	}))
}

// twoProcesses returns two Services on one new tenant, each over a Store
// of its own, as two processes would run them, the tenant's outlet north
// activated by the register till.
func twoProcesses(t *testing.T) (a, b *onlinestock.Service) {
	t.Helper()
	ctx := context.Background()
	pool := sharedPool(t)
	tenant := newTenant(t, pool)
	open := func() *onlinestock.Service {
		s, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
		must(t, err)
		return newService(t, s, onlinestock.Config{})
	}
	a, b = open(), open()
	must(t, a.SaveOutlet(ctx, "north", "North"))
	must(t, a.SaveRegister(ctx, "till", "north", ""))
	_, err := a.Activate(ctx, "till")
	must(t, err)
	return a, b
}

// TestSetupCacheFollowsOtherProcesses runs two Stores on one tenant, as two
// processes would: each caches the setup and the methods by the version of
// the setup, and sees the other's changes at its next transaction.
func TestSetupCacheFollowsOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoProcesses(t)
	var err error
	outlets := func(svc *onlinestock.Service) []string {
		setup, err := svc.Setup(ctx)
		must(t, err)
		var ids []string
		for _, o := range setup.Outlets {
			ids = append(ids, fmt.Sprintf("%s/%v", o.ID, o.Connected))
		}
		return ids
	}
	methods := func(svc *onlinestock.Service) []string {
		ms, err := svc.Methods(ctx)
		must(t, err)
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return ids
	}
	for _, svc := range []*onlinestock.Service{a, b} { // both cache
		if got := outlets(svc); !slices.Equal(got, []string{"north/true"}) {
			t.Fatalf("outlets %v, want [north/true]", got)
		}
		if got := methods(svc); len(got) != 0 {
			t.Fatalf("methods %v, want none", got)
		}
	}
	must(t, b.SaveOutlet(ctx, "south", "South"))
	_, err = b.Connect(ctx, "south")
	must(t, err)
	must(t, b.SaveMethod(ctx, onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping}))
	if got := outlets(a); !slices.Equal(got, []string{"north/true", "south/true"}) {
		t.Errorf("after the other Store's changes, outlets %v, want [north/true south/true]", got)
	}
	if got := methods(a); !slices.Equal(got, []string{"courier"}) {
		t.Errorf("after the other Store's changes, methods %v, want [courier]", got)
	}
	// A reservation routed by a's cached setup sees south's stock.
	_, err = b.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "south", 2)})
	must(t, err)
	must(t, b.EnableOnline(ctx, "tee"))
	r, err := a.Reserve(ctx, onlinestock.Order{ID: "web-1", Method: "courier", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}})
	must(t, err)
	if len(r.Allocations) != 1 || r.Allocations[0].Outlet != "south" {
		t.Errorf("allocations %+v, want 2 from south", r.Allocations)
	}
}

// TestOrderRoundTrips counts the round trips of the order calls once the
// setup is cached: the reservation is read with the setup, then the
// products are read and locked, then the writes are sent with the COMMIT.
// A round trip costs a network's latency, so a change that adds one shows
// here.
func TestOrderRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := poolConfig(t, databaseURL(t), 2)
	trips := &statementCounter{}
	cfg.ConnConfig.Tracer = trips
	reserveConns(t, 2)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	must(t, err)
	t.Cleanup(pool.Close)
	svc := newService(t, newStore(t, pool), onlinestock.Config{})
	must(t, svc.SaveOutlet(ctx, "a", "A"))
	must(t, svc.SaveOutlet(ctx, "b", "B"))
	must(t, svc.SaveRegister(ctx, "till", "a", ""))
	_, err = svc.Activate(ctx, "till")
	must(t, err)
	_, err = svc.SaveSelection(ctx, []string{"a", "b"})
	must(t, err)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p1", "a", 5), onlinestock.Set("p2", "b", 5)})
	must(t, err)
	must(t, svc.EnableOnline(ctx, "p1", "p2"))
	order := onlinestock.Order{ID: "o0", Lines: []onlinestock.Line{{Product: "p1", Quantity: 2}, {Product: "p2", Quantity: 1}}}
	// A first order reads the catalog into the cache.
	_, err = svc.Reserve(ctx, order)
	must(t, err)
	_, err = svc.Release(ctx, order.ID)
	must(t, err)
	order.ID = "o1"

	for _, c := range []struct {
		name string
		call func() error
		want int64
	}{
		{"Reserve", func() error { _, err := svc.Reserve(ctx, order); return err }, 3},
		{"Reserve again", func() error { _, err := svc.Reserve(ctx, order); return err }, 2},
		{"FulfillPart", func() error {
			_, err := svc.FulfillPart(ctx, "o1", onlinestock.Part{ID: "s1", Lines: []onlinestock.Line{{Product: "p1", Quantity: 1}}})
			return err
		}, 3},
		{"Release", func() error { _, err := svc.Release(ctx, "o1"); return err }, 3},
		{"Release again", func() error { _, err := svc.Release(ctx, "o1"); return err }, 2},
	} {
		before := trips.trips.Load()
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := trips.trips.Load() - before; got != c.want {
			t.Errorf("%s took %d round trips, want %d", c.name, got, c.want)
		}
	}
}

// TestCachedSetupIsChecked runs calls on a Store whose cached setup another
// Store of the same tenant (another process) has since changed: each call,
// whether it reads on after the setup, writes straight away, or fails,
// decides on the setup as it is, since the cached one is checked under its
// lock before the outcome counts.
func TestCachedSetupIsChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := sharedPool(t)
	here := newStore(t, pool)
	there, err := pgstore.New(pool, pgstore.Config{Tenant: here.Tenant()})
	must(t, err)
	svc := newService(t, here, onlinestock.Config{})
	other := newService(t, there, onlinestock.Config{})
	must(t, svc.SaveOutlet(ctx, "a", "A"))
	must(t, svc.SaveRegister(ctx, "r", "a", ""))
	_, err = svc.Activate(ctx, "r")
	must(t, err)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 5)}) // here caches the setup
	must(t, err)

	// Another process adds an outlet: here's cache does not have it.
	must(t, other.SaveOutlet(ctx, "b", "B"))
	res, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "b", 2)})
	if err != nil || len(res) != 1 {
		t.Fatalf("Apply at the outlet another process added = %v, %v; want applied", res, err)
	}
	// And connects it: availability counts it.
	_, err = other.Connect(ctx, "b")
	must(t, err)
	must(t, svc.EnableOnline(ctx, "p"))
	a, err := svc.Availability(ctx, "p")
	must(t, err)
	if a[0].Quantity != 7 {
		t.Errorf("Availability(p) = %d, want 7: 5 at a and 2 at b, connected by another process", a[0].Quantity)
	}
	r, err := svc.Reserve(ctx, onlinestock.Order{ID: "o", Lines: []onlinestock.Line{{Product: "p", Quantity: 7}}})
	if err != nil {
		t.Fatalf("Reserve of 7 after another process connected b: %v", err)
	}
	if len(r.Allocations) != 2 {
		t.Errorf("Reserve allocated %+v, want from a and b", r.Allocations)
	}
	// A call that fails on the setup fails on the setup as it is: b is
	// disconnected by the other process, so b's stock is not online.
	_, err = other.Release(ctx, "o")
	must(t, err)
	_, err = other.Disconnect(ctx, "b")
	must(t, err)
	_, err = svc.Reserve(ctx, onlinestock.Order{ID: "o2", Lines: []onlinestock.Line{{Product: "p", Quantity: 6}}})
	if !errors.Is(err, onlinestock.ErrInsufficientStock) {
		t.Errorf("Reserve of 6 once b is disconnected elsewhere = %v, want ErrInsufficientStock", err)
	}
}

package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/worker"
)

// newTenants returns a Tenants over pool restricted to n fresh tenants of
// its own, named prefix-0000, prefix-0001, …, each set up with an outlet
// and a product on sale, and their Services. The tenants are deleted when
// tb ends.
func newTenants(tb testing.TB, pool *pgxpool.Pool, n int) (*pgstore.Tenants, []*onlinestock.Service) {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "tenants-" + hex.EncodeToString(b[:]) + "-"
	tenants, err := pgstore.NewTenants(pool, pgstore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	pgstore.SetPrefix(tenants, prefix)
	services := make([]*onlinestock.Service, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		name := fmt.Sprintf("%s%04d", prefix, i)
		tb.Cleanup(func() { dropTenant(tb, pool, name) })
		store, err := pgstore.New(pool, pgstore.Config{Tenant: name})
		if err != nil {
			tb.Fatal(err)
		}
		services[i] = newService(tb, store, onlinestock.Config{})
		wg.Go(func() { errs <- setUpShop(context.Background(), services[i]) })
		if i%8 == 7 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return tenants, services
}

func setUpShop(ctx context.Context, svc *onlinestock.Service) error {
	if err := svc.SaveOutlet(ctx, "a", "A"); err != nil {
		return err
	}
	if err := svc.SaveRegister(ctx, "r", "a", ""); err != nil {
		return err
	}
	if _, err := svc.Activate(ctx, "r"); err != nil {
		return err
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 1)}); err != nil {
		return err
	}
	return svc.EnableOnline(ctx, "p")
}

func tenantOf(svc *onlinestock.Service) string {
	return svc.Store().(*pgstore.Store).Tenant()
}

// tenantLog is a Notifier shared by tenants that keeps, per tenant, the
// sequence numbers it is given.
type tenantLog struct {
	mu    sync.Mutex
	seqs  map[string][]uint64
	calls int
}

func newTenantLog() *tenantLog { return &tenantLog{seqs: map[string][]uint64{}} }

func (l *tenantLog) Notify(ctx context.Context, events []onlinestock.Event) error {
	tenant := worker.TenantOf(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	for _, e := range events {
		l.seqs[tenant] = append(l.seqs[tenant], e.Seq)
	}
	return nil
}

func (l *tenantLog) got(tenant string) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seqs[tenant])
}

var quietLog = slog.New(slog.DiscardHandler)

func upTo(last uint64) []uint64 {
	out := []uint64{}
	for s := uint64(1); s <= last; s++ {
		out = append(out, s)
	}
	return out
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startTenantsWorker(tb testing.TB, tenants worker.Tenants, cfg worker.Config) *worker.Worker {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	w, err := worker.NewTenants(tenants, onlinestock.Config{}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.Stop(ctx); err != nil {
			tb.Errorf("Stop: %v", err)
		}
	})
	return w
}

// TestTenantsWorkerDeliversEveryTenant runs one Worker over 200 tenants
// while writers commit events to them in turn, and checks that every
// tenant's events reach the Notifier, in order, each at least once, and
// that every tenant is settled (off the pending list) in the end.
func TestTenantsWorkerDeliversEveryTenant(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("sets up 200 tenants; skipped with -short")
	}
	ctx := context.Background()
	pool := newPool(t, 6)
	reserveConns(t, 1) // the listening connection
	tenants, services := newTenants(t, pool, 200)
	web := newTenantLog()
	startTenantsWorker(t, tenants, worker.Config{
		Consumers:    []worker.Consumer{{Name: "web", Notifier: web}},
		BatchSize:    5,
		PollInterval: time.Second,
		Concurrency:  4,
	})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 3 {
				for i := g; i < len(services); i += 4 {
					if _, err := services[i].Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(10+round))}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, svc := range services {
		name := tenantOf(svc)
		last := uint64(len(allEvents(t, svc.Store())))
		waitFor(t, name+"'s events", func() bool {
			got := web.got(name)
			return len(got) > 0 && got[len(got)-1] == last
		})
		got := slices.Compact(web.got(name))
		if diff := cmp.Diff(upTo(last), got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	waitFor(t, "every tenant settled", func() bool {
		pending, err := tenants.Pending(ctx, "", 0)
		must(t, err)
		return len(pending) == 0
	})
}

// watchedTenants is a Tenants that counts the polls of pending tenants
// and the notifications it hands on, and can refuse to listen.
type watchedTenants struct {
	*pgstore.Tenants
	polls, wakes, listens atomic.Int64
	deaf                  atomic.Bool // Listen fails at once
	ended                 chan error  // what each Listen returned

	// Numbered in the order they happen: the start of the last poll to
	// complete, and the last time the Worker began to listen.
	clock, polled, listened atomic.Int64
}

func watch(t *pgstore.Tenants) *watchedTenants {
	return &watchedTenants{Tenants: t, ended: make(chan error, 100)}
}

func (w *watchedTenants) Pending(ctx context.Context, after string, limit int) ([]string, error) {
	start := w.clock.Add(1)
	names, err := w.Tenants.Pending(ctx, after, limit)
	w.polls.Add(1)
	if err == nil {
		w.polled.Store(start)
	}
	return names, err
}

// caughtUp reports whether a poll started after the Worker last began to
// listen has completed: every commit from then on has been found by it or
// will be notified.
func (w *watchedTenants) caughtUp() bool {
	return w.listened.Load() > 0 && w.polled.Load() > w.listened.Load()
}

var errDeaf = errors.New("not listening")

func (w *watchedTenants) Listen(ctx context.Context, listening func(), wake func(string)) error {
	if w.deaf.Load() {
		return errDeaf
	}
	err := w.Tenants.Listen(ctx, func() {
		w.listens.Add(1)
		w.listened.Store(w.clock.Add(1))
		listening()
	}, func(tenant string) {
		wake(tenant)
		w.wakes.Add(1) // after: the Worker has queued the tenant
	})
	w.ended <- err
	return err
}

// TestTenantsWorkerWakesOnCommit runs a Worker that polls once an hour
// and checks that commits reach the Notifier through notifications: no
// poll runs after the one the Worker makes when it starts listening.
func TestTenantsWorkerWakesOnCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 4)
	reserveConns(t, 1)
	pg, services := newTenants(t, pool, 3)
	tenants := watch(pg)
	web := newTenantLog()
	startTenantsWorker(t, tenants, worker.Config{
		Consumers:    []worker.Consumer{{Name: "web", Notifier: web}},
		PollInterval: time.Hour,
	})
	// The polls when the Worker starts and when it listens deliver the
	// set-up events.
	waitFor(t, "the Worker to listen and poll", tenants.caughtUp)
	polls := tenants.polls.Load()
	for _, svc := range services {
		last := uint64(len(allEvents(t, svc.Store())))
		waitFor(t, "the set-up events", func() bool { return len(web.got(tenantOf(svc))) >= int(last) })
	}
	for round := range 3 {
		for _, svc := range services {
			_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(5+round))})
			must(t, err)
			last := uint64(len(allEvents(t, svc.Store())))
			waitFor(t, "the event", func() bool {
				got := web.got(tenantOf(svc))
				return len(got) > 0 && got[len(got)-1] == last
			})
		}
	}
	if n := tenants.polls.Load(); n != polls {
		t.Errorf("%d polls after the Worker listened, want none: only notifications explain the deliveries", n-polls)
	}
	if tenants.wakes.Load() == 0 {
		t.Error("no notification")
	}

	// A notification of the same tenant from another schema of the
	// database is not handed on. A listener gets notifications in the
	// order their transactions committed, so by the time the next commit's
	// has been handed on, the other would have been.
	waitFor(t, "every tenant settled", func() bool {
		pending, err := pg.Pending(ctx, "", 0) // not counted as a poll
		must(t, err)
		return len(pending) == 0
	})
	wakes := tenants.wakes.Load()
	_, err := pool.Exec(ctx, `SELECT pg_notify('onlinestock', 'elsewhere' || chr(31) || $1::text)`, tenantOf(services[0]))
	must(t, err)
	svc := services[0]
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 9)})
	must(t, err)
	waitFor(t, "the notification", func() bool { return tenants.wakes.Load() > wakes })
	if n := tenants.wakes.Load() - wakes; n != 1 {
		t.Errorf("%d notifications handed on, want 1: not the other schema's", n)
	}
}

// TestWorkerWakesOnCommit runs a Worker over one Service that polls once
// an hour, and checks that commits reach the Notifier all the same, woken
// by the Store's notifications: each round's commit comes after the
// Worker settled the Store, so it notifies again.
func TestWorkerWakesOnCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 4)
	reserveConns(t, 1)
	_, services := newTenants(t, pool, 1)
	svc := services[0]
	web := newTenantLog()
	w, err := worker.New(svc, worker.Config{
		Consumers:    []worker.Consumer{{Name: "web", Notifier: web}},
		PollInterval: time.Hour,
		ExpireEvery:  -1, // nothing else wakes the Worker
		Logger:       quietLog,
	})
	must(t, err)
	must(t, w.Start(ctx))
	t.Cleanup(func() { must(t, w.Stop(ctx)) })
	for round := range 3 {
		_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(5+round))})
		must(t, err)
		last := uint64(len(allEvents(t, svc.Store())))
		waitFor(t, "the event", func() bool {
			got := web.got(tenantOf(svc))
			return len(got) > 0 && got[len(got)-1] == last
		})
		// Wait until the Worker has settled the Store, so that the next
		// commit is one it can only learn of from a notification.
		waitFor(t, "the Store settled", func() bool {
			var pending bool
			must(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM onlinestock_pending WHERE tenant = $1)`, tenantOf(svc)).Scan(&pending))
			return !pending
		})
	}
	if diff := cmp.Diff(upTo(uint64(len(allEvents(t, svc.Store())))), web.got(tenantOf(svc))); diff != "" {
		t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
	}
}

// TestTenantsWorkerIsFair gives one tenant a backlog and checks that
// another tenant's events, committed while the backlog is delivered, are
// delivered after one more batch of the busy tenant at most: the busy
// tenant's receiver takes a batch only when the test hands it a token,
// which it does once the Worker has been told of the other tenant's
// commit. Were the busy tenant served twice in a row, the test would wait
// for ever.
func TestTenantsWorkerIsFair(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 4)
	reserveConns(t, 1)
	pg, services := newTenants(t, pool, 2)
	busy, quiet := services[0], services[1]
	const backlog, batch = 300, 10
	changes := make([]onlinestock.Change, backlog)
	for i := range changes {
		changes[i] = onlinestock.Set(fmt.Sprintf("b%03d", i), "a", 1)
	}
	_, err := busy.Apply(ctx, changes)
	must(t, err)
	ids := make([]string, backlog)
	for i := range ids {
		ids[i] = changes[i].Product
	}
	must(t, busy.EnableOnline(ctx, ids...)) // hundreds of events in all
	tenants := watch(pg)
	web := newTenantLog()
	tokens, free := make(chan struct{}), make(chan struct{})
	var busyBatches atomic.Int64
	gated := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		if worker.TenantOf(ctx) == tenantOf(busy) {
			select {
			case <-tokens:
			case <-free:
			}
			busyBatches.Add(1)
		}
		return web.Notify(ctx, events)
	})
	startTenantsWorker(t, tenants, worker.Config{
		Consumers:    []worker.Consumer{{Name: "web", Notifier: gated}},
		BatchSize:    batch,
		PollInterval: time.Hour,
		Concurrency:  1,
	})
	var freeOnce sync.Once
	defer freeOnce.Do(func() { close(free) })
	// The first poll finds both tenants; the quiet one's set-up events
	// come after one batch of the busy tenant at most.
	last := uint64(len(allEvents(t, quiet.Store())))
	for len(web.got(tenantOf(quiet))) < int(last) {
		select {
		case tokens <- struct{}{}:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := busyBatches.Load(); n > 2 {
		t.Fatalf("%d batches of the busy tenant before the other tenant's first events", n)
	}
	waitFor(t, "the Worker to listen", tenants.caughtUp)
	for range 5 {
		// Only a commit to a settled tenant notifies: one that commits
		// while the Worker is still settling it is found by the Worker,
		// not notified. The Worker settles a tenant right after its last
		// delivery, whatever the busy tenant's receiver waits for.
		waitFor(t, "the other tenant settled", func() bool {
			pending, err := pg.Pending(ctx, "", 0) // not counted as a poll
			must(t, err)
			return !slices.Contains(pending, tenantOf(quiet))
		})
		wakes := tenants.wakes.Load()
		_, err := quiet.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("p", "a", 1)})
		must(t, err)
		last++
		waitFor(t, "the notification", func() bool { return tenants.wakes.Load() > wakes })
		// The batch of the busy tenant in flight, then the other tenant's turn.
		select {
		case tokens <- struct{}{}:
		case <-time.After(time.Minute):
			t.Fatal("the busy tenant's receiver waits for no batch")
		}
		waitFor(t, "the other tenant's event", func() bool { return len(web.got(tenantOf(quiet))) == int(last) })
	}
	if left := int64(backlog/batch) - busyBatches.Load(); left < 5 { // fewer than are left
		t.Fatalf("the backlog was almost delivered (%d batches left): the test proves little", left)
	}
	freeOnce.Do(func() { close(free) })
	busyLast := uint64(len(allEvents(t, busy.Store())))
	waitFor(t, "the backlog", func() bool { return len(web.got(tenantOf(busy))) >= int(busyLast) })
	if diff := cmp.Diff(upTo(busyLast), web.got(tenantOf(busy))); diff != "" {
		t.Errorf("busy tenant (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(upTo(last), web.got(tenantOf(quiet))); diff != "" {
		t.Errorf("other tenant (-want +got):\n%s", diff)
	}
}

// terminateListener ends the listening connections of the tests' pools
// whose application name is appName plus suffix.
func terminateListener(t *testing.T, name string) int {
	t.Helper()
	var n int
	must(t, sharedPool(t).QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, name).Scan(&n))
	return n
}

// TestTenantsWorkerWhenTheListenerIsLost ends the Worker's listening
// connection (pg_terminate_backend): the Worker listens again, polls for
// what it may have missed, and is woken by notifications as before; and
// when it cannot listen again, polling delivers.
func TestTenantsWorkerWhenTheListenerIsLost(t *testing.T) {
	t.Parallel()
	for _, canListen := range []bool{true, false} {
		t.Run(fmt.Sprintf("listens again=%v", canListen), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := poolConfig(t, databaseURL(t), 4)
			var b [4]byte
			_, _ = rand.Read(b[:])
			name := appName + " listen " + hex.EncodeToString(b[:]) // within the 63 bytes kept
			cfg.ConnConfig.RuntimeParams["application_name"] = name
			reserveConns(t, int(cfg.MaxConns)+1)
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			must(t, err)
			t.Cleanup(pool.Close)
			pg, services := newTenants(t, pool, 2)
			tenants := watch(pg)
			web := newTenantLog()
			poll := time.Hour
			if !canListen {
				poll = 20 * time.Millisecond
			}
			startTenantsWorker(t, tenants, worker.Config{
				Consumers:    []worker.Consumer{{Name: "web", Notifier: web}},
				PollInterval: poll,
				MinBackoff:   10 * time.Millisecond,
				MaxBackoff:   100 * time.Millisecond,
			})
			waitFor(t, "the Worker to listen", func() bool { return tenants.listens.Load() == 1 })
			tenants.deaf.Store(!canListen)
			waitFor(t, "the listening connection", func() bool { return terminateListener(t, name) == 1 })
			if err := <-tenants.ended; err == nil || errors.Is(err, context.Canceled) {
				t.Fatalf("Listen returned %v after its connection was ended, want the failure", err)
			}
			if canListen {
				waitFor(t, "the Worker to listen again", func() bool { return tenants.listens.Load() == 2 })
				waitFor(t, "the poll after listening again", tenants.caughtUp)
			}
			polls, wakes := tenants.polls.Load(), tenants.wakes.Load()
			for _, svc := range services {
				_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 9)})
				must(t, err)
			}
			for _, svc := range services {
				last := uint64(len(allEvents(t, svc.Store())))
				waitFor(t, "the event", func() bool {
					got := web.got(tenantOf(svc))
					return len(got) > 0 && got[len(got)-1] == last
				})
			}
			if canListen {
				if n := tenants.polls.Load(); n != polls {
					t.Errorf("%d polls after listening again, want none", n-polls)
				}
			} else {
				// Delivered with no notification: found by polling (a
				// step a poll began before the commits may have found the
				// events first), which goes on.
				if n := tenants.wakes.Load(); n != wakes {
					t.Errorf("%d notifications while not listening", n-wakes)
				}
				waitFor(t, "the next poll", func() bool { return tenants.polls.Load() > polls })
			}
		})
	}
}

// TestSettleNeverLosesACommit races a commit of events against Settle,
// over and over, each time with every earlier event acknowledged, Settle
// started after a random delay so that it lands before, during or after
// the commit: afterwards the tenant is either still pending or has had
// every event acknowledged.
func TestSettleNeverLosesACommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t, 3)
	tenants, services := newTenants(t, pool, 1)
	svc := services[0]
	name := tenantOf(svc)
	store := svc.Store()
	consumers := []string{"web"}
	ack := func() uint64 {
		t.Helper()
		events := allEvents(t, store)
		last := events[len(events)-1].Seq
		must(t, store.SetCursor(ctx, "web", last))
		return last
	}
	settledDuring := 0
	for round := range 200 {
		// The tenant is pending, with every event acknowledged.
		_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(2+round%2))})
		must(t, err)
		ack()
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(4+round%2))})
			must(t, err)
		})
		var settled bool
		wg.Go(func() {
			time.Sleep(time.Duration(round%20) * 200 * time.Microsecond)
			var err error
			settled, err = tenants.Settle(ctx, name, consumers)
			must(t, err)
		})
		wg.Wait()
		pending, err := tenants.Pending(ctx, "", 0)
		must(t, err)
		cursor, err := store.Cursor(ctx, "web")
		must(t, err)
		last := uint64(len(allEvents(t, store)))
		if !slices.Contains(pending, name) && cursor != last {
			t.Fatalf("round %d: the tenant is not pending, yet its cursor is at %d of %d events", round, cursor, last)
		}
		if settled && slices.Contains(pending, name) {
			settledDuring++ // settled before the commit, which marked it again
		}
	}
	t.Logf("settled before the commit in %d rounds of 200", settledDuring)
}

// TestTenantsLists checks what Pending, Due, Settle and List say.
func TestTenantsLists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := sharedPool(t)
	tenants, services := newTenants(t, pool, 3)
	names := []string{tenantOf(services[0]), tenantOf(services[1]), tenantOf(services[2])}
	list := func(f func(context.Context, string, int) ([]string, error)) []string {
		t.Helper()
		got, err := f(ctx, "", 0)
		must(t, err)
		return got
	}
	if diff := cmp.Diff(names, list(tenants.List)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(names, list(tenants.Pending)); diff != "" {
		t.Errorf("Pending after the set-up (-want +got):\n%s", diff)
	}
	page, err := tenants.Pending(ctx, names[0], 1)
	must(t, err)
	if diff := cmp.Diff(names[1:2], page); diff != "" {
		t.Errorf("Pending(after the first, 1) (-want +got):\n%s", diff)
	}

	// A consumer that has not had every event keeps a tenant pending.
	for _, svc := range services[:2] {
		last := uint64(len(allEvents(t, svc.Store())))
		must(t, svc.Store().SetCursor(ctx, "web", last-1))
		settled, err := tenants.Settle(ctx, tenantOf(svc), []string{"web"})
		must(t, err)
		if settled {
			t.Errorf("%s settled with an event unacknowledged", tenantOf(svc))
		}
		must(t, svc.Store().SetCursor(ctx, "web", last))
		for _, consumers := range [][]string{{"web", "crm"}, {"web"}} {
			settled, err = tenants.Settle(ctx, tenantOf(svc), consumers)
			must(t, err)
			if want := len(consumers) == 1; settled != want {
				t.Errorf("%s with consumers %v acknowledged by web alone: settled %v, want %v", tenantOf(svc), consumers, settled, want)
			}
		}
	}
	if diff := cmp.Diff(names[2:], list(tenants.Pending)); diff != "" {
		t.Errorf("Pending after settling two (-want +got):\n%s", diff)
	}
	// An event not yet numbered keeps it pending too; a commit puts it
	// back on the list.
	_, err = services[0].Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 7)})
	must(t, err)
	settled, err := tenants.Settle(ctx, names[0], []string{"web"})
	must(t, err)
	if settled {
		t.Error("settled with an event not yet numbered")
	}
	if diff := cmp.Diff([]string{names[0], names[2]}, list(tenants.Pending)); diff != "" {
		t.Errorf("Pending after a commit (-want +got):\n%s", diff)
	}

	// Due: reservations whose deadline has passed, and only those.
	now := time.Now()
	_, err = services[1].Reserve(ctx, onlinestock.Order{ID: "o-1", TTL: time.Minute, Lines: []onlinestock.Line{{Product: "p", Quantity: 1}}})
	must(t, err)
	due := func(at time.Time) []string {
		got, err := tenants.Due(ctx, at, "", 0)
		must(t, err)
		return got
	}
	if got := due(now); len(got) != 0 {
		t.Errorf("Due(now) = %v, want none", got)
	}
	if diff := cmp.Diff(names[1:2], due(now.Add(2*time.Minute))); diff != "" {
		t.Errorf("Due(in two minutes) (-want +got):\n%s", diff)
	}

	if _, err := tenants.Store(""); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("Store(\"\") error = %v, want ErrInvalid", err)
	}
	if _, err := pgstore.NewTenants(pool, pgstore.Config{Tenant: "x"}); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("NewTenants with a tenant: error = %v, want ErrInvalid", err)
	}
}

// TestWorkersShareAListeningConnection runs a Worker over each of ten
// tenants' Services, their Stores on one pool, and checks that they
// listen on one connection between them, and that each is woken by its
// own tenant's commits through it.
func TestWorkersShareAListeningConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := poolConfig(t, databaseURL(t), 4)
	name := appName + " shared-listener"
	cfg.ConnConfig.RuntimeParams["application_name"] = name
	reserveConns(t, int(cfg.MaxConns)+1)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	must(t, err)
	t.Cleanup(pool.Close)
	_, services := newTenants(t, pool, 10)
	web := newTenantLog()
	for _, svc := range services {
		w, err := worker.New(svc, worker.Config{
			Consumers:    []worker.Consumer{{Name: "web", Notifier: web}},
			PollInterval: time.Hour,
			ExpireEvery:  -1,
			Logger:       quietLog,
		})
		must(t, err)
		must(t, w.Start(ctx))
		t.Cleanup(func() { must(t, w.Stop(ctx)) })
	}
	for _, svc := range services {
		waitFor(t, "the set-up events", func() bool {
			return len(web.got(tenantOf(svc))) == len(allEvents(t, svc.Store()))
		})
	}
	var listening int
	must(t, sharedPool(t).QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%'`, name).Scan(&listening))
	if listening != 1 {
		t.Errorf("%d listening connections for ten Workers on one pool, want 1", listening)
	}
	for _, svc := range services {
		waitFor(t, "the Store settled", func() bool {
			var pending bool
			must(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM onlinestock_pending WHERE tenant = $1)`, tenantOf(svc)).Scan(&pending))
			return !pending
		})
	}
	for i, svc := range services {
		_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(10+i))})
		must(t, err)
	}
	for _, svc := range services {
		last := uint64(len(allEvents(t, svc.Store())))
		waitFor(t, "the event, through a notification", func() bool {
			got := web.got(tenantOf(svc))
			return len(got) > 0 && got[len(got)-1] == last
		})
	}
}

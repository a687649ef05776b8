package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/worker"
)

// memTenants is a Tenants over memstore Stores, one per tenant, for the
// Worker's tests. It finds the pending tenants the plain way, by reading
// every tenant's last event and cursors. Commits wake its listeners at
// once, on the committing goroutine.
type memTenants struct {
	consumers []string

	mu      sync.Mutex
	stores  map[string]*wakingStore
	wakes   []func(string)
	settles map[string]int // Settle calls that took the tenant off the list
	pending atomic.Int64   // Pending calls
	// hidden makes Pending list nothing, as a test that wakes the Worker
	// itself wants.
	hidden atomic.Bool
}

func newMemTenants(consumers ...string) *memTenants {
	return &memTenants{consumers: consumers, stores: map[string]*wakingStore{}, settles: map[string]int{}}
}

// wakingStore is a memstore that wakes its Tenants' listeners after each
// successful Update.
type wakingStore struct {
	*memstore.Store
	name string
	in   *memTenants
}

func (s *wakingStore) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	if err := s.Store.Update(ctx, fn); err != nil {
		return err
	}
	s.in.mu.Lock()
	wakes := slices.Clone(s.in.wakes)
	s.in.mu.Unlock()
	for _, wake := range wakes {
		wake(s.name)
	}
	return nil
}

// add creates a tenant with openShop's shop, and returns its Service.
func (m *memTenants) add(t *testing.T, name string, cfg onlinestock.Config) *onlinestock.Service {
	t.Helper()
	s := &wakingStore{Store: memstore.New(), name: name, in: m}
	m.mu.Lock()
	m.stores[name] = s
	m.mu.Unlock()
	svc, err := onlinestock.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	openShop(t, svc)
	return svc
}

func (m *memTenants) store(name string) *wakingStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stores[name]
}

func (m *memTenants) Store(tenant string) (onlinestock.Store, error) {
	if s := m.store(tenant); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("tenant %q: %w", tenant, onlinestock.ErrInvalid)
}

func (m *memTenants) names(after string, limit int, keep func(*wakingStore) (bool, error)) ([]string, error) {
	m.mu.Lock()
	var names []string
	for name := range m.stores {
		if name > after {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	sort.Strings(names)
	if limit <= 0 {
		limit = 1000
	}
	out := []string{}
	for _, name := range names {
		ok, err := keep(m.store(name))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, name)
		}
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// behind reports whether some consumer has not acknowledged s's last event.
func (m *memTenants) behind(ctx context.Context, s *wakingStore, consumers []string) (bool, error) {
	last := uint64(0)
	for {
		page, err := s.EventsSince(ctx, last, 0)
		if err != nil {
			return false, err
		}
		if len(page) == 0 {
			break
		}
		last = page[len(page)-1].Seq
	}
	for _, c := range consumers {
		cursor, err := s.Cursor(ctx, c)
		if err != nil {
			return false, err
		}
		if cursor < last {
			return true, nil
		}
	}
	return false, nil
}

func (m *memTenants) Pending(ctx context.Context, after string, limit int) ([]string, error) {
	m.pending.Add(1)
	if m.hidden.Load() {
		return []string{}, nil
	}
	return m.names(after, limit, func(s *wakingStore) (bool, error) { return m.behind(ctx, s, m.consumers) })
}

func (m *memTenants) Due(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	return m.names(after, limit, func(s *wakingStore) (bool, error) {
		var due []string
		err := s.View(ctx, func(tx onlinestock.Tx) error {
			var err error
			due, err = tx.DueReservations(ctx, now)
			return err
		})
		return len(due) > 0, err
	})
}

func (m *memTenants) Settle(ctx context.Context, tenant string, consumers []string) (bool, error) {
	s := m.store(tenant)
	if s == nil {
		return true, nil
	}
	behind, err := m.behind(ctx, s, consumers)
	if err != nil || behind {
		return false, err
	}
	m.mu.Lock()
	m.settles[tenant]++
	m.mu.Unlock()
	return true, nil
}

func (m *memTenants) List(ctx context.Context, after string, limit int) ([]string, error) {
	return m.names(after, limit, func(*wakingStore) (bool, error) { return true, nil })
}

// listeningTenants is a memTenants that is also a Listener.
type listeningTenants struct{ *memTenants }

func (l listeningTenants) Listen(ctx context.Context, listening func(), wake func(string)) error {
	l.mu.Lock()
	l.wakes = append(l.wakes, wake)
	n := len(l.wakes) - 1
	l.mu.Unlock()
	listening()
	<-ctx.Done()
	l.mu.Lock()
	l.wakes[n] = func(string) {}
	l.mu.Unlock()
	return ctx.Err()
}

// tenantCollector is a Notifier shared by tenants that keeps, per tenant,
// the sequence numbers it is given.
type tenantCollector struct {
	mu    sync.Mutex
	seqs  map[string][]uint64
	calls []string // the tenant of each call, in order
	// before, if set, runs at the start of every call.
	before func(ctx context.Context, tenant string, events []onlinestock.Event) error
}

func newTenantCollector() *tenantCollector {
	return &tenantCollector{seqs: map[string][]uint64{}}
}

func (c *tenantCollector) Notify(ctx context.Context, events []onlinestock.Event) error {
	tenant := worker.TenantOf(ctx)
	if c.before != nil {
		if err := c.before(ctx, tenant, events); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, tenant)
	for _, e := range events {
		c.seqs[tenant] = append(c.seqs[tenant], e.Seq)
	}
	return nil
}

func (c *tenantCollector) got(tenant string) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seqs[tenant])
}

func newTenantsWorker(t *testing.T, tenants worker.Tenants, cfg worker.Config) *worker.Worker {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Millisecond
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, 10*time.Millisecond
	}
	w, err := worker.NewTenants(tenants, onlinestock.Config{}, cfg)
	if err != nil {
		t.Fatalf("NewTenantsWorker() error = %v", err)
	}
	return w
}

// TestTenantsWorkerDeliversEveryTenant runs one Worker over many tenants,
// with two consumers, while each tenant commits events, and checks that
// each consumer gets each tenant's events, in order, each once, told
// apart by TenantOf; and that every tenant is settled in the end.
func TestTenantsWorkerDeliversEveryTenant(t *testing.T) {
	t.Parallel()
	for _, listening := range []bool{false, true} {
		t.Run(fmt.Sprintf("listening=%v", listening), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			mem := newMemTenants("web", "crm")
			var tenants worker.Tenants = mem
			pollEvery := time.Millisecond
			if listening {
				tenants, pollEvery = listeningTenants{mem}, time.Hour
			}
			const n = 30
			services := map[string]*onlinestock.Service{}
			for i := range n {
				name := fmt.Sprintf("shop-%02d", i)
				services[name] = mem.add(t, name, onlinestock.Config{})
			}
			web, crm := newTenantCollector(), newTenantCollector()
			w := newTenantsWorker(t, tenants, worker.Config{
				Consumers:    []worker.Consumer{{Name: "web", Notifier: web}, {Name: "crm", Notifier: crm}},
				BatchSize:    3,
				PollInterval: pollEvery,
				Concurrency:  3,
			})
			if err := w.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer stopWorker(t, w)
			for round := range 5 {
				for name, svc := range services {
					if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", int64(10+round))}); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}
			for name := range services {
				last := lastSeq(t, mem.store(name))
				for cname, c := range map[string]*tenantCollector{"web": web, "crm": crm} {
					eventually(t, name+" "+cname, func() bool { return len(c.got(name)) >= int(last) })
					if diff := cmp.Diff(upTo(1, last), c.got(name)); diff != "" {
						t.Errorf("%s to %s (-want +got):\n%s", name, cname, diff)
					}
				}
				eventually(t, name+" settled", func() bool {
					mem.mu.Lock()
					defer mem.mu.Unlock()
					return mem.settles[name] > 0
				})
			}
		})
	}
}

// TestTenantsWorkerIsFair gives one tenant a long backlog and checks that
// the Worker serves another tenant with events between two of the busy
// tenant's batches: the busy tenant's receiver takes a batch only when the
// test hands it a token, one at a time, and the quiet tenant's events must
// arrive meanwhile, or the test would wait for ever.
func TestTenantsWorkerIsFair(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := newMemTenants("web")
	mem.hidden.Store(true) // the test wakes the Worker itself, in a known order
	busy := mem.add(t, "busy", onlinestock.Config{})
	quiet := mem.add(t, "quiet", onlinestock.Config{})
	const backlog, batch = 200, 10
	for i := range backlog {
		if _, err := busy.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", int64(10+i%2))}); err != nil {
			t.Fatal(err)
		}
	}
	c := newTenantCollector()
	tokens, free := make(chan struct{}), make(chan struct{})
	c.before = func(ctx context.Context, tenant string, events []onlinestock.Event) error {
		if tenant == "busy" {
			select {
			case <-tokens:
			case <-free:
			}
		}
		return nil
	}
	w := newTenantsWorker(t, listeningTenants{mem}, worker.Config{
		Consumers:    []worker.Consumer{{Name: "web", Notifier: c}},
		BatchSize:    batch,
		PollInterval: time.Hour,
		Concurrency:  1,
	})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWorker(t, w)
	var freeOnce sync.Once
	release := func() { freeOnce.Do(func() { close(free) }) }
	defer release()
	eventually(t, "the Worker to listen", func() bool {
		mem.mu.Lock()
		defer mem.mu.Unlock()
		return len(mem.wakes) > 0
	})
	mem.mu.Lock()
	wake := mem.wakes[0]
	mem.mu.Unlock()
	wake("busy")
	wake("quiet")
	tokens <- struct{}{} // one batch of the busy tenant: then the quiet one's turn
	last := lastSeq(t, mem.store("quiet"))
	eventually(t, "the quiet tenant's events", func() bool { return len(c.got("quiet")) == int(last) })

	// Each time the quiet tenant commits (which wakes the Worker), one
	// batch of the busy tenant is let through, after which the quiet
	// tenant must be served.
	for range 5 {
		if _, err := quiet.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", 1)}); err != nil {
			t.Fatal(err)
		}
		tokens <- struct{}{}
		last++
		eventually(t, "the quiet tenant's next event", func() bool { return len(c.got("quiet")) == int(last) })
	}
	if diff := cmp.Diff(upTo(1, last), c.got("quiet")); diff != "" {
		t.Errorf("quiet tenant (-want +got):\n%s", diff)
	}
	release()
	mem.hidden.Store(false)
	busyLast := lastSeq(t, mem.store("busy"))
	eventually(t, "the whole backlog", func() bool { return len(c.got("busy")) >= int(busyLast) })
	if diff := cmp.Diff(upTo(1, busyLast), c.got("busy")); diff != "" {
		t.Errorf("busy tenant (-want +got):\n%s", diff)
	}
}

// TestTenantsWorkerIsolatesFailures makes one tenant's deliveries fail and
// checks that the others are delivered meanwhile, that the failing one
// backs off and logs once, and that it is delivered once it recovers.
func TestTenantsWorkerIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := newMemTenants("web")
	services := map[string]*onlinestock.Service{}
	for _, name := range []string{"bad", "good-1", "good-2"} {
		services[name] = mem.add(t, name, onlinestock.Config{})
	}
	var down atomic.Bool
	down.Store(true)
	var attempts atomic.Int64
	c := newTenantCollector()
	c.before = func(ctx context.Context, tenant string, events []onlinestock.Event) error {
		if tenant == "bad" && down.Load() {
			attempts.Add(1)
			return errors.New("receiver down")
		}
		return nil
	}
	logs := &records{}
	w := newTenantsWorker(t, mem, worker.Config{
		Consumers:  []worker.Consumer{{Name: "web", Notifier: c}},
		Logger:     slog.New(logs),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWorker(t, w)
	for _, name := range []string{"good-1", "good-2"} {
		last := lastSeq(t, mem.store(name))
		eventually(t, name, func() bool { return len(c.got(name)) >= int(last) })
	}
	eventually(t, "a few attempts for the failing tenant", func() bool { return attempts.Load() >= 3 })
	down.Store(false)
	last := lastSeq(t, mem.store("bad"))
	eventually(t, "the failing tenant after it recovers", func() bool { return len(c.got("bad")) >= int(last) })
	if diff := cmp.Diff(upTo(1, last), c.got("bad")); diff != "" {
		t.Errorf("failing tenant (-want +got):\n%s", diff)
	}
	if n := logs.count()[slog.LevelError]; n != 1 {
		t.Errorf("%d error records for %d failed attempts, want 1", n, attempts.Load())
	}
	if logs.count()[slog.LevelInfo] < 1 {
		t.Error("no record of the recovery")
	}
}

// TestTenantsWorkersShareTenants runs three Workers over the same tenants:
// every event is delivered, in order, and no two Notify calls for one
// tenant overlap; a Worker that stops hands its tenants over.
func TestTenantsWorkersShareTenants(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := newMemTenants("web")
	services := map[string]*onlinestock.Service{}
	for i := range 12 {
		name := fmt.Sprintf("shop-%02d", i)
		services[name] = mem.add(t, name, onlinestock.Config{})
	}
	var mu sync.Mutex
	inFlight := map[string]bool{}
	var overlaps atomic.Int64
	byWorker := [3]atomic.Int64{}
	collectors := [3]*tenantCollector{}
	var workers [3]*worker.Worker
	for i := range workers {
		c := newTenantCollector()
		c.before = func(ctx context.Context, tenant string, events []onlinestock.Event) error {
			mu.Lock()
			if inFlight[tenant] {
				overlaps.Add(1)
			}
			inFlight[tenant] = true
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			inFlight[tenant] = false
			mu.Unlock()
			byWorker[i].Add(int64(len(events)))
			return nil
		}
		collectors[i] = c
		workers[i] = newTenantsWorker(t, listeningTenants{mem}, worker.Config{
			Consumers: []worker.Consumer{{Name: "web", Notifier: c}},
			Holder:    fmt.Sprintf("w%d", i),
			LeaseTTL:  300 * time.Millisecond,
			BatchSize: 2,
		})
		if err := workers[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rounds int) {
		for r := range rounds {
			for _, svc := range services {
				if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", int64(7+r%3))}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	all := func() map[string][]uint64 {
		got := map[string][]uint64{}
		for _, c := range collectors {
			c.mu.Lock()
			for tenant, seqs := range c.seqs {
				got[tenant] = append(got[tenant], seqs...)
			}
			c.mu.Unlock()
		}
		return got
	}
	write(5)
	stopWorker(t, workers[0])
	write(5)
	for name := range services {
		last := lastSeq(t, mem.store(name))
		eventually(t, name, func() bool {
			seqs := all()[name]
			return len(seqs) > 0 && slices.Max(seqs) == last
		})
		seqs := all()[name]
		slices.Sort(seqs)
		if diff := cmp.Diff(upTo(1, last), slices.Compact(seqs)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	stopWorker(t, workers[1])
	stopWorker(t, workers[2])
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d Notify calls for a tenant overlapped another", n)
	}
	for i, c := range collectors {
		for tenant, seqs := range c.seqs {
			if !slices.IsSorted(seqs) {
				t.Errorf("worker %d delivered %s out of order: %v", i, tenant, seqs)
			}
		}
	}
	if byWorker[1].Load()+byWorker[2].Load() == 0 {
		t.Error("only the first Worker delivered")
	}
}

// TestTenantsWorkerExpiresAndPrunes checks expiry and retention across
// tenants.
func TestTenantsWorkerExpiresAndPrunes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clock := &testClock{now: time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)}
	mem := newMemTenants("web")
	services := map[string]*onlinestock.Service{}
	for _, name := range []string{"a", "b", "c"} {
		services[name] = mem.add(t, name, onlinestock.Config{Clock: clock.Now})
	}
	for _, name := range []string{"a", "c"} {
		if _, err := services[name].Reserve(ctx, onlinestock.Order{ID: "web-1", TTL: time.Minute,
			Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Minute)
	c := newTenantCollector()
	w, err := worker.NewTenants(mem, onlinestock.Config{Clock: clock.Now}, worker.Config{
		Consumers:      []worker.Consumer{{Name: "web", Notifier: c}},
		PollInterval:   time.Millisecond,
		ExpireEvery:    time.Millisecond,
		RetentionEvery: 10 * time.Millisecond,
		RetainEvents:   time.Hour,
		Logger:         quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWorker(t, w)
	for _, name := range []string{"a", "c"} {
		eventually(t, name+"'s reservation to expire", func() bool {
			r, err := services[name].Reservation(ctx, "web-1")
			return err == nil && r.Status == onlinestock.Expired
		})
	}
	clock.Advance(2 * time.Hour)
	for name := range services {
		eventually(t, name+"'s delivered events to be pruned", func() bool {
			events, err := mem.store(name).EventsSince(ctx, 0, 0)
			return err == nil && len(events) == 0
		})
	}
	for name := range services {
		if len(c.got(name)) == 0 {
			t.Errorf("%s: nothing delivered", name)
		}
	}
}

// TestTenantsWorkerStopReleasesLeases checks that a stopped Worker lets
// another take over its tenants at once, not when the leases lapse.
func TestTenantsWorkerStopReleasesLeases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mem := newMemTenants("web")
	svc := mem.add(t, "shop", onlinestock.Config{})
	first := newTenantsWorker(t, mem, worker.Config{
		Consumers: []worker.Consumer{{Name: "web", Notifier: newTenantCollector()}},
		Holder:    "first", LeaseTTL: time.Hour,
	})
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first Worker to deliver", func() bool {
		cursor, err := mem.store("shop").Cursor(ctx, "web")
		return err == nil && cursor > 0
	})
	stopWorker(t, first)
	c := newTenantCollector()
	second := newTenantsWorker(t, mem, worker.Config{
		Consumers: []worker.Consumer{{Name: "web", Notifier: c}},
		Holder:    "second", LeaseTTL: time.Hour,
	})
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWorker(t, second)
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 9)}); err != nil {
		t.Fatal(err)
	}
	// With an hour's lease, only a released one explains this.
	eventually(t, "the second Worker to deliver", func() bool { return len(c.got("shop")) > 0 })
}

func TestNewTenantsWorkerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	mem := newMemTenants()
	tests := []struct {
		name    string
		tenants worker.Tenants
		svc     onlinestock.Config
		cfg     worker.Config
	}{
		{"no tenants", nil, onlinestock.Config{}, worker.Config{}},
		{"a bad Service config", mem, onlinestock.Config{KeyRetention: -time.Second}, worker.Config{}},
		{"a negative concurrency", mem, onlinestock.Config{}, worker.Config{Concurrency: -1}},
		{"a consumer without a notifier", mem, onlinestock.Config{}, worker.Config{Consumers: []worker.Consumer{{Name: "web"}}}},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			_, err := worker.NewTenants(tt.tenants, tt.svc, tt.cfg)
			if !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("NewTenantsWorker() error = %v, want ErrInvalid", err)
			}
		})
	}
}

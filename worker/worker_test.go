package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/worker"
)

// testClock is a Config.Clock that moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clockedShop is newShop's setup over store, with a test clock.
func clockedShop(t *testing.T, store onlinestock.Store) (*onlinestock.Service, *testClock) {
	t.Helper()
	clock := &testClock{now: time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)}
	svc, err := onlinestock.New(store, onlinestock.Config{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	openShop(t, svc)
	return svc, clock
}

// openShop sets svc up as a one-outlet shop, north, its register active,
// selling 5 tees.
func openShop(t *testing.T, svc *onlinestock.Service) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.SaveOutlet(ctx, "north", "North"))
	must(svc.SaveRegister(ctx, "till", "north", ""))
	_, err := svc.Activate(ctx, "till")
	must(err)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 5)})
	must(err)
	must(svc.EnableOnline(ctx, "tee"))
}

// collector is a Notifier that keeps the sequence numbers it is given.
type collector struct {
	mu   sync.Mutex
	seqs []uint64
}

func (c *collector) Notify(ctx context.Context, events []onlinestock.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		c.seqs = append(c.seqs, e.Seq)
	}
	return nil
}

func (c *collector) got() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seqs)
}

func lastSeq(t *testing.T, store onlinestock.Store) uint64 {
	t.Helper()
	var last uint64
	for {
		page, err := store.EventsSince(t.Context(), last, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return last
		}
		last = page[len(page)-1].Seq
	}
}

func upTo(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

func newWorker(t *testing.T, svc *onlinestock.Service, cfg worker.Config) *worker.Worker {
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
	w, err := worker.New(svc, cfg)
	if err != nil {
		t.Fatalf("NewWorker() error = %v", err)
	}
	return w
}

func stopWorker(t *testing.T, w *worker.Worker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Stop(ctx); err != nil {
		t.Errorf("Stop() = %v, want nil", err)
	}
}

// TestWorkerDeliversExpiresAndPrunes runs a Worker with two consumers and
// checks the three things it does: every event reaches both, in order; a
// reservation past its deadline is released; and what has aged out is
// deleted once delivered.
func TestWorkerDeliversExpiresAndPrunes(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	svc, clock := clockedShop(t, store)
	ctx := t.Context()
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", TTL: time.Minute,
		Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	web, crm := &collector{}, &collector{}
	w := newWorker(t, svc, worker.Config{
		Consumers:      []worker.Consumer{{Name: "web", Notifier: web}, {Name: "crm", Notifier: crm}},
		ExpireEvery:    time.Millisecond,
		RetentionEvery: time.Millisecond,
		RetainEvents:   time.Hour,
	})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWorker(t, w)

	eventually(t, "the reservation to expire", func() bool {
		r, err := svc.Reservation(ctx, "web-1")
		return err == nil && r.Status == onlinestock.Expired
	})
	last := lastSeq(t, store)
	for name, c := range map[string]*collector{"web": web, "crm": crm} {
		eventually(t, name+" to get every event", func() bool { return len(c.got()) >= int(last) })
		if diff := cmp.Diff(upTo(1, last), c.got()); diff != "" {
			t.Errorf("%s got (-want +got):\n%s", name, diff)
		}
	}

	clock.Advance(2 * time.Hour)
	eventually(t, "delivered events to be pruned", func() bool {
		events, err := store.EventsSince(ctx, 0, 0)
		return err == nil && len(events) == 0
	})
	clock.Advance(onlinestock.DefaultKeyRetention)
	eventually(t, "the closed reservation to be pruned", func() bool {
		_, err := svc.Reservation(ctx, "web-1")
		return errors.Is(err, onlinestock.ErrNotFound)
	})
	// New events after the prune are delivered as before.
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 1)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next event", func() bool { return len(web.got()) == int(last)+1 })
	if got := web.got()[last]; got != last+1 {
		t.Errorf("after pruning, web got event %d, want %d", got, last+1)
	}
}

// TestWorkerRetentionKeepsWhatAConsumerLacks checks that an event one
// consumer has not acknowledged is kept, however old, while another
// consumer has it.
func TestWorkerRetentionKeepsWhatAConsumerLacks(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	svc, clock := clockedShop(t, store)
	ctx := t.Context()
	web := &collector{}
	var open atomic.Bool // crm refuses transiently until open
	crm := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		if !open.Load() {
			return errors.New("crm down")
		}
		return nil
	})
	w := newWorker(t, svc, worker.Config{
		Consumers:      []worker.Consumer{{Name: "web", Notifier: web}, {Name: "crm", Notifier: crm}},
		RetentionEvery: time.Millisecond,
		RetainEvents:   time.Minute,
	})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWorker(t, w)
	last := lastSeq(t, store)
	eventually(t, "web to get every event", func() bool { return len(web.got()) == int(last) })
	clock.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond) // many retention passes
	events, err := store.EventsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != int(last) {
		t.Errorf("%d events left, want all %d: crm has none of them", len(events), last)
	}
	open.Store(true)
	eventually(t, "events to be pruned once crm has them", func() bool {
		events, err := store.EventsSince(ctx, 0, 0)
		return err == nil && len(events) == 0
	})
}

// TestWorkerStopDrains checks that Stop lets a Notify call in flight
// finish, with its context intact, records its progress, and returns; and
// that when Stop's own context ends first, it cancels the call and
// returns that context's error.
func TestWorkerStopDrains(t *testing.T) {
	t.Parallel()

	t.Run("Stop waits for the delivery in flight", func(t *testing.T) {
		t.Parallel()
		store := memstore.New()
		svc, _ := clockedShop(t, store)
		entered, release := make(chan struct{}), make(chan struct{})
		var calls atomic.Int64
		var ctxErr atomic.Value
		slow := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
			if calls.Add(1) == 1 {
				close(entered)
				<-release
				ctxErr.Store(errors.Join(ctx.Err()) == nil)
			}
			return nil
		})
		w := newWorker(t, svc, worker.Config{Consumers: []worker.Consumer{{Name: "web", Notifier: slow}}, BatchSize: 2})
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-entered
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			stopped <- w.Stop(ctx)
		}()
		select {
		case err := <-stopped:
			t.Fatalf("Stop() = %v while a delivery was in flight", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		if err := <-stopped; err != nil {
			t.Errorf("Stop() = %v, want nil", err)
		}
		if ok, _ := ctxErr.Load().(bool); !ok {
			t.Error("the Notify call in flight saw its context end")
		}
		if got := calls.Load(); got != 1 {
			t.Errorf("Notify called %d times, want 1: no batch starts after Stop", got)
		}
		if cursor, err := store.Cursor(t.Context(), "web"); err != nil || cursor != 2 {
			t.Errorf("Cursor(web) = %d, %v; want 2, the batch in flight", cursor, err)
		}
	})

	t.Run("Stop gives up when its context ends", func(t *testing.T) {
		t.Parallel()
		svc, _ := clockedShop(t, memstore.New())
		entered := make(chan struct{})
		var once sync.Once
		var canceled atomic.Bool
		stuck := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
			once.Do(func() { close(entered) })
			<-ctx.Done()
			canceled.Store(true)
			return ctx.Err()
		})
		w := newWorker(t, svc, worker.Config{Consumers: []worker.Consumer{{Name: "web", Notifier: stuck}}})
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-entered
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop() = %v, want context.DeadlineExceeded", err)
		}
		if !canceled.Load() {
			t.Error("the Notify call in flight was not canceled")
		}
	})

	t.Run("a Worker runs once", func(t *testing.T) {
		t.Parallel()
		svc, _ := clockedShop(t, memstore.New())
		w := newWorker(t, svc, worker.Config{})
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := w.Run(t.Context()); err == nil {
			t.Error("Run() after Start() = nil, want an error")
		}
		stopWorker(t, w)
		stopWorker(t, w) // twice is fine
	})

	t.Run("Run returns nil when stopped and ctx's error when it ends", func(t *testing.T) {
		t.Parallel()
		svc, _ := clockedShop(t, memstore.New())
		logs := &records{}
		w := newWorker(t, svc, worker.Config{Logger: slog.New(logs)})
		done := make(chan error, 1)
		go func() { done <- w.Run(t.Context()) }()
		eventually(t, "Run to start", func() bool { return logs.count()[slog.LevelInfo] > 0 })
		stopWorker(t, w)
		if err := <-done; err != nil {
			t.Errorf("Run() = %v after Stop, want nil", err)
		}
		w = newWorker(t, svc, worker.Config{})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { done <- w.Run(ctx) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v after its context ended, want context.Canceled", err)
		}
	})
}

// TestWorkersShareAConsumer runs two Workers over one Store with the same
// consumer: one delivers at a time, and when it stops the other takes over
// and goes on where it left off.
func TestWorkersShareAConsumer(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	svc, _ := clockedShop(t, store)
	ctx := t.Context()
	var inFlight, most atomic.Int64
	var mu sync.Mutex
	var got []uint64
	byWorker := [2]atomic.Int64{}
	notifier := func(i int) onlinestock.Notifier {
		return onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				got = append(got, e.Seq)
			}
			byWorker[i].Add(int64(len(events)))
			return nil
		})
	}
	var workers [2]*worker.Worker
	for i := range workers {
		workers[i] = newWorker(t, svc, worker.Config{
			Consumers: []worker.Consumer{{Name: "web", Notifier: notifier(i)}},
			Holder:    []string{"a", "b"}[i],
			LeaseTTL:  300 * time.Millisecond,
			BatchSize: 3,
		})
		if err := workers[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write := func(n int) {
		for i := range n {
			if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", int64(2+i%3))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(30)
	eventually(t, "the first events", func() bool { return byWorker[0].Load()+byWorker[1].Load() >= 10 })
	first := 0
	if byWorker[1].Load() > 0 {
		first = 1
	}
	stopWorker(t, workers[first])
	before := byWorker[1-first].Load()
	write(30)
	last := lastSeq(t, store)
	eventually(t, "every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1] == last
	})
	stopWorker(t, workers[1-first])
	if byWorker[1-first].Load() == before {
		t.Error("the second Worker delivered nothing after the first stopped")
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d Notify calls ran at once, want 1", m)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(upTo(1, last), got); diff != "" {
		t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
	}
}

// failingStore fails every call that touches its data while down is set.
type failingStore struct {
	flakyStore
}

func (s *failingStore) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.Update(ctx, fn)
}

func (s *failingStore) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := s.fail(); err != nil {
		return false, err
	}
	return s.Store.TryLease(ctx, name, holder, ttl)
}

func (s *failingStore) Prune(ctx context.Context, r onlinestock.Retention) (onlinestock.Pruned, error) {
	if err := s.fail(); err != nil {
		return onlinestock.Pruned{}, err
	}
	return s.Store.Prune(ctx, r)
}

// TestWorkerBacksOffOnAFailingStore starts a Worker on a Store that is
// down, and checks that each of its loops logs the failure once, however
// many times it retries, logs the recovery once, and then delivers
// everything.
func TestWorkerBacksOffOnAFailingStore(t *testing.T) {
	t.Parallel()
	mem := memstore.New()
	store := &failingStore{flakyStore{Store: mem}}
	clockedShop(t, mem) // set up through the Store itself
	svc, err := onlinestock.New(store, onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	store.down.Store(true)
	logs := &records{}
	web := &collector{}
	w := newWorker(t, svc, worker.Config{
		Consumers:      []worker.Consumer{{Name: "web", Notifier: web}},
		ExpireEvery:    time.Millisecond,
		RetentionEvery: time.Millisecond,
		Logger:         slog.New(logs),
	})
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "many failed calls", func() bool { return len(store.failed()) >= 60 })
	store.down.Store(false)
	last := lastSeq(t, mem)
	eventually(t, "delivery", func() bool { return len(web.got()) == int(last) })
	stopWorker(t, w)
	got := logs.count()
	// One failure and one recovery each for the lease, expiry and retention.
	if got[slog.LevelError] != 3 || got[slog.LevelWarn] != 0 {
		t.Errorf("log records per level = %v, want 3 errors and no warnings for %d failed calls", got, len(store.failed()))
	}
	if diff := cmp.Diff(upTo(1, last), web.got()); diff != "" {
		t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
	}
}

// TestWorkerMetrics runs a scripted Worker with a manual metric reader and
// checks the values of its instruments.
func TestWorkerMetrics(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	svc, clock := clockedShop(t, store)
	ctx := t.Context()
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", TTL: time.Minute,
		Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, store) // events stamped at the start
	clock.Advance(2 * time.Minute)
	const refused = 3
	var firstBatch atomic.Int64
	notify := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		if firstBatch.CompareAndSwap(0, int64(len(events))) {
			return errors.New("receiver busy")
		}
		if slices.ContainsFunc(events, func(e onlinestock.Event) bool { return e.Seq == refused }) {
			return onlinestock.Permanent(errors.New("refused"))
		}
		return nil
	})
	reader := sdkmetric.NewManualReader()
	w := newWorker(t, svc, worker.Config{
		Consumers:      []worker.Consumer{{Name: "web", Notifier: notify}},
		ExpireEvery:    time.Millisecond,
		RetentionEvery: time.Millisecond,
		RetainEvents:   time.Minute,
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "expiry, delivery and retention", func() bool {
		r, err := svc.Reservation(ctx, "web-1")
		if err != nil || r.Status != onlinestock.Expired {
			return false
		}
		cursor, err := store.Cursor(ctx, "web")
		if err != nil || cursor != lastSeq(t, store) {
			return false
		}
		events, err := store.EventsSince(ctx, 0, 1)
		return err == nil && len(events) == 1 && events[0].Seq == refused
	})
	last := lastSeq(t, store)
	stopWorker(t, w)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	web := attribute.NewSet(attribute.String("consumer", "web"))
	got := map[string]int64{
		"delivered":     sumOf(t, rm, worker.MetricEventsDelivered, web),
		"retried":       sumOf(t, rm, worker.MetricEventsRetried, web),
		"dead-lettered": sumOf(t, rm, worker.MetricEventsDeadLettered, web),
		"expired":       sumOf(t, rm, worker.MetricReservationsExpired, attribute.NewSet()),
		"events pruned": sumOf(t, rm, worker.MetricRetentionDeleted, attribute.NewSet(attribute.String("kind", "event"))),
		"leases held":   sumOf(t, rm, worker.MetricLeasesHeld, web),
	}
	want := map[string]int64{
		"delivered":     int64(last) - 1,
		"retried":       firstBatch.Load(),
		"dead-lettered": 1,
		"expired":       1,
		"events pruned": refused - 1,
		"leases held":   0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	count, sum := histogramOf(t, rm, worker.MetricDeliveryLag, web)
	// Events from before the clock moved waited two minutes; the rest none.
	wantSum := (2 * time.Minute).Seconds() * float64(before-1)
	if count != last-1 || sum != wantSum {
		t.Errorf("delivery lag: %d values summing to %vs, want %d summing to %vs", count, sum, last-1, wantSum)
	}
}

func sumOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs attribute.Set) int64 {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is a %T, want a Sum[int64]", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if dp.Attributes.Equals(&attrs) {
					return dp.Value
				}
			}
		}
	}
	return 0
}

func histogramOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs attribute.Set) (uint64, float64) {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("%s is a %T, want a Histogram[float64]", name, m.Data)
			}
			for _, dp := range h.DataPoints {
				if dp.Attributes.Equals(&attrs) {
					return dp.Count, dp.Sum
				}
			}
		}
	}
	return 0, 0
}

func TestNewWorkerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	svc, _ := clockedShop(t, memstore.New())
	web := &collector{}
	tests := []struct {
		name string
		cfg  worker.Config
	}{
		{"a consumer without a name", worker.Config{Consumers: []worker.Consumer{{Notifier: web}}}},
		{"a consumer without a notifier", worker.Config{Consumers: []worker.Consumer{{Name: "web"}}}},
		{"a consumer named twice", worker.Config{Consumers: []worker.Consumer{{Name: "web", Notifier: web}, {Name: "web", Notifier: web}}}},
		{"a negative lease TTL", worker.Config{LeaseTTL: -time.Second}},
		{"a negative retention batch", worker.Config{RetentionBatch: -1}},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			if _, err := worker.New(svc, tt.cfg); !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("NewWorker() error = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := worker.New(nil, worker.Config{}); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("NewWorker(nil) error = %v, want ErrInvalid", err)
	}
}

package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/worker"
)

// BenchmarkPruneDeliveredEvents deletes delivered events in batches of
// 1,000 through Store.Prune while a writer keeps calling Apply on the same
// tenant, beside a baseline that deletes the same number of rows of a
// plain table by primary-key range. One op is one batch; "apply-max-ms" is
// the longest Apply meanwhile. Run with a -benchtime of N x to prune N
// thousand events (1000x for a million).
func BenchmarkPruneDeliveredEvents(b *testing.B) {
	const batch = 1000
	ctx := context.Background()
	b.Run("baseline=delete-by-range", func(b *testing.B) {
		pool := newPool(b, 4)
		table := throwaway(b, pool, "id bigint PRIMARY KEY, payload text NOT NULL")
		if _, err := pool.Exec(ctx, "INSERT INTO "+table+" SELECT g, 'availability_changed' FROM generate_series(1, $1) g", b.N*batch); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := range b.N {
			if _, err := pool.Exec(ctx, "DELETE FROM "+table+" WHERE id > $1 AND id <= $2", i*batch, (i+1)*batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("prune", func(b *testing.B) {
		pool := newPool(b, 4)
		store := newStore(b, pool)
		svc := newService(b, store, onlinestock.Config{})
		setUpBenchShop(b, svc)
		first := uint64(len(benchEvents(b, store))) + 1
		n := b.N * batch
		// A million events are written set-based, as committed and numbered
		// events of an hour ago, and acknowledged by the consumer.
		old := time.Now().Add(-time.Hour).UnixNano()
		if _, err := pool.Exec(ctx, `INSERT INTO onlinestock_events (tenant, seq, kind, time_ns, product,
				before_quantity, before_label, after_quantity, after_label, outlet, previous)
			SELECT $1, g, 'availability_changed', $3, 'p', 1, 'in_stock', 2, 'in_stock', '', ''
			FROM generate_series($2::bigint, $2::bigint + $4 - 1) g`, store.Tenant(), int64(first), old, n); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `UPDATE onlinestock_event_counter SET last_seq = $2 WHERE tenant = $1`,
			store.Tenant(), int64(first)+int64(n)-1); err != nil {
			b.Fatal(err)
		}
		if err := store.SetCursor(ctx, "web", first+uint64(n)-1); err != nil {
			b.Fatal(err)
		}
		if _, err := pool.Exec(ctx, "ANALYZE onlinestock_events"); err != nil {
			b.Fatal(err)
		}
		var stop atomic.Bool
		var longest atomic.Int64
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				start := time.Now()
				if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(i%5+1))}); err != nil {
					b.Error(err)
					return
				}
				took := time.Since(start).Nanoseconds()
				for m := longest.Load(); took > m && !longest.CompareAndSwap(m, took); m = longest.Load() {
				}
				time.Sleep(time.Millisecond)
			}
		})
		// Every event is old enough: the set-up ones (just written) too.
		r := onlinestock.Retention{Consumers: []string{"web"}, EventsBefore: time.Now().Add(time.Minute), Limit: batch}
		b.ResetTimer()
		deleted := 0
		for range b.N {
			p, err := store.Prune(ctx, r)
			if err != nil {
				b.Fatal(err)
			}
			deleted += p.Events
		}
		b.StopTimer()
		stop.Store(true)
		wg.Wait()
		if deleted < n {
			b.Fatalf("pruned %d events of %d", deleted, n)
		}
		b.ReportMetric(float64(deleted)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(longest.Load())/1e6, "apply-max-ms")
	})
}

func setUpBenchShop(b *testing.B, svc *onlinestock.Service) {
	b.Helper()
	ctx := context.Background()
	for _, err := range []error{svc.SaveOutlet(ctx, "a", "A"), svc.SaveRegister(ctx, "r", "a", "")} {
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := svc.Activate(ctx, "r"); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 1)}); err != nil {
		b.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, "p"); err != nil {
		b.Fatal(err)
	}
}

func benchEvents(b *testing.B, store onlinestock.Store) []onlinestock.Event {
	b.Helper()
	events, err := store.EventsSince(context.Background(), 0, 100_000)
	if err != nil {
		b.Fatal(err)
	}
	return events
}

// latencies pairs each event with the commit that wrote it, by the
// quantity the commit set (unique per commit), whichever of the commit
// and the delivery is seen first.
type latencies struct {
	mu        sync.Mutex
	committed map[int64]time.Time
	delivered map[int64]time.Time
	lat       []time.Duration
}

func newLatencies() *latencies {
	return &latencies{committed: map[int64]time.Time{}, delivered: map[int64]time.Time{}}
}

func (l *latencies) commit(q int64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.delivered[q]; ok {
		l.lat = append(l.lat, max(d.Sub(at), 0))
		return
	}
	l.committed[q] = at
}

func (l *latencies) Notify(ctx context.Context, events []onlinestock.Event) error {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		q := e.After.Quantity
		if at, ok := l.committed[q]; ok {
			l.lat = append(l.lat, now.Sub(at))
			delete(l.committed, q)
		} else if e.Kind == onlinestock.AvailabilityChanged {
			l.delivered[q] = now
		}
	}
	return nil
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lat)
}

// report waits until n latencies are known, then reports their p50 and
// p99.
func (l *latencies) report(b *testing.B, n int) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for l.count() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lat) < n {
		b.Fatalf("%d of %d events delivered", len(l.lat), n)
	}
	slices.Sort(l.lat)
	b.ReportMetric(float64(l.lat[len(l.lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(l.lat[len(l.lat)*99/100].Microseconds())/1000, "p99-ms")
}

// noListener hides the Listener of a Tenants: its Worker only polls.
type noListener struct{ worker.Tenants }

// BenchmarkDeliveryLatency measures the time from an Apply's commit to its
// event reaching a Worker's Notifier while eight writers commit, between
// them, an event a millisecond (1,000 a second, as far as the machine
// keeps up: events/s says how many it did). One op is one Apply; p50-ms
// and p99-ms are the latencies. The Workers:
//
//   - listen: a Worker over Tenants, woken by LISTEN/NOTIFY (and polling
//     every second);
//   - tenants-poll=200ms: the same without notifications;
//   - poll=10ms, 50ms, 200ms: a Worker over the one Store, polling.
//
// The baseline is the Apply alone: its own latency, the least a delivery
// can add to.
func BenchmarkDeliveryLatency(b *testing.B) {
	const writers = 8
	type start func(b *testing.B, pool *pgxpool.Pool, svc *onlinestock.Service, n onlinestock.Notifier) *worker.Worker
	// deliverOnly is a Worker that delivers to n, polling every poll, and
	// does nothing else.
	deliverOnly := func(n onlinestock.Notifier, poll time.Duration) worker.Config {
		return worker.Config{
			Consumers:    []worker.Consumer{{Name: "bench", Notifier: n}},
			PollInterval: poll, ExpireEvery: -1, RetentionEvery: -1,
			Logger: slog.New(slog.DiscardHandler),
		}
	}
	overStore := func(poll time.Duration) start {
		return func(b *testing.B, _ *pgxpool.Pool, svc *onlinestock.Service, n onlinestock.Notifier) *worker.Worker {
			w, err := worker.New(svc, deliverOnly(n, poll))
			if err != nil {
				b.Fatal(err)
			}
			return w
		}
	}
	overTenants := func(listen bool, poll time.Duration) start {
		return func(b *testing.B, pool *pgxpool.Pool, svc *onlinestock.Service, n onlinestock.Notifier) *worker.Worker {
			pg, err := pgstore.NewTenants(pool, pgstore.Config{})
			if err != nil {
				b.Fatal(err)
			}
			pgstore.SetPrefix(pg, tenantOf(svc))
			var tenants worker.Tenants = pg
			if !listen {
				tenants = noListener{pg}
			}
			w, err := worker.NewTenants(tenants, onlinestock.Config{}, deliverOnly(n, poll))
			if err != nil {
				b.Fatal(err)
			}
			return w
		}
	}
	for _, v := range []struct {
		name  string
		start start
	}{
		{"baseline=apply-alone", nil},
		{"listen", overTenants(true, time.Second)},
		{"tenants-poll=200ms", overTenants(false, 200*time.Millisecond)},
		{"poll=10ms", overStore(10 * time.Millisecond)},
		{"poll=50ms", overStore(50 * time.Millisecond)},
		{"poll=200ms", overStore(200 * time.Millisecond)},
	} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			pool := newPool(b, writers+6)
			reserveConns(b, 1) // a listening connection
			store := newStore(b, pool)
			svc := newService(b, store, onlinestock.Config{})
			setUpBenchShop(b, svc)
			products := make([]onlinestock.Change, writers)
			for i := range products {
				products[i] = onlinestock.Set(fmt.Sprintf("p%d", i), "a", 1)
			}
			if _, err := svc.Apply(ctx, products); err != nil {
				b.Fatal(err)
			}
			for i := range products {
				if err := svc.EnableOnline(ctx, products[i].Product); err != nil {
					b.Fatal(err)
				}
			}
			l := newLatencies()
			if v.start != nil {
				w := v.start(b, pool, svc, l)
				if err := w.Start(ctx); err != nil {
					b.Fatal(err)
				}
				defer func() { _ = w.Stop(ctx) }()
				time.Sleep(500 * time.Millisecond) // past the set-up events
			}
			ops := make(chan int64, 1000)
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for q := range ops {
						start := time.Now()
						if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set(fmt.Sprintf("p%d", g), "a", q)}); err != nil {
							b.Error(err)
							return
						}
						if v.start == nil {
							l.commit(q, start) // the Apply's own latency
							l.Notify(ctx, []onlinestock.Event{{Kind: onlinestock.AvailabilityChanged, After: onlinestock.Availability{Quantity: q}}})
						} else {
							l.commit(q, time.Now())
						}
					}
				})
			}
			b.ResetTimer()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := range b.N {
				<-tick.C
				ops <- int64(i) + 10 // above the set-up quantities, so every Apply changes one
			}
			close(ops)
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			l.report(b, b.N)
		})
	}
}

// BenchmarkIdleWorkers runs one Worker per tenant for many idle tenants
// and reports the database load they cause with nothing to do:
// transactions per second (from pg_stat_database, which also counts the
// tests' connection monitor) and the statements the Workers send a second
// (queries/s), over a few seconds. The baseline is the same window with
// no Worker. BenchmarkTenantsWorker measures one Worker over 1,000
// tenants. Run with -benchtime=1x.
func BenchmarkIdleWorkers(b *testing.B) {
	for _, tenants := range []int{0, 100} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			ctx := context.Background()
			cfg := poolConfig(b, databaseURL(b), 16)
			statements := &statementCounter{}
			cfg.ConnConfig.Tracer = statements
			reserveConns(b, int(cfg.MaxConns))
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			for range tenants {
				store := newStore(b, pool)
				svc := newService(b, store, onlinestock.Config{})
				w, err := worker.New(svc, worker.Config{
					Consumers: []worker.Consumer{{Name: "web", Notifier: onlinestock.NotifierFunc(
						func(context.Context, []onlinestock.Event) error { return nil })}},
					Logger: slog.New(slog.DiscardHandler),
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Start(ctx); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = w.Stop(ctx) })
			}
			xacts := func() int64 {
				var n int64
				if err := pool.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database
					WHERE datname = current_database()`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			time.Sleep(2 * time.Second) // past start-up
			b.ResetTimer()
			const window = 3 * time.Second
			var total, sent float64
			for range b.N {
				before, n := xacts(), statements.n.Load()
				time.Sleep(window)
				// pg_stat_database lags by up to half a second; the window
				// is long enough for that not to matter much.
				sent += float64(statements.n.Load()-n) / window.Seconds()
				total += float64(xacts()-before) / window.Seconds()
			}
			b.ReportMetric(total/float64(b.N), "xacts/s")
			b.ReportMetric(sent/float64(b.N), "queries/s")
		})
	}
}

// BenchmarkTenantsWorker runs one Worker over 1,000 tenants while they
// commit, each now and then: four writers commit, between them, an event
// to a tenant drawn at random every 2 ms (500 a second in all, each tenant
// one every 2 s or so). One op is one Apply; p50-ms and p99-ms are the
// times from commit to delivery, once every event is delivered. Then, with
// nothing left to do, idle-queries/s is the statements the Worker sends a
// second, over five seconds (pg_stat_database would also count the tests'
// connection monitor). The baseline is the same with no Worker: the
// Apply's own latency. The Workers poll at the default 200 ms, and at 2 s
// (as "onlinestock serve" does). Run with -benchtime=5000x.
func BenchmarkTenantsWorker(b *testing.B) {
	const tenants, writers = 1000, 4
	ctx := context.Background()
	cfg := poolConfig(b, databaseURL(b), 12)
	statements := &statementCounter{}
	cfg.ConnConfig.Tracer = statements
	reserveConns(b, int(cfg.MaxConns)+1) // and the listening connection
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	pg, services := newTenants(b, pool, tenants)
	pending := func() int {
		names, err := pg.Pending(ctx, "", 0)
		if err != nil {
			b.Fatal(err)
		}
		return len(names)
	}
	var q atomic.Int64 // the quantities set, unique across the runs
	q.Store(10)
	for _, poll := range []time.Duration{0, 200 * time.Millisecond, 2 * time.Second} {
		name := "baseline=no-worker"
		if poll > 0 {
			name = fmt.Sprintf("listen,poll=%v", poll)
		}
		b.Run(name, func(b *testing.B) {
			l := newLatencies()
			if poll > 0 {
				w, err := worker.NewTenants(pg, onlinestock.Config{}, worker.Config{
					Consumers:    []worker.Consumer{{Name: "bench", Notifier: l}},
					PollInterval: poll,
					Logger:       slog.New(slog.DiscardHandler),
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Start(ctx); err != nil {
					b.Fatal(err)
				}
				defer func() { _ = w.Stop(ctx) }()
				for pending() > 0 { // what earlier runs committed
					time.Sleep(10 * time.Millisecond)
				}
			}
			ops := make(chan int64, 1000)
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for q := range ops {
						svc := services[rand.N(len(services))]
						start := time.Now()
						if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", q)}); err != nil {
							b.Error(err)
							return
						}
						if poll == 0 {
							l.commit(q, start)
							_ = l.Notify(ctx, []onlinestock.Event{{Kind: onlinestock.AvailabilityChanged, After: onlinestock.Availability{Quantity: q}}})
						} else {
							l.commit(q, time.Now())
						}
					}
				})
			}
			b.ResetTimer()
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for range b.N {
				<-tick.C
				ops <- q.Add(1)
			}
			close(ops)
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			l.report(b, b.N)
			b.StopTimer()
			if poll > 0 {
				for pending() > 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			time.Sleep(time.Second)
			const window = 5 * time.Second
			sent := statements.n.Load()
			time.Sleep(window)
			b.ReportMetric(float64(statements.n.Load()-sent)/window.Seconds(), "idle-queries/s")
			b.ReportMetric(tenants, "tenants")
		})
	}
}

// statementCounter is a pgx tracer that counts the statements a pool
// sends, one by one or in batches (n), and the round trips they take
// (trips): each statement sent alone, and each batch, is one.
type statementCounter struct{ n, trips atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.trips.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.n.Add(int64(len(d.Batch.QueuedQueries)))
	c.trips.Add(1)
	return ctx
}

func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

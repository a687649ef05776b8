package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
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

// BenchmarkDeliveryLatency measures the time from an Apply's commit to its
// event reaching a Worker's Notifier, with the Worker polling at several
// intervals, while a writer commits about 1,000 events a second. One op is
// one Apply; p50-ms and p99-ms are the latencies. The baseline is the
// Apply itself (its own latency, the least a delivery can add to).
func BenchmarkDeliveryLatency(b *testing.B) {
	for _, poll := range []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond} {
		name := fmt.Sprintf("poll=%v", poll)
		if poll == 0 {
			name = "baseline=apply-alone"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			pool := newPool(b, 8)
			store := newStore(b, pool)
			svc := newService(b, store, onlinestock.Config{})
			setUpBenchShop(b, svc)
			var mu sync.Mutex
			committed := map[int64]time.Time{} // by the quantity set, unique per op
			var lat []time.Duration
			notify := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				for _, e := range events {
					if at, ok := committed[e.After.Quantity]; ok {
						lat = append(lat, now.Sub(at))
					}
				}
				return nil
			})
			if poll > 0 {
				w, err := onlinestock.NewWorker(svc, onlinestock.WorkerConfig{
					Consumers:    []onlinestock.Consumer{{Name: "bench", Notifier: notify}},
					PollInterval: poll, ExpireEvery: -1, RetentionEvery: -1,
					Logger: slog.New(slog.DiscardHandler),
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Start(ctx); err != nil {
					b.Fatal(err)
				}
				defer func() { _ = w.Stop(ctx) }()
			}
			b.ResetTimer()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for i := range b.N {
				<-tick.C
				q := int64(i) + 10 // above the set-up quantity, so every Apply changes it
				start := time.Now()
				if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", q)}); err != nil {
					b.Fatal(err)
				}
				mu.Lock()
				committed[q] = time.Now()
				if poll == 0 {
					lat = append(lat, time.Since(start))
				}
				mu.Unlock()
			}
			if poll > 0 {
				deadline := time.Now().Add(30 * time.Second)
				for {
					mu.Lock()
					n := len(lat)
					mu.Unlock()
					if n >= b.N || time.Now().After(deadline) {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(lat)
			if len(lat) == 0 {
				b.Fatal("nothing delivered")
			}
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkIdleWorkers runs one Worker per tenant for many idle tenants
// and reports the database load they cause with nothing to do:
// transactions per second (from pg_stat_database) over a few seconds. The
// baseline is the same window with no Worker. Run with -benchtime=1x.
func BenchmarkIdleWorkers(b *testing.B) {
	for _, tenants := range []int{0, 100} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			ctx := context.Background()
			pool := newPool(b, 16)
			for range tenants {
				store := newStore(b, pool)
				svc := newService(b, store, onlinestock.Config{})
				w, err := onlinestock.NewWorker(svc, onlinestock.WorkerConfig{
					Consumers: []onlinestock.Consumer{{Name: "web", Notifier: onlinestock.NotifierFunc(
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
			var total float64
			for range b.N {
				before := xacts()
				time.Sleep(window)
				// pg_stat_database lags by up to half a second; the window
				// is long enough for that not to matter much.
				total += float64(xacts()-before) / window.Seconds()
			}
			b.ReportMetric(total/float64(b.N), "xacts/s")
		})
	}
}

var _ = pgstore.New

package pgstore_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
)

// workers runs op b.N times in total, spread over n goroutines; op gets its
// goroutine's number.
func workers(b *testing.B, n int, op func(worker int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for w := range n {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(w); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// throwaway creates a table for a baseline, dropped when b ends.
func throwaway(b *testing.B, pool *pgxpool.Pool, columns string) string {
	b.Helper()
	name := pgx.Identifier{newTenant(b, pool)}.Sanitize()
	if _, err := pool.Exec(context.Background(), "CREATE TABLE "+name+" ("+columns+")"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE "+name) })
	return name
}

// BenchmarkApplyOneAdjust compares Apply of a single Adjust with the
// smallest transaction PostgreSQL can do: BEGIN, one single-row UPDATE,
// COMMIT. Each worker has its own product and row.
func BenchmarkApplyOneAdjust(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("raw-update/workers=%d", n), func(b *testing.B) {
			ctx := context.Background()
			pool := newPool(b, int32(n)+2)
			table := throwaway(b, pool, "id int PRIMARY KEY, qty bigint NOT NULL")
			if _, err := pool.Exec(ctx, "INSERT INTO "+table+" SELECT g, 0 FROM generate_series(0, $1) g", n); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			workers(b, n, func(w int) error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, "UPDATE "+table+" SET qty = qty + 1 WHERE id = $1", w)
					return err
				})
			})
		})
		// Listed products: each call also takes a sequence number and writes
		// an availability event. Unlisted ones: the change alone.
		for _, listed := range []bool{true, false} {
			name := "apply"
			if !listed {
				name = "apply-unlisted"
			}
			b.Run(fmt.Sprintf("%s/workers=%d", name, n), func(b *testing.B) {
				benchApplyOne(b, n, listed)
			})
		}
	}
}

func benchApplyOne(b *testing.B, n int, listed bool) {
	ctx := context.Background()
	pool := newPool(b, int32(n)+2)
	svc := newService(b, newStore(b, pool), onlinestock.Config{})
	benchOutlets(b, svc, 1)
	products := productIDs(n)
	var stock []onlinestock.Change
	for _, p := range products {
		stock = append(stock, onlinestock.Set(p, "o000", 1_000_000))
	}
	if _, err := svc.Apply(ctx, stock); err != nil {
		b.Fatal(err)
	}
	if listed {
		if err := svc.EnableOnline(ctx, products...); err != nil {
			b.Fatal(err)
		}
	}
	changes := make([][]onlinestock.Change, n)
	for w := range changes {
		changes[w] = []onlinestock.Change{onlinestock.Adjust(products[w], "o000", 1)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	workers(b, n, func(w int) error {
		_, err := svc.Apply(ctx, changes[w])
		return err
	})
}

// benchOutlets gives svc n outlets o000, o001, … all connected, o000 the
// primary.
func benchOutlets(b testing.TB, svc *onlinestock.Service, n int) []string {
	b.Helper()
	ctx := context.Background()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("o%03d", i)
		ids = append(ids, id)
		if err := svc.SaveOutlet(ctx, id, ""); err != nil {
			b.Fatal(err)
		}
	}
	if err := svc.SaveRegister(ctx, "r", "o000", ""); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Activate(ctx, "r"); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.SaveSelection(ctx, ids); err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkApplyBatch applies one batch of 10,000 Adjusts (5,000 enabled
// products at two outlets, so 5,000 availability events) per op. The
// baseline upserts 10,000 rows from arrays in one transaction.
func BenchmarkApplyBatch(b *testing.B) {
	const size = 10_000
	b.Run("raw-upsert", func(b *testing.B) {
		ctx := context.Background()
		pool := newPool(b, 2)
		table := throwaway(b, pool, "product text, outlet text, qty bigint, PRIMARY KEY (product, outlet)")
		products, outlets, qty := make([]string, size), make([]string, size), make([]int64, size)
		for i := range size {
			products[i], outlets[i], qty[i] = fmt.Sprintf("p%05d", i/2), fmt.Sprintf("o%03d", i%2), 1
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO "+table+" SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "+
					"ON CONFLICT (product, outlet) DO UPDATE SET qty = "+table+".qty + excluded.qty", products, outlets, qty)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "changes/s")
	})
	b.Run("apply", func(b *testing.B) {
		ctx := context.Background()
		pool := newPool(b, 2)
		svc := newService(b, newStore(b, pool), onlinestock.Config{})
		benchOutlets(b, svc, 2)
		changes := make([]onlinestock.Change, size)
		var products []string
		for i := range changes {
			p := fmt.Sprintf("p%05d", i/2)
			if i%2 == 0 {
				products = append(products, p)
			}
			changes[i] = onlinestock.Adjust(p, fmt.Sprintf("o%03d", i%2), 1)
		}
		if _, err := svc.Apply(ctx, changes); err != nil {
			b.Fatal(err)
		}
		if err := svc.EnableOnline(ctx, products...); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := svc.Apply(ctx, changes); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "changes/s")
	})
}

// BenchmarkAvailabilityPage reads the availability of a page of 100
// products, each stocked at all of 50 connected outlets. The baseline
// selects the same 5,000 levels in one query.
func BenchmarkAvailabilityPage(b *testing.B) {
	const page, outletCount = 100, 50
	ctx := context.Background()
	pool := newPool(b, 2)
	store := newStore(b, pool)
	svc := newService(b, store, onlinestock.Config{})
	outlets := benchOutlets(b, svc, outletCount)
	products := productIDs(page)
	var stock []onlinestock.Change
	for _, p := range products {
		for _, o := range outlets {
			stock = append(stock, onlinestock.Set(p, o, 3))
		}
	}
	if _, err := svc.Apply(ctx, stock); err != nil {
		b.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, products...); err != nil {
		b.Fatal(err)
	}
	b.Run("raw-select", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			rows, err := pool.Query(ctx, `SELECT product, outlet, on_hand, reserved FROM onlinestock_levels
				WHERE tenant = $1 AND product = ANY($2)`, store.Tenant(), products)
			if err != nil {
				b.Fatal(err)
			}
			var n int
			for rows.Next() {
				n++
			}
			if rows.Err() != nil || n != page*outletCount {
				b.Fatal(rows.Err(), n)
			}
		}
	})
	b.Run("availability", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			got, err := svc.Availability(ctx, products...)
			if err != nil {
				b.Fatal(err)
			}
			if got[0].Quantity != 3*outletCount {
				b.Fatal(got[0])
			}
		}
	})
}

// BenchmarkConnectDisconnect connects and disconnects (one of each per op)
// an outlet that holds 100,000 enabled products, each also stocked at the
// primary outlet, so both calls change and announce the availability of
// every product. The baseline counts the outlet's levels.
func BenchmarkConnectDisconnect(b *testing.B) {
	const size, chunk = 100_000, 10_000
	ctx := context.Background()
	pool := newPool(b, 2)
	store := newStore(b, pool)
	svc := newService(b, store, onlinestock.Config{})
	benchOutlets(b, svc, 1)
	if err := svc.SaveOutlet(ctx, "big", "Warehouse"); err != nil {
		b.Fatal(err)
	}
	products := productIDs(size)
	for start := 0; start < size; start += chunk {
		var stock []onlinestock.Change
		for _, p := range products[start : start+chunk] {
			stock = append(stock, onlinestock.Set(p, "o000", 1), onlinestock.Set(p, "big", 5))
		}
		if _, err := svc.Apply(ctx, stock); err != nil {
			b.Fatal(err)
		}
	}
	if err := svc.EnableOnline(ctx, products...); err != nil {
		b.Fatal(err)
	}
	b.Run("raw-count", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM onlinestock_levels WHERE tenant = $1 AND outlet = 'big'`,
				store.Tenant()).Scan(&n); err != nil || n != size {
				b.Fatal(err, n)
			}
		}
	})
	b.Run("connect+disconnect", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			res, err := svc.Connect(ctx, "big")
			if err != nil || len(res.Changes) != size {
				b.Fatal(err, len(res.Changes))
			}
			if res, err = svc.Disconnect(ctx, "big"); err != nil || len(res.Changes) != size {
				b.Fatal(err, len(res.Changes))
			}
		}
	})
}

// BenchmarkReserveRelease reserves an order of 5 lines and releases it, per
// op, on 50 connected outlets, each product stocked at a few of them. The
// raw baseline does the same row updates in two transactions: the 5
// levels' reserved count up, with a reservation row inserted, then down,
// with the row updated; raw-same-rows also writes the outbox and ledger
// rows the Service writes. Each runs on loopback, and again through a
// proxy that holds what it forwards a millisecond each way, as a network
// between the application and its database would; each run reports the
// round trip it measured (ms/round-trip).
func BenchmarkReserveRelease(b *testing.B) {
	const lines = 5
	for _, rtt := range []time.Duration{0, 2 * time.Millisecond} {
		suffix := ""
		if rtt > 0 {
			suffix = fmt.Sprintf("/rtt=%v", rtt)
		}
		benchReserveRelease(b, lines, rtt, suffix)
	}
}

// benchReserveRelease runs BenchmarkReserveRelease over connections with
// the round-trip time rtt (0 for none added).
func benchReserveRelease(b *testing.B, lines int, rtt time.Duration, suffix string) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("raw%s/workers=%d", suffix, n), func(b *testing.B) {
			ctx := context.Background()
			pool, reportRTT := delayedPool(b, int32(n)+2, rtt)
			levels := throwaway(b, pool, "product text, outlet text, on_hand bigint, reserved bigint, PRIMARY KEY (product, outlet)")
			orders := throwaway(b, pool, "id text PRIMARY KEY, status text")
			if _, err := pool.Exec(ctx, "INSERT INTO "+levels+` SELECT 'p' || g, 'o' || (g % 50), 1000000, 0
				FROM generate_series(0, $1) g`, n*lines); err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			defer reportRTT() // after ResetTimer, which drops reported metrics
			workers(b, n, func(w int) error {
				products := make([]string, lines)
				for i := range products {
					products[i] = fmt.Sprintf("p%d", w*lines+i)
				}
				order := fmt.Sprint(seq.Add(1))
				return rawPair(ctx, pool, func(bt *pgx.Batch, sign int, status string, reserve bool) {
					for _, p := range products {
						bt.Queue("UPDATE "+levels+" SET reserved = reserved + $2 WHERE product = $1 AND on_hand - reserved >= $2", p, sign)
					}
					if reserve {
						bt.Queue("INSERT INTO "+orders+" VALUES ($1, $2)", order, status)
					} else {
						bt.Queue("UPDATE "+orders+" SET status = $2 WHERE id = $1", order, status)
					}
				})
			})
		})
		// The same, writing also the other rows the Service writes: each
		// order's reservation row in full, and per transaction an event
		// per line and one for the order in the outbox, and a movement per
		// line in the ledger, to tables with the Store's own columns and
		// indexes. It measures the rows; the Service's ratio to it is the
		// cost of everything else it does.
		b.Run(fmt.Sprintf("raw-same-rows%s/workers=%d", suffix, n), func(b *testing.B) {
			ctx := context.Background()
			pool, reportRTT := delayedPool(b, int32(n)+2, rtt)
			like := func(table string) string { return "LIKE " + table + " INCLUDING ALL" }
			levels := throwaway(b, pool, like("onlinestock_levels"))
			orders := throwaway(b, pool, like("onlinestock_reservations"))
			events := throwaway(b, pool, like("onlinestock_events"))
			movements := throwaway(b, pool, like("onlinestock_movements"))
			if _, err := pool.Exec(ctx, "INSERT INTO "+levels+` SELECT 't', 'p' || g, 'o' || (g % 50), 1000000, 0, 1
				FROM generate_series(0, $1) g`, n*lines); err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			defer reportRTT() // after ResetTimer, which drops reported metrics
			workers(b, n, func(w int) error {
				products := make([]string, lines)
				outlets := make([]string, lines)
				quantities := make([]int64, lines)
				for i := range products {
					products[i], outlets[i], quantities[i] = fmt.Sprintf("p%d", w*lines+i), fmt.Sprintf("o%d", (w*lines+i)%50), 1
				}
				order := fmt.Sprint(seq.Add(1))
				detail := `{"sources": [{"outlet": "o0", "stage": "one_outlet", "rank": 1}]}`
				return rawPair(ctx, pool, func(bt *pgx.Batch, sign int, status string, reserve bool) {
					for i, p := range products {
						bt.Queue("UPDATE "+levels+" SET reserved = reserved + $3 WHERE tenant = 't' AND product = $1 AND outlet = $2 AND on_hand - reserved >= $3",
							p, outlets[i], sign)
					}
					if reserve {
						bt.Queue("INSERT INTO "+orders+` VALUES ('t', $1, '', $2, $3, $2, $4, $3, $5, $6, NULL, $7)`,
							order, products, quantities, outlets, status, time.Now().UnixNano(), detail)
					} else {
						bt.Queue("UPDATE "+orders+" SET status = $2, detail = $3 WHERE tenant = 't' AND order_id = $1", order, status, detail)
					}
					now := time.Now().UnixNano()
					bt.Queue("INSERT INTO "+events+` (tenant, pending_id, pending_ord, kind, time_ns, product,
						before_quantity, before_label, after_quantity, after_label, outlet, previous, order_detail)
					SELECT 't', $1::bigint, g, 'availability_changed', $2::bigint, ($3::text[])[g], 10, 'in_stock', 9, 'in_stock', '', '', NULL::jsonb
					FROM generate_series(1, $4::int) g
					UNION ALL SELECT 't', $1::bigint, $4::int + 1, 'order_reserved', $2::bigint, '', 0, '', 0, '', '', '', $5::jsonb`,
						seq.Add(1), now, products, lines, `{"order": "`+order+`", "lines": [{"product": "p", "quantity": 1}]}`)
					bt.Queue("INSERT INTO "+movements+` (tenant, pending_id, pending_ord, time_ns, product, outlet, kind, ref,
						on_hand_delta, reserved_delta, on_hand, reserved, version)
					SELECT 't', $1::bigint, g, $2::bigint, ($3::text[])[g], ($4::text[])[g], 'reserve', $5::text, 0, $6::bigint, 1000000, 1, 1
					FROM generate_series(1, $7::int) g`,
						seq.Add(1), now, products, outlets, order, sign, lines)
				})
			})
		})
		b.Run(fmt.Sprintf("reserve+release%s/workers=%d", suffix, n), func(b *testing.B) {
			ctx := context.Background()
			pool, reportRTT := delayedPool(b, int32(n)+2, rtt)
			svc := newService(b, newStore(b, pool), onlinestock.Config{})
			c := sparse(n * lines)
			benchOutlets(b, svc, c.outlets)
			c.load(b, svc, 10_000)
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			defer reportRTT() // after ResetTimer, which drops reported metrics
			workers(b, n, func(w int) error {
				order := onlinestock.Order{ID: fmt.Sprint(seq.Add(1))}
				for i := range lines {
					order.Lines = append(order.Lines, onlinestock.Line{Product: catalogProduct(w*lines + i), Quantity: 1})
				}
				if _, err := svc.Reserve(ctx, order); err != nil {
					return err
				}
				_, err := svc.Release(ctx, order.ID)
				return err
			})
		})
	}
}

// rawPair runs a baseline's reserve and release: two transactions, each
// of one batch, which queue fills given the sign of the move (+1 to
// reserve, -1 to release), the order's status after it, and whether it
// reserves.
func rawPair(ctx context.Context, pool *pgxpool.Pool, queue func(b *pgx.Batch, sign int, status string, reserve bool)) error {
	for _, step := range []struct {
		sign    int
		status  string
		reserve bool
	}{{+1, "open", true}, {-1, "released", false}} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			queue(b, step.sign, step.status, step.reserve)
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// delayedPool is newPool, its connections going through a proxy that adds
// rtt to every round trip when rtt is not 0, as a network between the
// application and the database would. The proxy's timers are coarse (a
// millisecond or so), so the round trip is measured, with SELECT 1, and
// reported beside the benchmark as ms/round-trip by the function it
// returns.
func delayedPool(b *testing.B, maxConns int32, rtt time.Duration) (*pgxpool.Pool, func()) {
	b.Helper()
	if rtt == 0 {
		return newPool(b, maxConns), func() {}
	}
	newPool(b, 1) // migrated
	ctx := context.Background()
	cfg := poolConfig(b, databaseURL(b), maxConns)
	reserveConns(b, int(maxConns))
	p := newDelayProxy(b, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), rtt/2)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(p.ln.Addr().(*net.TCPAddr).Port)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	const trips = 20
	var one int
	if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil { // connected and prepared
		b.Fatal(err)
	}
	start := time.Now()
	for range trips {
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
	measured := float64(time.Since(start).Microseconds()) / 1000 / trips
	return pool, func() { b.ReportMetric(measured, "ms/round-trip") }
}

// BenchmarkHotProduct is a flash sale: 32 workers reserve and release one
// unit of one product at one outlet, each its own transaction. The
// baseline is the naive one-row design: a conditional UPDATE of the one
// level row to reserve, another to release.
func BenchmarkHotProduct(b *testing.B) {
	const n = 32
	b.Run("raw-conditional-update", func(b *testing.B) {
		ctx := context.Background()
		pool := newPool(b, n+2)
		table := throwaway(b, pool, "id int PRIMARY KEY, on_hand bigint, reserved bigint")
		if _, err := pool.Exec(ctx, "INSERT INTO "+table+" VALUES (1, 1000000, 0)"); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		workers(b, n, func(int) error {
			for _, sql := range []string{
				"UPDATE " + table + " SET reserved = reserved + 1 WHERE id = 1 AND on_hand - reserved >= 1",
				"UPDATE " + table + " SET reserved = reserved - 1 WHERE id = 1",
			} {
				if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, sql)
					return err
				}); err != nil {
					return err
				}
			}
			return nil
		})
	})
	b.Run("reserve+release", func(b *testing.B) {
		ctx := context.Background()
		pool := newPool(b, n+2)
		svc := newService(b, newStore(b, pool), onlinestock.Config{})
		benchOutlets(b, svc, 1)
		if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("hot", "o000", 1_000_000)}); err != nil {
			b.Fatal(err)
		}
		if err := svc.EnableOnline(ctx, "hot"); err != nil {
			b.Fatal(err)
		}
		var seq atomic.Int64
		b.ResetTimer()
		workers(b, n, func(int) error {
			order := onlinestock.Order{ID: fmt.Sprint(seq.Add(1)), Lines: []onlinestock.Line{{Product: "hot", Quantity: 1}}}
			if _, err := svc.Reserve(ctx, order); err != nil {
				return err
			}
			_, err := svc.Release(ctx, order.ID)
			return err
		})
	})
}

// BenchmarkTenants drives 64 tenants at once, each by its own worker, over
// a pool of 40 connections (what the tests' connection budget allows): per
// op, an Apply of one Adjust to a listed product of the
// worker's tenant, which also writes an availability event. On a Citus
// cluster the tenants spread over the workers' shards. The baseline is the
// same number of single-row UPDATE transactions, each worker on its own
// row, in a table keyed (and on Citus distributed) by tenant.
func BenchmarkTenants(b *testing.B) {
	const tenants = 64
	b.Run(fmt.Sprintf("raw-update/tenants=%d", tenants), func(b *testing.B) {
		ctx := context.Background()
		pool := newPool(b, 40)
		table := throwaway(b, pool, "tenant text PRIMARY KEY, qty bigint NOT NULL")
		var citus bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&citus); err != nil {
			b.Fatal(err)
		}
		if citus {
			if _, err := pool.Exec(ctx, `SELECT create_distributed_table($1::regclass, 'tenant', colocate_with => 'none')`, table); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, "INSERT INTO "+table+" SELECT 't' || g, 0 FROM generate_series(0, $1) g", tenants); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		workers(b, tenants, func(w int) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, "UPDATE "+table+" SET qty = qty + 1 WHERE tenant = $1", fmt.Sprint("t", w))
				return err
			})
		})
	})
	b.Run(fmt.Sprintf("apply/tenants=%d", tenants), func(b *testing.B) {
		ctx := context.Background()
		pool := newPool(b, 40)
		svcs := make([]*onlinestock.Service, tenants)
		change := []onlinestock.Change{onlinestock.Adjust("p", "o000", 1)}
		for i := range svcs {
			svcs[i] = newService(b, newStore(b, pool), onlinestock.Config{})
			benchOutlets(b, svcs[i], 1)
			if _, err := svcs[i].Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "o000", 1_000_000)}); err != nil {
				b.Fatal(err)
			}
			if err := svcs[i].EnableOnline(ctx, "p"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		workers(b, tenants, func(w int) error {
			_, err := svcs[w].Apply(ctx, change)
			return err
		})
	})
}

package pgstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// withoutLedger is a Store that drops the stock ledger's movements: the
// baseline that shows what keeping the ledger costs.
type withoutLedger struct{ onlinestock.Store }

func (s withoutLedger) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	return s.Store.Update(ctx, func(tx onlinestock.Tx) error { return fn(noMovements{tx}) })
}

type noMovements struct{ onlinestock.Tx }

func (noMovements) AppendMovements(context.Context, []onlinestock.Movement) error { return nil }

// BenchmarkLedger measures what the stock ledger adds to Apply: one Adjust
// of a listed product per call, by one and by 16 workers, and a batch of
// 10,000 Adjusts, each beside the same calls on a Store that drops the
// movements.
func BenchmarkLedger(b *testing.B) {
	for _, n := range []int{1, 16} {
		for _, ledger := range []bool{false, true} {
			b.Run(fmt.Sprintf("one-adjust/ledger=%v/workers=%d", ledger, n), func(b *testing.B) {
				ctx := context.Background()
				pool := newPool(b, int32(n)+2)
				var store onlinestock.Store = newStore(b, pool)
				if !ledger {
					store = withoutLedger{store}
				}
				svc := newService(b, store, onlinestock.Config{})
				benchOutlets(b, svc, 1)
				products := productIDs(n)
				var stock []onlinestock.Change
				for _, p := range products {
					stock = append(stock, onlinestock.Set(p, "o000", 1_000_000))
				}
				if _, err := svc.Apply(ctx, stock); err != nil {
					b.Fatal(err)
				}
				if err := svc.EnableOnline(ctx, products...); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				workers(b, n, func(w int) error {
					_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust(products[w], "o000", 1)})
					return err
				})
			})
		}
	}
	const size = 10_000
	for _, ledger := range []bool{false, true} {
		b.Run(fmt.Sprintf("batch-10k/ledger=%v", ledger), func(b *testing.B) {
			ctx := context.Background()
			pool := newPool(b, 2)
			var store onlinestock.Store = newStore(b, pool)
			if !ledger {
				store = withoutLedger{store}
			}
			svc := newService(b, store, onlinestock.Config{})
			benchOutlets(b, svc, 2)
			changes := make([]onlinestock.Change, size)
			var products []string
			for i := range changes {
				p := fmt.Sprintf("p%05d", i/2)
				if i%2 == 0 {
					products = append(products, p)
				}
				changes[i] = onlinestock.Adjust(p, fmt.Sprintf("o%03d", i%2), 1).WithReason(onlinestock.StockReceipt).WithRef("po-1")
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
}

// BenchmarkLedgerStorage appends 1,000,000 movements (100 batches of
// 10,000 Adjusts, each with a reason and a reference) and reports the
// bytes the ledger's table and indexes grew by, per movement. One
// iteration is the whole load: run it with -benchtime=1x.
func BenchmarkLedgerStorage(b *testing.B) {
	const batches, size = 100, 10_000
	ctx := context.Background()
	pool := newPool(b, 2)
	svc := newService(b, newStore(b, pool), onlinestock.Config{})
	benchOutlets(b, svc, 2)
	changes := make([]onlinestock.Change, size)
	for i := range changes {
		changes[i] = onlinestock.Adjust(fmt.Sprintf("p%06d", i/2), fmt.Sprintf("o%03d", i%2), 1).
			WithReason(onlinestock.StockReceipt).WithRef("po-123456")
	}
	size0 := ledgerBytes(b, pool)
	b.ResetTimer()
	for range b.N {
		for range batches {
			if _, err := svc.Apply(ctx, changes); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	// Number every movement, as a reader would, before measuring.
	var after uint64
	for {
		page, err := svc.Movements(ctx, onlinestock.MovementFilter{After: after, Limit: onlinestock.MaxMovementPage})
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
	}
	moved := float64(batches * size * b.N)
	b.ReportMetric(float64(ledgerBytes(b, pool)-size0)/moved, "bytes/movement")
	// The live rows alone, without the space the numbering's updates
	// leave for reuse.
	var live float64
	if err := pool.QueryRow(ctx, `SELECT avg(pg_column_size(m.*)) FROM onlinestock_movements m WHERE tenant = $1`,
		svc.Store().(*pgstore.Store).Tenant()).Scan(&live); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(live, "row-bytes")
	b.ReportMetric(moved/b.Elapsed().Seconds(), "movements/s")
}

// ledgerBytes is the size of the ledger's table with its indexes and
// TOAST, after a VACUUM, which makes the row versions the numbering left
// behind reusable, as autovacuum would.
func ledgerBytes(b *testing.B, pool *pgxpool.Pool) int64 {
	b.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `VACUUM onlinestock_movements`); err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := pool.QueryRow(ctx, `SELECT pg_total_relation_size('onlinestock_movements')`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
)

// catalog describes a retailer's catalog as a POS sync loads it: products
// p0000000, p0000001, …, each stocked at a few of the outlets.
type catalog struct {
	products int
	outlets  int
	// perProduct returns the outlets product i is stocked at.
	perProduct func(i int) []int
}

// sparse is a catalog of n products over 50 outlets in which most products
// are stocked at a few outlets: product i at 1 + i%5 of them (3 on
// average), spread so that every outlet holds about as many products.
func sparse(n int) catalog {
	const outlets = 50
	return catalog{products: n, outlets: outlets, perProduct: func(i int) []int {
		at := make([]int, 1+i%5)
		for j := range at {
			at[j] = (i*7 + j*11) % outlets
		}
		return at
	}}
}

// dense is a catalog of n products, each stocked at every one of outlets.
func dense(n, outlets int) catalog {
	all := make([]int, outlets)
	for j := range all {
		all[j] = j
	}
	return catalog{products: n, outlets: outlets, perProduct: func(int) []int { return all }}
}

func catalogProduct(i int) string { return fmt.Sprintf("p%07d", i) }

// loadStats reports how fast a catalog loaded, batch by batch.
type loadStats struct {
	levels      int
	first, last float64 // levels per second of the first and last batch
	slowest     float64 // levels per second of the slowest batch
}

// load stocks the catalog as a POS sync does: Apply batches of batch Sets
// (each batch's products new), then EnableOnline of the batch's products.
// No ANALYZE is run by hand; autovacuum is free to run.
func (c catalog) load(tb testing.TB, svc *onlinestock.Service, batch int) loadStats {
	tb.Helper()
	ctx := context.Background()
	st := loadStats{slowest: -1}
	var changes []onlinestock.Change
	var products []string
	flush := func() {
		start := time.Now()
		if _, err := svc.Apply(ctx, changes); err != nil {
			tb.Fatal(err)
		}
		if err := svc.EnableOnline(ctx, products...); err != nil {
			tb.Fatal(err)
		}
		rate := float64(len(changes)) / time.Since(start).Seconds()
		if st.levels == 0 {
			st.first = rate
		}
		st.last = rate
		if st.slowest < 0 || rate < st.slowest {
			st.slowest = rate
		}
		st.levels += len(changes)
		changes, products = changes[:0], products[:0]
	}
	for i := range c.products {
		at := c.perProduct(i)
		if len(changes)+len(at) > batch {
			flush()
		}
		p := catalogProduct(i)
		products = append(products, p)
		for _, o := range at {
			changes = append(changes, onlinestock.Set(p, fmt.Sprintf("o%03d", o), int64(1_000_000+i%7)))
		}
	}
	if len(changes) > 0 {
		flush()
	}
	return st
}

// BenchmarkCatalogSize measures the hot calls on catalogs of 1,000,
// 100,000 and 1,000,000 products over 50 outlets, each product stocked at
// a few of them, loaded in ordinary batches with no ANALYZE by hand. A
// call's time should not grow with the catalog. The raw-update baseline is
// the smallest write transaction, run in the same process beside them.
//
// The 1,000,000-product catalog takes a few minutes to load; -short skips it.
func BenchmarkCatalogSize(b *testing.B) {
	b.Run("raw-update", func(b *testing.B) {
		ctx := context.Background()
		pool := newPool(b, 2)
		table := throwaway(b, pool, "id int PRIMARY KEY, qty bigint NOT NULL")
		if _, err := pool.Exec(ctx, "INSERT INTO "+table+" VALUES (1, 0)"); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			tx, err := pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "UPDATE "+table+" SET qty = qty + 1 WHERE id = 1"); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			if n > 100_000 && testing.Short() {
				b.Skip("-short: skipping the million-product catalog")
			}
			benchCatalog(b, sparse(n))
		})
	}
}

func benchCatalog(b *testing.B, c catalog) {
	ctx := context.Background()
	pool := newPool(b, 4)
	store := newStore(b, pool)
	svc := newService(b, store, onlinestock.Config{})
	benchOutlets(b, svc, c.outlets)
	if err := svc.SaveMethod(ctx, onlinestock.Method{ID: "ship", Name: "Ship", Kind: onlinestock.Shipping}); err != nil {
		b.Fatal(err)
	}
	st := c.load(b, svc, 10_000)
	b.Logf("loaded %d levels: first batch %.0f levels/s, last %.0f, slowest %.0f", st.levels, st.first, st.last, st.slowest)
	rng := rand.New(rand.NewPCG(1, uint64(c.products)))
	b.Run("apply-one-adjust", func(b *testing.B) {
		for range b.N {
			i := rng.IntN(c.products)
			change := onlinestock.Adjust(catalogProduct(i), fmt.Sprintf("o%03d", c.perProduct(i)[0]), 1)
			if _, err := svc.Apply(ctx, []onlinestock.Change{change}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page-of-100", func(b *testing.B) {
		ids := make([]string, 100)
		for range b.N {
			start := rng.IntN(c.products - len(ids) + 1)
			for k := range ids {
				ids[k] = catalogProduct(start + k)
			}
			got, err := svc.Availability(ctx, ids...)
			if err != nil {
				b.Fatal(err)
			}
			if got[0].Label != onlinestock.InStock {
				b.Fatalf("%s: %v", ids[0], got[0])
			}
		}
	})
	orders := 0
	b.Run("reserve+release", func(b *testing.B) {
		var lines []onlinestock.Line
		for range b.N {
			orders++
			lines = lines[:0]
			start := rng.IntN(c.products - 5)
			for k := range 5 {
				lines = append(lines, onlinestock.Line{Product: catalogProduct(start + k), Quantity: 1})
			}
			order := fmt.Sprintf("bench-%d", orders)
			if _, err := svc.Reserve(ctx, onlinestock.Order{ID: order, Method: "ship", Lines: lines}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Release(ctx, order); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBulkLoad loads 1,000,000 products × 5 outlets (5,000,000
// levels) in Apply batches of 10,000 Sets, each followed by EnableOnline of
// its 2,000 products, and reports the load rate of the first, last and
// slowest batch. The baseline is the same number of rows upserted from
// arrays in batches of the same size.
func BenchmarkBulkLoad(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: skipping the five-million-level load")
	}
	b.Run("load", func(b *testing.B) {
		for range b.N {
			pool := newPool(b, 2)
			svc := newService(b, newStore(b, pool), onlinestock.Config{})
			benchOutlets(b, svc, 5)
			st := dense(1_000_000, 5).load(b, svc, 10_000)
			b.ReportMetric(st.first, "first-levels/s")
			b.ReportMetric(st.last, "last-levels/s")
			b.ReportMetric(st.slowest, "slowest-levels/s")
		}
	})
}

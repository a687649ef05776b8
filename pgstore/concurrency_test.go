package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/onlinestock/onlinestock"
)

// setUpOutlets gives svc outlets a (primary), b and c, all connected.
func setUpOutlets(t *testing.T, svc *onlinestock.Service) {
	t.Helper()
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		must(t, svc.SaveOutlet(ctx, id, "Outlet "+id))
	}
	must(t, svc.SaveRegister(ctx, "r", "a", ""))
	_, err := svc.Activate(ctx, "r")
	must(t, err)
	_, err = svc.SaveSelection(ctx, []string{"a", "b", "c"})
	must(t, err)
}

func TestConcurrentReservationsNeverOversell(t *testing.T) {
	t.Parallel()
	const goroutines = 32
	ctx := context.Background()
	pool := newPool(t, goroutines+4) // every goroutine on its own connection
	store := newStore(t, pool)
	svc := newService(t, store, onlinestock.Config{})
	setUpOutlets(t, svc)
	products := productIDs(4)
	var stock []onlinestock.Change
	for i, p := range products {
		for j, o := range []string{"a", "b", "c"} {
			stock = append(stock, onlinestock.Set(p, o, int64(3+i+j)))
		}
	}
	_, err := svc.Apply(ctx, stock)
	must(t, err)
	must(t, svc.EnableOnline(ctx, products...))
	before := readState(t, store)

	var (
		mu       sync.Mutex
		reserved = map[string]int64{} // units per product in successful reservations
		orders   []string
		wg       sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for n := 0; ; n++ {
				// Two or three overlapping lines, in random order.
				var lines []onlinestock.Line
				for _, k := range rng.Perm(len(products))[:2+rng.IntN(2)] {
					lines = append(lines, onlinestock.Line{Product: products[k], Quantity: 1 + rng.Int64N(3)})
				}
				id := fmt.Sprintf("g%d-%d", g, n)
				r, err := svc.Reserve(ctx, onlinestock.Order{ID: id, Lines: lines})
				if errors.Is(err, onlinestock.ErrInsufficientStock) {
					if n > 50 || rng.IntN(4) == 0 {
						return
					}
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				orders = append(orders, id)
				for _, a := range r.Allocations {
					reserved[a.Product] += a.Quantity
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	after := readState(t, store)
	for i, p := range after.products {
		var onHand, res int64
		for k, l := range p.Levels {
			if l.Reserved > l.OnHand {
				t.Errorf("level %s@%s oversold: Reserved %d > OnHand %d", l.Product, l.Outlet, l.Reserved, l.OnHand)
			}
			if l.OnHand != before.products[i].Levels[k].OnHand {
				t.Errorf("level %s@%s: OnHand moved from %d to %d", l.Product, l.Outlet, before.products[i].Levels[k].OnHand, l.OnHand)
			}
			onHand += l.OnHand
			res += l.Reserved
		}
		if res != reserved[p.ID] {
			t.Errorf("%s: %d units reserved in levels, %d in successful reservations", p.ID, res, reserved[p.ID])
		}
		t.Logf("%s: %d of %d units reserved", p.ID, res, onHand)
	}
	checkReserved(t, store, orders)
	checkConsistent(t, store, svc, 0)
}

func TestConcurrentApplyKeepsEventChains(t *testing.T) {
	t.Parallel()
	const goroutines, batches = 16, 40
	ctx := context.Background()
	pool := newPool(t, goroutines+4)
	store := newStore(t, pool)
	svc := newService(t, store, onlinestock.Config{LowStockThreshold: 3})
	setUpOutlets(t, svc)
	_, err := svc.SetBuffer(ctx, "c", 2)
	must(t, err)
	products := productIDs(12)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set(products[0], "a", 1)})
	must(t, err)
	must(t, svc.EnableOnline(ctx, products[0]))

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for n := range batches {
				// Several products per batch, in random order, some new: the
				// store must lock them in one order and create them once.
				var changes []onlinestock.Change
				for range 1 + rng.IntN(5) {
					if rng.IntN(3) == 0 {
						p := products[rng.IntN(len(products))]
						o := []string{"a", "b", "c"}[rng.IntN(3)]
						changes = append(changes, onlinestock.Set(p, o, rng.Int64N(6)-1))
						continue
					}
					// A key stands for one change, which any batch may
					// repeat.
					k := rng.IntN(200)
					p, o := products[k%len(products)], []string{"a", "b", "c"}[k/len(products)%3]
					changes = append(changes, onlinestock.Adjust(p, o, int64(k%5)-2).WithKey(fmt.Sprintf("k%d", k)))
				}
				if _, err := svc.Apply(ctx, changes); err != nil {
					t.Errorf("Apply(%v): %v", changes, err)
					return
				}
				if n%8 == 0 {
					if err := svc.EnableOnline(ctx, products[rng.IntN(len(products))]); err != nil && !errors.Is(err, onlinestock.ErrNotFound) {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	checkConsistent(t, store, svc, 3)
}

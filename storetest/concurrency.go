package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
)

// roundTimeout bounds one round of racing calls: a round that takes longer
// is taken for a deadlock.
const roundTimeout = 60 * time.Second

// testConcurrency checks that concurrent calls never oversell and
// never break an event chain.
func testConcurrency(t *testing.T, newStore NewStore, o options) {
	t.Parallel()
	t.Run("racing reservations never oversell and the last unit goes to exactly one order", func(t *testing.T) {
		t.Parallel()
		testReservationRace(t, newStore, o)
	})
	t.Run("racing partial calls, amendments and new reservations keep Reserved equal to the units held", func(t *testing.T) {
		t.Parallel()
		testPartialRace(t, newStore, o)
	})
	t.Run("racing POS batches keep every product's event chain", func(t *testing.T) {
		t.Parallel()
		testApplyRace(t, newStore)
	})
	t.Run("a context ending around the commit never hides what committed", func(t *testing.T) {
		testCancelAroundCommit(t, newStore)
	})
}

func testReservationRace(t *testing.T, newStore NewStore, o options) {
	s := newShop(t, newStore, onlinestock.Config{})
	_, err := s.svc.Connect(ctx(t), "c")
	s.must(t, err)
	_, err = s.svc.SetBuffer(ctx(t), "b", 1)
	s.must(t, err)
	outlets := []string{"a", "b", "c"}
	buffer := map[string]int64{"a": 0, "b": 1, "c": 0}
	scarce := []string{"x", "y", "z"}
	products := append([]string{"last", "plenty"}, scarce...)
	rng := rand.New(rand.NewPCG(1, 2))

	for round := range o.rounds {
		// Reset stock: one unit of "last" online in all, little of x, y, z.
		changes := []onlinestock.Change{
			onlinestock.Set("last", "a", 0), onlinestock.Set("last", "b", 1), onlinestock.Set("last", "c", 0),
			onlinestock.Set("plenty", "a", 10_000),
		}
		changes[rng.IntN(3)*2%3].Quantity++ // the one online unit moves between outlets
		for _, p := range scarce {
			for _, o := range outlets {
				changes = append(changes, onlinestock.Set(p, o, rng.Int64N(4)))
			}
		}
		_, err := s.svc.Apply(ctx(t), changes)
		s.must(t, err)
		if round == 0 {
			s.must(t, s.svc.EnableOnline(ctx(t), products...))
		}
		contribution := map[levelKey]int64{}
		for _, p := range products {
			for _, o := range outlets {
				l := s.level(t, p, o)
				if l.Reserved != 0 {
					t.Fatalf("round %d: level %+v still holds units from the last round", round, l)
				}
				contribution[levelKey{p, o}] = max(0, l.OnHand-buffer[o])
			}
		}
		online := s.availability(t, products...)
		if online[0].Quantity != 1 {
			t.Fatalf("round %d: %d units of last online, want 1", round, online[0].Quantity)
		}

		orders := make([]onlinestock.Order, o.goroutines)
		for g := range orders {
			orders[g].ID = fmt.Sprintf("round-%d-%d", round, g)
			if g%2 == 0 {
				orders[g].Lines = []onlinestock.Line{{Product: "plenty", Quantity: int64(1 + g%3)}, {Product: "last", Quantity: 1}}
				continue
			}
			for range 1 + rng.IntN(3) {
				orders[g].Lines = append(orders[g].Lines, onlinestock.Line{Product: scarce[rng.IntN(len(scarce))], Quantity: 1 + rng.Int64N(2)})
			}
		}
		results := make([]onlinestock.Reservation, len(orders))
		errs := make([]error, len(orders))
		race(t, round, len(orders), func(c context.Context, g int) {
			results[g], errs[g] = s.svc.Reserve(c, orders[g])
		})

		allocated := map[levelKey]int64{}
		lastWinners := 0
		var won []string
		for g, err := range errs {
			var short *onlinestock.InsufficientStockError
			switch {
			case err == nil:
				won = append(won, orders[g].ID)
				for _, a := range results[g].Allocations {
					allocated[levelKey{a.Product, a.Outlet}] += a.Quantity
				}
				if g%2 == 0 {
					lastWinners++
				}
			case errors.As(err, &short):
			default:
				t.Fatalf("round %d: Reserve(%v) error = %v, want success or ErrInsufficientStock", round, orders[g], err)
			}
		}
		if lastWinners != 1 {
			t.Fatalf("round %d: %d orders got the last unit, want exactly 1", round, lastWinners)
		}
		after := s.availability(t, products...)
		for i, p := range products {
			var total int64
			for _, o := range outlets {
				k := levelKey{p, o}
				total += allocated[k]
				if allocated[k] > contribution[k] {
					t.Fatalf("round %d: %d units of %q reserved at %q, which offered %d", round, allocated[k], p, o, contribution[k])
				}
				l := s.level(t, p, o)
				if l.Reserved != allocated[k] {
					t.Fatalf("round %d: level %+v has Reserved %d, but the orders that won hold %d", round, l, l.Reserved, allocated[k])
				}
				if l.Reserved > max(0, l.OnHand-buffer[o]) {
					t.Fatalf("round %d: level %+v is over-reserved (buffer %d)", round, l, buffer[o])
				}
			}
			if total > online[i].Quantity {
				t.Fatalf("round %d: %d units of %q reserved, only %d were online", round, total, p, online[i].Quantity)
			}
			if after[i].Quantity != online[i].Quantity-total {
				t.Fatalf("round %d: %q online %d after reserving %d of %d", round, p, after[i].Quantity, total, online[i].Quantity)
			}
		}

		// Give everything back, racing too.
		race(t, round, len(won), func(c context.Context, i int) {
			if _, err := s.svc.Release(c, won[i]); err != nil {
				t.Errorf("round %d: Release(%s) error = %v", round, won[i], err)
			}
		})
	}
	checkChains(t, s.svc, products)
}

func testPartialRace(t *testing.T, newStore NewStore, o options) {
	s := newShop(t, newStore, onlinestock.Config{})
	_, err := s.svc.Connect(ctx(t), "c")
	s.must(t, err)
	outlets := []string{"a", "b", "c"}
	products := []string{"x", "y", "z"}
	rng := rand.New(rand.NewPCG(3, 4))
	var all []string // the orders of the round
	// A round makes many calls one after the other, to check: a quarter of
	// the rounds of the other races.
	for round := range max(1, o.rounds/4) {
		var changes []onlinestock.Change
		for _, p := range products {
			for _, o := range outlets {
				changes = append(changes, onlinestock.Adjust(p, o, rng.Int64N(3)))
			}
		}
		_, err := s.svc.Apply(ctx(t), changes)
		s.must(t, err)
		if round == 0 {
			s.must(t, s.svc.EnableOnline(ctx(t), products...))
		}
		// Some open orders to work on, each split when stock is scarce.
		first := make([]onlinestock.Order, o.goroutines/2)
		for i := range first {
			first[i].ID = fmt.Sprintf("round-%d-open-%d", round, i)
			for _, p := range products {
				if rng.IntN(2) == 0 || p == "x" {
					first[i].Lines = append(first[i].Lines, onlinestock.Line{Product: p, Quantity: 1 + rng.Int64N(3)})
				}
			}
		}
		reserved := make([]onlinestock.Reservation, len(first))
		race(t, round, len(first), func(c context.Context, i int) {
			reserved[i], _ = s.svc.Reserve(c, first[i])
		})
		var open []onlinestock.Reservation
		for _, r := range reserved {
			if r.Order != "" {
				open = append(open, r)
				all = append(all, r.Order)
			}
		}
		// Race: each goroutine fulfils or releases part of an open order
		// (some calls are the same call twice), or reserves a new one.
		parts := make([]onlinestock.Part, o.goroutines)
		targets := make([]string, o.goroutines)
		fulfil := make([]bool, o.goroutines)
		newOrders := make([]onlinestock.Order, o.goroutines)
		amends := make([][]onlinestock.Line, o.goroutines)
		for g := range o.goroutines {
			if g%3 == 2 || len(open) == 0 {
				newOrders[g] = onlinestock.Order{ID: fmt.Sprintf("round-%d-new-%d", round, g),
					Lines: []onlinestock.Line{{Product: products[rng.IntN(len(products))], Quantity: 1 + rng.Int64N(2)}}}
				all = append(all, newOrders[g].ID)
				continue
			}
			r := open[rng.IntN(len(open))]
			a := r.Allocations[rng.IntN(len(r.Allocations))]
			targets[g], fulfil[g] = r.Order, rng.IntN(2) == 0
			if g%5 == 4 {
				// An amendment: one more or one less of a line.
				amends[g] = slices.Clone(r.Lines)
				l := &amends[g][rng.IntN(len(amends[g]))]
				l.Quantity = max(1, l.Quantity+int64(rng.IntN(3))-1)
				continue
			}
			parts[g] = onlinestock.Part{ID: fmt.Sprintf("part-%d", g/2), Lines: []onlinestock.Line{{Product: a.Product, Quantity: 1}}}
			if rng.IntN(2) == 0 {
				parts[g].Outlet = a.Outlet
			}
		}
		race(t, round, o.goroutines, func(c context.Context, g int) {
			var err error
			switch {
			case targets[g] == "":
				_, err = s.svc.Reserve(c, newOrders[g])
			case amends[g] != nil:
				_, err = s.svc.Amend(c, targets[g], amends[g])
			case fulfil[g]:
				_, err = s.svc.FulfillPart(c, targets[g], parts[g])
			default:
				_, err = s.svc.ReleasePart(c, targets[g], parts[g])
			}
			// Calls may lose the race: the units may be gone, the part ID
			// taken by another call, the stock short.
			if err != nil && !errors.Is(err, onlinestock.ErrInsufficientStock) && !errors.Is(err, onlinestock.ErrInvalid) &&
				!errors.Is(err, onlinestock.ErrConflict) {
				t.Errorf("round %d: call %d error = %v", round, g, err)
			}
		})

		held := map[levelKey]int64{}
		for _, id := range all {
			r, err := s.svc.Reservation(ctx(t), id)
			if errors.Is(err, onlinestock.ErrNotFound) {
				continue
			}
			s.must(t, err)
			var units int64
			for _, a := range r.Allocations {
				if a.Held() < 0 {
					t.Fatalf("round %d: order %s allocation %+v holds %d", round, id, a, a.Held())
				}
				if r.Status == onlinestock.Open {
					held[levelKey{a.Product, a.Outlet}] += a.Held()
				}
				units += a.Held()
			}
			if (r.Status == onlinestock.Open) != (units > 0) {
				t.Fatalf("round %d: order %s is %s holding %d units", round, id, r.Status, units)
			}
		}
		for _, p := range products {
			for _, o := range outlets {
				if l := s.level(t, p, o); l.Reserved != held[levelKey{p, o}] {
					t.Fatalf("round %d: level %+v has Reserved %d, but open orders hold %d", round, l, l.Reserved, held[levelKey{p, o}])
				}
			}
		}
		race(t, round, len(all), func(c context.Context, i int) {
			if _, err := s.svc.Release(c, all[i]); err != nil && !errors.Is(err, onlinestock.ErrNotFound) && !errors.Is(err, onlinestock.ErrConflict) {
				t.Errorf("round %d: Release(%s) error = %v", round, all[i], err)
			}
		})
		all = all[:0]
	}
	checkChains(t, s.svc, products)
}

// race runs n calls at once, each in its own goroutine, and fails the test
// if they do not all return within roundTimeout.
func race(t *testing.T, round, n int, call func(context.Context, int)) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx(t), roundTimeout)
	defer cancel()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			<-start
			call(c, g)
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	close(start)
	select {
	case <-done:
	case <-c.Done():
		t.Fatalf("round %d: %d racing calls did not return within %v: deadlock?", round, n, roundTimeout)
	}
}

func testApplyRace(t *testing.T, newStore NewStore) {
	const goroutines, batches = 16, 20
	s := newShop(t, newStore, onlinestock.Config{LowStockThreshold: 2})
	products := []string{"p", "q", "r"}
	initial := map[string]int64{}
	for _, p := range products {
		for _, o := range []string{"a", "b", "c"} {
			initial[p+"@"+o] = 3
		}
	}
	s.stock(t, initial)
	want := map[levelKey]int64{}
	for k, v := range initial {
		p, o := splitLevel(k)
		want[levelKey{p, o}] = v
	}
	plans := make([][][]onlinestock.Change, goroutines)
	rng := rand.New(rand.NewPCG(3, 4))
	for g := range plans {
		for range batches {
			var batch []onlinestock.Change
			for range 1 + rng.IntN(4) {
				p, o, d := products[rng.IntN(len(products))], []string{"a", "b", "c"}[rng.IntN(3)], rng.Int64N(7)-3
				batch = append(batch, onlinestock.Adjust(p, o, d))
				want[levelKey{p, o}] += d
			}
			plans[g] = append(plans[g], batch)
		}
	}
	race(t, 0, goroutines, func(c context.Context, g int) {
		for _, batch := range plans[g] {
			if _, err := s.svc.Apply(c, batch); err != nil {
				t.Errorf("Apply() error = %v", err)
				return
			}
		}
	})
	for k, v := range want {
		if got := s.level(t, k.product, k.outlet).OnHand; got != v {
			t.Errorf("on-hand of %s@%s = %d after the race, want %d", k.product, k.outlet, got, v)
		}
	}
	checkChains(t, s.svc, products)
}

package pgstore_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// TestEventsNumberedWhileWritersRun polls EventsSince from two goroutines
// while many others write events at once: stock changes of their own and
// of shared products, products enabled and disabled, and buffer changes
// that move the availability of every product at an outlet. Events are
// numbered after they commit, so the pollers number them as they go. Each
// must see the numbers 1, 2, 3, … in order, with no gap and no number
// handed out twice, both must see the same event under each number, and
// every product's events must form one chain ending at its availability.
func TestEventsNumberedWhileWritersRun(t *testing.T) {
	t.Parallel()
	const writers, rounds, pollers = 12, 30, 2
	ctx := context.Background()
	pool := newPool(t, writers+pollers+4)
	store := newStore(t, pool)
	svc := newService(t, store, onlinestock.Config{LowStockThreshold: 3})
	setUpOutlets(t, svc)
	products := productIDs(2 * writers)
	var stock []onlinestock.Change
	for _, p := range products {
		stock = append(stock, onlinestock.Set(p, "a", 4), onlinestock.Set(p, "c", 2))
	}
	_, err := svc.Apply(ctx, stock)
	must(t, err)
	must(t, svc.EnableOnline(ctx, products...))

	var writing atomic.Bool
	writing.Store(true)
	seen := make([][]onlinestock.Event, pollers)
	var whileWriting [pollers]int // events a poller got before the writers were done
	var pw sync.WaitGroup
	for g := range pollers {
		pw.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			var after uint64
			for {
				done := !writing.Load()
				page, err := store.EventsSince(ctx, after, 1+rng.IntN(8))
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range page {
					if e.Seq != after+1 {
						t.Errorf("poller %d: event with Seq %d after %d: a gap or disorder", g, e.Seq, after)
						return
					}
					after = e.Seq
				}
				seen[g] = append(seen[g], page...)
				if !done {
					whileWriting[g] = len(seen[g])
				}
				if done && len(page) == 0 {
					return // everything committed before the writers finished has been read
				}
			}
		})
	}

	var ww sync.WaitGroup
	for g := range writers {
		ww.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			own, shared := products[g], products[writers+rng.IntN(writers)]
			for n := range rounds {
				var err error
				switch {
				case n%10 == 9 && g%4 == 0:
					_, err = svc.SetBuffer(ctx, "c", rng.Int64N(3))
				case n%10 == 5 && g%3 == 0:
					if rng.IntN(2) == 0 {
						err = svc.DisableOnline(ctx, shared)
					} else {
						err = svc.EnableOnline(ctx, shared)
					}
				default:
					changes := []onlinestock.Change{onlinestock.Adjust(own, "a", rng.Int64N(5)-2)}
					if rng.IntN(2) == 0 {
						changes = append(changes, onlinestock.Adjust(shared, "b", rng.Int64N(5)-2))
					}
					_, err = svc.Apply(ctx, changes)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	ww.Wait()
	writing.Store(false)
	pw.Wait()

	all := allEvents(t, store)
	for g := range pollers {
		t.Logf("poller %d: %d of %d events read while the writers ran", g, whileWriting[g], len(all))
		if diff := cmp.Diff(all, seen[g]); diff != "" {
			t.Errorf("poller %d saw other events than a reader after the fact (-after +poller):\n%s", g, diff)
		}
	}
	checkConsistent(t, store, svc, 3)
}

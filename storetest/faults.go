package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
)

// faultTries is how many calls each cancellation test makes.
func faultTries() int {
	if testing.Short() {
		return 200
	}
	return 1_000
}

// randomDeadline returns a context that ends within 50 µs or within 3 ms
// (half the time each, for fast and slow Stores): before, during or after
// the call's commit, as it falls.
func randomDeadline(t *testing.T, rng *rand.Rand) (context.Context, context.CancelFunc) {
	within := 3_000
	if rng.IntN(2) == 0 {
		within = 50
	}
	return context.WithTimeout(ctx(t), time.Duration(rng.IntN(within))*time.Microsecond)
}

// outcome sorts a call's error: done (nil), unknown (ErrCommitUnknown) or
// failed (anything else, which must have left nothing).
type outcome int

const (
	done outcome = iota
	unknown
	failed
)

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return done
	case errors.Is(err, onlinestock.ErrCommitUnknown):
		return unknown
	}
	return failed
}

// testCancelAroundCommit makes calls whose context ends at random points
// around their commit, then checks from the Store's own state that every
// call reported done took effect and every call reported failed left
// nothing. Only ErrCommitUnknown may leave the outcome open, and a context
// ending never causes it.
func testCancelAroundCommit(t *testing.T, newStore NewStore) {
	t.Parallel()
	t.Run("unkeyed adjusts: on-hand counts exactly the calls reported done", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"tee@a": 0})
		rng := rand.New(rand.NewPCG(1, 2))
		counts := map[outcome]int64{}
		for range faultTries() {
			cctx, cancel := randomDeadline(t, rng)
			_, err := s.svc.Apply(cctx, []onlinestock.Change{onlinestock.Adjust("tee", "a", 1)})
			cancel()
			counts[outcomeOf(err)]++
		}
		if counts[unknown] > 0 {
			t.Errorf("%d calls reported ErrCommitUnknown although only their context ended", counts[unknown])
		}
		if got := s.level(t, "tee", "a").OnHand; got != counts[done] {
			t.Errorf("on-hand is %d after %d adjusts of +1 reported done and %d reported failed: "+
				"%d failed calls committed", got, counts[done], counts[failed], got-counts[done])
		}
	})
	t.Run("keyed adjusts: a replay finds exactly the keys of calls reported done", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"tee@a": 0})
		rng := rand.New(rand.NewPCG(3, 4))
		tries := faultTries()
		reported := make([]outcome, tries)
		changes := make([]onlinestock.Change, tries)
		for i := range tries {
			changes[i] = onlinestock.Adjust("tee", "a", 1).WithKey(fmt.Sprintf("sale-%d/1", i))
			cctx, cancel := randomDeadline(t, rng)
			_, err := s.svc.Apply(cctx, changes[i:i+1])
			cancel()
			reported[i] = outcomeOf(err)
		}
		// Replayed in one batch, a key already applied is a Duplicate.
		results, err := s.svc.Apply(ctx(t), changes)
		s.must(t, err)
		for i, r := range results {
			switch {
			case reported[i] == done && r.Status != onlinestock.Duplicate:
				t.Errorf("key %q: reported done, but its replay was %v", changes[i].Key, r.Status)
			case reported[i] == failed && r.Status != onlinestock.Applied:
				t.Errorf("key %q: reported failed, but it had committed", changes[i].Key)
			case reported[i] == unknown:
				t.Errorf("key %q: reported ErrCommitUnknown although only its context ended", changes[i].Key)
			}
		}
		if got := s.level(t, "tee", "a").OnHand; got != int64(tries) {
			t.Errorf("on-hand is %d after every key was applied once, want %d", got, tries)
		}
	})
	t.Run("reservations: an order is held exactly when its call was reported done", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		tries := faultTries()
		s.stock(t, map[string]int64{"mug@a": int64(tries)})
		rng := rand.New(rand.NewPCG(5, 6))
		var held int64
		for i := range tries {
			order := fmt.Sprintf("web-%d", i)
			cctx, cancel := randomDeadline(t, rng)
			_, err := s.svc.Reserve(cctx, onlinestock.Order{ID: order, Lines: []onlinestock.Line{{Product: "mug", Quantity: 1}}})
			cancel()
			_, rerr := s.svc.Reservation(ctx(t), order)
			exists := rerr == nil
			if rerr != nil && !errors.Is(rerr, onlinestock.ErrNotFound) {
				t.Fatalf("Reservation(%q) error = %v", order, rerr)
			}
			switch outcomeOf(err) {
			case done:
				held++
				if !exists {
					t.Errorf("Reserve(%q) reported done, but no reservation exists", order)
				}
			case failed:
				if exists {
					t.Errorf("Reserve(%q) reported %v, but its reservation committed", order, err)
					held++
				}
			case unknown:
				t.Errorf("Reserve(%q) reported ErrCommitUnknown although only its context ended", order)
			}
		}
		if got := s.level(t, "mug", "a").Reserved; got != held {
			t.Errorf("Reserved = %d, want %d: one per reservation held", got, held)
		}
	})
}

package storetest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/storetest"
)

// TestCheckLockOrder runs transactions that take their locks in the order
// the Tx contract states, and transactions that break it, over a checked
// memstore: the first must pass, each of the others must fail with
// ErrLockOrder and be reported.
func TestCheckLockOrder(t *testing.T) {
	t.Parallel()
	type step func(ctx context.Context, tx onlinestock.Tx) error
	setup := func(ctx context.Context, tx onlinestock.Tx) error { _, err := tx.Setup(ctx); return err }
	lockSetup := func(ctx context.Context, tx onlinestock.Tx) error { _, err := tx.LockSetup(ctx); return err }
	reservation := func(order string) step {
		return func(ctx context.Context, tx onlinestock.Tx) error {
			_, _, err := tx.Reservation(ctx, order)
			return err
		}
	}
	products := func(ids ...string) step {
		return func(ctx context.Context, tx onlinestock.Tx) error { _, err := tx.Products(ctx, ids); return err }
	}
	keys := func(ctx context.Context, tx onlinestock.Tx) error {
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := tx.ClaimKeys(ctx, []onlinestock.KeyClaim{{Key: "k", Change: "c"}}, now, now.Add(-time.Hour))
		return err
	}
	tests := []struct {
		name  string
		steps []step
		ok    bool
	}{
		{"the setup, keys, reservations in order, products in order", []step{setup, keys, reservation("a"), reservation("b"), products("p", "q"), products("q", "r")}, true},
		{"the setup read again after products", []step{setup, products("p"), setup}, true},
		{"anything after the exclusive setup lock", []step{lockSetup, products("q"), products("p"), reservation("b"), reservation("a")}, true},
		{"a reservation before the setup", []step{reservation("a"), setup}, false},
		{"products before the setup", []step{products("p")}, false},
		{"reservations out of order", []step{setup, reservation("b"), reservation("a")}, false},
		{"a reservation after products", []step{setup, products("p"), reservation("a")}, false},
		{"products out of order", []step{setup, products("q"), products("p")}, false},
		{"keys after a reservation", []step{setup, reservation("a"), keys}, false},
		{"the shared setup lock upgraded", []step{setup, lockSetup}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var reported []error
			store := storetest.CheckLockOrder(memstore.New(), func(err error) { reported = append(reported, err) })
			err := store.Update(t.Context(), func(tx onlinestock.Tx) error {
				for _, s := range tt.steps {
					if err := s(t.Context(), tx); err != nil {
						return err
					}
				}
				return nil
			})
			if tt.ok {
				if err != nil || len(reported) > 0 {
					t.Errorf("Update() = %v, reported %v; want nil, none", err, reported)
				}
				return
			}
			if !errors.Is(err, storetest.ErrLockOrder) || len(reported) != 1 {
				t.Errorf("Update() = %v, reported %v; want ErrLockOrder, reported once", err, reported)
			}
		})
	}
}

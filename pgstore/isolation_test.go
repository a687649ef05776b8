package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// setUpRetailer gives svc two outlets, "a" (primary) and "b" (connected),
// product "p" with 5 units at each, enabled, and a Restrict method at "b".
func setUpRetailer(t *testing.T, svc *onlinestock.Service) {
	t.Helper()
	ctx := context.Background()
	must(t, svc.SaveOutlet(ctx, "a", "A"))
	must(t, svc.SaveOutlet(ctx, "b", "B"))
	must(t, svc.SaveRegister(ctx, "r", "a", "Till"))
	_, err := svc.Activate(ctx, "r")
	must(t, err)
	_, err = svc.Connect(ctx, "b")
	must(t, err)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 5), onlinestock.Set("p", "b", 5)})
	must(t, err)
	must(t, svc.EnableOnline(ctx, "p"))
	must(t, svc.SaveMethod(ctx, onlinestock.Method{ID: "pickup-b", Name: "Pick up at B", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict}))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := sharedPool(t)
	storeA, storeB := newStore(t, pool), newStore(t, pool)
	a, b := newService(t, storeA, onlinestock.Config{}), newService(t, storeB, onlinestock.Config{})

	t.Run("a tenant starts empty whatever its neighbours hold", func(t *testing.T) {
		setUpRetailer(t, a)
		setup, err := b.Setup(ctx)
		must(t, err)
		if diff := cmp.Diff(&onlinestock.Setup{}, setup); diff != "" {
			t.Errorf("Setup() of the other tenant mismatch (-want +got):\n%s", diff)
		}
		got, err := b.Availability(ctx, "p")
		must(t, err)
		if diff := cmp.Diff([]onlinestock.Availability{onlinestock.Unlisted}, got); diff != "" {
			t.Errorf("Availability() mismatch (-want +got):\n%s", diff)
		}
		if _, err := b.Levels(ctx, "p"); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("Levels() of the other tenant's product: err = %v, want ErrNotFound", err)
		}
		methods, err := b.Methods(ctx)
		must(t, err)
		if len(methods) != 0 {
			t.Errorf("Methods() = %v, want none", methods)
		}
		events, err := b.EventsSince(ctx, 0, 0)
		must(t, err)
		if len(events) != 0 {
			t.Errorf("EventsSince() = %v, want none", events)
		}
	})

	t.Run("calls naming the other tenant's IDs fail or change only their own tenant", func(t *testing.T) {
		if err := b.EnableOnline(ctx, "p"); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("EnableOnline(p) = %v, want ErrNotFound", err)
		}
		if _, err := b.Connect(ctx, "b"); !errors.Is(err, onlinestock.ErrNotActive) {
			t.Errorf("Connect(b) = %v, want ErrNotActive", err)
		}
		if _, err := b.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 100)}); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("Apply() = %v, want ErrNotFound", err)
		}
		if err := b.DeleteMethod(ctx, "pickup-b"); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("DeleteMethod() = %v, want ErrNotFound", err)
		}
		if _, err := b.Release(ctx, "o1"); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("Release() = %v, want ErrNotFound", err)
		}
	})

	t.Run("the same IDs in two tenants are independent", func(t *testing.T) {
		setUpRetailer(t, b)
		_, err := b.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("p", "b", 10).WithKey("k1")})
		must(t, err)
		// The key was claimed by tenant b only: tenant a applies it too.
		res, err := a.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("p", "a", 1).WithKey("k1")})
		must(t, err)
		if res[0].Status != onlinestock.Applied {
			t.Errorf("Apply() with a key of the other tenant: status %v, want applied", res[0].Status)
		}
		_, err = a.Reserve(ctx, onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{{Product: "p", Quantity: 2}}})
		must(t, err)
		rb, err := b.Reserve(ctx, onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{{Product: "p", Quantity: 7}}, Method: "pickup-b"})
		must(t, err)
		if rb.Lines[0].Quantity != 7 {
			t.Errorf("Reserve() in tenant b = %+v", rb)
		}
		if _, err := b.Disconnect(ctx, "b"); err != nil {
			t.Fatal(err)
		}

		gotA, err := a.Availability(ctx, "p")
		must(t, err)
		gotB, err := b.Availability(ctx, "p")
		must(t, err)
		want := []onlinestock.Availability{{Quantity: 5 + 1 + 5 - 2, Label: onlinestock.InStock}}
		if diff := cmp.Diff(want, gotA); diff != "" {
			t.Errorf("tenant a Availability() mismatch (-want +got):\n%s", diff)
		}
		want = []onlinestock.Availability{{Quantity: 5, Label: onlinestock.InStock}} // b disconnected
		if diff := cmp.Diff(want, gotB); diff != "" {
			t.Errorf("tenant b Availability() mismatch (-want +got):\n%s", diff)
		}
		orphanedA, err := a.OrphanedMethods(ctx)
		must(t, err)
		if len(orphanedA) != 0 {
			t.Errorf("tenant a OrphanedMethods() = %v, want none: only tenant b disconnected", orphanedA)
		}
	})

	t.Run("events, cursors and dead letters are per tenant", func(t *testing.T) {
		eventsA, err := storeA.EventsSince(ctx, 0, 0)
		must(t, err)
		eventsB, err := storeB.EventsSince(ctx, 0, 0)
		must(t, err)
		for name, events := range map[string][]onlinestock.Event{"a": eventsA, "b": eventsB} {
			for i, e := range events {
				if e.Seq != uint64(i+1) {
					t.Fatalf("tenant %s event %d has seq %d, want %d: each tenant numbers its own events", name, i, e.Seq, i+1)
				}
			}
		}
		must(t, storeA.SetCursor(ctx, "hook", 3))
		must(t, storeA.PutDeadLetter(ctx, "hook", onlinestock.DeadLetter{Seq: 2, Reason: "refused", Time: time.Now()}))
		if c, err := storeB.Cursor(ctx, "hook"); err != nil || c != 0 {
			t.Errorf("tenant b Cursor() = %d, %v; want 0", c, err)
		}
		if d, err := storeB.DeadLetters(ctx, "hook"); err != nil || len(d) != 0 {
			t.Errorf("tenant b DeadLetters() = %v, %v; want none", d, err)
		}
		must(t, storeB.DeleteDeadLetter(ctx, "hook", 2))
		if d, err := storeA.DeadLetters(ctx, "hook"); err != nil || len(d) != 1 {
			t.Errorf("tenant a DeadLetters() after tenant b deleted seq 2 = %v, %v; want it kept", d, err)
		}
	})

	t.Run("Tx reads see only the store's tenant", func(t *testing.T) {
		err := storeB.View(ctx, func(tx onlinestock.Tx) error {
			found, err := tx.ProductsAt(ctx, []string{"a", "b"})
			if err != nil {
				return err
			}
			for _, p := range found {
				for _, l := range p.Levels {
					if l.OnHand == 6 {
						t.Errorf("tenant b sees tenant a's level %+v", l)
					}
				}
			}
			r, ok, err := tx.Reservation(ctx, "o1")
			if err != nil {
				return err
			}
			if !ok || r.Lines[0].Quantity != 7 {
				t.Errorf("tenant b Reservation(o1) = %+v, %v; want its own", r, ok)
			}
			return nil
		})
		must(t, err)
	})
}

func TestNewValidatesTenant(t *testing.T) {
	t.Parallel()
	pool := sharedPool(t)
	for _, tenant := range []string{"", "a\x00b", "tab\there", string(make([]byte, 129)), "\xff"} {
		if _, err := pgstore.New(pool, pgstore.Config{Tenant: tenant}); !errors.Is(err, onlinestock.ErrInvalid) {
			t.Errorf("New(tenant %q) = %v, want ErrInvalid", tenant, err)
		}
	}
	if _, err := pgstore.New(nil, pgstore.Config{Tenant: "x"}); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("New(nil pool) = %v, want ErrInvalid", err)
	}
}

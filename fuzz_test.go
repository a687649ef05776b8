package onlinestock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// fuzzShop is newShop for fuzzing: it fails the test instead of panicking.
func fuzzShop(t *testing.T) *onlinestock.Service {
	t.Helper()
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{
		svc.SaveOutlet(ctx, "north", "North"),
		svc.SaveOutlet(ctx, "south", "South"),
		svc.SaveRegister(ctx, "till", "north", ""),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if _, err := svc.Activate(ctx, "till"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 4)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, "tee"); err != nil {
		t.Fatal(err)
	}
	return svc
}

type shopState struct {
	Levels []onlinestock.Level
	Avail  []onlinestock.Availability
	Events []onlinestock.Event
}

func stateOf(t *testing.T, svc *onlinestock.Service, product string) shopState {
	t.Helper()
	ctx := context.Background()
	var st shopState
	var err error
	if st.Avail, err = svc.Availability(ctx, "tee", product); errors.Is(err, onlinestock.ErrInvalid) {
		st.Avail, err = svc.Availability(ctx, "tee")
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Levels, err = svc.Levels(ctx, "tee"); err != nil {
		t.Fatal(err)
	}
	if st.Events, err = svc.EventsSince(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	return st
}

// FuzzApply sends one valid change and one fuzzed change in a batch. The
// batch either applies whole or fails with a sentinel error and changes
// nothing; it never panics.
func FuzzApply(f *testing.F) {
	f.Add(uint8(1), "tee", "north", int64(3), int64(0), false, "")
	f.Add(uint8(2), "tee", "south", int64(-1), int64(1), true, "key")
	f.Add(uint8(2), "", "north", int64(1), int64(0), false, "")
	f.Add(uint8(1), "tee\x00", "north", int64(1e12+1), int64(-1), true, "k\x7f")
	f.Add(uint8(9), "t\xffee", "nowhere", int64(-1e12), int64(5), true, "")
	f.Fuzz(func(t *testing.T, kind uint8, product, outlet string, qty, version int64, check bool, key string) {
		ctx := context.Background()
		svc := fuzzShop(t)
		before := stateOf(t, svc, product)
		c := onlinestock.Change{Kind: onlinestock.ChangeKind(kind), Product: product, Outlet: outlet, Quantity: qty, IfVersion: version, CheckVersion: check, Key: key}
		res, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", 1), c})
		if err != nil {
			if !errors.Is(err, onlinestock.ErrInvalid) && !errors.Is(err, onlinestock.ErrNotFound) && !errors.Is(err, onlinestock.ErrConflict) {
				t.Fatalf("Apply() error %v matches no sentinel", err)
			}
			if diff := cmp.Diff(before, stateOf(t, svc, product)); diff != "" {
				t.Fatalf("rejected Apply() changed the store (-before +after):\n%s", diff)
			}
			return
		}
		if len(res) != 2 || res[0].Status != onlinestock.Applied {
			t.Fatalf("Apply() = %v, want two results, the first applied", res)
		}
	})
}

// FuzzQuote evaluates a fuzzed cart line: a valid cart is quoted, an invalid
// one is ErrInvalid; nothing panics and nothing changes.
func FuzzQuote(f *testing.F) {
	f.Add("tee", int64(1), "mug", int64(2))
	f.Add("", int64(0), "tee", int64(1e9+1))
	f.Add("tee", int64(5), "tee", int64(1e9))
	f.Fuzz(func(t *testing.T, p1 string, q1 int64, p2 string, q2 int64) {
		ctx := context.Background()
		svc := fuzzShop(t)
		before := stateOf(t, svc, "tee")
		q, err := svc.Quote(ctx, onlinestock.Cart{Lines: []onlinestock.Line{{Product: p1, Quantity: q1}, {Product: p2, Quantity: q2}}})
		if err != nil && !errors.Is(err, onlinestock.ErrInvalid) {
			t.Fatalf("Quote() error %v, want nil or ErrInvalid", err)
		}
		if err == nil && len(q.Products) == 0 {
			t.Fatalf("Quote() of a valid cart has no products")
		}
		if diff := cmp.Diff(before, stateOf(t, svc, "tee")); diff != "" {
			t.Fatalf("Quote() changed the store (-before +after):\n%s", diff)
		}
	})
}

// FuzzEvaluate evaluates a fuzzed cart line against a snapshot with a
// fuzzed method: a valid pair is quoted, anything else is ErrInvalid; it
// never panics.
func FuzzEvaluate(f *testing.F) {
	f.Add("mug", int64(1), "pickup", "restrict", "a", true)
	f.Add("mug", int64(2), "x", "restrict", "", false)
	f.Add("mug", int64(1), "x", "restrict", "gone", true)
	f.Add("", int64(0), "x", "allow_all", "b", false)
	f.Add("mug", int64(1e9+1), "x", "sometimes", "a", true)
	f.Fuzz(func(t *testing.T, product string, qty int64, method, rule, outlet string, connected bool) {
		snap := onlinestock.Snapshot{
			Outlets: []onlinestock.Outlet{{ID: "a", Connected: true}, {ID: "b", Connected: connected}},
			Products: []onlinestock.Product{{ID: "mug", Enabled: true, Levels: []onlinestock.Level{
				{Product: "mug", Outlet: "a", OnHand: 2},
				{Product: "mug", Outlet: "b", OnHand: 5},
			}}},
			Methods: []onlinestock.Method{{ID: method, Name: "M", Kind: onlinestock.Pickup, Outlet: outlet, Rule: onlinestock.Rule(rule)}},
			Primary: "a",
		}
		cart := onlinestock.Cart{Lines: []onlinestock.Line{{Product: product, Quantity: qty}}}
		for _, hide := range []bool{false, true} {
			q, err := onlinestock.Evaluate(snap, cart, onlinestock.QuoteOptions{HideOrphanedMethods: hide})
			if err != nil {
				if !errors.Is(err, onlinestock.ErrInvalid) {
					t.Fatalf("Evaluate() error %v, want nil or ErrInvalid", err)
				}
				continue
			}
			if len(q.Products) != 1 || len(q.Methods) != 1 {
				t.Fatalf("Evaluate() = %+v, want one product and one method", q)
			}
			if m := q.Methods[0]; m.Offered && !q.Purchasable {
				t.Fatalf("Evaluate() offers %q for a cart that is not purchasable", m.Method.ID)
			}
		}
	})
}

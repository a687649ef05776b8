package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// testCatalog checks bundles: their availability, events, orders and
// validation.
func testCatalog(t *testing.T, newStore NewStore, o options) {
	t.Parallel()
	t.Run("a bundle's availability is, per outlet, its scarcest component, summed over connected outlets", func(t *testing.T) {
		t.Parallel()
		testBundleAvailability(t, newStore)
	})
	t.Run("a gift box sells out when one component runs out at the only outlet that has the others", func(t *testing.T) {
		t.Parallel()
		testGiftBoxSellsOut(t, newStore)
	})
	t.Run("reserving a bundle reserves its components, and release and fulfilment act on them", func(t *testing.T) {
		t.Parallel()
		testBundleOrders(t, newStore)
	})
	t.Run("a cart's demand for a component sums its own lines and its bundles", func(t *testing.T) {
		t.Parallel()
		testSummedDemand(t, newStore)
	})
	t.Run("bundles that share components are assembled where each can be", func(t *testing.T) {
		t.Parallel()
		testSharedComponents(t, newStore)
	})
	t.Run("defining and deleting bundles", func(t *testing.T) {
		t.Parallel()
		testBundleDefinitions(t, newStore)
	})
	t.Run("bad bundles and stock for a bundle are refused and change nothing", func(t *testing.T) {
		t.Parallel()
		testBadBundles(t, newStore)
	})
	t.Run("racing orders of a bundle and its component never oversell the component", func(t *testing.T) {
		t.Parallel()
		testSummedDemandRace(t, newStore, o)
	})
	t.Run("racing POS batches on components keep every bundle's event chain", func(t *testing.T) {
		t.Parallel()
		testComponentApplyRace(t, newStore)
	})
}

// testComponentApplyRace races POS batches that change the components of
// bundles sharing some of them, at several outlets: every bundle's
// availability events must still form a chain ending at its availability.
func testComponentApplyRace(t *testing.T, newStore NewStore) {
	const goroutines, batches = 8, 15
	s := newShop(t, newStore, onlinestock.Config{LowStockThreshold: 2})
	parts := []string{"c1", "c2", "c3", "c4"}
	onHand := map[string]int64{}
	for _, p := range parts {
		onHand[p+"@a"], onHand[p+"@b"] = 3, 3
	}
	s.stock(t, onHand)
	s.saveBundle(t, "b1", component("c1", 1), component("c2", 2))
	s.saveBundle(t, "b2", component("c2", 1), component("c3", 1))
	s.saveBundle(t, "b3", component("c1", 1), component("c3", 2), component("c4", 1))
	s.must(t, s.svc.EnableOnline(ctx(t), "b1", "b2", "b3"))
	race(t, 0, goroutines, func(c context.Context, g int) {
		rng := rand.New(rand.NewPCG(uint64(g), 7))
		for range batches {
			var changes []onlinestock.Change
			for range 1 + rng.IntN(3) {
				p, o := parts[rng.IntN(len(parts))], []string{"a", "b"}[rng.IntN(2)]
				if rng.IntN(2) == 0 {
					changes = append(changes, onlinestock.Set(p, o, rng.Int64N(5)))
				} else {
					changes = append(changes, onlinestock.Adjust(p, o, rng.Int64N(5)-2))
				}
			}
			if _, err := s.svc.Apply(c, changes); err != nil {
				t.Errorf("Apply(%v) error = %v", changes, err)
				return
			}
		}
	})
	checkChains(t, s.svc, append([]string{"b1", "b2", "b3"}, parts...))
}

func component(p string, q int64) onlinestock.Component {
	return onlinestock.Component{Product: p, Quantity: q}
}

func (s *shop) saveBundle(t testing.TB, id string, components ...onlinestock.Component) {
	t.Helper()
	s.must(t, s.svc.SaveBundle(ctx(t), onlinestock.Bundle{ID: id, Components: components}))
}

func testBundleAvailability(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{LowStockThreshold: 1})
	_, err := s.svc.SetBuffer(ctx(t), "b", 1)
	s.must(t, err)
	// A kit of two soaps and a towel. Outlet a assembles 2 (towels), b 1
	// (its buffer leaves 2 soaps), c is not connected.
	s.stock(t, map[string]int64{
		"soap@a": 5, "towel@a": 2,
		"soap@b": 3, "towel@b": 4,
		"soap@c": 40, "towel@c": 40,
	})
	s.saveBundle(t, "kit", component("soap", 2), component("towel", 1))
	if got := s.availability(t, "kit"); got[0] != onlinestock.Unlisted {
		t.Fatalf("a new bundle's availability = %+v, want it not for sale until enabled", got[0])
	}
	seq := s.lastSeq(t)
	s.must(t, s.svc.EnableOnline(ctx(t), "kit"))
	want := onlinestock.Availability{Quantity: 3, Label: onlinestock.InStock}
	if diff := cmp.Diff(want, s.availability(t, "kit")[0]); diff != "" {
		t.Fatalf("Availability(kit) mismatch (-want +got):\n%s", diff)
	}
	levels, err := s.svc.Levels(ctx(t), "kit")
	s.must(t, err)
	if len(levels) != 0 {
		t.Errorf("Levels(kit) = %+v, want none: a bundle holds no stock", levels)
	}

	// One towel less at a: a assembles 1, b 1. Two events in one call: the
	// towel's and the kit's.
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("towel", "a", -1)})
	s.must(t, err)
	wantEvents := []onlinestock.Event{
		{Kind: onlinestock.ProductEnabled, Product: "kit"},
		{Kind: onlinestock.AvailabilityChanged, Product: "kit", Before: onlinestock.Unlisted, After: want},
		{Kind: onlinestock.AvailabilityChanged, Product: "kit", Before: want, After: onlinestock.Availability{Quantity: 2, Label: onlinestock.InStock}},
		{Kind: onlinestock.AvailabilityChanged, Product: "towel", Before: onlinestock.Availability{Quantity: 5, Label: onlinestock.InStock}, After: onlinestock.Availability{Quantity: 4, Label: onlinestock.InStock}},
	}
	if diff := cmp.Diff(wantEvents, s.events(t, seq), eventOpts); diff != "" {
		t.Fatalf("events mismatch (-want +got):\n%s", diff)
	}
	// Connecting c adds its 20 kits; disconnecting takes them away.
	res, err := s.svc.Connect(ctx(t), "c")
	s.must(t, err)
	if i := changeOf(res, "kit"); i < 0 || res.Changes[i].After.Quantity != 22 {
		t.Fatalf("Connect(c) changes = %+v, want kit at 22", res.Changes)
	}
	if got := s.online(t, "kit"); got != 22 {
		t.Fatalf("kit online after connecting c = %d, want 22", got)
	}
	_, err = s.svc.SetBuffer(ctx(t), "c", 39)
	s.must(t, err)
	if got := s.online(t, "kit"); got != 2 {
		t.Fatalf("kit online with c's buffer 39 = %d, want 2 (c keeps one soap and one towel)", got)
	}
	// A component not enabled online still makes bundles.
	s.must(t, s.svc.DisableOnline(ctx(t), "soap"))
	if got := s.online(t, "kit"); got != 2 {
		t.Fatalf("kit online with soap not for sale = %d, want 2", got)
	}
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("towel", "a", 0), onlinestock.Set("soap", "b", 1)})
	s.must(t, err)
	if diff := cmp.Diff(onlinestock.Availability{Label: onlinestock.SoldOut}, s.availability(t, "kit")[0]); diff != "" {
		t.Fatalf("Availability(kit) mismatch (-want +got):\n%s", diff)
	}
	checkChains(t, s.svc, []string{"kit", "soap", "towel"})
}

func changeOf(res onlinestock.SelectionResult, product string) int {
	for i, c := range res.Changes {
		if c.Product == product {
			return i
		}
	}
	return -1
}

func testGiftBoxSellsOut(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{})
	// Only a has candles; b has plenty of soap and ribbon but no candle.
	s.stock(t, map[string]int64{
		"candle@a": 3, "soap@a": 1, "ribbon@a": 9,
		"soap@b": 50, "ribbon@b": 50,
	})
	s.saveBundle(t, "gift-box", component("candle", 1), component("soap", 1), component("ribbon", 1))
	s.must(t, s.svc.EnableOnline(ctx(t), "gift-box"))
	if got := s.online(t, "gift-box"); got != 1 {
		t.Fatalf("gift-box online = %d, want 1", got)
	}
	seq := s.lastSeq(t)
	_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("soap", 1)}, Method: ""})
	s.must(t, err)
	// The order took the soap from a (the primary, which has one), and the
	// gift box sold out with it, in the same call.
	soldOut := false
	for _, e := range s.events(t, seq) {
		if e.Product == "gift-box" && e.SoldOut() {
			soldOut = true
		}
	}
	if !soldOut {
		t.Fatalf("events of Reserve(soap) = %v, want the gift box to sell out", s.events(t, seq))
	}
	q, err := s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("gift-box", 1)}})
	s.must(t, err)
	if q.Purchasable || q.Products[0].Status != onlinestock.LineShort {
		t.Fatalf("Quote(gift-box) = %+v, want short", q)
	}
	checkChains(t, s.svc, []string{"gift-box", "candle", "soap", "ribbon"})
}

func testBundleOrders(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{})
	s.stock(t, map[string]int64{"soap@a": 3, "towel@a": 1, "soap@b": 10, "towel@b": 10})
	s.saveBundle(t, "kit", component("soap", 2), component("towel", 1))
	s.must(t, s.svc.EnableOnline(ctx(t), "kit"))
	kitAt := func(o string, n int64) onlinestock.Allocation {
		return onlinestock.Allocation{Product: "kit", Outlet: o, Quantity: n, Components: []onlinestock.Component{component("soap", 2), component("towel", 1)}}
	}

	// Three kits: a can assemble 1, b 5, so b alone.
	r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("kit", 3)}})
	s.must(t, err)
	if diff := cmp.Diff([]onlinestock.Allocation{kitAt("b", 3)}, r.Allocations); diff != "" {
		t.Fatalf("Reserve(3 kits) allocations mismatch (-want +got):\n%s", diff)
	}
	if l := s.level(t, "soap", "b"); l.Reserved != 6 {
		t.Fatalf("soap@b Reserved = %d, want 6", l.Reserved)
	}
	if l := s.level(t, "towel", "b"); l.Reserved != 3 {
		t.Fatalf("towel@b Reserved = %d, want 3", l.Reserved)
	}
	// The ledger records the components' movements under the order,
	// naming the bundle.
	moved, err := s.svc.Movements(ctx(t), onlinestock.MovementFilter{Ref: "o1"})
	s.must(t, err)
	wantMoved := []onlinestock.Movement{
		{Product: "soap", Outlet: "b", Kind: onlinestock.MovedByReserve, Ref: "o1", Bundle: "kit", ReservedDelta: 6, OnHand: 10, Reserved: 6, Version: 1},
		{Product: "towel", Outlet: "b", Kind: onlinestock.MovedByReserve, Ref: "o1", Bundle: "kit", ReservedDelta: 3, OnHand: 10, Reserved: 3, Version: 1},
	}
	if diff := cmp.Diff(wantMoved, moved, movementOpts); diff != "" {
		t.Fatalf("Movements(o1) mismatch (-want +got):\n%s", diff)
	}
	// Three more: b has 2 left, a 1; a split, assembled per outlet.
	r, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: []onlinestock.Line{line("kit", 3)}})
	s.must(t, err)
	if diff := cmp.Diff([]onlinestock.Allocation{kitAt("a", 1), kitAt("b", 2)}, r.Allocations); diff != "" {
		t.Fatalf("Reserve(3 more kits) allocations mismatch (-want +got):\n%s", diff)
	}
	wantSources := []onlinestock.Source{{Outlet: "a", Stage: onlinestock.StageAssembly, Rank: 1}, {Outlet: "b", Stage: onlinestock.StageAssembly, Rank: 2}}
	if diff := cmp.Diff(wantSources, r.Sources); diff != "" {
		t.Fatalf("Reserve(3 more kits) sources mismatch (-want +got):\n%s", diff)
	}
	if got := s.online(t, "kit"); got != 0 {
		t.Fatalf("kit online = %d, want 0", got)
	}
	// Release one kit of o2: it comes back from b, the last outlet that gave.
	r, err = s.svc.ReleasePart(ctx(t), "o2", onlinestock.Part{ID: "c1", Lines: []onlinestock.Line{line("kit", 1)}})
	s.must(t, err)
	if l := s.level(t, "soap", "b"); l.Reserved != 8 {
		t.Fatalf("soap@b Reserved after releasing one kit = %d, want 8", l.Reserved)
	}
	// A component line of an order holding only kits is not held.
	_, err = s.svc.ReleasePart(ctx(t), "o2", onlinestock.Part{ID: "c2", Lines: []onlinestock.Line{line("soap", 1)}})
	if !errors.Is(err, onlinestock.ErrInvalid) {
		t.Fatalf("ReleasePart(soap) of an order of kits: error = %v, want ErrInvalid", err)
	}
	// Fulfilling o1 takes 6 soaps and 3 towels off b's shelf.
	_, err = s.svc.Fulfill(ctx(t), "o1")
	s.must(t, err)
	if l := s.level(t, "soap", "b"); l.OnHand != 4 || l.Reserved != 2 {
		t.Fatalf("soap@b after fulfilling o1 = %+v, want on hand 4, reserved 2", l)
	}
	// The reservation lists the order as the kit, as kept.
	got, err := s.svc.Reservations(ctx(t), onlinestock.ReservationFilter{Product: "kit"})
	s.must(t, err)
	if len(got) != 1 || got[0].Order != "o2" {
		t.Fatalf("open reservations of kit = %+v, want o2", got)
	}
	// Amend: o2 grows to 3 kits again, and a soap.
	r, err = s.svc.Amend(ctx(t), "o2", []onlinestock.Line{line("kit", 3), line("soap", 1)})
	s.must(t, err)
	var soap, kits int64
	for _, a := range r.Allocations {
		switch a.Product {
		case "soap":
			soap += a.Held()
		case "kit":
			kits += a.Held()
		}
	}
	if soap != 1 || kits != 3 {
		t.Fatalf("Amend(o2) holds %d soap and %d kits, want 1 and 3: %+v", soap, kits, r.Allocations)
	}
	_, err = s.svc.Release(ctx(t), "o2")
	s.must(t, err)
	for _, o := range []string{"a", "b"} {
		for _, p := range []string{"soap", "towel"} {
			if l := s.level(t, p, o); l.Reserved != 0 {
				t.Errorf("%s@%s Reserved after releasing everything = %d, want 0", p, o, l.Reserved)
			}
		}
	}
	checkChains(t, s.svc, []string{"kit", "soap", "towel"})
}

func testSummedDemand(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{})
	s.stock(t, map[string]int64{"soap@a": 3, "towel@a": 5, "soap@b": 1})
	s.saveBundle(t, "kit", component("soap", 2), component("towel", 1))
	s.must(t, s.svc.EnableOnline(ctx(t), "kit"))
	s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "shop-a", Name: "Pick up at a", Kind: onlinestock.Pickup, Outlet: "a", Rule: onlinestock.Restrict}))

	// One kit (2 soaps) and 2 soaps: 4 soaps, 4 online. Purchasable, but
	// not from a alone.
	q, err := s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("kit", 1), line("soap", 2)}})
	s.must(t, err)
	want := onlinestock.Quote{
		Purchasable: true,
		Products: []onlinestock.ProductQuote{
			{Product: "kit", Requested: 1, Available: 1, Status: onlinestock.LineOK},
			{Product: "soap", Requested: 2, Available: 4, Status: onlinestock.LineOK},
		},
		Components: []onlinestock.ProductQuote{
			{Product: "soap", Requested: 4, Available: 4, Status: onlinestock.LineOK},
			{Product: "towel", Requested: 1, Available: 5, Status: onlinestock.LineOK},
		},
		Methods: []onlinestock.MethodQuote{{
			Method: onlinestock.Method{ID: "shop-a", Name: "Pick up at a", Kind: onlinestock.Pickup, Outlet: "a", Rule: onlinestock.Restrict},
			Reason: onlinestock.ReasonOutletShort,
			Shortfalls: []onlinestock.Shortfall{
				{Product: "soap", Requested: 4, Available: 3, Status: onlinestock.LineShort},
			},
		}},
	}
	if diff := cmp.Diff(want, q, equateEmpty); diff != "" {
		t.Fatalf("Quote(kit, 2 soaps) mismatch (-want +got):\n%s", diff)
	}
	// One more soap: each line alone is fine, together they are short.
	q, err = s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("kit", 1), line("soap", 3)}})
	s.must(t, err)
	if q.Purchasable || q.Products[0].Status != onlinestock.LineOK || q.Products[1].Status != onlinestock.LineOK ||
		q.Components[0] != (onlinestock.ProductQuote{Product: "soap", Requested: 5, Available: 4, Status: onlinestock.LineShort}) {
		t.Fatalf("Quote(kit, 3 soaps) = %+v, want the soap short across the cart", q)
	}
	before := takeDump(t, s.svc, []string{"kit", "soap", "towel"}, []string{"o1"})
	_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("kit", 1), line("soap", 3)}})
	var short *onlinestock.InsufficientStockError
	if !errors.As(err, &short) {
		t.Fatalf("Reserve(kit, 3 soaps) error = %v, want *InsufficientStockError", err)
	}
	wantShort := []onlinestock.Shortfall{{Product: "soap", Requested: 5, Available: 4, Status: onlinestock.LineShort}}
	if diff := cmp.Diff(wantShort, short.Shortfalls); diff != "" {
		t.Fatalf("Reserve(kit, 3 soaps) shortfalls mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"kit", "soap", "towel"}, []string{"o1"})); diff != "" {
		t.Fatalf("a refused Reserve changed the store (-before +after):\n%s", diff)
	}
	// The kit and 2 soaps: the kit is made at a, the soaps come from a and b.
	r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("kit", 1), line("soap", 2)}})
	s.must(t, err)
	kit := onlinestock.Allocation{Product: "kit", Outlet: "a", Quantity: 1, Components: []onlinestock.Component{component("soap", 2), component("towel", 1)}}
	wantAllocs := []onlinestock.Allocation{kit, {Product: "soap", Outlet: "a", Quantity: 1}, {Product: "soap", Outlet: "b", Quantity: 1}}
	if diff := cmp.Diff(wantAllocs, r.Allocations); diff != "" {
		t.Fatalf("Reserve(kit, 2 soaps) allocations mismatch (-want +got):\n%s", diff)
	}
	if got := s.online(t, "soap"); got != 0 {
		t.Fatalf("soap online = %d, want 0", got)
	}
}

func testSharedComponents(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{})
	// Both bundles need the one c1 of each outlet; only a has c3.
	s.stock(t, map[string]int64{"c1@a": 1, "c2@a": 1, "c3@a": 1, "c1@b": 1, "c2@b": 1, "c3@b": 0})
	s.saveBundle(t, "b1", component("c1", 1), component("c2", 1))
	s.saveBundle(t, "b2", component("c1", 1), component("c3", 1))
	s.must(t, s.svc.EnableOnline(ctx(t), "b1", "b2"))
	near := onlinestock.Method{ID: "near", Name: "Delivery from a", Kind: onlinestock.Delivery, Outlet: "a"}
	s.must(t, s.svc.SaveMethod(ctx(t), near))
	b1 := func(o string) onlinestock.Allocation {
		return onlinestock.Allocation{Product: "b1", Outlet: o, Quantity: 1, Components: []onlinestock.Component{component("c1", 1), component("c2", 1)}}
	}
	b2 := func(o string) onlinestock.Allocation {
		return onlinestock.Allocation{Product: "b2", Outlet: o, Quantity: 1, Components: []onlinestock.Component{component("c1", 1), component("c3", 1)}}
	}
	cart := []onlinestock.Line{line("b1", 1), line("b2", 1)}
	q, err := s.svc.Quote(ctx(t), onlinestock.Cart{Lines: cart})
	s.must(t, err)
	if !q.Purchasable || !q.Methods[0].Offered {
		t.Fatalf("Quote(b1, b2) = %+v, want purchasable, with the method offered", q)
	}
	// b2 can be made at a only, so it goes first; b1 is made at b. The
	// method's outlet a making b1 first would leave b2 without a c1, so the
	// order is routed as if the method had no outlet.
	for _, method := range []string{"", "near"} {
		id := "o-" + method
		r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: id, Lines: cart, Method: method})
		s.must(t, err)
		if diff := cmp.Diff([]onlinestock.Allocation{b1("b"), b2("a")}, r.Allocations); diff != "" {
			t.Fatalf("Reserve(b1, b2, method %q) allocations mismatch (-want +got):\n%s", method, diff)
		}
		wantSources := []onlinestock.Source{{Outlet: "a", Stage: onlinestock.StageAssembly, Rank: 1}, {Outlet: "b", Stage: onlinestock.StageAssembly, Rank: 2}}
		if diff := cmp.Diff(wantSources, r.Sources); diff != "" {
			t.Fatalf("Reserve(b1, b2, method %q) sources mismatch (-want +got):\n%s", method, diff)
		}
		_, err = s.svc.Release(ctx(t), id)
		s.must(t, err)
	}
	// Without the c2 of b, both need a, which has one c1: each line alone
	// is fine, together they are not, and Quote and Reserve say so alike.
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("c2", "b", 0), onlinestock.Set("c3", "a", 5), onlinestock.Set("c1", "b", 3)})
	s.must(t, err)
	q, err = s.svc.Quote(ctx(t), onlinestock.Cart{Lines: cart})
	s.must(t, err)
	wantProducts := []onlinestock.ProductQuote{
		{Product: "b1", Requested: 1, Available: 1, Status: onlinestock.LineOK},
		{Product: "b2", Requested: 1, Available: 0, Status: onlinestock.LineShort},
	}
	if diff := cmp.Diff(wantProducts, q.Products); diff != "" || q.Purchasable || q.Methods[0].Offered {
		t.Fatalf("Quote(b1, b2) with a alone able = %+v, want b2 short; products mismatch (-want +got):\n%s", q, diff)
	}
	_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o3", Lines: cart, Method: "near"})
	var short *onlinestock.InsufficientStockError
	if !errors.As(err, &short) {
		t.Fatalf("Reserve(b1, b2) error = %v, want *InsufficientStockError", err)
	}
	wantShort := []onlinestock.Shortfall{{Product: "b2", Requested: 1, Available: 0, Status: onlinestock.LineShort}}
	if diff := cmp.Diff(wantShort, short.Shortfalls); diff != "" {
		t.Fatalf("Reserve(b1, b2) shortfalls mismatch (-want +got):\n%s", diff)
	}

	// A Restrict method's outlet must make the bundles and give the rest,
	// the cart's demand summed.
	pickup := onlinestock.Method{ID: "pickup-b", Name: "Pick up at b", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict}
	s.must(t, s.svc.SaveMethod(ctx(t), pickup))
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("c2", "b", 1)})
	s.must(t, err)
	q, err = s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("b1", 1), line("c1", 3)}})
	s.must(t, err)
	mq := q.Methods[slices.IndexFunc(q.Methods, func(m onlinestock.MethodQuote) bool { return m.Method.ID == "pickup-b" })]
	wantShortfalls := []onlinestock.Shortfall{{Product: "c1", Requested: 4, Available: 3, Status: onlinestock.LineShort}}
	if diff := cmp.Diff(wantShortfalls, mq.Shortfalls); diff != "" || !q.Purchasable || mq.Offered {
		t.Fatalf("Quote(b1, 3 c1) = %+v, want purchasable but not from b alone; shortfalls mismatch (-want +got):\n%s", q, diff)
	}
	r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o4", Lines: []onlinestock.Line{line("b1", 1), line("c1", 2)}, Method: "pickup-b"})
	s.must(t, err)
	want := []onlinestock.Allocation{b1("b"), {Product: "c1", Outlet: "b", Quantity: 2}}
	if diff := cmp.Diff(want, r.Allocations); diff != "" {
		t.Fatalf("Reserve(b1, 2 c1, Restrict b) allocations mismatch (-want +got):\n%s", diff)
	}
	checkChains(t, s.svc, []string{"b1", "b2", "c1", "c2", "c3"})
}

func testBundleDefinitions(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{})
	s.stock(t, map[string]int64{"soap@a": 4, "towel@a": 4, "mug@a": 1})
	s.saveBundle(t, "kit", component("towel", 1), component("soap", 2))
	s.must(t, s.svc.EnableOnline(ctx(t), "kit"))
	bundles, err := s.svc.Bundles(ctx(t))
	s.must(t, err)
	want := []onlinestock.Bundle{{ID: "kit", Components: []onlinestock.Component{component("soap", 2), component("towel", 1)}}}
	if diff := cmp.Diff(want, bundles); diff != "" {
		t.Fatalf("Bundles() mismatch (-want +got):\n%s", diff)
	}
	// Saving it as it is changes nothing.
	seq := s.lastSeq(t)
	s.saveBundle(t, "kit", component("soap", 2), component("towel", 1))
	if ev := s.events(t, seq); len(ev) != 0 {
		t.Fatalf("saving a bundle unchanged wrote %v", ev)
	}
	// Redefining it moves its availability, in an event.
	s.saveBundle(t, "kit", component("soap", 2), component("towel", 1), component("mug", 1))
	wantEvents := []onlinestock.Event{{Kind: onlinestock.AvailabilityChanged, Product: "kit",
		Before: onlinestock.Availability{Quantity: 2, Label: onlinestock.InStock}, After: onlinestock.Availability{Quantity: 1, Label: onlinestock.InStock}}}
	if diff := cmp.Diff(wantEvents, s.events(t, seq), eventOpts); diff != "" {
		t.Fatalf("events of a redefinition mismatch (-want +got):\n%s", diff)
	}
	// Held by an open order, it cannot change.
	_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("kit", 1)}})
	s.must(t, err)
	if err := s.svc.DeleteBundle(ctx(t), "kit"); !errors.Is(err, onlinestock.ErrConflict) {
		t.Fatalf("DeleteBundle of a bundle held by an order: error = %v, want ErrConflict", err)
	}
	if err := s.svc.SaveBundle(ctx(t), onlinestock.Bundle{ID: "kit", Components: []onlinestock.Component{component("soap", 1)}}); !errors.Is(err, onlinestock.ErrConflict) {
		t.Fatalf("SaveBundle of a bundle held by an order: error = %v, want ErrConflict", err)
	}
	_, err = s.svc.Fulfill(ctx(t), "o1")
	s.must(t, err)
	// Deleted, it is an ordinary product without stock.
	seq = s.lastSeq(t)
	s.must(t, s.svc.DeleteBundle(ctx(t), "kit"))
	if got := s.events(t, seq); len(got) != 0 {
		t.Fatalf("deleting a sold-out bundle wrote %v, want nothing: it stays sold out", got)
	}
	if bundles, err := s.svc.Bundles(ctx(t)); err != nil || len(bundles) != 0 {
		t.Fatalf("Bundles() after delete = %v, %v; want none", bundles, err)
	}
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("kit", "a", 2)})
	s.must(t, err)
	if got := s.online(t, "kit"); got != 2 {
		t.Fatalf("online of a former bundle given stock = %d, want 2", got)
	}
	checkChains(t, s.svc, []string{"kit", "soap", "towel", "mug"})
}

// badBundleShop is badInputShop with r in stock, a bundle "kit" of p and
// q, enabled, and an open order of one.
func badBundleShop(t *testing.T, newStore NewStore) *shop {
	s := badInputShop(t, newStore)
	s.stock(t, map[string]int64{"r@a": 3})
	s.saveBundle(t, "kit", component("p", 1), component("q", 2))
	s.must(t, s.svc.EnableOnline(ctx(t), "kit"))
	_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: []onlinestock.Line{line("kit", 1)}})
	s.must(t, err)
	return s
}

func testBadBundles(t *testing.T, newStore NewStore) {
	bundle := func(id string, components ...onlinestock.Component) onlinestock.Bundle {
		return onlinestock.Bundle{ID: id, Components: components}
	}
	save := func(b onlinestock.Bundle) func(context.Context, *onlinestock.Service) error {
		return func(c context.Context, s *onlinestock.Service) error { return s.SaveBundle(c, b) }
	}
	chg := func(r []onlinestock.ChangeResult, err error) error { return err }
	many := make([]onlinestock.Component, onlinestock.MaxComponents+1)
	for i := range many {
		many[i] = component(fmt.Sprintf("c%03d", i), 1)
	}
	tests := []struct {
		name string
		want error
		do   func(context.Context, *onlinestock.Service) error
	}{
		{"a bundle that contains itself is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box", component("p", 1), component("box", 1)))},
		{"a bundle whose component is unknown is ErrNotFound", onlinestock.ErrNotFound, save(bundle("box", component("p", 1), component("nothing", 1)))},
		{"a component quantity of zero is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box", component("p", 0)))},
		{"a negative component quantity is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box", component("p", -1)))},
		{"a component quantity above the limit is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box", component("p", onlinestock.MaxComponentQuantity+1)))},
		{"a component listed twice is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box", component("p", 1), component("q", 1), component("p", 2)))},
		{"a bundle without components is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box"))},
		{"a bundle of too many components is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box", many...))},
		{"a component with a bad ID is ErrInvalid", onlinestock.ErrInvalid, save(bundle("box", component("p\x00", 1)))},
		{"a bundle with a bad ID is ErrInvalid", onlinestock.ErrInvalid, save(bundle("", component("p", 1)))},
		{"a bundle as a component is ErrInvalid: bundles do not nest", onlinestock.ErrInvalid, save(bundle("box", component("kit", 1)))},
		{"a component made a bundle is ErrInvalid: bundles do not nest", onlinestock.ErrInvalid, save(bundle("q", component("new", 1)))},
		{"a product that holds stock cannot become a bundle", onlinestock.ErrInvalid, save(bundle("r", component("q", 1)))},
		{"changing a bundle an open order holds is ErrConflict", onlinestock.ErrConflict, save(bundle("kit", component("p", 1)))},
		{"deleting a bundle an open order holds is ErrConflict", onlinestock.ErrConflict, func(c context.Context, s *onlinestock.Service) error {
			return s.DeleteBundle(c, "kit")
		}},
		{"deleting an unknown bundle is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return s.DeleteBundle(c, "p")
		}},
		{"deleting a bundle with a bad ID is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return s.DeleteBundle(c, "a\x7f")
		}},
		{"stock reported for a bundle rejects the whole batch", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), onlinestock.Adjust("kit", "b", 1).WithKey("k9")}))
		}},
	}
	products := append([]string{"kit", "box", "r"}, dumpProducts...)
	orders := append([]string{"o3"}, dumpOrders...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := badBundleShop(t, newStore)
			before := takeDump(t, s.svc, products, orders)
			bundles, err := s.svc.Bundles(ctx(t))
			s.must(t, err)
			if err := tc.do(ctx(t), s.svc); !errLike(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(before, takeDump(t, s.svc, products, orders)); diff != "" {
				t.Errorf("store after a rejected call mismatch (-want +got):\n%s", diff)
			}
			after, err := s.svc.Bundles(ctx(t))
			s.must(t, err)
			if diff := cmp.Diff(bundles, after); diff != "" {
				t.Errorf("Bundles() after a rejected call mismatch (-want +got):\n%s", diff)
			}
			_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1).WithKey("k9")})
			s.must(t, err)
			if l := s.level(t, "p", "a"); l.OnHand != before.Levels["p"][0].OnHand+1 {
				t.Errorf("a key of the rejected batch was kept: p@a = %+v", l)
			}
		})
	}
}

// testSummedDemandRace races orders that each take a kit (two soaps) or
// soaps alone, from a few soaps: whatever wins, the soaps reserved never
// exceed what was online, and each order's Quote agrees with the stock.
func testSummedDemandRace(t *testing.T, newStore NewStore, o options) {
	s := newShop(t, newStore, onlinestock.Config{})
	_, err := s.svc.Connect(ctx(t), "c")
	s.must(t, err)
	s.saveBundleAfterStock(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range o.rounds {
		soaps := map[string]int64{"a": rng.Int64N(4), "b": rng.Int64N(3), "c": rng.Int64N(3)}
		var changes []onlinestock.Change
		for _, o := range []string{"a", "b", "c"} {
			changes = append(changes, onlinestock.Set("soap", o, soaps[o]), onlinestock.Set("towel", o, 2))
		}
		_, err := s.svc.Apply(ctx(t), changes)
		s.must(t, err)
		online := soaps["a"] + soaps["b"] + soaps["c"]
		orders := make([]onlinestock.Order, o.goroutines)
		for g := range orders {
			orders[g].ID = fmt.Sprintf("round-%d-%d", round, g)
			switch g % 3 {
			case 0:
				orders[g].Lines = []onlinestock.Line{line("kit", 1)}
			case 1:
				orders[g].Lines = []onlinestock.Line{line("soap", 1+rng.Int64N(2))}
			default:
				orders[g].Lines = []onlinestock.Line{line("kit", 1), line("soap", 1)}
			}
		}
		results := make([]onlinestock.Reservation, len(orders))
		errs := make([]error, len(orders))
		race(t, round, len(orders), func(c context.Context, g int) {
			results[g], errs[g] = s.svc.Reserve(c, orders[g])
		})
		var soapsReserved int64
		for g, err := range errs {
			var short *onlinestock.InsufficientStockError
			switch {
			case err == nil:
				for _, a := range results[g].Allocations {
					switch a.Product {
					case "soap":
						soapsReserved += a.Quantity
					case "kit":
						soapsReserved += 2 * a.Quantity
					}
				}
			case errors.As(err, &short):
			default:
				t.Fatalf("round %d: Reserve(%v) error = %v", round, orders[g], err)
			}
		}
		if soapsReserved > online {
			t.Fatalf("round %d: %d soaps reserved, %d were online: oversold", round, soapsReserved, online)
		}
		var levelsReserved int64
		for _, o := range []string{"a", "b", "c"} {
			l := s.level(t, "soap", o)
			if l.Reserved > l.OnHand {
				t.Fatalf("round %d: soap@%s reserves %d of %d", round, o, l.Reserved, l.OnHand)
			}
			levelsReserved += l.Reserved
		}
		if levelsReserved != soapsReserved {
			t.Fatalf("round %d: levels reserve %d soaps, orders hold %d", round, levelsReserved, soapsReserved)
		}
		// Whatever is left is what Quote says: a kit exactly when two soaps
		// and a towel remain at one outlet.
		q, err := s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("kit", 1)}})
		s.must(t, err)
		canMake := false
		for _, o := range []string{"a", "b", "c"} {
			l := s.level(t, "soap", o)
			canMake = canMake || l.OnHand-l.Reserved >= 2
		}
		if q.Purchasable != canMake {
			t.Fatalf("round %d: Quote(kit) purchasable = %v, but an outlet with two soaps left: %v", round, q.Purchasable, canMake)
		}
		for g, err := range errs {
			if err == nil {
				_, err := s.svc.Release(ctx(t), orders[g].ID)
				s.must(t, err)
			}
		}
	}
	checkChains(t, s.svc, []string{"kit", "soap", "towel"})
}

// saveBundleAfterStock gives soap and towel a level, then makes kit of two
// soaps and a towel, enabled.
func (s *shop) saveBundleAfterStock(t *testing.T) {
	s.stock(t, map[string]int64{"soap@a": 0, "towel@a": 0})
	s.saveBundle(t, "kit", component("soap", 2), component("towel", 1))
	s.must(t, s.svc.EnableOnline(ctx(t), "kit"))
}

// testBackorders checks backorders and pre-orders: labels, quotes,
// reservations at the designated outlet, stock arriving, events.
func testBackorders(t *testing.T, newStore NewStore, o options) {
	t.Parallel()
	t.Run("a product past its stock is backordered up to its limit, and arriving stock covers the backorders first", func(t *testing.T) {
		t.Parallel()
		testBackorderLifecycle(t, newStore)
	})
	t.Run("backorders are reserved at the designated outlet, and only while it is connected", func(t *testing.T) {
		t.Parallel()
		testDesignatedOutlet(t, newStore)
	})
	t.Run("bad backorder policies are refused and change nothing", func(t *testing.T) {
		t.Parallel()
		testBadBackorders(t, newStore)
	})
	t.Run("racing buyers of the last units never exceed stock plus the limit", func(t *testing.T) {
		t.Parallel()
		testBackorderRace(t, newStore, o)
	})
}

func testBackorderLifecycle(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{LowStockThreshold: 1})
	s.stock(t, map[string]int64{"game@a": 2, "other@b": 5})
	expected := epoch.Add(30 * 24 * time.Hour)
	seq := s.lastSeq(t)
	s.must(t, s.svc.SetBackorder(ctx(t), onlinestock.Backorder{Product: "game", Limit: 3, Expected: expected}))
	inStock := func(n int64) onlinestock.Availability {
		return onlinestock.Availability{Quantity: n, Label: onlinestock.InStock}
	}
	backorder := func(n int64) onlinestock.Availability {
		return onlinestock.Availability{Quantity: n, Label: onlinestock.OnBackorder}
	}
	soldOut := onlinestock.Availability{Label: onlinestock.SoldOut}
	// In stock, the units that may be backordered count as orderable.
	if diff := cmp.Diff(inStock(5), s.availability(t, "game")[0]); diff != "" {
		t.Fatalf("Availability(game) with its policy mismatch (-want +got):\n%s", diff)
	}
	policies, err := s.svc.Backorders(ctx(t))
	s.must(t, err)
	if len(policies) != 1 || policies[0].Limit != 3 || !policies[0].Expected.Equal(expected) {
		t.Fatalf("Backorders() = %+v, want game's", policies)
	}

	// Two in stock, then backorders.
	_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("game", 2)}})
	s.must(t, err)
	if diff := cmp.Diff(backorder(3), s.availability(t, "game")[0]); diff != "" {
		t.Fatalf("Availability(game) past its stock mismatch (-want +got):\n%s", diff)
	}
	q, err := s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("game", 4)}})
	s.must(t, err)
	if q.Purchasable || q.Products[0].Available != 3 || q.Products[0].Status != onlinestock.LineShort {
		t.Fatalf("Quote(4 games) = %+v, want short of the 3 that may be backordered", q.Products)
	}
	q, err = s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("game", 3), line("other", 1)}})
	s.must(t, err)
	wantLine := onlinestock.ProductQuote{Product: "game", Requested: 3, Available: 3, Backordered: 3, Expected: expected, Status: onlinestock.LineOK}
	if diff := cmp.Diff(wantLine, q.Products[0]); diff != "" || !q.Purchasable {
		t.Fatalf("Quote(3 games) = %+v; game mismatch (-want +got):\n%s", q, diff)
	}
	r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: []onlinestock.Line{line("game", 3), line("other", 1)}})
	s.must(t, err)
	wantAllocs := []onlinestock.Allocation{
		{Product: "game", Outlet: "a", Quantity: 3, Backordered: 3},
		{Product: "other", Outlet: "b", Quantity: 1},
	}
	if diff := cmp.Diff(wantAllocs, r.Allocations); diff != "" {
		t.Fatalf("Reserve(3 games) allocations mismatch (-want +got):\n%s", diff)
	}
	wantSources := []onlinestock.Source{{Outlet: "b", Stage: onlinestock.StageOneOutlet, Rank: 2}, {Outlet: "a", Stage: onlinestock.StageBackorder, Rank: 1}}
	if diff := cmp.Diff(wantSources, r.Sources); diff != "" {
		t.Fatalf("Reserve(3 games) sources mismatch (-want +got):\n%s", diff)
	}
	if l := s.level(t, "game", "a"); l.OnHand != 2 || l.Reserved != 5 {
		t.Fatalf("game@a = %+v, want 2 on hand, 5 reserved", l)
	}
	if diff := cmp.Diff(soldOut, s.availability(t, "game")[0]); diff != "" {
		t.Fatalf("Availability(game) at its limit mismatch (-want +got):\n%s", diff)
	}
	// The one that no longer fits is refused, and changes nothing.
	_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o3", Lines: []onlinestock.Line{line("game", 1)}})
	if !errors.Is(err, onlinestock.ErrInsufficientStock) {
		t.Fatalf("Reserve past the limit: error = %v, want ErrInsufficientStock", err)
	}

	// Stock arrives: the backorders take it first.
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("game", "a", 3)})
	s.must(t, err)
	if diff := cmp.Diff(backorder(3), s.availability(t, "game")[0]); diff != "" {
		t.Fatalf("Availability(game) once the backorders are covered mismatch (-want +got):\n%s", diff)
	}
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("game", "a", 1)})
	s.must(t, err)
	if diff := cmp.Diff(onlinestock.Availability{Quantity: 4, Label: onlinestock.LowStock}, s.availability(t, "game")[0]); diff != "" {
		t.Fatalf("Availability(game) back in stock mismatch (-want +got):\n%s", diff)
	}
	// Releasing a backordered order frees its units, in stock now.
	_, err = s.svc.Release(ctx(t), "o2")
	s.must(t, err)
	if diff := cmp.Diff(inStock(7), s.availability(t, "game")[0]); diff != "" {
		t.Fatalf("Availability(game) after releasing o2 mismatch (-want +got):\n%s", diff)
	}

	// The events, in order: the policy, entering backorder, sold out,
	// backorder again, back in stock.
	var got []onlinestock.Event
	for _, e := range s.events(t, seq) {
		if e.Kind == onlinestock.AvailabilityChanged && e.Product == "game" {
			got = append(got, e)
		}
	}
	want := []onlinestock.Availability{inStock(2), inStock(5), backorder(3), soldOut, backorder(3), {Quantity: 4, Label: onlinestock.LowStock}, inStock(7)}
	if len(got) != len(want)-1 {
		t.Fatalf("game's events = %v, want %d", got, len(want)-1)
	}
	for i, e := range got {
		if e.Before != want[i] || e.After != want[i+1] {
			t.Fatalf("game's event %d = %v, want %v -> %v", i, e, want[i], want[i+1])
		}
	}
	if got[0].EntersBackorder() || !got[1].EntersBackorder() || !got[2].LeavesBackorder() || !got[2].SoldOut() || !got[3].EntersBackorder() ||
		!got[4].LeavesBackorder() || !got[4].BackInStock() || got[5].EntersBackorder() {
		t.Fatalf("EntersBackorder/LeavesBackorder/SoldOut/BackInStock disagree with %v", got)
	}
	// Without its policy, it is an ordinary product again.
	s.must(t, s.svc.DeleteBackorder(ctx(t), "game"))
	if diff := cmp.Diff(inStock(4), s.availability(t, "game")[0]); diff != "" {
		t.Fatalf("Availability(game) without its policy mismatch (-want +got):\n%s", diff)
	}
	checkChains(t, s.svc, []string{"game", "other"})
}

func testDesignatedOutlet(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{})
	s.stock(t, map[string]int64{"tee@a": 1, "tee@b": 1})
	s.must(t, s.svc.SaveOutlet(ctx(t), "d", "Warehouse"))
	s.must(t, s.svc.SetBackorder(ctx(t), onlinestock.Backorder{Product: "tee", Limit: 2, Outlet: "d"}))
	// d is not connected: no backorders.
	if got := s.online(t, "tee"); got != 2 {
		t.Fatalf("tee orderable with its designated outlet disconnected = %d, want 2", got)
	}
	res, err := s.svc.Connect(ctx(t), "d")
	s.must(t, err)
	if i := changeOf(res, "tee"); i < 0 || res.Changes[i].After.Quantity != 4 {
		t.Fatalf("Connect(d) changes = %+v, want tee at 4", res.Changes)
	}
	// A Restrict method at d: all of it backordered there; at a, only a's.
	s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "at-d", Name: "Ship from d", Kind: onlinestock.Shipping, Outlet: "d", Rule: onlinestock.Restrict}))
	s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "at-a", Name: "Pick up at a", Kind: onlinestock.Pickup, Outlet: "a", Rule: onlinestock.Restrict}))
	q, err := s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{line("tee", 2)}})
	s.must(t, err)
	offered := map[string]bool{}
	for _, m := range q.Offered() {
		offered[m.ID] = true
	}
	if !q.Purchasable || !offered["at-d"] || offered["at-a"] || q.Products[0].Backordered != 0 {
		t.Fatalf("Quote(2 tees) = %+v, want it from stock, or from d all backordered, not from a", q)
	}
	r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("tee", 2)}, Method: "at-d"})
	s.must(t, err)
	want := []onlinestock.Allocation{{Product: "tee", Outlet: "d", Quantity: 2, Backordered: 2}}
	if diff := cmp.Diff(want, r.Allocations); diff != "" {
		t.Fatalf("Reserve(2 tees from d) allocations mismatch (-want +got):\n%s", diff)
	}
	if l := s.level(t, "tee", "d"); l.OnHand != 0 || l.Reserved != 2 {
		t.Fatalf("tee@d = %+v, want a level holding the 2 backordered", l)
	}
	// The other orders' stock is untouched.
	if got := s.online(t, "tee"); got != 2 {
		t.Fatalf("tee orderable after backordering the limit = %d, want the 2 in stock", got)
	}
	// d disconnected: no more backorders, and the ones made stay.
	_, err = s.svc.Disconnect(ctx(t), "d")
	s.must(t, err)
	if l := s.level(t, "tee", "d"); l.Reserved != 2 {
		t.Fatalf("tee@d after disconnecting d = %+v, want the backorders kept", l)
	}
	_, err = s.svc.Release(ctx(t), "o1")
	s.must(t, err)
	if got := s.online(t, "tee"); got != 2 {
		t.Fatalf("tee orderable with d disconnected = %d, want 2", got)
	}
	// The primary by default: moving the order register moves backorders.
	s.must(t, s.svc.SetBackorder(ctx(t), onlinestock.Backorder{Product: "tee", Limit: 2}))
	_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: []onlinestock.Line{line("tee", 3)}})
	s.must(t, err)
	if l := s.level(t, "tee", "a"); l.Reserved != 2 {
		t.Fatalf("tee@a after 3 ordered = %+v, want its 1 and 1 backordered reserved", l)
	}
	checkChains(t, s.svc, []string{"tee"})
}

func testBadBackorders(t *testing.T, newStore NewStore) {
	set := func(b onlinestock.Backorder) func(context.Context, *onlinestock.Service) error {
		return func(c context.Context, s *onlinestock.Service) error { return s.SetBackorder(c, b) }
	}
	tests := []struct {
		name string
		want error
		do   func(context.Context, *onlinestock.Service) error
	}{
		{"a negative limit is ErrInvalid", onlinestock.ErrInvalid, set(onlinestock.Backorder{Product: "p", Limit: -1})},
		{"a limit above 1e12 is ErrInvalid", onlinestock.ErrInvalid, set(onlinestock.Backorder{Product: "p", Limit: onlinestock.MaxOnHand + 1})},
		{"an unknown product is ErrNotFound", onlinestock.ErrNotFound, set(onlinestock.Backorder{Product: "nothing", Limit: 1})},
		{"a product with a bad ID is ErrInvalid", onlinestock.ErrInvalid, set(onlinestock.Backorder{Product: "a\x00", Limit: 1})},
		{"an unknown designated outlet is ErrNotFound", onlinestock.ErrNotFound, set(onlinestock.Backorder{Product: "r", Limit: 1, Outlet: "nowhere"})},
		{"an expected date past 2262 is ErrInvalid", onlinestock.ErrInvalid, set(onlinestock.Backorder{Product: "r", Limit: 1, Expected: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)})},
		{"a bundle taking backorders is ErrInvalid", onlinestock.ErrInvalid, set(onlinestock.Backorder{Product: "kit", Limit: 1})},
		{"a component taking backorders is ErrInvalid", onlinestock.ErrInvalid, set(onlinestock.Backorder{Product: "q", Limit: 1})},
		{"a bundle of a product taking backorders is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return s.SaveBundle(c, onlinestock.Bundle{ID: "box", Components: []onlinestock.Component{component("r", 1)}})
		}},
		{"deleting the policy of a product without one is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return s.DeleteBackorder(c, "p")
		}},
	}
	products := append([]string{"kit", "box", "r"}, dumpProducts...)
	orders := append([]string{"o3"}, dumpOrders...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := badBundleShop(t, newStore)
			s.must(t, s.svc.SetBackorder(ctx(t), onlinestock.Backorder{Product: "r", Limit: 2}))
			before := takeDump(t, s.svc, products, orders)
			policies, err := s.svc.Backorders(ctx(t))
			s.must(t, err)
			if err := tc.do(ctx(t), s.svc); !errLike(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(before, takeDump(t, s.svc, products, orders)); diff != "" {
				t.Errorf("store after a rejected call mismatch (-want +got):\n%s", diff)
			}
			after, err := s.svc.Backorders(ctx(t))
			s.must(t, err)
			if diff := cmp.Diff(policies, after); diff != "" {
				t.Errorf("Backorders() after a rejected call mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// testBackorderRace has 50 buyers race for the last units of a product
// and its backorders, each buying one or two: exactly the stock and the
// limit are sold, never more, and the product is sold out.
func testBackorderRace(t *testing.T, newStore NewStore, o options) {
	const buyers, limit = 50, 7
	s := newShop(t, newStore, onlinestock.Config{})
	s.stock(t, map[string]int64{"drop@a": 0, "drop@b": 0})
	s.must(t, s.svc.SetBackorder(ctx(t), onlinestock.Backorder{Product: "drop", Limit: limit}))
	rounds := max(1, o.rounds/20)
	for round := range rounds {
		stock := map[string]int64{"a": int64(round % 3), "b": int64(round % 2)}
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("drop", "a", stock["a"]), onlinestock.Set("drop", "b", stock["b"])})
		s.must(t, err)
		orders := make([]onlinestock.Order, buyers)
		for g := range orders {
			orders[g] = onlinestock.Order{ID: fmt.Sprintf("round-%d-%d", round, g), Lines: []onlinestock.Line{line("drop", int64(1+g%2))}}
		}
		errs := make([]error, buyers)
		race(t, round, buyers, func(c context.Context, g int) {
			_, errs[g] = s.svc.Reserve(c, orders[g])
		})
		var sold, backordered int64
		for g, err := range errs {
			switch {
			case err == nil:
				r, err := s.svc.Reservation(ctx(t), orders[g].ID)
				s.must(t, err)
				for _, a := range r.Allocations {
					sold += a.Quantity
					backordered += a.Backordered
				}
			case errors.Is(err, onlinestock.ErrInsufficientStock):
			default:
				t.Fatalf("round %d: Reserve(%v) error = %v", round, orders[g], err)
			}
		}
		// Half the buyers want one unit, more than there are: whatever the
		// order, the last unit goes to one of them.
		total := stock["a"] + stock["b"] + limit
		if sold != total {
			t.Fatalf("round %d: %d sold, want exactly the %d in stock and the limit of %d", round, sold, total-limit, limit)
		}
		if backordered != limit {
			t.Fatalf("round %d: %d backordered, want the limit %d", round, backordered, limit)
		}
		want := onlinestock.Availability{Label: onlinestock.SoldOut}
		if got := s.availability(t, "drop")[0]; got != want {
			t.Fatalf("round %d: availability after %d of %d sold = %+v, want %+v", round, sold, total, got, want)
		}
		for g, err := range errs {
			if err == nil {
				_, err := s.svc.Release(ctx(t), orders[g].ID)
				s.must(t, err)
			}
		}
	}
	checkChains(t, s.svc, []string{"drop"})
}

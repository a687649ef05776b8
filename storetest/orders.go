package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// testOrders checks the order rules: routing, idempotency, release, fulfilment
// and expiry.
func testOrders(t *testing.T, newStore NewStore) {
	t.Parallel()
	line := func(p string, q int64) onlinestock.Line { return onlinestock.Line{Product: p, Quantity: q} }
	alloc := func(p, o string, q int64) onlinestock.Allocation {
		return onlinestock.Allocation{Product: p, Outlet: o, Quantity: q}
	}

	tests := []struct {
		name      string
		allocator onlinestock.Allocator
		connect   []string         // besides a and b
		ranks     map[string]int   // outlet → rank
		onHand    map[string]int64 // "product@outlet" → units
		method    *onlinestock.Method
		lines     []onlinestock.Line
		want      []onlinestock.Allocation
		sources   []onlinestock.Source // checked when set
	}{
		{
			name:    "a Restrict method takes everything from its outlet",
			onHand:  map[string]int64{"p@a": 10, "p@b": 3, "q@a": 10, "q@b": 1},
			method:  &onlinestock.Method{ID: "m", Name: "M", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict},
			lines:   []onlinestock.Line{line("p", 2), line("q", 1), line("p", 1)},
			want:    []onlinestock.Allocation{alloc("p", "b", 3), alloc("q", "b", 1)},
			sources: []onlinestock.Source{{Outlet: "b", Stage: onlinestock.StageRestricted, Rank: 2}},
		},
		{
			name:   "an AllowAll method's outlet gives first, the rest comes from elsewhere",
			onHand: map[string]int64{"p@a": 10, "p@b": 2},
			method: &onlinestock.Method{ID: "m", Name: "M", Kind: onlinestock.Delivery, Outlet: "b"},
			lines:  []onlinestock.Line{line("p", 5)},
			want:   []onlinestock.Allocation{alloc("p", "a", 3), alloc("p", "b", 2)},
			sources: []onlinestock.Source{
				{Outlet: "b", Stage: onlinestock.StageMethodOutlet, Rank: 2},
				{Outlet: "a", Stage: onlinestock.StageOneOutlet, Rank: 1},
			},
		},
		{
			name:   "an orphaned Restrict method allocates as AllowAll",
			onHand: map[string]int64{"p@a": 1, "p@b": 4, "p@c": 9},
			method: &onlinestock.Method{ID: "m", Name: "M", Kind: onlinestock.Pickup, Outlet: "c", Rule: onlinestock.Restrict},
			lines:  []onlinestock.Line{line("p", 3)},
			want:   []onlinestock.Allocation{alloc("p", "b", 3)},
		},
		{
			name:   "one outlet that can fill the whole order is preferred to a split from the primary",
			onHand: map[string]int64{"p@a": 1, "q@a": 5, "p@b": 5, "q@b": 5},
			lines:  []onlinestock.Line{line("p", 3), line("q", 2)},
			want:   []onlinestock.Allocation{alloc("p", "b", 3), alloc("q", "b", 2)},
		},
		{
			name:   "an order no one outlet can fill is split over the fewest outlets, the primary first",
			onHand: map[string]int64{"p@a": 2, "p@b": 3, "p@c": 1},
			lines:  []onlinestock.Line{line("p", 5)},
			want:   []onlinestock.Allocation{alloc("p", "a", 2), alloc("p", "b", 3)},
			sources: []onlinestock.Source{
				{Outlet: "a", Stage: onlinestock.StageSplitLines, Rank: 1},
				{Outlet: "b", Stage: onlinestock.StageSplitLines, Rank: 2},
			},
		},
		{
			name:    "in a split the ranking decides which outlet gives first, not who has most",
			connect: []string{"c", "d"},
			ranks:   map[string]int{"d": 1},
			onHand:  map[string]int64{"p@c": 4, "p@d": 3},
			lines:   []onlinestock.Line{line("p", 5)},
			want:    []onlinestock.Allocation{alloc("p", "c", 2), alloc("p", "d", 3)},
			sources: []onlinestock.Source{
				{Outlet: "d", Stage: onlinestock.StageSplitLines, Rank: 2},
				{Outlet: "c", Stage: onlinestock.StageSplitLines, Rank: 4},
			},
		},
		{
			name:      "in a split a custom Allocator's order decides which outlet gives first",
			allocator: fixedOrder{"d", "c"},
			connect:   []string{"c", "d"},
			onHand:    map[string]int64{"p@c": 4, "p@d": 3},
			lines:     []onlinestock.Line{line("p", 5)},
			want:      []onlinestock.Allocation{alloc("p", "c", 2), alloc("p", "d", 3)},
		},
		{
			name:      "in a split MostStockFirst has the outlet with most give first",
			allocator: onlinestock.MostStockFirst{},
			connect:   []string{"c", "d"},
			ranks:     map[string]int{"d": 1},
			onHand:    map[string]int64{"p@c": 4, "p@d": 3},
			lines:     []onlinestock.Line{line("p", 5)},
			want:      []onlinestock.Allocation{alloc("p", "c", 4), alloc("p", "d", 1)},
		},
		{
			name:    "a ranked outlet that can fill the order alone beats a bigger unranked one",
			connect: []string{"c", "d"},
			ranks:   map[string]int{"d": 1},
			onHand:  map[string]int64{"p@a": 1, "p@c": 50, "p@d": 3},
			lines:   []onlinestock.Line{line("p", 3)},
			want:    []onlinestock.Allocation{alloc("p", "d", 3)},
			sources: []onlinestock.Source{{Outlet: "d", Stage: onlinestock.StageOneOutlet, Rank: 2}},
		},
		{
			name:    "a line is split only when no split of whole lines exists",
			connect: []string{"c"},
			onHand:  map[string]int64{"p@a": 3, "q@a": 2, "q@b": 1, "q@c": 3},
			lines:   []onlinestock.Line{line("p", 3), line("q", 3)},
			want:    []onlinestock.Allocation{alloc("p", "a", 3), alloc("q", "c", 3)},
			sources: []onlinestock.Source{
				{Outlet: "a", Stage: onlinestock.StageWholeLines, Rank: 1},
				{Outlet: "c", Stage: onlinestock.StageWholeLines, Rank: 3},
			},
		},
		{
			name:    "a split of whole lines uses the fewest outlets, not the first ones",
			connect: []string{"c", "d"},
			onHand:  map[string]int64{"p@a": 2, "q@b": 2, "r@c": 2, "p@d": 2, "q@d": 2, "r@d": 1},
			lines:   []onlinestock.Line{line("p", 2), line("q", 2), line("r", 2)},
			want:    []onlinestock.Allocation{alloc("p", "d", 2), alloc("q", "d", 2), alloc("r", "c", 2)},
			sources: []onlinestock.Source{
				{Outlet: "c", Stage: onlinestock.StageWholeLines, Rank: 3},
				{Outlet: "d", Stage: onlinestock.StageWholeLines, Rank: 4},
			},
		},
		{
			name:    "FewestShipments prefers the primary outlet",
			connect: []string{"c", "d"},
			ranks:   map[string]int{"b": 1, "c": 2},
			onHand:  map[string]int64{"p@a": 5, "p@b": 5, "p@c": 5, "p@d": 5},
			lines:   []onlinestock.Line{line("p", 3)},
			want:    []onlinestock.Allocation{alloc("p", "a", 3)},
		},
		{
			name:    "FewestShipments prefers a ranked outlet to an unranked one, the lower rank first",
			connect: []string{"c", "d"},
			ranks:   map[string]int{"c": 2, "d": 1},
			onHand:  map[string]int64{"p@a": 1, "p@b": 5, "p@c": 5, "p@d": 5},
			lines:   []onlinestock.Line{line("p", 3)},
			want:    []onlinestock.Allocation{alloc("p", "d", 3)},
		},
		{
			name:    "FewestShipments breaks a tie between unranked outlets by ID",
			connect: []string{"c", "d"},
			onHand:  map[string]int64{"p@a": 1, "p@d": 5, "p@c": 5, "p@b": 2},
			lines:   []onlinestock.Line{line("p", 3)},
			want:    []onlinestock.Allocation{alloc("p", "c", 3)},
		},
		{
			name:      "MostStockFirst fills from the one outlet that can",
			allocator: onlinestock.MostStockFirst{},
			connect:   []string{"c"},
			onHand:    map[string]int64{"p@a": 3, "p@b": 10, "p@c": 6},
			lines:     []onlinestock.Line{line("p", 8)},
			want:      []onlinestock.Allocation{alloc("p", "b", 8)},
		},
		{
			name:      "a custom Allocator's order decides between outlets that can each fill the order",
			allocator: fixedOrder{"c", "nowhere", "b", "c"},
			connect:   []string{"c"},
			onHand:    map[string]int64{"p@a": 1, "p@b": 5, "p@c": 5},
			lines:     []onlinestock.Line{line("p", 3)},
			want:      []onlinestock.Allocation{alloc("p", "c", 3)},
		},
		{
			name:      "a custom Allocator never takes more than is available",
			allocator: fixedOrder{"a"},
			onHand:    map[string]int64{"p@a": 1, "p@b": 5},
			lines:     []onlinestock.Line{line("p", 5)},
			want:      []onlinestock.Allocation{alloc("p", "b", 5)},
		},
		{
			name:      "MostStockFirst breaks a tie the FewestShipments way",
			allocator: onlinestock.MostStockFirst{},
			connect:   []string{"c"},
			onHand:    map[string]int64{"p@a": 3, "p@b": 4, "p@c": 4},
			lines:     []onlinestock.Line{line("p", 4)},
			want:      []onlinestock.Allocation{alloc("p", "b", 4)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, newStore, onlinestock.Config{Allocator: tc.allocator})
			s.must(t, s.svc.SaveOutlet(ctx(t), "d", ""))
			for _, o := range tc.connect {
				_, err := s.svc.Connect(ctx(t), o)
				s.must(t, err)
			}
			for _, o := range sortedKeys(tc.ranks) {
				s.must(t, s.svc.SetRank(ctx(t), o, tc.ranks[o]))
			}
			s.stock(t, tc.onHand)
			o := onlinestock.Order{ID: "o1", Lines: tc.lines}
			if tc.method != nil {
				s.must(t, s.svc.SaveMethod(ctx(t), *tc.method))
				o.Method = tc.method.ID
			}
			res, err := s.svc.Reserve(ctx(t), o)
			s.must(t, err)
			if diff := cmp.Diff(tc.want, res.Allocations); diff != "" {
				t.Errorf("Reserve() allocations mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.sources, res.Sources); tc.sources != nil && diff != "" {
				t.Errorf("Reserve() sources mismatch (-want +got):\n%s", diff)
			}
			for _, a := range tc.want {
				if l := s.level(t, a.Product, a.Outlet); l.Reserved != a.Quantity {
					t.Errorf("level %+v: Reserved %d, want %d", l, l.Reserved, a.Quantity)
				}
			}
		})
	}

	t.Run("an order that cannot be filled is ErrInsufficientStock with shortfalls, and reserves nothing", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 2, "p@b": 1, "q@a": 9})
		s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "m", Name: "M", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict}))
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("off", "a", 5)})
		s.must(t, err)
		before := takeDump(t, s.svc, []string{"p", "q", "off"}, []string{"o1"})
		cases := []struct {
			order onlinestock.Order
			want  onlinestock.InsufficientStockError
		}{
			{
				onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("p", 4), line("q", 1), line("off", 1), line("ghost", 2)}},
				onlinestock.InsufficientStockError{Shortfalls: []onlinestock.Shortfall{
					{Product: "ghost", Requested: 2, Available: 0, Status: onlinestock.LineNotForSale},
					{Product: "off", Requested: 1, Available: 0, Status: onlinestock.LineNotForSale},
					{Product: "p", Requested: 4, Available: 3, Status: onlinestock.LineShort},
				}},
			},
			{
				onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("p", 2), line("q", 1)}, Method: "m"},
				onlinestock.InsufficientStockError{Outlet: "b", Shortfalls: []onlinestock.Shortfall{
					{Product: "p", Requested: 2, Available: 1, Status: onlinestock.LineShort},
					{Product: "q", Requested: 1, Available: 0, Status: onlinestock.LineShort},
				}},
			},
		}
		for _, c := range cases {
			_, err := s.svc.Reserve(ctx(t), c.order)
			var short *onlinestock.InsufficientStockError
			if !errors.Is(err, onlinestock.ErrInsufficientStock) || !errors.As(err, &short) {
				t.Fatalf("Reserve(%v) error = %v, want an *InsufficientStockError", c.order, err)
			}
			if diff := cmp.Diff(c.want, *short); diff != "" {
				t.Errorf("Reserve(%v) shortfalls mismatch (-want +got):\n%s", c.order, diff)
			}
			if c.want.Outlet == "" && !strings.Contains(err.Error(), `"ghost" requested 2, not for sale`) {
				t.Errorf("Reserve(%v) error = %q, want it to say the unknown product is not for sale", c.order, err)
			}
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p", "q", "off"}, []string{"o1"})); diff != "" {
			t.Errorf("store after failed reservations mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Reserve is idempotent by order ID and a different order under a used ID is ErrConflict", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 5, "q@b": 5})
		o := onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("p", 1), line("q", 2), line("p", 1)}, TTL: time.Hour}
		first, err := s.svc.Reserve(ctx(t), o)
		s.must(t, err)
		s.clock.Advance(time.Minute)
		again, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("q", 2), line("p", 2)}, TTL: time.Hour})
		s.must(t, err)
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("Reserve() again mismatch (-first +again):\n%s", diff)
		}
		if got := s.level(t, "p", "a").Reserved; got != 2 {
			t.Errorf("Reserved after two Reserves of one order = %d, want 2", got)
		}
		for _, other := range []onlinestock.Order{
			{ID: "o1", Lines: []onlinestock.Line{line("p", 2)}},
			{ID: "o1", Lines: []onlinestock.Line{line("p", 2), line("q", 3)}},
			{ID: "o1", Lines: o.Lines, Method: "post"},
		} {
			if _, err := s.svc.Reserve(ctx(t), other); !errors.Is(err, onlinestock.ErrConflict) {
				t.Errorf("Reserve(%+v) under a used ID: error = %v, want ErrConflict", other, err)
			}
		}
		got, err := s.svc.Reservation(ctx(t), "o1")
		s.must(t, err)
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("Reservation() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Reserve of an order whose reservation is closed is ErrConflict naming the status", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 10})
		order := func(id string) onlinestock.Order {
			return onlinestock.Order{ID: id, Lines: []onlinestock.Line{line("p", 1)}, TTL: time.Hour}
		}
		for _, id := range []string{"released", "fulfilled", "expired"} {
			_, err := s.svc.Reserve(ctx(t), order(id))
			s.must(t, err)
		}
		_, err := s.svc.Release(ctx(t), "released")
		s.must(t, err)
		_, err = s.svc.Fulfill(ctx(t), "fulfilled")
		s.must(t, err)
		_, err = s.svc.ExpireReservations(ctx(t), s.clock.Advance(time.Hour))
		s.must(t, err)
		// "late" passes its deadline, and is not swept.
		_, err = s.svc.Reserve(ctx(t), order("late"))
		s.must(t, err)
		s.clock.Advance(2 * time.Hour)
		ids := []string{"released", "fulfilled", "expired", "late"}
		before := takeDump(t, s.svc, []string{"p"}, ids)
		seq := s.lastSeq(t)
		for _, c := range []struct{ id, status string }{
			{"released", "released"}, {"fulfilled", "fulfilled"}, {"expired", "expired"}, {"late", "expired"},
		} {
			_, err := s.svc.Reserve(ctx(t), order(c.id))
			if !errors.Is(err, onlinestock.ErrConflict) || !strings.Contains(err.Error(), c.status) {
				t.Errorf("Reserve(%q) again: error = %v, want ErrConflict naming %q", c.id, err, c.status)
			}
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p"}, ids)); diff != "" {
			t.Errorf("store after refused Reserves mismatch (-want +got):\n%s", diff)
		}
		if ev := s.events(t, seq); len(ev) != 0 {
			t.Errorf("refused Reserves emitted %v", ev)
		}
	})

	t.Run("a reservation past its deadline cannot be fulfilled, even before the sweep", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 10})
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("p", 2)}, TTL: 10 * time.Minute})
		s.must(t, err)
		s.clock.Advance(10*time.Minute - time.Nanosecond)
		before := takeDump(t, s.svc, []string{"p"}, []string{"o1"})
		s.clock.Advance(time.Nanosecond)
		seq := s.lastSeq(t)
		if _, err := s.svc.Fulfill(ctx(t), "o1"); !errors.Is(err, onlinestock.ErrConflict) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("Fulfill() at the deadline: error = %v, want ErrConflict naming expired", err)
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p"}, []string{"o1"})); diff != "" {
			t.Errorf("store after a refused Fulfill mismatch (-want +got):\n%s", diff)
		}
		if ev := s.events(t, seq); len(ev) != 0 {
			t.Errorf("a refused Fulfill emitted %v", ev)
		}
		got, err := s.svc.ExpireReservations(ctx(t), s.clock.Now())
		s.must(t, err)
		if diff := cmp.Diff([]string{"o1"}, got); diff != "" {
			t.Errorf("ExpireReservations() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Release returns units to an outlet disconnected since", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 1, "p@b": 4})
		r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("p", 3)}})
		s.must(t, err)
		if diff := cmp.Diff([]onlinestock.Allocation{alloc("p", "b", 3)}, r.Allocations); diff != "" {
			t.Fatalf("allocations mismatch (-want +got):\n%s", diff)
		}
		_, err = s.svc.Disconnect(ctx(t), "b")
		s.must(t, err)
		seq := s.lastSeq(t)
		r, err = s.svc.Release(ctx(t), "o1")
		s.must(t, err)
		if r.Status != onlinestock.Released {
			t.Errorf("status %v, want released", r.Status)
		}
		if diff := cmp.Diff(onlinestock.Level{Product: "p", Outlet: "b", OnHand: 4, Reserved: 0, Version: 1}, s.level(t, "p", "b")); diff != "" {
			t.Errorf("level mismatch (-want +got):\n%s", diff)
		}
		if ev := availabilityEvents(s.events(t, seq), "p"); len(ev) != 0 {
			t.Errorf("releasing into a disconnected outlet emitted %v, want no availability event", ev)
		}
		_, err = s.svc.Connect(ctx(t), "b")
		s.must(t, err)
		if got := s.online(t, "p"); got != 5 {
			t.Errorf("online stock after reconnect = %d, want 5", got)
		}
	})

	t.Run("Fulfill drops OnHand and Reserved together", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 2, "p@b": 2})
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("p", 3)}})
		s.must(t, err)
		if got := s.online(t, "p"); got != 1 {
			t.Errorf("online while reserved = %d, want 1", got)
		}
		_, err = s.svc.Fulfill(ctx(t), "o1")
		s.must(t, err)
		var onHand, reserved int64
		for _, o := range []string{"a", "b"} {
			l := s.level(t, "p", o)
			onHand += l.OnHand
			reserved += l.Reserved
		}
		if onHand != 1 || reserved != 0 || s.online(t, "p") != 1 {
			t.Errorf("after Fulfill: on-hand %d, reserved %d, online %d; want 1, 0, 1", onHand, reserved, s.online(t, "p"))
		}
		checkChains(t, s.svc, []string{"p"})
	})

	t.Run("Release and Fulfill are idempotent and refuse the other's state", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 10})
		for _, id := range []string{"kept", "sold"} {
			_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: id, Lines: []onlinestock.Line{line("p", 2)}})
			s.must(t, err)
		}
		steps := []struct {
			name string
			do   func(context.Context, string) (onlinestock.Reservation, error)
			id   string
			want error
		}{
			{"Release", s.svc.Release, "kept", nil},
			{"Release again", s.svc.Release, "kept", nil},
			{"Fulfill a released order", s.svc.Fulfill, "kept", onlinestock.ErrConflict},
			{"Fulfill", s.svc.Fulfill, "sold", nil},
			{"Fulfill again", s.svc.Fulfill, "sold", nil},
			{"Release a fulfilled order", s.svc.Release, "sold", onlinestock.ErrConflict},
			{"Release an unknown order", s.svc.Release, "nope", onlinestock.ErrNotFound},
		}
		for _, st := range steps {
			_, err := st.do(ctx(t), st.id)
			if (st.want == nil && err != nil) || (st.want != nil && !errors.Is(err, st.want)) {
				t.Errorf("%s: error = %v, want %v", st.name, err, st.want)
			}
		}
		if diff := cmp.Diff(onlinestock.Level{Product: "p", Outlet: "a", OnHand: 8, Reserved: 0, Version: 2}, s.level(t, "p", "a")); diff != "" {
			t.Errorf("level mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("reservations expire with the clock", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 10})
		for _, o := range []onlinestock.Order{
			{ID: "short", Lines: []onlinestock.Line{line("p", 1)}, TTL: 10 * time.Minute},
			{ID: "long", Lines: []onlinestock.Line{line("p", 2)}, TTL: 30 * time.Minute},
			{ID: "forever", Lines: []onlinestock.Line{line("p", 3)}},
			{ID: "paid", Lines: []onlinestock.Line{line("p", 1)}, TTL: 5 * time.Minute},
		} {
			r, err := s.svc.Reserve(ctx(t), o)
			s.must(t, err)
			if want := epoch.Add(o.TTL); o.TTL > 0 && !r.Deadline.Equal(want) {
				t.Errorf("order %s deadline %v, want %v", o.ID, r.Deadline, want)
			}
		}
		_, err := s.svc.Fulfill(ctx(t), "paid")
		s.must(t, err)
		steps := []struct {
			advance time.Duration
			want    []string
			online  int64
		}{
			{9 * time.Minute, nil, 3},
			{time.Minute, []string{"short"}, 4},
			{time.Minute, nil, 4},
			{time.Hour, []string{"long"}, 6},
			{24 * time.Hour, nil, 6},
		}
		for i, st := range steps {
			now := s.clock.Advance(st.advance)
			got, err := s.svc.ExpireReservations(ctx(t), now)
			s.must(t, err)
			if diff := cmp.Diff(st.want, got, equateEmpty); diff != "" {
				t.Errorf("step %d: ExpireReservations() mismatch (-want +got):\n%s", i, diff)
			}
			if got := s.online(t, "p"); got != st.online {
				t.Errorf("step %d: online %d, want %d", i, got, st.online)
			}
		}
		r, err := s.svc.Release(ctx(t), "short")
		s.must(t, err)
		if r.Status != onlinestock.Expired {
			t.Errorf("Release() of an expired order: status %v, want expired", r.Status)
		}
		if _, err := s.svc.Fulfill(ctx(t), "long"); !errors.Is(err, onlinestock.ErrConflict) {
			t.Errorf("Fulfill() of an expired order: error = %v, want ErrConflict", err)
		}
		checkChains(t, s.svc, []string{"p"})
	})
}

// fixedOrder is an Allocator with a fixed preference, unknown and repeated
// outlets included.
type fixedOrder []string

func (f fixedOrder) OutletOrder(onlinestock.AllocationRequest) []string { return f }

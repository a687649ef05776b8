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

// testLifecycle checks partial fulfilment and partial release: each call
// under its own ID, the rest held, the order closed when nothing is held.
func testLifecycle(t *testing.T, newStore NewStore) {
	t.Parallel()
	line := func(p string, q int64) onlinestock.Line { return onlinestock.Line{Product: p, Quantity: q} }

	// splitShop holds an order of 5 p split {d: 3, c: 2} (d ranked first)
	// and 1 q from d.
	splitShop := func(t *testing.T) *shop {
		t.Helper()
		s := newShop(t, newStore, onlinestock.Config{})
		s.must(t, s.svc.SaveOutlet(ctx(t), "d", ""))
		for _, o := range []string{"c", "d"} {
			_, err := s.svc.Connect(ctx(t), o)
			s.must(t, err)
		}
		s.must(t, s.svc.SetRank(ctx(t), "d", 1))
		s.stock(t, map[string]int64{"p@c": 4, "p@d": 3, "q@d": 1})
		r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{line("p", 5), line("q", 1)}, TTL: time.Hour})
		s.must(t, err)
		want := []onlinestock.Allocation{
			{Product: "p", Outlet: "c", Quantity: 2}, {Product: "p", Outlet: "d", Quantity: 3}, {Product: "q", Outlet: "d", Quantity: 1},
		}
		if diff := cmp.Diff(want, r.Allocations); diff != "" {
			t.Fatalf("Reserve() allocations mismatch (-want +got):\n%s", diff)
		}
		return s
	}
	levels := func(t *testing.T, s *shop) map[string]onlinestock.Level {
		t.Helper()
		out := map[string]onlinestock.Level{}
		for _, k := range []string{"p@c", "p@d", "q@d"} {
			p, o := splitLevel(k)
			l := s.level(t, p, o)
			out[k] = onlinestock.Level{OnHand: l.OnHand, Reserved: l.Reserved}
		}
		return out
	}
	lv := func(onHand, reserved int64) onlinestock.Level {
		return onlinestock.Level{OnHand: onHand, Reserved: reserved}
	}

	t.Run("a split shipment fulfils one outlet's units, the rest stays reserved, and a retry changes nothing", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		ship := onlinestock.Part{ID: "ship-1", Outlet: "d", Lines: []onlinestock.Line{line("p", 3), line("q", 1)}}
		r, err := s.svc.FulfillPart(ctx(t), "o1", ship)
		s.must(t, err)
		if r.Status != onlinestock.Open {
			t.Errorf("status after the first shipment = %v, want open", r.Status)
		}
		want := map[string]onlinestock.Level{"p@c": lv(4, 2), "p@d": lv(0, 0), "q@d": lv(0, 0)}
		if diff := cmp.Diff(want, levels(t, s)); diff != "" {
			t.Errorf("levels after the first shipment mismatch (-want +got):\n%s", diff)
		}
		before := takeDump(t, s.svc, []string{"p", "q"}, []string{"o1"})
		again, err := s.svc.FulfillPart(ctx(t), "o1", ship)
		s.must(t, err)
		if diff := cmp.Diff(r, again); diff != "" {
			t.Errorf("FulfillPart() retried mismatch (-first +again):\n%s", diff)
		}
		other := ship
		other.Lines = []onlinestock.Line{line("p", 1)}
		if _, err := s.svc.FulfillPart(ctx(t), "o1", other); !errors.Is(err, onlinestock.ErrConflict) {
			t.Errorf("FulfillPart() under a used ID with other lines: error = %v, want ErrConflict", err)
		}
		if _, err := s.svc.ReleasePart(ctx(t), "o1", ship); !errors.Is(err, onlinestock.ErrConflict) {
			t.Errorf("ReleasePart() under the ID of a shipment: error = %v, want ErrConflict", err)
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p", "q"}, []string{"o1"})); diff != "" {
			t.Errorf("store after a retry and refused calls mismatch (-want +got):\n%s", diff)
		}
		r, err = s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship-2", Lines: []onlinestock.Line{line("p", 2)}})
		s.must(t, err)
		wantRes := []onlinestock.Allocation{
			{Product: "p", Outlet: "c", Quantity: 2, Fulfilled: 2},
			{Product: "p", Outlet: "d", Quantity: 3, Fulfilled: 3},
			{Product: "q", Outlet: "d", Quantity: 1, Fulfilled: 1},
		}
		if r.Status != onlinestock.Fulfilled {
			t.Errorf("status after the last shipment = %v, want fulfilled", r.Status)
		}
		if diff := cmp.Diff(wantRes, r.Allocations); diff != "" {
			t.Errorf("allocations after both shipments mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"ship-1", "ship-2"}, []string{r.Parts[0].ID, r.Parts[1].ID}); diff != "" {
			t.Errorf("parts mismatch (-want +got):\n%s", diff)
		}
		if _, err := s.svc.Fulfill(ctx(t), "o1"); err != nil {
			t.Errorf("Fulfill() of an order fulfilled in parts: error = %v, want none", err)
		}
		checkChains(t, s.svc, []string{"p", "q"})
	})

	t.Run("units without an outlet are fulfilled from the outlet that gave first and released from the one that gave last", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		_, err := s.svc.ReleasePart(ctx(t), "o1", onlinestock.Part{ID: "cancel-1", Lines: []onlinestock.Line{line("p", 3)}})
		s.must(t, err)
		// c gave last: its 2 go back first, then 1 of d's.
		want := map[string]onlinestock.Level{"p@c": lv(4, 0), "p@d": lv(3, 2), "q@d": lv(1, 1)}
		if diff := cmp.Diff(want, levels(t, s)); diff != "" {
			t.Errorf("levels after a partial release mismatch (-want +got):\n%s", diff)
		}
		r, err := s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship-1", Lines: []onlinestock.Line{line("p", 1)}})
		s.must(t, err)
		want = map[string]onlinestock.Level{"p@c": lv(4, 0), "p@d": lv(2, 1), "q@d": lv(1, 1)}
		if diff := cmp.Diff(want, levels(t, s)); diff != "" {
			t.Errorf("levels after a partial fulfilment mismatch (-want +got):\n%s", diff)
		}
		wantMoved := []onlinestock.Allocation{{Product: "p", Outlet: "d", Quantity: 1}}
		if diff := cmp.Diff(wantMoved, r.Parts[1].Moved); diff != "" {
			t.Errorf("the shipment's Moved mismatch (-want +got):\n%s", diff)
		}
		r, err = s.svc.Release(ctx(t), "o1")
		s.must(t, err)
		wantAllocs := []onlinestock.Allocation{
			{Product: "p", Outlet: "c", Quantity: 2, Released: 2},
			{Product: "p", Outlet: "d", Quantity: 3, Fulfilled: 1, Released: 2},
			{Product: "q", Outlet: "d", Quantity: 1, Released: 1},
		}
		if diff := cmp.Diff(wantAllocs, r.Allocations); diff != "" || r.Status != onlinestock.Released {
			t.Errorf("after Release() status %v, allocations mismatch (-want +got):\n%s", r.Status, diff)
		}
		want = map[string]onlinestock.Level{"p@c": lv(4, 0), "p@d": lv(2, 0), "q@d": lv(1, 0)}
		if diff := cmp.Diff(want, levels(t, s)); diff != "" {
			t.Errorf("levels after Release() mismatch (-want +got):\n%s", diff)
		}
		checkChains(t, s.svc, []string{"p", "q"})
	})

	t.Run("an order whose last units are released in parts closes released", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		_, err := s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship", Outlet: "d", Lines: []onlinestock.Line{line("q", 1)}})
		s.must(t, err)
		r, err := s.svc.ReleasePart(ctx(t), "o1", onlinestock.Part{ID: "cancel", Lines: []onlinestock.Line{line("p", 5)}})
		s.must(t, err)
		if r.Status != onlinestock.Released {
			t.Errorf("status = %v, want released", r.Status)
		}
		if _, err := s.svc.Fulfill(ctx(t), "o1"); !errors.Is(err, onlinestock.ErrConflict) {
			t.Errorf("Fulfill() of the released order: error = %v, want ErrConflict", err)
		}
		// A retry of a call made while the order was open still answers.
		if _, err := s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship", Outlet: "d", Lines: []onlinestock.Line{line("q", 1)}}); err != nil {
			t.Errorf("FulfillPart() retried after the order closed: error = %v, want none", err)
		}
	})

	t.Run("every step of an order is an event in the outbox, with its lines and outlets", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		_, err := s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship-1", Outlet: "d", Lines: []onlinestock.Line{line("p", 3)}})
		s.must(t, err)
		_, err = s.svc.ReleasePart(ctx(t), "o1", onlinestock.Part{ID: "cancel-1", Lines: []onlinestock.Line{line("q", 1)}})
		s.must(t, err)
		_, err = s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship-1", Outlet: "d", Lines: []onlinestock.Line{line("p", 3)}}) // a retry
		s.must(t, err)
		_, err = s.svc.Fulfill(ctx(t), "o1")
		s.must(t, err)
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: []onlinestock.Line{line("p", 1)}, TTL: time.Minute})
		s.must(t, err)
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o3", Lines: []onlinestock.Line{line("p", 1)}})
		s.must(t, err)
		_, err = s.svc.ReleasePart(ctx(t), "o3", onlinestock.Part{ID: "cancel", Lines: []onlinestock.Line{line("p", 1)}})
		s.must(t, err)
		_, err = s.svc.ExpireReservations(ctx(t), s.clock.Advance(time.Hour))
		s.must(t, err)
		var got []onlinestock.Event
		for _, e := range allEvents(t, s.svc, 0) {
			if e.IsOrderEvent() {
				got = append(got, e)
			}
		}
		alloc := func(p, o string, q int64) onlinestock.Allocation {
			return onlinestock.Allocation{Product: p, Outlet: o, Quantity: q}
		}
		want := []onlinestock.Event{
			{Kind: onlinestock.OrderReserved, Order: "o1", Lines: []onlinestock.Line{line("p", 5), line("q", 1)},
				Allocations: []onlinestock.Allocation{alloc("p", "c", 2), alloc("p", "d", 3), alloc("q", "d", 1)}},
			{Kind: onlinestock.OrderPartiallyFulfilled, Order: "o1", Part: "ship-1", Lines: []onlinestock.Line{line("p", 3)},
				Allocations: []onlinestock.Allocation{alloc("p", "d", 3)}},
			{Kind: onlinestock.OrderPartiallyReleased, Order: "o1", Part: "cancel-1", Lines: []onlinestock.Line{line("q", 1)},
				Allocations: []onlinestock.Allocation{alloc("q", "d", 1)}},
			{Kind: onlinestock.OrderFulfilled, Order: "o1", Lines: []onlinestock.Line{line("p", 2)},
				Allocations: []onlinestock.Allocation{alloc("p", "c", 2)}},
			{Kind: onlinestock.OrderReserved, Order: "o2", Lines: []onlinestock.Line{line("p", 1)},
				Allocations: []onlinestock.Allocation{alloc("p", "c", 1)}},
			{Kind: onlinestock.OrderReserved, Order: "o3", Lines: []onlinestock.Line{line("p", 1)},
				Allocations: []onlinestock.Allocation{alloc("p", "c", 1)}},
			{Kind: onlinestock.OrderReleased, Order: "o3", Part: "cancel", Lines: []onlinestock.Line{line("p", 1)},
				Allocations: []onlinestock.Allocation{alloc("p", "c", 1)}},
			{Kind: onlinestock.OrderExpired, Order: "o2", Lines: []onlinestock.Line{line("p", 1)},
				Allocations: []onlinestock.Allocation{alloc("p", "c", 1)}},
		}
		if diff := cmp.Diff(want, got, eventOpts); diff != "" {
			t.Errorf("order events mismatch (-want +got):\n%s", diff)
		}
		checkChains(t, s.svc, []string{"p", "q"})
	})

	t.Run("Amend changes an order's lines, moving only the difference", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		s.stock(t, map[string]int64{"r@a": 1, "r@c": 5})
		seq := s.lastSeq(t)
		// One more p, one r, q dropped: p's 5 units stay where they are.
		r, err := s.svc.Amend(ctx(t), "o1", []onlinestock.Line{line("p", 6), line("r", 1)})
		s.must(t, err)
		wantAllocs := []onlinestock.Allocation{
			{Product: "p", Outlet: "c", Quantity: 3}, {Product: "p", Outlet: "d", Quantity: 3},
			{Product: "q", Outlet: "d", Quantity: 1, Released: 1}, {Product: "r", Outlet: "c", Quantity: 1},
		}
		if diff := cmp.Diff(wantAllocs, r.Allocations); diff != "" {
			t.Errorf("Amend() allocations mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]onlinestock.Line{line("p", 6), line("r", 1)}, r.Lines); diff != "" {
			t.Errorf("Amend() lines mismatch (-want +got):\n%s", diff)
		}
		want := map[string]onlinestock.Level{"p@c": lv(4, 3), "p@d": lv(3, 3), "q@d": lv(1, 0)}
		if diff := cmp.Diff(want, levels(t, s)); diff != "" {
			t.Errorf("levels after Amend() mismatch (-want +got):\n%s", diff)
		}
		var amended []onlinestock.Event
		for _, e := range s.events(t, seq) {
			if e.IsOrderEvent() {
				amended = append(amended, e)
			}
		}
		wantEvents := []onlinestock.Event{{Kind: onlinestock.OrderAmended, Order: "o1",
			Lines: []onlinestock.Line{line("p", 6), line("r", 1)},
			Allocations: []onlinestock.Allocation{
				{Product: "p", Outlet: "c", Quantity: 3}, {Product: "p", Outlet: "d", Quantity: 3}, {Product: "r", Outlet: "c", Quantity: 1},
			}}}
		if diff := cmp.Diff(wantEvents, amended, eventOpts); diff != "" {
			t.Errorf("Amend() events mismatch (-want +got):\n%s", diff)
		}
		// The same lines again change nothing.
		before := takeDump(t, s.svc, []string{"p", "q", "r"}, []string{"o1"})
		again, err := s.svc.Amend(ctx(t), "o1", []onlinestock.Line{line("r", 1), line("p", 6)})
		s.must(t, err)
		if diff := cmp.Diff(r, again); diff != "" {
			t.Errorf("Amend() again mismatch (-first +again):\n%s", diff)
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p", "q", "r"}, []string{"o1"})); diff != "" {
			t.Errorf("store after a repeated Amend() mismatch (-want +got):\n%s", diff)
		}
		checkChains(t, s.svc, []string{"p", "q", "r"})
	})

	t.Run("Amend counts the units the order holds, and is all or nothing", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		// Every unit of p online is held by o1: the amendment fits only
		// because they count.
		r, err := s.svc.Amend(ctx(t), "o1", []onlinestock.Line{line("p", 7), line("q", 1)})
		s.must(t, err)
		if got := r.Allocations[0].Held() + r.Allocations[1].Held(); got != 7 {
			t.Errorf("Amend() holds %d of p, want 7: %+v", got, r.Allocations)
		}
		before := takeDump(t, s.svc, []string{"p", "q"}, []string{"o1"})
		if _, err := s.svc.Amend(ctx(t), "o1", []onlinestock.Line{line("p", 8), line("q", 1)}); !errors.Is(err, onlinestock.ErrInsufficientStock) {
			t.Errorf("Amend() beyond the stock: error = %v, want ErrInsufficientStock", err)
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p", "q"}, []string{"o1"})); diff != "" {
			t.Errorf("store after a refused amendment mismatch (-want +got):\n%s", diff)
		}
		_, err = s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship", Outlet: "d", Lines: []onlinestock.Line{line("q", 1)}})
		s.must(t, err)
		before = takeDump(t, s.svc, []string{"p", "q"}, []string{"o1"})
		for _, lines := range [][]onlinestock.Line{
			{line("p", 2)},                             // q left out, though shipped
			{line("p", 2), line("q", 0)},               // a bad quantity
			{line("p", 9), line("q", 1)},               // beyond the stock
			{line("p", 2), line("x", 1), line("q", 1)}, // an unknown product
		} {
			if _, err := s.svc.Amend(ctx(t), "o1", lines); err == nil {
				t.Errorf("Amend(%v): no error", lines)
			}
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p", "q"}, []string{"o1"})); diff != "" {
			t.Errorf("store after refused amendments mismatch (-want +got):\n%s", diff)
		}
		_, err = s.svc.Release(ctx(t), "o1")
		s.must(t, err)
		if _, err := s.svc.Amend(ctx(t), "o1", []onlinestock.Line{line("p", 1), line("q", 1)}); !errors.Is(err, onlinestock.ErrConflict) {
			t.Errorf("Amend() of a released order: error = %v, want ErrConflict", err)
		}
	})

	t.Run("Reservations lists by status, product, outlet and due time, a page at a time", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t) // o1: p at c and d, q at d; due in an hour
		s.stock(t, map[string]int64{"r@a": 9})
		for _, o := range []onlinestock.Order{
			{ID: "o2", Lines: []onlinestock.Line{line("r", 1)}, TTL: 10 * time.Minute},
			{ID: "o3", Lines: []onlinestock.Line{line("r", 1)}},
			{ID: "o4", Lines: []onlinestock.Line{line("r", 1)}},
			{ID: "o5", Lines: []onlinestock.Line{line("r", 1)}},
		} {
			_, err := s.svc.Reserve(ctx(t), o)
			s.must(t, err)
		}
		_, err := s.svc.Release(ctx(t), "o4")
		s.must(t, err)
		list := func(f onlinestock.ReservationFilter) []string {
			t.Helper()
			rs, err := s.svc.Reservations(ctx(t), f)
			s.must(t, err)
			ids := []string{}
			for _, r := range rs {
				ids = append(ids, r.Order)
			}
			return ids
		}
		cases := []struct {
			name string
			f    onlinestock.ReservationFilter
			want []string
		}{
			{"open by default", onlinestock.ReservationFilter{}, []string{"o1", "o2", "o3", "o5"}},
			{"released", onlinestock.ReservationFilter{Status: onlinestock.Released}, []string{"o4"}},
			{"by product", onlinestock.ReservationFilter{Product: "q"}, []string{"o1"}},
			{"by outlet", onlinestock.ReservationFilter{Outlet: "a"}, []string{"o2", "o3", "o5"}},
			{"by product at an outlet", onlinestock.ReservationFilter{Product: "q", Outlet: "c"}, []string{}},
			{"due before a time", onlinestock.ReservationFilter{DueBefore: epoch.Add(30 * time.Minute)}, []string{"o2"}},
			{"a page", onlinestock.ReservationFilter{Limit: 2}, []string{"o1", "o2"}},
			{"the next page", onlinestock.ReservationFilter{Limit: 2, After: "o2"}, []string{"o3", "o5"}},
			{"past the last page", onlinestock.ReservationFilter{After: "o5"}, []string{}},
		}
		for _, c := range cases {
			if diff := cmp.Diff(c.want, list(c.f)); diff != "" {
				t.Errorf("Reservations(%s) mismatch (-want +got):\n%s", c.name, diff)
			}
		}
		for _, f := range []onlinestock.ReservationFilter{
			{Status: "lost"}, {Limit: -1}, {Limit: onlinestock.MaxReservationsPage + 1}, {Product: "bad\x01"}, {After: strings.Repeat("x", 129)},
		} {
			if _, err := s.svc.Reservations(ctx(t), f); !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("Reservations(%+v) error = %v, want ErrInvalid", f, err)
			}
		}
	})

	t.Run("bad partial calls are refused and change nothing", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		_, err := s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "used", Lines: []onlinestock.Line{line("p", 1)}})
		s.must(t, err)
		s.stock(t, map[string]int64{"r@a": 5})
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "closed", Lines: []onlinestock.Line{line("r", 1)}})
		s.must(t, err)
		_, err = s.svc.Release(ctx(t), "closed")
		s.must(t, err)
		fulfil, release := s.svc.FulfillPart, s.svc.ReleasePart
		cases := []struct {
			name  string
			do    func(context.Context, string, onlinestock.Part) (onlinestock.Reservation, error)
			order string
			part  onlinestock.Part
			want  error
		}{
			{"an empty part ID", fulfil, "o1", onlinestock.Part{Lines: []onlinestock.Line{line("p", 1)}}, onlinestock.ErrInvalid},
			{"a bad outlet ID", release, "o1", onlinestock.Part{ID: "x", Outlet: "bad\x01", Lines: []onlinestock.Line{line("p", 1)}}, onlinestock.ErrInvalid},
			{"no lines", fulfil, "o1", onlinestock.Part{ID: "x"}, onlinestock.ErrInvalid},
			{"a zero quantity", release, "o1", onlinestock.Part{ID: "x", Lines: []onlinestock.Line{line("p", 0)}}, onlinestock.ErrInvalid},
			{"more units than are held", fulfil, "o1", onlinestock.Part{ID: "x", Lines: []onlinestock.Line{line("p", 5)}}, onlinestock.ErrInvalid},
			{"more units than the outlet holds", release, "o1", onlinestock.Part{ID: "x", Outlet: "c", Lines: []onlinestock.Line{line("p", 3)}}, onlinestock.ErrInvalid},
			{"a product not in the order", fulfil, "o1", onlinestock.Part{ID: "x", Lines: []onlinestock.Line{line("p", 1), line("r", 1)}}, onlinestock.ErrInvalid},
			{"an outlet that gives the order nothing", release, "o1", onlinestock.Part{ID: "x", Outlet: "a", Lines: []onlinestock.Line{line("p", 1)}}, onlinestock.ErrInvalid},
			{"a used ID with other content", release, "o1", onlinestock.Part{ID: "used", Lines: []onlinestock.Line{line("p", 1)}}, onlinestock.ErrConflict},
			{"an unknown order", fulfil, "nope", onlinestock.Part{ID: "x", Lines: []onlinestock.Line{line("p", 1)}}, onlinestock.ErrNotFound},
			{"a closed order", release, "closed", onlinestock.Part{ID: "x", Lines: []onlinestock.Line{line("r", 1)}}, onlinestock.ErrConflict},
		}
		before := takeDump(t, s.svc, []string{"p", "q", "r"}, []string{"o1", "closed"})
		for _, c := range cases {
			if _, err := c.do(ctx(t), c.order, c.part); !errors.Is(err, c.want) {
				t.Errorf("%s: error = %v, want %v", c.name, err, c.want)
			}
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p", "q", "r"}, []string{"o1", "closed"})); diff != "" {
			t.Errorf("store after refused calls mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("past its deadline an order cannot be fulfilled in part, and can be released in part", func(t *testing.T) {
		t.Parallel()
		s := splitShop(t)
		s.clock.Advance(time.Hour)
		if _, err := s.svc.FulfillPart(ctx(t), "o1", onlinestock.Part{ID: "ship", Lines: []onlinestock.Line{line("q", 1)}}); !errors.Is(err, onlinestock.ErrConflict) {
			t.Errorf("FulfillPart() past the deadline: error = %v, want ErrConflict", err)
		}
		r, err := s.svc.ReleasePart(ctx(t), "o1", onlinestock.Part{ID: "cancel", Lines: []onlinestock.Line{line("q", 1)}})
		s.must(t, err)
		if r.Status != onlinestock.Open {
			t.Errorf("status = %v, want open until the sweep", r.Status)
		}
		got, err := s.svc.ExpireReservations(ctx(t), s.clock.Now())
		s.must(t, err)
		if diff := cmp.Diff([]string{"o1"}, got); diff != "" {
			t.Errorf("ExpireReservations() mismatch (-want +got):\n%s", diff)
		}
		want := map[string]onlinestock.Level{"p@c": lv(4, 0), "p@d": lv(3, 0), "q@d": lv(1, 0)}
		if diff := cmp.Diff(want, levels(t, s)); diff != "" {
			t.Errorf("levels after expiry mismatch (-want +got):\n%s", diff)
		}
	})
}

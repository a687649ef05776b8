package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// testLedger checks the POS boundary: the stock ledger, idempotency keys
// that remember their change, versions that count on-hand changes only,
// and web sales that reach the stock once however the POS reports them.
func testLedger(t *testing.T, newStore NewStore) {
	t.Parallel()

	t.Run("a key applied to one change is a duplicate of it and a conflict for any other", func(t *testing.T) {
		t.Parallel()
		sale := onlinestock.Adjust("tee", "a", -1).WithKey("sale-42")
		others := []struct {
			name   string
			change onlinestock.Change
		}{
			{"another product", onlinestock.Adjust("mug", "a", -1).WithKey("sale-42")},
			{"another outlet", onlinestock.Adjust("tee", "b", -1).WithKey("sale-42")},
			{"another kind", onlinestock.Set("tee", "a", -1).WithKey("sale-42")},
			{"another quantity", onlinestock.Adjust("tee", "a", -2).WithKey("sale-42")},
		}
		for _, tc := range others {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s := newShop(t, newStore, onlinestock.Config{})
				s.stock(t, map[string]int64{"tee@a": 5, "tee@b": 5, "mug@a": 5})
				res, err := s.svc.Apply(ctx(t), []onlinestock.Change{sale})
				s.must(t, err)
				if res[0].Status != onlinestock.Applied {
					t.Fatalf("first use of the key: %v, want applied", res[0].Status)
				}
				res, err = s.svc.Apply(ctx(t), []onlinestock.Change{sale})
				s.must(t, err)
				if res[0].Status != onlinestock.Duplicate {
					t.Fatalf("the same change again: %v, want duplicate", res[0].Status)
				}
				before := s.snapshot(t)
				_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("mug", "a", 3), tc.change})
				var conflict *onlinestock.KeyConflictError
				if !errors.Is(err, onlinestock.ErrConflict) || !errors.As(err, &conflict) {
					t.Fatalf("the key for %s: error = %v, want a *KeyConflictError", tc.name, err)
				}
				if conflict.Key != "sale-42" || !strings.Contains(err.Error(), `"tee"`) ||
					!strings.Contains(err.Error(), fmt.Sprintf("%q", tc.change.Product)) || conflict.Applied == conflict.Change {
					t.Errorf("conflict %q does not name the key and both changes", err)
				}
				s.unchanged(t, before, "a key conflict")
			})
		}
	})

	t.Run("two lines of a receipt under one key conflict; one key per line applies both", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"tee@a": 5, "mug@a": 5})
		before := s.snapshot(t)
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{
			onlinestock.Adjust("tee", "a", -1).WithKey("sale-42"),
			onlinestock.Adjust("mug", "a", -1).WithKey("sale-42"),
		})
		if !errors.Is(err, onlinestock.ErrConflict) || !strings.Contains(err.Error(), "sale-42") {
			t.Fatalf("one key for two lines: error = %v, want ErrConflict naming the key", err)
		}
		s.unchanged(t, before, "a key reused within a batch")
		res, err := s.svc.Apply(ctx(t), []onlinestock.Change{
			onlinestock.Adjust("tee", "a", -1).WithKey("sale-42/1"),
			onlinestock.Adjust("mug", "a", -1).WithKey("sale-42/2"),
			onlinestock.Adjust("mug", "a", -1).WithKey("sale-42/2"), // the same line twice
		})
		s.must(t, err)
		want := []onlinestock.ChangeStatus{onlinestock.Applied, onlinestock.Applied, onlinestock.Duplicate}
		for i, r := range res {
			if r.Status != want[i] {
				t.Errorf("change %d: %v, want %v", i, r.Status, want[i])
			}
		}
		if got := s.level(t, "mug", "a").OnHand; got != 4 {
			t.Errorf("mug on-hand %d, want 4", got)
		}
	})

	t.Run("a key past its retention may carry a new change", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{KeyRetention: time.Hour})
		s.stock(t, map[string]int64{"tee@a": 5, "mug@a": 5})
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("tee", "a", -1).WithKey("k")})
		s.must(t, err)
		s.clock.Advance(time.Hour) // at the boundary: still remembered
		if _, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("mug", "a", -1).WithKey("k")}); !errors.Is(err, onlinestock.ErrConflict) {
			t.Fatalf("a key at the end of its retention for another change: error = %v, want ErrConflict", err)
		}
		s.clock.Advance(time.Second)
		res, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("mug", "a", -1).WithKey("k")})
		s.must(t, err)
		if res[0].Status != onlinestock.Applied {
			t.Errorf("an expired key for a new change: %v, want applied", res[0].Status)
		}
	})

	t.Run("reserving, releasing and expiring leave Version alone; fulfilling moves it", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 10})
		version := func() int64 { return s.level(t, "p", "a").Version }
		if v := version(); v != 1 {
			t.Fatalf("version after one set = %d, want 1", v)
		}
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "kept", Lines: []onlinestock.Line{line("p", 2)}})
		s.must(t, err)
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "lapsed", Lines: []onlinestock.Line{line("p", 1)}, TTL: time.Minute})
		s.must(t, err)
		_, err = s.svc.Release(ctx(t), "kept")
		s.must(t, err)
		s.clock.Advance(time.Hour)
		expired, err := s.svc.ExpireReservations(ctx(t), s.clock.Now())
		s.must(t, err)
		if len(expired) != 1 {
			t.Fatalf("expired %v, want [lapsed]", expired)
		}
		if v := version(); v != 1 {
			t.Errorf("version after reserve, release and expiry = %d, want 1", v)
		}
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "sold", Lines: []onlinestock.Line{line("p", 3)}})
		s.must(t, err)
		_, err = s.svc.Fulfill(ctx(t), "sold")
		s.must(t, err)
		if l := s.level(t, "p", "a"); l.Version != 2 || l.OnHand != 7 || l.Reserved != 0 {
			t.Errorf("level after a fulfilment = %+v, want on-hand 7, reserved 0, version 2", l)
		}
	})

	t.Run("the ledger says why every level changed, filtered and paged", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{
			onlinestock.Set("tee", "a", 10).WithReason(onlinestock.StockCount).WithRef("count-7"),
			onlinestock.Set("tee", "b", 4).WithReason("cycle-count"),
			onlinestock.Adjust("mug", "a", 6).WithReason(onlinestock.StockReceipt).WithKey("po-3/1"),
		})
		s.must(t, err)
		s.must(t, s.svc.EnableOnline(ctx(t), "tee", "mug"))
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{line("tee", 2), line("mug", 1)}})
		s.must(t, err)
		_, err = s.svc.Fulfill(ctx(t), "web-1")
		s.must(t, err)
		_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("tee", "a", -1).WithReason(onlinestock.StockDamage)})
		s.must(t, err)

		mv := func(product, outlet string, kind onlinestock.MovementKind, reason onlinestock.StockReason, ref string, dOnHand, dReserved, onHand, reserved, version int64) onlinestock.Movement {
			return onlinestock.Movement{Product: product, Outlet: outlet, Kind: kind, Reason: reason, Ref: ref,
				OnHandDelta: dOnHand, ReservedDelta: dReserved, OnHand: onHand, Reserved: reserved, Version: version}
		}
		want := []onlinestock.Movement{
			mv("mug", "a", onlinestock.MovedByAdjust, onlinestock.StockReceipt, "po-3/1", 6, 0, 6, 0, 1),
			mv("tee", "a", onlinestock.MovedBySet, onlinestock.StockCount, "count-7", 10, 0, 10, 0, 1),
			mv("tee", "b", onlinestock.MovedBySet, "cycle-count", "", 4, 0, 4, 0, 1),
			mv("mug", "a", onlinestock.MovedByReserve, "", "web-1", 0, 1, 6, 1, 1),
			mv("tee", "a", onlinestock.MovedByReserve, "", "web-1", 0, 2, 10, 2, 1),
			mv("mug", "a", onlinestock.MovedByFulfil, "", "web-1", -1, -1, 5, 0, 2),
			mv("tee", "a", onlinestock.MovedByFulfil, "", "web-1", -2, -2, 8, 0, 2),
			mv("tee", "a", onlinestock.MovedByAdjust, onlinestock.StockDamage, "", -1, 0, 7, 0, 3),
		}
		all := s.movements(t, onlinestock.MovementFilter{})
		for i, m := range all {
			if m.Seq != uint64(i)+1 || !m.Time.Equal(s.clock.Now()) {
				t.Fatalf("movement %d: seq %d at %v, want seq %d at %v", i, m.Seq, m.Time, i+1, s.clock.Now())
			}
		}
		if diff := cmp.Diff(want, all, movementOpts); diff != "" {
			t.Fatalf("Movements() mismatch (-want +got):\n%s", diff)
		}
		filters := []struct {
			f    onlinestock.MovementFilter
			want []int // indices into want
		}{
			{onlinestock.MovementFilter{Product: "tee"}, []int{1, 2, 4, 6, 7}},
			{onlinestock.MovementFilter{Product: "tee", Outlet: "a"}, []int{1, 4, 6, 7}},
			{onlinestock.MovementFilter{Outlet: "b"}, []int{2}},
			{onlinestock.MovementFilter{Ref: "web-1"}, []int{3, 4, 5, 6}},
			{onlinestock.MovementFilter{Ref: "web-1", Product: "mug"}, []int{3, 5}},
			{onlinestock.MovementFilter{Ref: "web-1", Outlet: "b"}, nil},
			{onlinestock.MovementFilter{Product: "none"}, nil},
			{onlinestock.MovementFilter{After: 4}, []int{4, 5, 6, 7}},
			{onlinestock.MovementFilter{Product: "tee", After: 5, Limit: 1}, []int{6}},
			{onlinestock.MovementFilter{After: 8}, nil},
		}
		for _, tc := range filters {
			var w []onlinestock.Movement
			for _, i := range tc.want {
				w = append(w, want[i])
			}
			if diff := cmp.Diff(w, s.page(t, tc.f), movementOpts); diff != "" {
				t.Errorf("Movements(%+v) mismatch (-want +got):\n%s", tc.f, diff)
			}
		}
		// Paging two at a time walks the same ledger.
		var paged []onlinestock.Movement
		for f := (onlinestock.MovementFilter{Limit: 2}); ; {
			page := s.page(t, f)
			if len(page) == 0 {
				break
			}
			if len(page) > 2 {
				t.Fatalf("a page of %d movements, limit 2", len(page))
			}
			paged = append(paged, page...)
			f.After = page[len(page)-1].Seq
		}
		if diff := cmp.Diff(all, paged); diff != "" {
			t.Errorf("paged ledger mismatch (-whole +paged):\n%s", diff)
		}
	})

	t.Run("old movements are pruned, oldest first, in bounded batches", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		for range 5 {
			_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1)})
			s.must(t, err)
		}
		cut := s.clock.Advance(time.Hour)
		for range 2 {
			_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1)})
			s.must(t, err)
		}
		s.movements(t, onlinestock.MovementFilter{}) // numbered
		got, err := s.store.Prune(ctx(t), onlinestock.Retention{MovementsBefore: cut, Limit: 3})
		s.must(t, err)
		if got.Movements != 3 {
			t.Fatalf("first batch pruned %d movements, want 3", got.Movements)
		}
		got, err = s.store.Prune(ctx(t), onlinestock.Retention{MovementsBefore: cut, Limit: 3})
		s.must(t, err)
		if got.Movements != 2 {
			t.Fatalf("second batch pruned %d movements, want 2", got.Movements)
		}
		left := s.movements(t, onlinestock.MovementFilter{})
		if len(left) != 2 || left[0].Seq != 6 || left[1].Seq != 7 {
			t.Fatalf("movements left %v, want #6 and #7", left)
		}
		_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1)})
		s.must(t, err)
		if left := s.movements(t, onlinestock.MovementFilter{After: 7}); len(left) != 1 || left[0].Seq != 8 {
			t.Fatalf("the movement after pruning is %v, want #8", left)
		}
	})

	t.Run("an oversized reason or reference is ErrInvalid and changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 3})
		bad := []onlinestock.Change{
			onlinestock.Adjust("p", "a", 1).WithReason(onlinestock.StockReason(strings.Repeat("r", onlinestock.MaxReasonBytes+1))),
			onlinestock.Adjust("p", "a", 1).WithReason("bad\x00reason"),
			onlinestock.Adjust("p", "a", 1).WithRef(strings.Repeat("x", onlinestock.MaxIDBytes+1)),
			onlinestock.Adjust("p", "a", 1).WithRef("bad\xffref"),
			onlinestock.Adjust("p", "a", 1).ForOrder("web-1"),
			onlinestock.Adjust("p", "a", -1).ForOrder(strings.Repeat("o", onlinestock.MaxIDBytes+1)),
		}
		before := s.snapshot(t)
		for i, c := range bad {
			if _, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1), c}); !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("bad change %d: error = %v, want ErrInvalid", i, err)
			}
		}
		if _, err := s.svc.Movements(ctx(t), onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage + 1}); !errors.Is(err, onlinestock.ErrInvalid) {
			t.Errorf("Movements() with too large a limit: error = %v, want ErrInvalid", err)
		}
		if _, err := s.svc.Movements(ctx(t), onlinestock.MovementFilter{Ref: "bad\x01"}); !errors.Is(err, onlinestock.ErrInvalid) {
			t.Errorf("Movements() with a bad reference: error = %v, want ErrInvalid", err)
		}
		s.unchanged(t, before, "bad input")
	})

	t.Run("web sales reach the stock once however the POS reports them", func(t *testing.T) {
		t.Parallel()
		testWebSales(t, newStore)
	})

	t.Run("racing web sale reports, fulfilments and POS sync never offer sold units again", func(t *testing.T) {
		t.Parallel()
		testWebSaleRace(t, newStore)
	})
}

func line(product string, quantity int64) onlinestock.Line {
	return onlinestock.Line{Product: product, Quantity: quantity}
}

// ledgerState is what a call that fails must leave as it was: the levels,
// the events and the movements.
type ledgerState struct {
	levels    map[string][]onlinestock.Level
	events    uint64
	movements []onlinestock.Movement
}

func (s *shop) snapshot(t *testing.T) ledgerState {
	t.Helper()
	st := ledgerState{levels: map[string][]onlinestock.Level{}, events: s.lastSeq(t), movements: s.movements(t, onlinestock.MovementFilter{})}
	for _, p := range []string{"p", "tee", "mug"} {
		levels, err := s.svc.Levels(ctx(t), p)
		if errors.Is(err, onlinestock.ErrNotFound) {
			continue
		}
		s.must(t, err)
		st.levels[p] = levels
	}
	return st
}

func (s *shop) unchanged(t *testing.T, before ledgerState, after string) {
	t.Helper()
	if diff := cmp.Diff(before, s.snapshot(t), cmp.AllowUnexported(ledgerState{})); diff != "" {
		t.Errorf("after %s: levels, events or movements changed (-before +after):\n%s", after, diff)
	}
}

// movements returns every movement f selects, page after page.
func (s *shop) movements(t testing.TB, f onlinestock.MovementFilter) []onlinestock.Movement {
	t.Helper()
	out := []onlinestock.Movement{}
	f.Limit = onlinestock.MaxMovementPage
	for {
		page := s.page(t, f)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		f.After = page[len(page)-1].Seq
	}
}

func (s *shop) page(t testing.TB, f onlinestock.MovementFilter) []onlinestock.Movement {
	t.Helper()
	page, err := s.svc.Movements(ctx(t), f)
	s.must(t, err)
	return page
}

func testWebSales(t *testing.T, newStore NewStore) {
	// Each flow starts from tee: 10 at outlet a, order web-1 reserving 3
	// there, and ends with on-hand 7, nothing reserved, the order
	// fulfilled. Availability (10 − 3 = 7) never moves on the way.
	type step struct {
		name string
		do   func(s *shop) ([]onlinestock.ChangeResult, error)
		want onlinestock.ChangeStatus // for a report; 0 for Fulfill
	}
	report := func(c onlinestock.Change) func(s *shop) ([]onlinestock.ChangeResult, error) {
		return func(s *shop) ([]onlinestock.ChangeResult, error) {
			return s.svc.Apply(ctx(t), []onlinestock.Change{c})
		}
	}
	fulfil := step{"Fulfill", func(s *shop) ([]onlinestock.ChangeResult, error) {
		_, err := s.svc.Fulfill(ctx(t), "web-1")
		return nil, err
	}, 0}
	sale := onlinestock.Adjust("tee", "a", -3).ForOrder("web-1")
	flows := []struct {
		name  string
		steps []step
	}{
		{"a delta before Fulfill", []step{
			{"report", report(sale), onlinestock.Applied},
			fulfil,
			{"report again", report(sale), onlinestock.Duplicate},
		}},
		{"a delta after Fulfill", []step{
			fulfil,
			{"report", report(sale), onlinestock.Duplicate},
			{"report again", report(sale), onlinestock.Duplicate},
		}},
		{"a keyed delta before Fulfill, replayed", []step{
			{"report", report(sale.WithKey("receipt-9/1")), onlinestock.Applied},
			{"replay", report(sale.WithKey("receipt-9/1")), onlinestock.Duplicate},
			fulfil,
		}},
		{"a count made after the POS recorded the sale, before Fulfill", []step{
			{"count", report(onlinestock.Set("tee", "a", 7).ForOrder("web-1").WithVersion(1)), onlinestock.Applied},
			fulfil,
		}},
		{"a count made after Fulfill", []step{
			fulfil,
			{"count", report(onlinestock.Set("tee", "a", 7).WithVersion(2)), onlinestock.Applied},
		}},
	}
	for _, fl := range flows {
		t.Run(fl.name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, newStore, onlinestock.Config{})
			s.stock(t, map[string]int64{"tee@a": 10})
			_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{line("tee", 3)}})
			s.must(t, err)
			for _, st := range fl.steps {
				res, err := st.do(s)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if st.want != 0 && res[0].Status != st.want {
					t.Errorf("%s: %v, want %v", st.name, res[0].Status, st.want)
				}
				if got := s.online(t, "tee"); got != 7 {
					t.Errorf("after %s: online stock %d, want 7 throughout", st.name, got)
				}
			}
			l := s.level(t, "tee", "a")
			if l.OnHand != 7 || l.Reserved != 0 {
				t.Errorf("level at the end %+v, want on-hand 7 and nothing reserved: the sale must reach the stock once", l)
			}
			r, err := s.svc.Reservation(ctx(t), "web-1")
			s.must(t, err)
			if r.Status != onlinestock.Fulfilled || r.Allocations[0].Fulfilled != 3 {
				t.Errorf("order at the end %+v, want fulfilled", r)
			}
			var onHand int64
			for _, m := range s.movements(t, onlinestock.MovementFilter{Product: "tee", Outlet: "a"}) {
				onHand += m.OnHandDelta
			}
			if onHand != 7 {
				t.Errorf("the ledger's on-hand deltas sum to %d, want 7", onHand)
			}
		})
	}

	t.Run("a count based on a read before Fulfill is refused", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"tee@a": 10})
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{line("tee", 3)}})
		s.must(t, err)
		read := s.level(t, "tee", "a")
		_, err = s.svc.Fulfill(ctx(t), "web-1")
		s.must(t, err)
		if _, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("tee", "a", 7).WithVersion(read.Version)}); !errors.Is(err, onlinestock.ErrConflict) {
			t.Fatalf("a count read before Fulfill: error = %v, want ErrConflict", err)
		}
	})

	t.Run("a report that contradicts the order is ErrConflict naming it, and nothing applies", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"tee@a": 10, "tee@b": 5, "mug@a": 2})
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{line("tee", 3)}})
		s.must(t, err)
		bad := []struct {
			name   string
			change onlinestock.Change
			want   error
		}{
			{"another outlet", onlinestock.Adjust("tee", "b", -3).ForOrder("web-1"), onlinestock.ErrConflict},
			{"fewer units", onlinestock.Adjust("tee", "a", -2).ForOrder("web-1"), onlinestock.ErrConflict},
			{"more units", onlinestock.Adjust("tee", "a", -4).ForOrder("web-1"), onlinestock.ErrConflict},
			{"a product the order has not", onlinestock.Adjust("mug", "a", -3).ForOrder("web-1"), onlinestock.ErrConflict},
			{"an order never made", onlinestock.Adjust("tee", "a", -3).ForOrder("web-2"), onlinestock.ErrNotFound},
		}
		before := s.snapshot(t)
		for _, tc := range bad {
			_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("mug", "a", 1), tc.change})
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: error = %v, want %v", tc.name, err, tc.want)
				continue
			}
			if tc.want == onlinestock.ErrConflict && !strings.Contains(err.Error(), `"web-1"`) {
				t.Errorf("%s: error %q does not name the order", tc.name, err)
			}
		}
		s.unchanged(t, before, "contradicting reports")
		r, err := s.svc.Reservation(ctx(t), "web-1")
		s.must(t, err)
		if r.Status != onlinestock.Open || r.Allocations[0].Reported {
			t.Errorf("order after contradicting reports %+v, want open and unreported", r)
		}
	})

	t.Run("a partly fulfilled order: the report takes off what Fulfill did not", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"tee@a": 10})
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{line("tee", 3)}})
		s.must(t, err)
		_, err = s.svc.FulfillPart(ctx(t), "web-1", onlinestock.Part{ID: "ship-1", Lines: []onlinestock.Line{line("tee", 1)}})
		s.must(t, err)
		res, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("tee", "a", -3).ForOrder("web-1")})
		s.must(t, err)
		if want := (onlinestock.Level{Product: "tee", Outlet: "a", OnHand: 7, Reserved: 0, Version: 3}); res[0].Status != onlinestock.Applied || res[0].Level != want {
			t.Errorf("report after a partial fulfilment: %+v, want applied at %+v", res[0], want)
		}
		r, err := s.svc.Reservation(ctx(t), "web-1")
		s.must(t, err)
		if r.Status != onlinestock.Fulfilled {
			t.Errorf("order status %v, want fulfilled", r.Status)
		}
	})
}

// testWebSaleRace runs web orders through their whole life while the POS
// syncs other stock: each order is reported sold by the POS, before or
// after Fulfill, some reports replayed, while a storefront reads. Every
// order's units stay out of online stock from the moment they are
// reserved: availability never rises above what is really free.
func testWebSaleRace(t *testing.T, newStore NewStore) {
	s := newShop(t, newStore, onlinestock.Config{})
	const orders, start = 24, 200
	s.stock(t, map[string]int64{"tee@a": start, "mug@a": 50})
	for i := range orders {
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: fmt.Sprintf("web-%02d", i), Lines: []onlinestock.Line{line("tee", int64(1+i%3))}})
		s.must(t, err)
	}
	var sold int64
	for i := range orders {
		sold += int64(1 + i%3)
	}
	free := start - sold

	done := make(chan struct{})
	var readers sync.WaitGroup
	var worst int64
	var mu sync.Mutex
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			a, err := s.svc.Availability(ctx(t), "tee")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			worst = max(worst, a[0].Quantity)
			mu.Unlock()
		}
	})
	readers.Go(func() { // the POS syncs another product meanwhile
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("mug", "a", int64(1-2*(i%2)))}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var workers sync.WaitGroup
	for i := range orders {
		workers.Go(func() {
			id := fmt.Sprintf("web-%02d", i)
			sale := onlinestock.Adjust("tee", "a", -int64(1+i%3)).ForOrder(id)
			steps := []func() error{
				func() error { _, err := s.svc.Apply(ctx(t), []onlinestock.Change{sale}); return err },
				func() error { _, err := s.svc.Fulfill(ctx(t), id); return err },
			}
			if i%2 == 1 {
				steps[0], steps[1] = steps[1], steps[0]
			}
			if i%3 == 0 { // replayed
				steps = append(steps, steps[0], steps[1])
			}
			for _, step := range steps {
				if err := step(); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
	workers.Wait()
	close(done)
	readers.Wait()
	if worst > free {
		t.Errorf("the storefront saw %d of tee online, but only %d were ever free", worst, free)
	}
	if l := s.level(t, "tee", "a"); l.OnHand != free || l.Reserved != 0 {
		t.Errorf("tee at the end %+v, want on-hand %d and nothing reserved: every sale once", l, free)
	}
	if got := s.online(t, "tee"); got != free {
		t.Errorf("online stock at the end %d, want %d", got, free)
	}
}

package storetest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// testOutlets checks the connected set, orphaned
// methods, moving the primary outlet and previews.
func testOutlets(t *testing.T, newStore NewStore) {
	t.Parallel()

	t.Run("connect, disconnect and reconnect restores online stock", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 2, "p@c": 5})
		steps := []struct {
			name string
			do   func() (onlinestock.SelectionResult, error)
			want int64
		}{
			{"connect c", func() (onlinestock.SelectionResult, error) { return s.svc.Connect(ctx(t), "c") }, 7},
			{"connect c again", func() (onlinestock.SelectionResult, error) { return s.svc.Connect(ctx(t), "c") }, 7},
			{"disconnect c", func() (onlinestock.SelectionResult, error) { return s.svc.Disconnect(ctx(t), "c") }, 2},
			{"disconnect c again", func() (onlinestock.SelectionResult, error) { return s.svc.Disconnect(ctx(t), "c") }, 2},
			{"reconnect c", func() (onlinestock.SelectionResult, error) { return s.svc.Connect(ctx(t), "c") }, 7},
		}
		for _, st := range steps {
			seq := s.lastSeq(t)
			before := s.online(t, "p")
			_, err := st.do()
			s.must(t, err)
			if got := s.online(t, "p"); got != st.want {
				t.Fatalf("after %s: online stock %d, want %d", st.name, got, st.want)
			}
			if before == st.want {
				if ev := s.events(t, seq); len(ev) != 0 {
					t.Fatalf("after %s, a no-op: events %v, want none", st.name, ev)
				}
			}
		}
		checkChains(t, s.svc, []string{"p"})
	})

	t.Run("disconnecting the primary outlet is ErrPrimaryOutlet", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		if _, err := s.svc.Disconnect(ctx(t), "a"); !errors.Is(err, onlinestock.ErrPrimaryOutlet) {
			t.Errorf("Disconnect(primary) error = %v, want ErrPrimaryOutlet", err)
		}
		res, err := s.svc.SaveSelection(ctx(t), nil)
		s.must(t, err)
		if diff := cmp.Diff(onlinestock.SelectionResult{Disconnected: []string{"b"}}, res, equateEmpty); diff != "" {
			t.Errorf("SaveSelection(none) keeps the primary: result mismatch (-want +got):\n%s", diff)
		}
		setup, err := s.svc.Setup(ctx(t))
		s.must(t, err)
		if diff := cmp.Diff([]string{"a"}, setup.Connected()); diff != "" {
			t.Errorf("connected outlets mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("moving the primary outlet keeps the old one connected until disconnected", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.must(t, s.svc.SaveRegister(ctx(t), "rc", "c", ""))
		seq := s.lastSeq(t)
		res, err := s.svc.Activate(ctx(t), "rc")
		s.must(t, err)
		if diff := cmp.Diff([]string{"c"}, res.Connected); diff != "" {
			t.Errorf("Activate() connected mismatch (-want +got):\n%s", diff)
		}
		want := []onlinestock.Event{
			{Kind: onlinestock.PrimaryChanged, Outlet: "c", Previous: "a"},
			{Kind: onlinestock.OutletConnected, Outlet: "c"},
		}
		if diff := cmp.Diff(want, s.events(t, seq), eventOpts); diff != "" {
			t.Errorf("events of Activate() mismatch (-want +got):\n%s", diff)
		}
		setup, err := s.svc.Setup(ctx(t))
		s.must(t, err)
		if diff := cmp.Diff([]string{"a", "b", "c"}, setup.Connected()); diff != "" {
			t.Errorf("connected outlets mismatch (-want +got):\n%s", diff)
		}
		if setup.Primary() != "c" || setup.OrderRegister != "rc" {
			t.Errorf("primary %q, order register %q; want c and rc", setup.Primary(), setup.OrderRegister)
		}
		if _, err := s.svc.Disconnect(ctx(t), "a"); err != nil {
			t.Errorf("Disconnect(old primary) error = %v", err)
		}
		if _, err := s.svc.Disconnect(ctx(t), "c"); !errors.Is(err, onlinestock.ErrPrimaryOutlet) {
			t.Errorf("Disconnect(new primary) error = %v, want ErrPrimaryOutlet", err)
		}
		seq = s.lastSeq(t)
		res, err = s.svc.Activate(ctx(t), "rc")
		s.must(t, err)
		if diff := cmp.Diff(onlinestock.SelectionResult{}, res, equateEmpty); diff != "" || len(s.events(t, seq)) != 0 {
			t.Errorf("Activate(current register) is not a no-op: result diff %s, events %v", diff, s.events(t, seq))
		}
	})

	for _, hide := range []bool{false, true} {
		name := "orphaned methods are reported, offered flagged, and restored on reconnect"
		if hide {
			name = "orphaned methods are hidden when the config says so"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, newStore, onlinestock.Config{HideOrphanedMethods: hide})
			s.stock(t, map[string]int64{"p@a": 5, "p@b": 5})
			local := onlinestock.Method{ID: "local", Name: "Local", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict}
			courier := onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Delivery, Outlet: "b", Rule: onlinestock.AllowAll}
			post := onlinestock.Method{ID: "post", Name: "Post", Kind: onlinestock.Shipping, Rule: onlinestock.AllowAll}
			for _, m := range []onlinestock.Method{local, courier, post} {
				s.must(t, s.svc.SaveMethod(ctx(t), m))
			}
			seq := s.lastSeq(t)
			res, err := s.svc.Disconnect(ctx(t), "b")
			s.must(t, err)
			if diff := cmp.Diff([]onlinestock.Method{courier, local}, res.Orphaned); diff != "" {
				t.Errorf("Disconnect() orphaned mismatch (-want +got):\n%s", diff)
			}
			ev := s.events(t, seq)
			wantEv := []onlinestock.Event{{Kind: onlinestock.OutletDisconnected, Outlet: "b", Methods: []string{"courier", "local"}}}
			if diff := cmp.Diff(wantEv, ev[:min(1, len(ev))], eventOpts); diff != "" {
				t.Errorf("OutletDisconnected event mismatch (-want +got):\n%s", diff)
			}
			orphaned, err := s.svc.OrphanedMethods(ctx(t))
			s.must(t, err)
			if diff := cmp.Diff([]onlinestock.Method{courier, local}, orphaned); diff != "" {
				t.Errorf("OrphanedMethods() mismatch (-want +got):\n%s", diff)
			}
			q, err := s.svc.Quote(ctx(t), onlinestock.Cart{Lines: []onlinestock.Line{{Product: "p", Quantity: 5}}})
			s.must(t, err)
			reason := onlinestock.ReasonNone
			if hide {
				reason = onlinestock.ReasonHidden
			}
			wantQ := []onlinestock.MethodQuote{
				{Method: courier, Offered: !hide, Orphaned: true, Reason: reason},
				{Method: local, Offered: !hide, Orphaned: true, Reason: reason},
				{Method: post, Offered: true},
			}
			if diff := cmp.Diff(wantQ, q.Methods, equateEmpty); diff != "" {
				t.Errorf("Quote() methods mismatch (-want +got):\n%s", diff)
			}
			_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{{Product: "p", Quantity: 1}}, Method: "local"})
			if hide && !errors.Is(err, onlinestock.ErrNotFound) {
				t.Errorf("Reserve() with a hidden orphaned method: error = %v, want ErrNotFound", err)
			}
			if !hide && err != nil {
				t.Errorf("Reserve() with an offered orphaned method: error = %v", err)
			}

			seq = s.lastSeq(t)
			res, err = s.svc.Connect(ctx(t), "b")
			s.must(t, err)
			if diff := cmp.Diff([]onlinestock.Method{courier, local}, res.Restored); diff != "" {
				t.Errorf("Connect() restored mismatch (-want +got):\n%s", diff)
			}
			ev = s.events(t, seq)
			wantEv = []onlinestock.Event{{Kind: onlinestock.OutletConnected, Outlet: "b", Methods: []string{"courier", "local"}}}
			if diff := cmp.Diff(wantEv, ev[:min(1, len(ev))], eventOpts); diff != "" {
				t.Errorf("OutletConnected event mismatch (-want +got):\n%s", diff)
			}
			orphaned, err = s.svc.OrphanedMethods(ctx(t))
			s.must(t, err)
			if len(orphaned) != 0 {
				t.Errorf("OrphanedMethods() after reconnect = %v, want none", orphaned)
			}
		})
	}

	t.Run("PreviewSelection changes nothing and predicts SaveSelection exactly", func(t *testing.T) {
		t.Parallel()
		selections := [][]string{{"c"}, {"a", "b", "c"}, {}, {"b"}, {"b", "c"}, {"a"}, {"c", "c"}}
		s := newShop(t, newStore, onlinestock.Config{LowStockThreshold: 2})
		s.stock(t, map[string]int64{"p@a": 1, "p@b": 2, "p@c": 3, "q@b": 1, "q@c": 1, "r@c": 4, "s@a": 9})
		s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "m-b", Name: "B", Kind: onlinestock.Pickup, Outlet: "b"}))
		s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "m-c", Name: "C", Kind: onlinestock.Pickup, Outlet: "c", Rule: onlinestock.Restrict}))
		products := []string{"p", "q", "r", "s"}
		for _, set := range selections {
			before := takeDump(t, s.svc, products, nil)
			preview, err := s.svc.PreviewSelection(ctx(t), set)
			s.must(t, err)
			if diff := cmp.Diff(before, takeDump(t, s.svc, products, nil)); diff != "" {
				t.Fatalf("PreviewSelection(%q) changed the store (-want +got):\n%s", set, diff)
			}
			saved, err := s.svc.SaveSelection(ctx(t), set)
			s.must(t, err)
			if diff := cmp.Diff(preview, saved, equateEmpty); diff != "" {
				t.Fatalf("SaveSelection(%q) did not do what PreviewSelection predicted (-preview +saved):\n%s", set, diff)
			}
			// The availability events are exactly the predicted changes.
			var got []onlinestock.AvailabilityChange
			for _, e := range s.events(t, before.Events[len(before.Events)-1].Seq) {
				if e.Kind == onlinestock.AvailabilityChanged {
					got = append(got, onlinestock.AvailabilityChange{Product: e.Product, Before: e.Before, After: e.After})
				}
			}
			if diff := cmp.Diff(preview.Changes, got, equateEmpty); diff != "" {
				t.Fatalf("SaveSelection(%q) events mismatch with the preview (-preview +events):\n%s", set, diff)
			}
		}
		checkChains(t, s.svc, products)
	})

	t.Run("a buffer change at a connected outlet reports and announces the availability it moves", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@b": 3, "q@b": 10, "r@a": 1})
		res, err := s.svc.SetBuffer(ctx(t), "b", 3)
		s.must(t, err)
		want := []onlinestock.AvailabilityChange{
			{Product: "p", Before: onlinestock.Availability{Quantity: 3, Label: onlinestock.InStock}, After: onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut}},
			{Product: "q", Before: onlinestock.Availability{Quantity: 10, Label: onlinestock.InStock}, After: onlinestock.Availability{Quantity: 7, Label: onlinestock.InStock}},
		}
		if diff := cmp.Diff(want, res.Changes); diff != "" {
			t.Errorf("SetBuffer() changes mismatch (-want +got):\n%s", diff)
		}
		if !res.Changes[0].SoldOut() || res.Changes[1].SoldOut() {
			t.Errorf("SoldOut() of %+v", res.Changes)
		}
		checkChains(t, s.svc, []string{"p", "q", "r"})
	})
}

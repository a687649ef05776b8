package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// allEvents reads the whole outbox and checks that its sequence numbers run
// 1, 2, 3, … without a gap.
func allEvents(t testing.TB, store onlinestock.Store) []onlinestock.Event {
	t.Helper()
	var all []onlinestock.Event
	for {
		page, err := store.EventsSince(context.Background(), uint64(len(all)), 500)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if want := uint64(len(all)) + 1; e.Seq != want {
				t.Fatalf("event seq %d follows seq %d: sequence numbers must have no gaps", e.Seq, want-1)
			}
			all = append(all, e)
		}
	}
	return all
}

// state is every product of a store with the setup, read in one View.
type state struct {
	setup    *onlinestock.Setup
	products []onlinestock.Product
}

func readState(t *testing.T, store onlinestock.Store) state {
	t.Helper()
	ctx := context.Background()
	var st state
	err := store.View(ctx, func(tx onlinestock.Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		var outlets []string
		for _, o := range setup.Outlets {
			outlets = append(outlets, o.ID)
		}
		products, err := tx.ProductsAt(ctx, outlets)
		if err != nil {
			return err
		}
		st.setup = &onlinestock.Setup{OrderRegister: setup.OrderRegister, Outlets: slices.Clone(setup.Outlets), Registers: slices.Clone(setup.Registers)}
		for _, p := range products {
			p.Levels = slices.Clone(p.Levels)
			st.products = append(st.products, p)
		}
		return nil
	})
	must(t, err)
	return st
}

// specAvailability is the online stock rule written out again, independently of the
// library: contribution(p, o) = max(0, OnHand − Reserved − Buffer(o)) for a
// connected outlet, online(p) the sum, then the label.
func specAvailability(p onlinestock.Product, outlets []onlinestock.Outlet, lowStock int64) onlinestock.Availability {
	if !p.Enabled {
		return onlinestock.Availability{Quantity: 0, Label: onlinestock.NotForSale}
	}
	var online int64
	for _, l := range p.Levels {
		for _, o := range outlets {
			if o.ID == l.Outlet && o.Connected {
				online += max(0, l.OnHand-l.Reserved-o.Buffer)
			}
		}
	}
	switch {
	case online == 0:
		return onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut}
	case online <= lowStock:
		return onlinestock.Availability{Quantity: online, Label: onlinestock.LowStock}
	}
	return onlinestock.Availability{Quantity: online, Label: onlinestock.InStock}
}

// checkConsistent checks, for every product, that the availability the
// Service reports is the online stock formula over the stored levels, and that
// the product's availability events chain from Unlisted to it.
func checkConsistent(t *testing.T, store onlinestock.Store, svc *onlinestock.Service, lowStock int64) {
	t.Helper()
	events := allEvents(t, store)
	st := readState(t, store)
	last := map[string]onlinestock.Availability{}
	for _, e := range events {
		if e.Kind != onlinestock.AvailabilityChanged {
			continue
		}
		before, ok := last[e.Product]
		if !ok {
			before = onlinestock.Unlisted
		}
		if e.Before != before {
			t.Fatalf("event #%d of %q starts at %+v, but the previous one ended at %+v", e.Seq, e.Product, e.Before, before)
		}
		last[e.Product] = e.After
	}
	ids := make([]string, len(st.products))
	for i, p := range st.products {
		ids[i] = p.ID
	}
	got, err := svc.Availability(context.Background(), ids...)
	must(t, err)
	for i, p := range st.products {
		want := specAvailability(p, st.setup.Outlets, lowStock)
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Errorf("Availability(%q) mismatch with the online stock formula over levels %+v (-want +got):\n%s", p.ID, p.Levels, diff)
		}
		chained, ok := last[p.ID]
		if !ok {
			chained = onlinestock.Unlisted
		}
		if diff := cmp.Diff(want, chained); diff != "" {
			t.Errorf("%q: the last availability event ends elsewhere than the current availability (-want +got):\n%s", p.ID, diff)
		}
	}
}

// checkReserved checks that every level's Reserved is what the open
// reservations hold there.
func checkReserved(t *testing.T, store onlinestock.Store, orders []string) {
	t.Helper()
	ctx := context.Background()
	held := map[string]int64{}
	err := store.View(ctx, func(tx onlinestock.Tx) error {
		for _, id := range orders {
			r, ok, err := tx.Reservation(ctx, id)
			if err != nil {
				return err
			}
			if !ok || r.Status != onlinestock.Open {
				continue
			}
			for _, a := range r.Allocations {
				held[a.Product+"@"+a.Outlet] += a.Quantity
			}
		}
		return nil
	})
	must(t, err)
	for _, p := range readState(t, store).products {
		for _, l := range p.Levels {
			if want := held[l.Product+"@"+l.Outlet]; l.Reserved != want {
				t.Errorf("level %s@%s: Reserved %d, but open reservations hold %d", l.Product, l.Outlet, l.Reserved, want)
			}
			if l.Reserved < 0 {
				t.Errorf("level %s@%s: Reserved %d below zero", l.Product, l.Outlet, l.Reserved)
			}
		}
	}
}

func productIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%03d", i)
	}
	return ids
}

package storetest

import (
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// testTxWrites checks that a Tx's writes copy the slices they are given:
// the Service reuses its working slices once a write returns, so a Store
// that kept them would commit whatever the Service wrote into them next.
func testTxWrites(t *testing.T, newStore NewStore) {
	t.Parallel()
	s := newStore(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	levels := []onlinestock.Level{
		{Product: "p1", Outlet: "a", OnHand: 5, Reserved: 1, Version: 1},
		{Product: "p2", Outlet: "a", OnHand: 7, Version: 1},
	}
	movements := []onlinestock.Movement{
		{Time: at, Product: "p1", Outlet: "a", Kind: onlinestock.MovedBySet, OnHandDelta: 5, OnHand: 5, Version: 1},
		{Time: at, Product: "p1", Outlet: "a", Kind: onlinestock.MovedByReserve, Ref: "o1", ReservedDelta: 1, OnHand: 5, Reserved: 1, Version: 1},
		{Time: at, Product: "p2", Outlet: "a", Kind: onlinestock.MovedBySet, OnHandDelta: 7, OnHand: 7, Version: 1},
	}
	events := []onlinestock.Event{
		{Kind: onlinestock.ProductEnabled, Time: at, Product: "p1"},
		{Kind: onlinestock.ProductEnabled, Time: at, Product: "p2"},
	}
	enable := []string{"p1", "p2"}
	claims := []onlinestock.KeyClaim{{Key: "k1", Change: "one"}, {Key: "k2", Change: "two"}}
	wantLevels := clone(levels)
	wantMovements := clone(movements)
	wantEvents := clone(events)
	err := s.Update(ctx(t), func(tx onlinestock.Tx) error {
		if _, err := tx.Setup(ctx(t)); err != nil {
			return err
		}
		if err := tx.PutLevels(ctx(t), levels); err != nil {
			return err
		}
		if err := tx.AppendMovements(ctx(t), movements); err != nil {
			return err
		}
		if err := tx.AppendEvents(ctx(t), events); err != nil {
			return err
		}
		if err := tx.SetEnabled(ctx(t), enable, true); err != nil {
			return err
		}
		if _, err := tx.ClaimKeys(ctx(t), claims, at, at.Add(-time.Hour)); err != nil {
			return err
		}
		// Everything given is overwritten before the commit.
		for i := range levels {
			levels[i] = onlinestock.Level{Product: "zz", Outlet: "zz", OnHand: 99}
		}
		for i := range movements {
			movements[i] = onlinestock.Movement{Time: at, Product: "zz", Outlet: "zz", Kind: onlinestock.MovedByAdjust, OnHandDelta: 99}
		}
		for i := range events {
			events[i] = onlinestock.Event{Kind: onlinestock.ProductDisabled, Time: at, Product: "zz"}
		}
		enable[0], enable[1] = "zz", "zz"
		claims[0], claims[1] = onlinestock.KeyClaim{Key: "zz", Change: "zz"}, onlinestock.KeyClaim{Key: "zz", Change: "zz"}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	var gotLevels []onlinestock.Level
	var enabled []bool
	var prior []string
	err = s.View(ctx(t), func(tx onlinestock.Tx) error {
		products, err := tx.Products(ctx(t), []string{"p1", "p2", "zz"})
		for _, p := range products {
			gotLevels = append(gotLevels, p.Levels...)
			enabled = append(enabled, p.Enabled)
		}
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if diff := gocmp.Diff(wantLevels, gotLevels); diff != "" {
		t.Errorf("levels committed (-put +got):\n%s", diff)
	}
	if diff := gocmp.Diff([]bool{true, true}, enabled); diff != "" {
		t.Errorf("products enabled (-want +got):\n%s", diff)
	}
	gotMovements, err := s.Movements(ctx(t), onlinestock.MovementFilter{Limit: 10})
	if err != nil {
		t.Fatalf("Movements: %v", err)
	}
	for i := range wantMovements {
		wantMovements[i].Seq = uint64(i + 1)
	}
	if diff := gocmp.Diff(wantMovements, gotMovements); diff != "" {
		t.Errorf("movements committed (-appended +got):\n%s", diff)
	}
	gotEvents, err := s.EventsSince(ctx(t), 0, 10)
	if err != nil {
		t.Fatalf("EventsSince: %v", err)
	}
	for i := range wantEvents {
		wantEvents[i].Seq = uint64(i + 1)
	}
	if diff := gocmp.Diff(wantEvents, gotEvents); diff != "" {
		t.Errorf("events committed (-appended +got):\n%s", diff)
	}
	err = s.Update(ctx(t), func(tx onlinestock.Tx) error {
		var err error
		prior, err = tx.ClaimKeys(ctx(t), []onlinestock.KeyClaim{{Key: "k1", Change: "one"}, {Key: "k2", Change: "two"}, {Key: "zz", Change: "three"}}, at, at.Add(-time.Hour))
		return err
	})
	if err != nil {
		t.Fatalf("ClaimKeys again: %v", err)
	}
	if diff := gocmp.Diff([]string{"one", "two", ""}, prior); diff != "" {
		t.Errorf("keys claimed (-want +got):\n%s", diff)
	}
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }

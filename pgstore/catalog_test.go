package pgstore_test

import (
	"context"
	"testing"

	"github.com/onlinestock/onlinestock"
)

// TestCatalogCacheFollowsOtherProcesses runs two Stores on one tenant, as
// two processes would: each caches the catalog with the setup, by its
// version, and a page, a quote or a stock change on one sees the bundles
// and backorder policies the other changed, at once.
func TestCatalogCacheFollowsOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoProcesses(t)
	var err error
	_, err = a.Apply(ctx, []onlinestock.Change{onlinestock.Set("soap", "north", 6), onlinestock.Set("towel", "north", 1)})
	must(t, err)
	must(t, a.SaveBundle(ctx, onlinestock.Bundle{ID: "kit", Components: []onlinestock.Component{{Product: "soap", Quantity: 2}}}))
	must(t, a.EnableOnline(ctx, "kit", "soap", "towel"))
	quantity := func(svc *onlinestock.Service, product string) int64 {
		got, err := svc.Availability(ctx, product)
		must(t, err)
		return got[0].Quantity
	}
	for _, svc := range []*onlinestock.Service{a, b} { // both cache, and read a page from their cache
		for range 2 {
			if got := quantity(svc, "kit"); got != 3 {
				t.Fatalf("kit: %d, want 3", got)
			}
		}
	}
	// b redefines the kit: a's next page reads the new definition.
	must(t, b.SaveBundle(ctx, onlinestock.Bundle{ID: "kit", Components: []onlinestock.Component{{Product: "soap", Quantity: 2}, {Product: "towel", Quantity: 1}}}))
	if got := quantity(a, "kit"); got != 1 {
		t.Fatalf("kit after the other Store redefined it: %d, want 1", got)
	}
	// b deletes the kit and gives the soap a backorder policy: a quotes
	// and takes stock by them.
	must(t, b.DeleteBundle(ctx, "kit"))
	must(t, b.SetBackorder(ctx, onlinestock.Backorder{Product: "soap", Limit: 4}))
	q, err := a.Quote(ctx, onlinestock.Cart{Lines: []onlinestock.Line{{Product: "soap", Quantity: 9}}})
	must(t, err)
	if !q.Purchasable || q.Products[0].Backordered != 3 {
		t.Fatalf("Quote(9 soaps) after the other Store's policy = %+v, want 3 backordered", q.Products)
	}
	if _, err := a.Apply(ctx, []onlinestock.Change{onlinestock.Set("kit", "north", 1)}); err != nil {
		t.Fatalf("stock for a former bundle, deleted by the other Store: %v", err)
	}
	if got := quantity(a, "soap"); got != 10 {
		t.Fatalf("soap: %d, want its 6 and 4 to backorder", got)
	}
}

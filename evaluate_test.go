package onlinestock_test

import (
	"errors"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// evaluateSnapshot is a snapshot Evaluate accepts: outlets a (connected)
// and b (not), product mug at both, and a method of every kind of link.
func evaluateSnapshot() onlinestock.Snapshot {
	return onlinestock.Snapshot{
		Outlets: []onlinestock.Outlet{{ID: "a", Connected: true}, {ID: "b"}},
		Products: []onlinestock.Product{{ID: "mug", Enabled: true, Levels: []onlinestock.Level{
			{Product: "mug", Outlet: "a", OnHand: 3},
			{Product: "mug", Outlet: "b", OnHand: 9},
		}}},
		Methods: []onlinestock.Method{
			{ID: "post", Name: "Post", Kind: onlinestock.Shipping},
			{ID: "pickup-a", Name: "Pickup A", Kind: onlinestock.Pickup, Outlet: "a", Rule: onlinestock.Restrict},
			{ID: "pickup-b", Name: "Pickup B", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict},
		},
		Primary: "a",
	}
}

func TestEvaluateRejectsSnapshotsAndCartsItCannotEvaluate(t *testing.T) {
	t.Parallel()
	mug := onlinestock.Cart{Lines: []onlinestock.Line{{Product: "mug", Quantity: 1}}}
	withMethod := func(m onlinestock.Method) onlinestock.Snapshot {
		snap := evaluateSnapshot()
		snap.Methods = append(snap.Methods, m)
		return snap
	}
	tests := []struct {
		name string
		snap onlinestock.Snapshot
		cart onlinestock.Cart
	}{
		{"a Restrict method without an outlet", withMethod(onlinestock.Method{ID: "x", Name: "X", Kind: onlinestock.Pickup, Rule: onlinestock.Restrict}), mug},
		{"a Restrict method whose outlet is not in the snapshot", withMethod(onlinestock.Method{ID: "x", Name: "X", Kind: onlinestock.Pickup, Outlet: "gone", Rule: onlinestock.Restrict}), mug},
		{"an AllowAll method whose outlet is not in the snapshot", withMethod(onlinestock.Method{ID: "x", Name: "X", Kind: onlinestock.Shipping, Outlet: "gone"}), mug},
		{"a method with an unknown rule", withMethod(onlinestock.Method{ID: "x", Name: "X", Kind: onlinestock.Shipping, Outlet: "a", Rule: "sometimes"}), mug},
		{"a Restrict method without an outlet in a snapshot without outlets", onlinestock.Snapshot{Methods: []onlinestock.Method{{ID: "x", Name: "X", Kind: onlinestock.Pickup, Rule: onlinestock.Restrict}}}, mug},
		{"an empty cart", evaluateSnapshot(), onlinestock.Cart{}},
		{"a line of 0 units", evaluateSnapshot(), onlinestock.Cart{Lines: []onlinestock.Line{{Product: "mug", Quantity: 0}}}},
		{"a line above MaxLineQuantity", evaluateSnapshot(), onlinestock.Cart{Lines: []onlinestock.Line{{Product: "mug", Quantity: onlinestock.MaxLineQuantity + 1}}}},
		{"a line without a product", evaluateSnapshot(), onlinestock.Cart{Lines: []onlinestock.Line{{Quantity: 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is ErrInvalid", func(t *testing.T) {
			t.Parallel()
			q, err := onlinestock.Evaluate(tc.snap, tc.cart, onlinestock.QuoteOptions{})
			if !errors.Is(err, onlinestock.ErrInvalid) {
				t.Fatalf("Evaluate() = %+v, %v; want ErrInvalid", q, err)
			}
			if diff := gocmp.Diff(onlinestock.Quote{}, q); diff != "" {
				t.Errorf("Evaluate() quote beside its error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateOffersByRule(t *testing.T) {
	t.Parallel()
	q, err := onlinestock.Evaluate(evaluateSnapshot(), onlinestock.Cart{Lines: []onlinestock.Line{{Product: "mug", Quantity: 2}, {Product: "mug", Quantity: 2}}}, onlinestock.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var offered []string
	for _, m := range q.Offered() {
		offered = append(offered, m.ID)
	}
	// 4 mugs: a has 3, so its Restrict method is short; b is not
	// connected, so its method is orphaned and evaluated as AllowAll; online
	// stock (a's 3) does not cover 4, so nothing is offered.
	if q.Purchasable || len(offered) != 0 {
		t.Errorf("Evaluate() of 4 mugs: purchasable %v, offered %v; want neither", q.Purchasable, offered)
	}
	q, err = onlinestock.Evaluate(evaluateSnapshot(), onlinestock.Cart{Lines: []onlinestock.Line{{Product: "mug", Quantity: 3}}}, onlinestock.QuoteOptions{HideOrphanedMethods: true})
	if err != nil {
		t.Fatal(err)
	}
	offered = offered[:0]
	for _, m := range q.Offered() {
		offered = append(offered, m.ID)
	}
	if diff := gocmp.Diff([]string{"post", "pickup-a"}, offered); diff != "" {
		t.Errorf("Evaluate() of 3 mugs, orphans hidden: offered mismatch (-want +got):\n%s", diff)
	}
}

package onlinestock_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/onlinestock/onlinestock"
)

// The pure rules (online stock, labels, quotes) checked against references
// written the obvious way, from the package documentation, over random inputs.

var outletPool = []string{"o0", "o1", "o2", "o3", "o4"}

// genOutlets draws distinct outlets, sorted by ID.
func genOutlets(t *rapid.T) []onlinestock.Outlet {
	ids := rapid.SliceOfNDistinct(rapid.SampledFrom(outletPool), 1, len(outletPool), rapid.ID[string]).Draw(t, "outletIDs")
	slices.Sort(ids)
	outlets := make([]onlinestock.Outlet, len(ids))
	for i, id := range ids {
		outlets[i] = onlinestock.Outlet{
			ID:        id,
			Connected: rapid.Bool().Draw(t, "connected"),
			Buffer:    rapid.Int64Range(0, 5).Draw(t, "buffer"),
			Rank:      rapid.IntRange(0, 3).Draw(t, "rank"),
		}
	}
	return outlets
}

// genLevels draws levels of one product at some of the outlets, sorted by
// outlet, now and then at an outlet that is not in the list.
func genLevels(t *rapid.T, product string, outlets []onlinestock.Outlet) []onlinestock.Level {
	ids := make([]string, 0, len(outlets)+1)
	for _, o := range outlets {
		ids = append(ids, o.ID)
	}
	ids = append(ids, "unknown")
	at := rapid.SliceOfNDistinct(rapid.SampledFrom(ids), 0, len(ids), rapid.ID[string]).Draw(t, "levelOutlets")
	slices.Sort(at)
	levels := make([]onlinestock.Level, len(at))
	for i, o := range at {
		levels[i] = onlinestock.Level{
			Product:  product,
			Outlet:   o,
			OnHand:   rapid.Int64Range(-10, 20).Draw(t, "onHand"),
			Reserved: rapid.Int64Range(0, 8).Draw(t, "reserved"),
		}
	}
	return levels
}

// referenceOnline is the online stock rule written out: for each level, if its outlet is
// known and connected, add max(0, OnHand − Reserved − Buffer).
func referenceOnline(levels []onlinestock.Level, outlets []onlinestock.Outlet) int64 {
	var total int64
	for _, l := range levels {
		for _, o := range outlets {
			if o.ID == l.Outlet && o.Connected {
				if n := l.OnHand - l.Reserved - o.Buffer; n > 0 {
					total += n
				}
			}
		}
	}
	return total
}

func shuffled[T any](t *rapid.T, s []T, label string) []T {
	perm := rapid.Permutation(s).Draw(t, label)
	return perm
}

func withConnected(outlets []onlinestock.Outlet, id string, connected bool) []onlinestock.Outlet {
	out := slices.Clone(outlets)
	for i := range out {
		if out[i].ID == id {
			out[i].Connected = connected
		}
	}
	return out
}

func TestOnlineStockAgreesWithTheFormulaWhateverTheOrder(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		outlets := genOutlets(t)
		levels := genLevels(t, "p", outlets)
		want := referenceOnline(levels, outlets)
		if got := onlinestock.OnlineStock(levels, outlets); got != want {
			t.Fatalf("OnlineStock(sorted) = %d, want %d", got, want)
		}
		ls, os := shuffled(t, levels, "levelOrder"), shuffled(t, outlets, "outletOrder")
		if got := onlinestock.OnlineStock(ls, os); got != want {
			t.Fatalf("OnlineStock(%v, %v) = %d, want %d", ls, os, got, want)
		}
	})
}

func TestConnectingNeverLowersAndDisconnectingNeverRaisesOnlineStock(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		outlets := genOutlets(t)
		levels := genLevels(t, "p", outlets)
		o := rapid.SampledFrom(outlets).Draw(t, "outlet")
		now := onlinestock.OnlineStock(levels, outlets)
		on := onlinestock.OnlineStock(levels, withConnected(outlets, o.ID, true))
		off := onlinestock.OnlineStock(levels, withConnected(outlets, o.ID, false))
		if on < now {
			t.Fatalf("connecting %s lowered online stock from %d to %d", o.ID, now, on)
		}
		if off > now {
			t.Fatalf("disconnecting %s raised online stock from %d to %d", o.ID, now, off)
		}
		roundTrip := onlinestock.OnlineStock(levels, withConnected(withConnected(outlets, o.ID, true), o.ID, o.Connected))
		if roundTrip != now {
			t.Fatalf("connecting then restoring %s gives %d, want %d", o.ID, roundTrip, now)
		}
		back := onlinestock.OnlineStock(levels, withConnected(withConnected(outlets, o.ID, false), o.ID, true))
		if back != on {
			t.Fatalf("disconnecting then reconnecting %s gives %d, want %d", o.ID, back, on)
		}
	})
}

func TestANegativeOutletNeverCancelsAnothersStock(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		outlets := genOutlets(t)
		levels := genLevels(t, "p", outlets)
		// Dropping every level that is at or below zero after reservations
		// and buffer changes nothing.
		positive := slices.DeleteFunc(slices.Clone(levels), func(l onlinestock.Level) bool {
			k := slices.IndexFunc(outlets, func(o onlinestock.Outlet) bool { return o.ID == l.Outlet })
			return k < 0 || l.OnHand-l.Reserved-outlets[k].Buffer <= 0
		})
		if got, want := onlinestock.OnlineStock(levels, outlets), onlinestock.OnlineStock(positive, outlets); got != want {
			t.Fatalf("OnlineStock with negative outlets = %d, without = %d", got, want)
		}
		for _, l := range levels {
			for _, o := range outlets {
				if o.ID == l.Outlet && o.Connected && onlinestock.OnlineStock(levels, outlets) < l.OnHand-l.Reserved-o.Buffer {
					t.Fatalf("online stock %d is less than outlet %s alone offers", onlinestock.OnlineStock(levels, outlets), o.ID)
				}
			}
		}
	})
}

func TestBuffersAreNeverSold(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		outlets := genOutlets(t)
		levels := genLevels(t, "p", outlets)
		online := onlinestock.OnlineStock(levels, outlets)
		// Online stock plus what the buffers hold back never exceeds the
		// free stock of the connected outlets.
		var free, held int64
		for _, l := range levels {
			for _, o := range outlets {
				if o.ID == l.Outlet && o.Connected {
					f := max(0, l.OnHand-l.Reserved)
					free += f
					held += min(o.Buffer, f)
				}
			}
		}
		if online+held > free {
			t.Fatalf("online %d + buffered %d > free %d: a buffered unit is offered", online, held, free)
		}
		o := rapid.SampledFrom(outlets).Draw(t, "outlet")
		more := slices.Clone(outlets)
		for i := range more {
			if more[i].ID == o.ID {
				more[i].Buffer += rapid.Int64Range(1, 5).Draw(t, "more")
			}
		}
		if after := onlinestock.OnlineStock(levels, more); after > online {
			t.Fatalf("raising the buffer of %s raised online stock from %d to %d", o.ID, online, after)
		}
	})
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		enabled  bool
		online   int64
		lowStock int64
		want     onlinestock.Availability
	}{
		{"a product not enabled is not for sale, whatever its stock", false, 9, 3, onlinestock.Unlisted},
		{"no stock is sold out", true, 0, 3, onlinestock.Availability{Label: onlinestock.SoldOut}},
		{"one unit is low stock", true, 1, 3, onlinestock.Availability{Quantity: 1, Label: onlinestock.LowStock}},
		{"the threshold itself is low stock", true, 3, 3, onlinestock.Availability{Quantity: 3, Label: onlinestock.LowStock}},
		{"above the threshold is in stock", true, 4, 3, onlinestock.Availability{Quantity: 4, Label: onlinestock.InStock}},
		{"a zero threshold turns low stock off", true, 1, 0, onlinestock.Availability{Quantity: 1, Label: onlinestock.InStock}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := gocmp.Diff(tc.want, onlinestock.Classify(tc.enabled, tc.online, tc.lowStock)); diff != "" {
				t.Errorf("Classify() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("every label follows the label rules", rapid.MakeCheck(func(t *rapid.T) {
		enabled := rapid.Bool().Draw(t, "enabled")
		online := rapid.Int64Range(0, 20).Draw(t, "online")
		lowStock := rapid.Int64Range(0, 10).Draw(t, "lowStock")
		got := onlinestock.Classify(enabled, online, lowStock)
		var want onlinestock.Availability
		switch {
		case !enabled:
			want = onlinestock.Availability{Quantity: 0, Label: onlinestock.NotForSale}
		case online == 0:
			want = onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut}
		case lowStock > 0 && online <= lowStock:
			want = onlinestock.Availability{Quantity: online, Label: onlinestock.LowStock}
		default:
			want = onlinestock.Availability{Quantity: online, Label: onlinestock.InStock}
		}
		if got != want {
			t.Fatalf("Classify(%v, %d, %d) = %+v, want %+v", enabled, online, lowStock, got, want)
		}
	}))
}

// referenceQuote is the shipping rules written out by brute force.
func referenceQuote(snap onlinestock.Snapshot, cart onlinestock.Cart, hide bool) onlinestock.Quote {
	totals := map[string]int64{}
	for _, l := range cart.Lines {
		totals[l.Product] += l.Quantity
	}
	var products []string
	for p := range totals {
		products = append(products, p)
	}
	slices.Sort(products)
	product := func(id string) (onlinestock.Product, bool) {
		for _, p := range snap.Products {
			if p.ID == id {
				return p, true
			}
		}
		return onlinestock.Product{}, false
	}
	outlet := func(id string) onlinestock.Outlet {
		for _, o := range snap.Outlets {
			if o.ID == id {
				return o
			}
		}
		return onlinestock.Outlet{}
	}
	at := func(p onlinestock.Product, o onlinestock.Outlet) int64 {
		for _, l := range p.Levels {
			if l.Outlet == o.ID && o.Connected {
				return max(0, l.OnHand-l.Reserved-o.Buffer)
			}
		}
		return 0
	}
	q := onlinestock.Quote{Purchasable: true}
	for _, id := range products {
		pq := onlinestock.ProductQuote{Product: id, Requested: totals[id], Status: onlinestock.LineNotForSale}
		if p, ok := product(id); ok && p.Enabled {
			for _, o := range snap.Outlets {
				pq.Available += at(p, o)
			}
			pq.Status = onlinestock.LineOK
			if pq.Available < pq.Requested {
				pq.Status = onlinestock.LineShort
			}
		}
		q.Purchasable = q.Purchasable && pq.Status == onlinestock.LineOK
		q.Products = append(q.Products, pq)
	}
	for _, m := range snap.Methods {
		mq := onlinestock.MethodQuote{Method: m, Orphaned: m.Outlet != "" && !outlet(m.Outlet).Connected}
		switch {
		case mq.Orphaned && hide:
			mq.Reason = onlinestock.ReasonHidden
		case !q.Purchasable:
			mq.Reason = onlinestock.ReasonNotPurchasable
		case m.Rule == onlinestock.Restrict && !mq.Orphaned:
			for _, id := range products {
				p, _ := product(id)
				if have := at(p, outlet(m.Outlet)); have < totals[id] {
					mq.Shortfalls = append(mq.Shortfalls, onlinestock.Shortfall{Product: id, Requested: totals[id], Available: have, Status: onlinestock.LineShort})
				}
			}
			if len(mq.Shortfalls) > 0 {
				mq.Reason = onlinestock.ReasonOutletShort
			}
		}
		mq.Offered = mq.Reason == onlinestock.ReasonNone
		q.Methods = append(q.Methods, mq)
	}
	return q
}

func TestEvaluateAgreesWithABruteForceReference(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		outlets := genOutlets(t)
		snap := onlinestock.Snapshot{Outlets: outlets, Primary: outlets[0].ID}
		for _, id := range rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"p", "q", "r"}), 0, 3, rapid.ID[string]).Draw(t, "products") {
			snap.Products = append(snap.Products, onlinestock.Product{ID: id, Enabled: rapid.IntRange(0, 4).Draw(t, "enabled") > 0, Levels: genLevels(t, id, outlets)})
		}
		slices.SortFunc(snap.Products, func(a, b onlinestock.Product) int { return cmp.Compare(a.ID, b.ID) })
		for i := range rapid.IntRange(0, 4).Draw(t, "methods") {
			m := onlinestock.Method{ID: fmt.Sprintf("m%d", i), Name: "M", Kind: onlinestock.Shipping, Rule: onlinestock.AllowAll}
			if rapid.Bool().Draw(t, "linked") {
				m.Outlet = rapid.SampledFrom(outlets).Draw(t, "methodOutlet").ID
				if rapid.Bool().Draw(t, "restrict") {
					m.Rule = onlinestock.Restrict
				}
			}
			snap.Methods = append(snap.Methods, m)
		}
		var cart onlinestock.Cart
		for range rapid.IntRange(1, 4).Draw(t, "lines") {
			cart.Lines = append(cart.Lines, onlinestock.Line{
				Product:  rapid.SampledFrom([]string{"p", "q", "r", "s"}).Draw(t, "lineProduct"),
				Quantity: rapid.Int64Range(1, 8).Draw(t, "lineQuantity"),
			})
		}
		hide := rapid.Bool().Draw(t, "hide")
		got, err := onlinestock.Evaluate(snap, cart, onlinestock.QuoteOptions{HideOrphanedMethods: hide})
		if err != nil {
			t.Fatalf("Evaluate() of a valid snapshot and cart: %v", err)
		}
		if diff := gocmp.Diff(referenceQuote(snap, cart, hide), got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Evaluate() mismatch (-want +got):\n%s", diff)
		}
		var offered []onlinestock.Method
		for _, mq := range got.Methods {
			if mq.Offered {
				offered = append(offered, mq.Method)
			}
		}
		if diff := gocmp.Diff(offered, got.Offered(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Quote.Offered() mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestAllocatorsOrderEveryConnectedOutletOnce(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		outlets := genOutlets(t)
		req := onlinestock.AllocationRequest{Outlets: outlets, Primary: rapid.SampledFrom(outlets).Draw(t, "primary").ID}
		for _, id := range []string{"p", "q"} {
			req.Products = append(req.Products, onlinestock.Product{ID: id, Enabled: true, Levels: genLevels(t, id, outlets)})
			req.Lines = append(req.Lines, onlinestock.Line{Product: id, Quantity: rapid.Int64Range(1, 6).Draw(t, "quantity")})
		}
		// FewestShipments: the primary, then ranked outlets by rank, then the
		// unranked, each group by ID.
		want := slices.Clone(outlets)
		group := func(o onlinestock.Outlet) int {
			switch {
			case o.ID == req.Primary:
				return 0
			case o.Rank > 0:
				return 1
			}
			return 2
		}
		slices.SortFunc(want, func(a, b onlinestock.Outlet) int {
			return cmp.Or(cmp.Compare(group(a), group(b)), cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.ID, b.ID))
		})
		var wantIDs []string
		for _, o := range want {
			wantIDs = append(wantIDs, o.ID)
		}
		if diff := gocmp.Diff(wantIDs, onlinestock.FewestShipments{}.OutletOrder(req)); diff != "" {
			t.Fatalf("FewestShipments.OutletOrder() mismatch (-want +got):\n%s", diff)
		}
		// MostStockFirst: by what each outlet can give of the order, most
		// first, ties in the FewestShipments order.
		gives := map[string]int64{}
		for _, o := range outlets {
			for _, l := range req.Lines {
				gives[o.ID] += min(l.Quantity, req.Available(l.Product, o.ID))
			}
		}
		slices.SortStableFunc(wantIDs, func(a, b string) int { return cmp.Compare(gives[b], gives[a]) })
		if diff := gocmp.Diff(wantIDs, onlinestock.MostStockFirst{}.OutletOrder(req)); diff != "" {
			t.Fatalf("MostStockFirst.OutletOrder() mismatch (-want +got):\n%s", diff)
		}
	})
}

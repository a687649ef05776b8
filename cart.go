package onlinestock

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// MaxLineQuantity bounds a cart or order line: it asks for 1 to
// MaxLineQuantity units. Beyond it, the line is ErrInvalid.
const MaxLineQuantity = 1e9

// Line is a product and a quantity in a cart or an order.
type Line struct {
	Product  string `json:"product"`
	Quantity int64  `json:"quantity"`
}

// Cart is what a customer is checking out. Lines for the same product are
// summed.
type Cart struct {
	Lines []Line `json:"lines"`
}

// totals validates the lines and sums them per product, sorted by product.
func totals(lines []Line) ([]Line, error) {
	if len(lines) == 0 {
		return nil, invalid("lines", "empty")
	}
	if len(lines) > MaxBatch {
		return nil, invalid("lines", "%d lines, more than %d", len(lines), MaxBatch)
	}
	for i, l := range lines {
		if err := checkID("product", l.Product); err != nil {
			return nil, fmt.Errorf("lines[%d]: %w", i, err)
		}
		if err := checkRange("quantity", l.Quantity, 1, MaxLineQuantity); err != nil {
			return nil, fmt.Errorf("lines[%d]: %w", i, err)
		}
	}
	return sumLines(lines), nil
}

func lineProducts(lines []Line) []string {
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = l.Product
	}
	return ids
}

// sumLines sums lines per product, sorted by product, without validating.
func sumLines(lines []Line) []Line {
	out := slices.Clone(lines)
	slices.SortFunc(out, func(a, b Line) int { return cmp.Compare(a.Product, b.Product) })
	n := 0
	for _, l := range out {
		if n > 0 && out[n-1].Product == l.Product {
			out[n-1].Quantity += l.Quantity
			continue
		}
		out[n] = l
		n++
	}
	return out[:n]
}

// cartStock is a cart's demand and what a snapshot's outlets offer of it:
// the part of the evaluator that [Service.Reserve] shares, so that a
// method is offered exactly when reserving with it succeeds.
//
// The cart's lines are summed per product. A bundle's lines are expanded
// into its components, and what the cart needs of each product that holds
// stock (a row) is summed over every line that needs it, the product's own
// lines and the bundles', before anything is checked or allocated.
type cartStock struct {
	lines   []Line // summed per product, sorted
	outlets []Outlet
	// rows are the products that hold the stock the cart takes: the
	// products of its ordinary lines and the components of its bundles,
	// sorted. The stock table's rows are these.
	table   stockTable
	own     []int64 // own[r]: the units of rows[r] its own lines ask for
	bundled []int64 // bundled[r]: the units of rows[r] the cart's bundles take
	kits    []kit   // the cart's bundle lines, in line order
	online  []int64 // online[r]: rows[r]'s online stock
	// allow[r] is how many units of rows[r] may be backordered, at the
	// outlet designated[r] (an index into outlets, or -1).
	allow      []int64
	designated []int

	products    []ProductQuote // per line
	components  []ProductQuote // per row a bundle of the cart needs
	purchasable bool
}

// kit is a bundle line of a cart: units of a bundle, each made of parts.
type kit struct {
	line       int // index into lines
	units      int64
	parts      []kitPart   // per component, in the order of components
	components []Component // the bundle's definition
}

// kitPart is one component of a kit: its row, and the units of it one unit
// of the bundle takes.
type kitPart struct {
	row int
	per int64
}

// stockTable is what each outlet can give of each of a list of products.
type stockTable struct {
	products []string
	outlets  []Outlet
	avail    []int64 // avail[r*len(outlets)+j]: what outlet j gives of products[r]
}

// row returns what each outlet gives of product r.
func (t *stockTable) row(r int) []int64 {
	n := len(t.outlets)
	return t.avail[r*n : (r+1)*n]
}

// at is what outlet j gives of product r.
func (t *stockTable) at(r, j int) int64 { return t.avail[r*len(t.outlets)+j] }

// addSat adds without overflowing: a cart's demand is only ever compared
// with stock, which lies far below the cap.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// mulSat multiplies two non-negative numbers without overflowing.
func mulSat(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// newCartStock works out a cart's demand (lines summed and sorted) on a
// snapshot, and whether online stock covers it, line by line and product
// by product.
func newCartStock(snap Snapshot, lines []Line) cartStock {
	cat := snap.Catalog
	cs := cartStock{lines: lines, outlets: snap.Outlets, purchasable: true}
	rows := make([]string, 0, len(lines))
	for _, l := range lines {
		if b, ok := cat.Bundle(l.Product); ok {
			for _, c := range b.Components {
				rows = append(rows, c.Product)
			}
			continue
		}
		rows = append(rows, l.Product)
	}
	if len(rows) > len(lines) || !slices.IsSorted(rows) {
		slices.Sort(rows)
		rows = slices.Compact(rows)
	}
	n := len(snap.Outlets)
	// One allocation for the table and the four per-row counts.
	m := len(rows)
	counts := make([]int64, m*(n+4))
	cs.table = stockTable{products: rows, outlets: snap.Outlets, avail: counts[: m*n : m*n]}
	counts = counts[m*n:]
	cs.own, cs.bundled, cs.online, cs.allow = counts[:m:m], counts[m:2*m:2*m], counts[2*m:3*m:3*m], counts[3*m:4*m:4*m]
	cs.designated = make([]int, m)
	online := cs.online
	for r, id := range rows {
		cs.designated[r] = -1
		p, ok := findProduct(snap.Products, id)
		if !ok {
			continue
		}
		row := cs.table.row(r)
		hint := 0
		for k := range p.Levels {
			if j, ok := locate(snap.Outlets, p.Levels[k].Outlet, &hint); ok {
				row[j] = contribution(&p.Levels[k], &snap.Outlets[j])
				online[r] += row[j]
			}
		}
		if b, ok := cat.Backorder(id); ok {
			if j, ok := designatedOutlet(b, snap.Outlets, snap.Primary); ok {
				var l Level
				if k, ok := slices.BinarySearchFunc(p.Levels, snap.Outlets[j].ID, byOutlet); ok {
					l = p.Levels[k]
				}
				cs.allow[r], cs.designated[r] = allowance(b, &l, &snap.Outlets[j]), j
			}
		}
	}
	rowOf := func(id string) int { r, _ := slices.BinarySearch(rows, id); return r }

	cs.products = make([]ProductQuote, len(lines))
	for i, l := range lines {
		pq := ProductQuote{Product: l.Product, Requested: l.Quantity, Status: LineNotForSale}
		p, found := findProduct(snap.Products, l.Product)
		enabled := found && p.Enabled
		if b, ok := cat.Bundle(l.Product); ok {
			k := kit{line: i, units: l.Quantity, components: b.Components}
			for _, c := range b.Components {
				r := rowOf(c.Product)
				k.parts = append(k.parts, kitPart{row: r, per: c.Quantity})
				cs.bundled[r] = addSat(cs.bundled[r], mulSat(l.Quantity, c.Quantity))
			}
			cs.kits = append(cs.kits, k)
			if enabled {
				pq.Available = cs.assemblable(k)
			}
		} else {
			r := rowOf(l.Product)
			cs.own[r] = l.Quantity
			if enabled {
				// What may be backordered counts as available.
				pq.Available = addSat(online[r], cs.allow[r])
				if l.Quantity <= pq.Available {
					pq.Backordered = max(0, l.Quantity-online[r])
				}
				if b, _ := cat.Backorder(l.Product); pq.Backordered > 0 {
					pq.Expected = b.Expected
				}
			}
		}
		if enabled {
			pq.Status = LineOK
			if pq.Available < l.Quantity {
				pq.Status = LineShort
			}
		}
		cs.purchasable = cs.purchasable && pq.Status == LineOK
		cs.products[i] = pq
	}
	if len(cs.kits) == 0 {
		return cs
	}
	// The cart's whole demand for each component: bundles and own lines.
	for r, id := range rows {
		if cs.bundled[r] == 0 {
			continue
		}
		pq := ProductQuote{Product: id, Requested: addSat(cs.own[r], cs.bundled[r]), Available: online[r], Status: LineOK}
		if pq.Requested > pq.Available {
			pq.Status = LineShort
			cs.purchasable = false
		}
		cs.components = append(cs.components, pq)
	}
	return cs
}

// request is what the allocator ranks outlets for: the cart's demand per
// product that holds stock, bundles counted in their components.
func (cs *cartStock) request(snap Snapshot) AllocationRequest {
	demand := make([]Line, 0, len(cs.table.products))
	for r, id := range cs.table.products {
		if n := addSat(cs.own[r], cs.bundled[r]); n > 0 {
			demand = append(demand, Line{Product: id, Quantity: n})
		}
	}
	return AllocationRequest{Lines: demand, Outlets: snap.Outlets, Products: snap.Products, Primary: snap.Primary}
}

// assemblable is the units of k the connected outlets can assemble
// together, each from its own stock: the kit's bundle's online stock.
func (cs *cartStock) assemblable(k kit) int64 {
	var total int64
	for j := range cs.outlets {
		total += cs.unitsAt(k, j, cs.table.avail)
	}
	return total
}

// unitsAt is the units of k outlet j can assemble from avail.
func (cs *cartStock) unitsAt(k kit, j int, avail []int64) int64 {
	units := int64(math.MaxInt64)
	n := len(cs.outlets)
	for _, p := range k.parts {
		units = min(units, avail[p.row*n+j]/p.per)
	}
	return units
}

// shortfalls lists what the cart lacks: each line and each component
// whose status is not OK.
func (cs *cartStock) shortfalls() []Shortfall {
	var out []Shortfall
	for _, list := range [][]ProductQuote{cs.products, cs.components} {
		for _, p := range list {
			if p.Status != LineOK {
				out = append(out, Shortfall{Product: p.Product, Requested: p.Requested, Available: p.Available, Status: p.Status})
			}
		}
	}
	return out
}

// outletShortfalls lists what outlet j alone lacks to fill the cart, per
// product that holds stock, the cart's lines summed with its bundles'. What
// may be backordered at j counts as what it has.
func (cs *cartStock) outletShortfalls(j int) []Shortfall {
	var out []Shortfall
	for r, id := range cs.table.products {
		need := addSat(cs.own[r], cs.bundled[r])
		have := cs.table.at(r, j)
		if cs.designated[r] == j {
			have = addSat(have, cs.allow[r])
		}
		if have < need {
			out = append(out, Shortfall{Product: id, Requested: need, Available: have, Status: LineShort})
		}
	}
	return out
}

func (cs *cartStock) quoteMethod(m Method, opts QuoteOptions) MethodQuote {
	mq := MethodQuote{Method: m, Orphaned: orphaned(m, cs.outlets)}
	switch {
	case mq.Orphaned && opts.HideOrphanedMethods:
		mq.Reason = ReasonHidden
	case !cs.purchasable:
		mq.Reason = ReasonNotPurchasable
	case m.Rule == Restrict && !mq.Orphaned:
		j, _ := outletIndex(cs.outlets, m.Outlet)
		if mq.Shortfalls = cs.outletShortfalls(j); len(mq.Shortfalls) > 0 {
			mq.Reason = ReasonOutletShort
		}
	}
	mq.Offered = mq.Reason == ReasonNone
	return mq
}

// stockNeed returns what the cart's own lines need of each row from
// stock, and what they backorder: the units past the online stock, or,
// when restrictAt is an outlet index, past what that outlet alone holds.
// The cart is known to allow them.
func (cs *cartStock) stockNeed(restrictAt int) (need, backordered []int64) {
	need, backordered = slices.Clone(cs.own), make([]int64, len(cs.own))
	for r, j := range cs.designated {
		if j < 0 || need[r] == 0 {
			continue
		}
		have := cs.online[r]
		if restrictAt >= 0 {
			have = cs.table.at(r, restrictAt)
		}
		if restrictAt < 0 || restrictAt == j {
			backordered[r] = max(0, need[r]-have)
			need[r] -= backordered[r]
		}
	}
	return need, backordered
}

// checkAssembly finds out, for a cart with bundles that online stock
// covers product by product, whether its bundles can be assembled at the
// outlets in order (see [place]). If not, the cart is not purchasable,
// and the first bundle line the outlets cannot assemble whole is marked
// short, with the units they can.
func (cs *cartStock) checkAssembly(order []int) {
	if !cs.purchasable || len(cs.kits) == 0 {
		return
	}
	if _, _, short, units := place(cs, order, -1, false); short >= 0 {
		pq := &cs.products[cs.kits[short].line]
		pq.Status, pq.Available = LineShort, units
		cs.purchasable = false
	}
}

// snapshot reads what a checkout is evaluated on, for lines summed by
// product, and the stock view of it: every product the cart needs, and
// every product whose availability reserving it would move (see
// [Catalog.related]). The products' levels belong to tx.
func (s *Service) snapshot(ctx context.Context, tx Tx, setup *Setup, lines []Line) (Snapshot, *stockView, error) {
	if _, err := requirePrimary(setup); err != nil {
		return Snapshot{}, nil, err
	}
	methods, err := tx.Methods(ctx)
	if err != nil {
		return Snapshot{}, nil, err
	}
	cat, err := tx.Catalog(ctx)
	if err != nil {
		return Snapshot{}, nil, err
	}
	ids := lineProducts(lines)
	v, err := s.readStock(ctx, tx, setup, cat, ids)
	if err != nil {
		return Snapshot{}, nil, err
	}
	return Snapshot{Outlets: setup.Outlets, Products: v.products, Methods: methods, Primary: setup.Primary(), Catalog: cat}, v, nil
}

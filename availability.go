package onlinestock

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"
)

// Label is what the storefront shows for a product.
type Label string

// Labels, from the storefront's point of view.
const (
	NotForSale Label = "not_for_sale" // not enabled online: not listed
	SoldOut    Label = "sold_out"     // enabled, no online stock
	LowStock   Label = "low_stock"    // enabled, at or under the low-stock threshold
	InStock    Label = "in_stock"     // enabled, above the threshold
	// OnBackorder: enabled, no online stock, but it takes backorders (see
	// [Backorder]): Quantity is the units that can still be ordered.
	OnBackorder Label = "backorder"
)

// Availability is what the storefront sees of a product.
type Availability struct {
	Quantity int64 `json:"quantity"` // units offered online; 0 unless the product is enabled
	Label    Label `json:"label"`
}

// Unlisted is the availability of a product that is not enabled, including
// one never reported: the start of every product's event chain.
var Unlisted = Availability{Quantity: 0, Label: NotForSale}

// Contribution is what one outlet adds to a product's online stock: its
// on-hand count less what is reserved and the outlet's online buffer, never
// below zero, and nothing at all when the outlet is not connected.
func Contribution(l Level, o Outlet) int64 { return contribution(&l, &o) }

func contribution(l *Level, o *Outlet) int64 {
	if !o.Connected {
		return 0
	}
	return max(0, l.OnHand-l.Reserved-o.Buffer)
}

// OnlineStock is a product's online stock: the sum of its levels'
// contributions. Each outlet is clamped on its own, so a negative outlet never
// cancels another's stock. A level whose outlet is not in outlets contributes
// nothing. It is fastest when both slices are sorted by outlet ID, as Stores
// return them, but gives the same answer when they are not.
func OnlineStock(levels []Level, outlets []Outlet) int64 {
	var total int64
	hint := 0
	for i := range levels {
		if k, ok := locate(outlets, levels[i].Outlet, &hint); ok {
			total += contribution(&levels[i], &outlets[k])
		}
	}
	return total
}

// Classify turns online stock into what the storefront sees: NotForSale when
// the product is not enabled, else SoldOut at zero, LowStock at or under
// lowStock (0 turns LowStock off), InStock above.
func Classify(enabled bool, online, lowStock int64) Availability {
	switch {
	case !enabled:
		return Unlisted
	case online <= 0:
		return Availability{Quantity: 0, Label: SoldOut}
	case online <= lowStock:
		return Availability{Quantity: online, Label: LowStock}
	default:
		return Availability{Quantity: online, Label: InStock}
	}
}

// Availability returns what the storefront sees of each product, in the
// order asked. A product never reported is NotForSale. The whole page is one
// Store read ([Store.ReadPage]), however many products it holds, bundles
// included.
func (s *Service) Availability(ctx context.Context, products ...string) ([]Availability, error) {
	if err := checkIDs("products", products); err != nil {
		return nil, err
	}
	ids := sortedUnique(products)
	out := make([]Availability, len(products))
	err := s.readPage(ctx, "Availability", ids, func(page Page) error {
		v := stockView{outlets: page.Outlets, primary: page.Primary, catalog: page.Catalog, products: page.Products, lowStock: s.cfg.LowStockThreshold}
		for i, id := range products {
			out[i] = v.availability(id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// stockView is one read of stock, from which availabilities are worked
// out: the outlets, the catalog, and the products read with their levels.
type stockView struct {
	outlets  []Outlet
	primary  string // the primary outlet: the designated outlet by default
	catalog  *Catalog
	products []Product // sorted by ID
	lowStock int64
	scratch  []int64 // per outlet, for bundles
	// known[i] is the online stock of the product knownIDs[i] (sorted),
	// when it is already known.
	knownIDs []string
	known    []int64
}

// onlineStock is the online stock of p, which is not a bundle.
func (v *stockView) onlineStock(p *Product) int64 {
	if i, ok := slices.BinarySearch(v.knownIDs, p.ID); ok {
		return v.known[i]
	}
	return OnlineStock(p.Levels, v.outlets)
}

func (v *stockView) product(id string) (*Product, bool) {
	if i, ok := slices.BinarySearchFunc(v.products, id, byProductID); ok {
		return &v.products[i], true
	}
	return nil, false
}

// availability is what the storefront sees of product id: Unlisted when
// it is unknown or not enabled, else its online stock classified, with
// the units it may still be backordered.
func (v *stockView) availability(id string) Availability {
	p, ok := v.product(id)
	if !ok || !p.Enabled {
		return Unlisted
	}
	return classify(v.online(p), v.allowance(p, nil), v.lowStock)
}

// classify is Classify for an enabled product that may take allowance
// more units past its online stock: OnBackorder when it has no stock but
// may take some, and a Quantity of the units that can be ordered.
func classify(online, allowance, lowStock int64) Availability {
	if online <= 0 && allowance > 0 {
		return Availability{Quantity: allowance, Label: OnBackorder}
	}
	a := Classify(true, online, lowStock)
	if a.Quantity > 0 {
		a.Quantity += allowance
	}
	return a
}

// designated returns the index in v.outlets of the outlet p's backorders
// are reserved at, when p takes backorders and that outlet is connected.
func (v *stockView) designated(b Backorder) (int, bool) {
	return designatedOutlet(b, v.outlets, v.primary)
}

// allowance is how many units p may still be backordered: its policy's
// limit less its backlog at the designated outlet, with the levels in
// changed (sorted by product, then outlet) in place of p's.
func (v *stockView) allowance(p *Product, changed []Level) int64 {
	b, ok := v.catalog.Backorder(p.ID)
	if !ok {
		return 0
	}
	j, ok := v.designated(b)
	if !ok {
		return 0
	}
	var l Level
	run := levelsOf(changed, p.ID)
	if k, ok := slices.BinarySearchFunc(run, v.outlets[j].ID, byOutlet); ok {
		l = run[k]
	} else if k, ok := slices.BinarySearchFunc(p.Levels, v.outlets[j].ID, byOutlet); ok {
		l = p.Levels[k]
	}
	return allowance(b, &l, &v.outlets[j])
}

// online is a product's online stock: for a bundle, the sum over connected
// outlets of the units each can assemble.
func (v *stockView) online(p *Product) int64 {
	b, ok := v.catalog.Bundle(p.ID)
	if !ok {
		return v.onlineStock(p)
	}
	units := v.assemblable(b)
	var total int64
	for _, n := range units {
		total += n
	}
	return total
}

// assemblable returns, per outlet, the units of b it can assemble. The
// slice is reused by the next call. Levels and outlets are sorted by
// outlet ID, as Stores return them, so each component's levels are walked
// beside the outlets.
func (v *stockView) assemblable(b Bundle) []int64 {
	units := v.scratch[:0]
	for range v.outlets {
		units = append(units, math.MaxInt64)
	}
	v.scratch = units
	for _, c := range b.Components {
		var levels []Level
		if p, ok := v.product(c.Product); ok {
			levels = p.Levels
		}
		k := 0
		for j := range v.outlets {
			o := &v.outlets[j]
			if k < len(levels) && levels[k].Outlet != o.ID { // not aligned: skip the levels of outlets not listed
				for k < len(levels) && levels[k].Outlet < o.ID {
					k++
				}
			}
			var n int64
			if k < len(levels) && levels[k].Outlet == o.ID {
				if n = contribution(&levels[k], o); c.Quantity > 1 {
					n /= c.Quantity
				}
				k++
			}
			units[j] = min(units[j], n)
		}
	}
	return units
}

// availabilityEvents returns an availability event for each of ids whose
// availability differs between before and after.
func availabilityEvents(now time.Time, before, after *stockView, ids []string) []Event {
	var events []Event
	for _, id := range ids {
		if b, a := before.availability(id), after.availability(id); b != a {
			events = append(events, availabilityEvent(now, id, b, a))
		}
	}
	return events
}

// moveEvents appends to dst an availability event for each of ids whose
// availability moves when the levels in changed (sorted by product, then
// outlet) replace v's. Only the changed terms of each sum are worked out
// again: the outlets where a plain product's level changed, and, for a
// bundle, those where one of its components' did.
func (v *stockView) moveEvents(dst []Event, now time.Time, changed []Level, ids []string) []Event {
	for _, id := range ids {
		p, ok := v.product(id)
		if !ok || !p.Enabled {
			continue
		}
		var before, after int64
		if b, ok := v.catalog.Bundle(id); ok {
			units := v.assemblable(b)
			for _, n := range units {
				before += n
			}
			after = before
			var redo []int // outlets where a component changed
			for _, c := range b.Components {
				for _, l := range levelsOf(changed, c.Product) {
					if j, ok := outletIndex(v.outlets, l.Outlet); ok && !slices.Contains(redo, j) {
						redo = append(redo, j)
					}
				}
			}
			for _, j := range redo {
				n := int64(math.MaxInt64)
				for _, c := range b.Components {
					n = min(n, v.contributionAfter(c.Product, j, changed)/c.Quantity)
				}
				after += n - units[j]
			}
		} else {
			before = v.onlineStock(p)
			after = before
			hint := 0
			for _, l := range levelsOf(changed, id) {
				j, ok := locate(v.outlets, l.Outlet, &hint)
				if !ok {
					continue
				}
				o := &v.outlets[j]
				after += contribution(&l, o)
				if k, ok := slices.BinarySearchFunc(p.Levels, l.Outlet, byOutlet); ok {
					after -= contribution(&p.Levels[k], o)
				}
			}
		}
		b := classify(before, v.allowance(p, nil), v.lowStock)
		if a := classify(after, v.allowance(p, changed), v.lowStock); b != a {
			dst = append(dst, availabilityEvent(now, id, b, a))
		}
	}
	return dst
}

// levelsOf returns the run of levels of product in levels, sorted by
// product.
func levelsOf(levels []Level, product string) []Level {
	i, _ := slices.BinarySearchFunc(levels, product, func(l Level, id string) int { return cmp.Compare(l.Product, id) })
	j := i
	for j < len(levels) && levels[j].Product == product {
		j++
	}
	return levels[i:j]
}

// contributionAfter is what outlet j adds to product's online stock once
// the levels in changed replace v's.
func (v *stockView) contributionAfter(product string, j int, changed []Level) int64 {
	o := &v.outlets[j]
	run := levelsOf(changed, product)
	if k, ok := slices.BinarySearchFunc(run, o.ID, byOutlet); ok {
		return contribution(&run[k], o)
	}
	if p, ok := v.product(product); ok {
		if k, ok := slices.BinarySearchFunc(p.Levels, o.ID, byOutlet); ok {
			return contribution(&p.Levels[k], o)
		}
	}
	return 0
}

// readStock reads, in tx, the products ids (sorted and unique) with
// everything their availability is computed from or moves: see
// [Catalog.related].
func (s *Service) readStock(ctx context.Context, tx Tx, setup *Setup, cat *Catalog, ids []string) (*stockView, error) {
	products, err := readRelated(ctx, tx, cat, ids)
	if err != nil {
		return nil, err
	}
	v := s.stockView(setup, cat, products)
	return &v, nil
}

// stockView returns the view of products read under setup and cat.
func (s *Service) stockView(setup *Setup, cat *Catalog, products []Product) stockView {
	v := stockView{outlets: setup.Outlets, catalog: cat, products: products, lowStock: s.cfg.LowStockThreshold}
	if len(cat.Backorders()) > 0 { // only backorders need to know it
		v.primary = setup.Primary()
	}
	return v
}

// readRelated reads what [Catalog.related] says, sorted by ID: the
// products to lock with [Tx.Products], the others with [Tx.PeekProducts].
func readRelated(ctx context.Context, tx Tx, cat *Catalog, ids []string) ([]Product, error) {
	lock, peek := cat.related(ids)
	return readProducts(ctx, tx, lock, peek)
}

// readProducts reads lock with [Tx.Products] and peek with
// [Tx.PeekProducts], and returns them together, sorted by ID.
func readProducts(ctx context.Context, tx Tx, lock, peek []string) ([]Product, error) {
	products, err := tx.Products(ctx, lock)
	if err != nil || len(peek) == 0 {
		return products, err
	}
	more, err := tx.PeekProducts(ctx, peek)
	if err != nil {
		return nil, err
	}
	products = append(slices.Clone(products), more...)
	slices.SortFunc(products, func(a, b Product) int { return cmp.Compare(a.ID, b.ID) })
	return products, nil
}

func byProductID(p Product, id string) int { return cmp.Compare(p.ID, id) }

func findProduct(products []Product, id string) (Product, bool) {
	if i, ok := slices.BinarySearchFunc(products, id, byProductID); ok {
		return products[i], true
	}
	i := slices.IndexFunc(products, func(p Product) bool { return p.ID == id })
	if i < 0 {
		return Product{}, false
	}
	return products[i], true
}

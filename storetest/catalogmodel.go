package storetest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"pgregory.net/rapid"

	"github.com/onlinestock/onlinestock"
)

// The catalog's part of the model-based test: bundles in the model, and
// the machine's actions on them. The rules are computed here from the
// package documentation, as the rest of the model is.

// bundleIDs are the bundles the machine defines. Any product may be
// tried as a bundle, so that the checks of a definition come up.
var bundleIDs = []string{"box-1", "box-2"}

// allProductIDs are every product the machine looks at, sorted.
var allProductIDs = slices.Sorted(slices.Values(append(slices.Clone(productIDs), bundleIDs...)))

// levelUnits is what an allocation moves at one level.
type levelUnits struct {
	key levelKey
	n   int64
}

// units returns the levels an allocation moves: its own, or for a bundle
// its components' at its outlet.
func units(a onlinestock.Allocation) []levelUnits {
	if len(a.Components) == 0 {
		return []levelUnits{{levelKey{a.Product, a.Outlet}, a.Quantity}}
	}
	var out []levelUnits
	for _, c := range a.Components {
		out = append(out, levelUnits{levelKey{c.Product, a.Outlet}, a.Quantity * c.Quantity})
	}
	return out
}

func (m *model) hasBundles(lines []onlinestock.Line) bool {
	return slices.ContainsFunc(lines, func(l onlinestock.Line) bool { _, ok := m.bundles[l.Product]; return ok })
}

// unitsAt is how many units of a bundle made of comps the outlet can
// assemble from what avail says it offers of each component.
func unitsAt(comps []onlinestock.Component, outlet string, avail func(product, outlet string) int64) int64 {
	n := int64(math.MaxInt64)
	for _, c := range comps {
		n = min(n, avail(c.Product, outlet)/c.Quantity)
	}
	return n
}

// bundleOnline is a bundle's online stock: the units each connected
// outlet can assemble, summed.
func (m *model) bundleOnline(comps []onlinestock.Component) int64 {
	var total int64
	for id := range m.outlets {
		total += unitsAt(comps, id, m.contribution)
	}
	return total
}

// cartDemand is what a cart (lines summed) needs of each product that
// holds stock.
type cartDemand struct {
	own     map[string]int64 // of its ordinary lines
	bundled map[string]int64 // of its bundles' units
	kits    []onlinestock.Line
}

func (m *model) demand(summed []onlinestock.Line) cartDemand {
	d := cartDemand{own: map[string]int64{}, bundled: map[string]int64{}}
	for _, l := range summed {
		comps, ok := m.bundles[l.Product]
		if !ok {
			d.own[l.Product] += l.Quantity
			continue
		}
		d.kits = append(d.kits, l)
		for _, c := range comps {
			d.bundled[c.Product] += l.Quantity * c.Quantity
		}
	}
	return d
}

// need lists what the cart needs of each product, its own lines and its
// bundles summed, sorted by product.
func (d cartDemand) need() []onlinestock.Line {
	total := map[string]int64{}
	for p, n := range d.own {
		total[p] += n
	}
	for p, n := range d.bundled {
		total[p] += n
	}
	var out []onlinestock.Line
	for _, p := range sortedKeys(total) {
		out = append(out, onlinestock.Line{Product: p, Quantity: total[p]})
	}
	return out
}

// quoteBundles completes the quote of a cart with bundles: the cart's
// whole demand for each component must be online, and the bundles must
// be assembled by the documented procedure, else the first bundle line it
// leaves short is short, with what it could assemble.
func (m *model) quoteBundles(q *onlinestock.Quote, summed []onlinestock.Line) {
	d := m.demand(summed)
	if len(d.kits) == 0 {
		return
	}
	for _, p := range sortedKeys(d.bundled) {
		pq := onlinestock.ProductQuote{Product: p, Requested: d.own[p] + d.bundled[p], Available: m.online(p), Status: onlinestock.LineOK}
		if pq.Requested > pq.Available {
			pq.Status = onlinestock.LineShort
			q.Purchasable = false
		}
		q.Components = append(q.Components, pq)
	}
	if !q.Purchasable {
		return
	}
	if _, _, short, got := m.placeWith(summed, ""); short != "" {
		q.Purchasable = false
		for i := range q.Products {
			if q.Products[i].Product == short {
				q.Products[i].Status, q.Products[i].Available = onlinestock.LineShort, got
			}
		}
	}
}

// placeCart is the reference for Reserve's routing of a cart with
// bundles: see placeWith; when the method's outlet assembling first leaves
// a bundle short, the cart is routed as without the method's outlet.
func (m *model) placeCart(alloc string, lines []onlinestock.Line, method string) ([]onlinestock.Allocation, []onlinestock.Source) {
	allocs, sources, short, _ := m.placeWith(lines, method)
	if short != "" {
		allocs, sources, _, _ = m.placeWith(lines, "")
	}
	return allocs, sources
}

// placeWith routes a cart with bundles (lines summed, which online stock
// covers product by product) as Reserve documents it: the method's outlet
// assembles all it can of each bundle line, then gives all it can of each
// product; of what is left, the first outlet that can give all of it
// does; else the bundle lines are assembled in turn at the outlets in
// order, each all it can (those the fewest outlets can assemble a unit of
// first), and the other products are routed as for any cart on what stock
// is left. It returns the bundle it cannot assemble
// whole, if any, with the units it could.
func (m *model) placeWith(lines []onlinestock.Line, method string) ([]onlinestock.Allocation, []onlinestock.Source, string, int64) {
	d := m.demand(lines)
	order := m.outletOrder(m.alloc, d.need())
	avail := map[levelKey]int64{}
	for _, l := range d.need() {
		for _, o := range order {
			avail[levelKey{l.Product, o}] = m.contribution(l.Product, o)
		}
	}
	at := func(p, o string) int64 { return avail[levelKey{p, o}] }
	restrictAt := ""
	if meth, ok := m.methods[method]; ok && meth.Outlet != "" && m.connected(meth.Outlet) && meth.Rule == onlinestock.Restrict {
		restrictAt = meth.Outlet
	}
	var own []onlinestock.Line
	for _, p := range sortedKeys(d.own) {
		own = append(own, onlinestock.Line{Product: p, Quantity: d.own[p]})
	}
	stock, backordered := m.stockNeed(own, restrictAt)
	need := map[string]int64{}
	for _, l := range stock {
		need[l.Product] = l.Quantity
	}
	left := map[string]int64{}
	for _, k := range d.kits {
		left[k.Product] = k.Quantity
	}
	var allocs []onlinestock.Allocation
	var sources []onlinestock.Source
	source := func(o string, stage onlinestock.Stage) {
		if !slices.ContainsFunc(sources, func(s onlinestock.Source) bool { return s.Outlet == o }) {
			sources = append(sources, onlinestock.Source{Outlet: o, Stage: stage, Rank: slices.Index(order, o) + 1})
		}
	}
	assemble := func(kit, o string, stage onlinestock.Stage) {
		comps := m.bundles[kit]
		n := min(left[kit], unitsAt(comps, o, at))
		if n <= 0 {
			return
		}
		for _, c := range comps {
			avail[levelKey{c.Product, o}] -= n * c.Quantity
		}
		left[kit] -= n
		allocs = append(allocs, onlinestock.Allocation{Product: kit, Outlet: o, Quantity: n, Components: comps})
		source(o, stage)
	}
	fill := func(o string, stage onlinestock.Stage) {
		for _, k := range d.kits {
			assemble(k.Product, o, stage)
		}
		for _, p := range sortedKeys(need) {
			if n := min(need[p], at(p, o)); n > 0 {
				avail[levelKey{p, o}] -= n
				need[p] -= n
				allocs = append(allocs, onlinestock.Allocation{Product: p, Outlet: o, Quantity: n})
				source(o, stage)
			}
		}
	}
	preferred := ""
	if meth, ok := m.methods[method]; ok && meth.Outlet != "" && m.connected(meth.Outlet) {
		preferred = meth.Outlet
		stage := onlinestock.StageMethodOutlet
		if meth.Rule == onlinestock.Restrict {
			stage = onlinestock.StageRestricted
		}
		fill(preferred, stage)
	}
	wanted := func() map[string]int64 {
		w := map[string]int64{}
		for p, n := range need {
			w[p] += n
		}
		for _, k := range d.kits {
			for _, c := range m.bundles[k.Product] {
				w[c.Product] += left[k.Product] * c.Quantity
			}
		}
		return w
	}
	anyLeft := false
	for _, n := range wanted() {
		anyLeft = anyLeft || n > 0
	}
	if anyLeft {
		one := ""
		for _, o := range order {
			covers := true
			for p, n := range wanted() {
				covers = covers && n <= at(p, o)
			}
			if o != preferred && covers {
				one = o
				break
			}
		}
		if one != "" {
			fill(one, onlinestock.StageOneOutlet)
		} else {
			// The bundle lines the fewest outlets can assemble a unit of
			// go first.
			able := map[string]int{}
			for _, k := range d.kits {
				for _, o := range order {
					if o != preferred && unitsAt(m.bundles[k.Product], o, at) > 0 {
						able[k.Product]++
					}
				}
			}
			kits := slices.Clone(d.kits)
			slices.SortStableFunc(kits, func(a, b onlinestock.Line) int { return cmp.Compare(able[a.Product], able[b.Product]) })
			for _, k := range kits {
				if left[k.Product] == 0 {
					continue
				}
				for _, o := range order {
					if o != preferred {
						assemble(k.Product, o, onlinestock.StageAssembly)
					}
				}
				if left[k.Product] > 0 {
					return nil, nil, k.Product, k.Quantity - left[k.Product]
				}
			}
			var rest []onlinestock.Line
			for _, p := range sortedKeys(need) {
				if need[p] > 0 {
					rest = append(rest, onlinestock.Line{Product: p, Quantity: need[p]})
				}
			}
			if len(rest) > 0 {
				more, srcs := m.routeOn(order, rest, -1, false, at)
				allocs = append(allocs, more...)
				for _, s := range srcs {
					source(s.Outlet, s.Stage)
				}
			}
		}
	}
	slices.SortFunc(allocs, func(a, b onlinestock.Allocation) int {
		return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Outlet, b.Outlet))
	})
	var merged []onlinestock.Allocation
	for _, a := range allocs {
		if n := len(merged); n > 0 && merged[n-1].Product == a.Product && merged[n-1].Outlet == a.Outlet {
			merged[n-1].Quantity += a.Quantity
			continue
		}
		merged = append(merged, a)
	}
	merged, sources = m.addBackorders(merged, sources, backordered, order)
	return merged, sources, "", 0
}

// quoteShortfalls is what a cart the quote finds not purchasable lacks:
// its lines and components that are not OK.
func quoteShortfalls(q onlinestock.Quote) []onlinestock.Shortfall {
	var out []onlinestock.Shortfall
	for _, p := range append(slices.Clone(q.Products), q.Components...) {
		if p.Status != onlinestock.LineOK {
			out = append(out, onlinestock.Shortfall{Product: p.Product, Requested: p.Requested, Available: p.Available, Status: p.Status})
		}
	}
	return out
}

// heldBy returns the first open order holding units of product, or "".
func (m *model) heldBy(product string) string {
	for _, id := range sortedKeys(m.reservations) {
		r := m.reservations[id]
		if r.Status == onlinestock.Open && slices.ContainsFunc(r.Allocations, func(a onlinestock.Allocation) bool { return a.Product == product }) {
			return id
		}
	}
	return ""
}

// credit moves the Reserved of the levels the allocations hold by sign
// times their units.
func (m *model) credit(allocs []onlinestock.Allocation, sign int64) {
	for _, a := range allocs {
		for _, u := range units(a) {
			m.levels[u.key].Reserved += sign * u.n
		}
	}
}

func (m *model) hasLevels(product string) bool {
	for k := range m.levels {
		if k.product == product {
			return true
		}
	}
	return false
}

func (m *model) sortedBundles() []onlinestock.Bundle {
	out := []onlinestock.Bundle{}
	for _, id := range sortedKeys(m.bundles) {
		out = append(out, onlinestock.Bundle{ID: id, Components: m.bundles[id]})
	}
	return out
}

// Machine actions and hooks.

// initCatalog usually defines a bundle or two at the start, enabled, and
// a backorder policy, so that short runs reach carts with bundles and
// backorders.
func (mc *machine) initCatalog(t *rapid.T) {
	if rapid.Bool().Draw(t, "initialBackorder") {
		mc.setBackorder(t, onlinestock.Backorder{Product: rapid.SampledFrom(productIDs).Draw(t, "product"), Limit: rapid.Int64Range(1, 4).Draw(t, "limit")})
	}
	for _, id := range bundleIDs[:rapid.IntRange(0, len(bundleIDs)).Draw(t, "initialBundles")] {
		mc.saveBundle(t, onlinestock.Bundle{ID: id, Components: drawComponents(t, productIDs)})
	}
	if len(mc.m.bundles) > 0 && rapid.IntRange(0, 3).Draw(t, "enableBundles") > 0 {
		mc.setEnabledIDs(t, sortedKeys(mc.m.bundles), true)
	}
}

func drawComponents(t *rapid.T, pool []string) []onlinestock.Component {
	var comps []onlinestock.Component
	for _, p := range rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 1, 3, rapid.ID[string]).Draw(t, "components") {
		comps = append(comps, onlinestock.Component{Product: p, Quantity: rapid.Int64Range(1, 3).Draw(t, "componentQuantity")})
	}
	return comps
}

// drawLineProduct draws the product of a cart line: now and then a
// bundle.
func drawLineProduct(t *rapid.T) string {
	if rapid.IntRange(0, 3).Draw(t, "bundleLine") == 0 {
		return rapid.SampledFrom(bundleIDs).Draw(t, "lineBundle")
	}
	return rapid.SampledFrom(productIDs).Draw(t, "lineProduct")
}

// drawStockProduct draws the product of a stock change: rarely a bundle,
// which must be refused.
func drawStockProduct(t *rapid.T) string {
	if rapid.IntRange(0, 19).Draw(t, "stockForBundle") == 0 {
		return rapid.SampledFrom(bundleIDs).Draw(t, "bundle")
	}
	return rapid.SampledFrom(productIDs).Draw(t, "product")
}

// SaveBundle defines or redefines a bundle, now and then badly: a
// component unknown, a bundle or the bundle itself, a quantity out of
// range, a product with stock as the bundle.
func (mc *machine) SaveBundle(t *rapid.T) {
	id := rapid.SampledFrom(bundleIDs).Draw(t, "bundle")
	if rapid.IntRange(0, 5).Draw(t, "otherID") == 0 {
		id = drawID(t, productIDs, "bundle")
	}
	pool := productIDs
	if rapid.IntRange(0, 5).Draw(t, "oddComponents") == 0 {
		pool = append(slices.Clone(productIDs), "nothing", id, bundleIDs[0])
	}
	comps := drawComponents(t, pool)
	switch rapid.IntRange(0, 14).Draw(t, "badComponent") {
	case 0:
		comps[0].Quantity = rapid.SampledFrom([]int64{0, -1, onlinestock.MaxComponentQuantity + 1}).Draw(t, "badQuantity")
	case 1:
		comps = append(comps, comps[0])
	}
	mc.saveBundle(t, onlinestock.Bundle{ID: id, Components: comps})
}

func (mc *machine) saveBundle(t *rapid.T, b onlinestock.Bundle) {
	m := mc.m
	before := mc.before()
	err := mc.svc.SaveBundle(mc.ctx, b)
	call := fmt.Sprintf("SaveBundle(%+v)", b)
	comps := slices.Clone(b.Components)
	slices.SortFunc(comps, func(x, y onlinestock.Component) int { return cmp.Compare(x.Product, y.Product) })
	old, exists := m.bundles[b.ID]
	twice := false
	for i := 1; i < len(comps); i++ {
		twice = twice || comps[i].Product == comps[i-1].Product
	}
	switch {
	case !validID(b.ID), len(comps) == 0, twice,
		slices.ContainsFunc(comps, func(c onlinestock.Component) bool {
			return !validID(c.Product) || c.Quantity < 1 || c.Quantity > onlinestock.MaxComponentQuantity || c.Product == b.ID
		}):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case exists && slices.Equal(old, comps):
		mc.expect(t, call, err)
	case mc.isComponent(b.ID):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case m.backorders[b.ID].Product != "": // a bundle is made of stock
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case slices.ContainsFunc(comps, func(c onlinestock.Component) bool {
		_, bundle := m.bundles[c.Product]
		_, backorders := m.backorders[c.Product]
		return bundle || backorders
	}):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case slices.ContainsFunc(comps, func(c onlinestock.Component) bool { _, ok := m.products[c.Product]; return !ok }):
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	case exists && m.heldBy(b.ID) != "":
		mc.expect(t, call, err, onlinestock.ErrConflict)
	case m.hasLevels(b.ID):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	default:
		mc.expect(t, call, err)
		m.bundles[b.ID] = comps
		if _, ok := m.products[b.ID]; !ok {
			m.products[b.ID] = false
		}
	}
	mc.expectEvents(t, call, before)
	mc.checkBundles(t, call)
}

func (mc *machine) isComponent(product string) bool {
	for _, comps := range mc.m.bundles {
		if slices.ContainsFunc(comps, func(c onlinestock.Component) bool { return c.Product == product }) {
			return true
		}
	}
	return false
}

func (mc *machine) DeleteBundle(t *rapid.T) {
	m := mc.m
	id := drawID(t, bundleIDs, "bundle")
	before := mc.before()
	err := mc.svc.DeleteBundle(mc.ctx, id)
	call := fmt.Sprintf("DeleteBundle(%q)", id)
	_, exists := m.bundles[id]
	switch {
	case !validID(id):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case !exists:
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	case m.heldBy(id) != "":
		mc.expect(t, call, err, onlinestock.ErrConflict)
	default:
		mc.expect(t, call, err)
		delete(m.bundles, id)
	}
	mc.expectEvents(t, call, before)
	mc.checkBundles(t, call)
}

func (mc *machine) checkBundles(t *rapid.T, call string) {
	t.Helper()
	got, err := mc.svc.Bundles(mc.ctx)
	if err != nil {
		t.Fatalf("Bundles() error = %v", err)
	}
	mc.expectResult(t, "Bundles() after "+call, mc.m.sortedBundles(), got)
}

// checkBundleAllocation checks one allocation of a bundle: from a connected
// outlet that can assemble its units, naming the bundle's components.
func (mc *machine) checkBundleAllocation(t *rapid.T, call string, a onlinestock.Allocation) {
	t.Helper()
	m := mc.m
	comps := m.bundles[a.Product]
	if !slices.Equal(comps, a.Components) {
		t.Fatalf("%s: allocation %+v: components %v, want the bundle's %v", call, a, a.Components, comps)
	}
	if n := unitsAt(comps, a.Outlet, m.contribution); a.Quantity > n {
		t.Fatalf("%s: allocation %+v: the outlet can assemble %d", call, a, n)
	}
}

// Backorders.

// designated is the outlet a product's backorders are reserved at, when
// it takes them and that outlet is connected.
func (m *model) designated(product string) (string, bool) {
	b, ok := m.backorders[product]
	if !ok {
		return "", false
	}
	o := b.Outlet
	if o == "" {
		o = m.primary()
	}
	return o, o != "" && m.connected(o)
}

// allowance is how many units a product may still be backordered: its
// limit less the units reserved at the designated outlet past what that
// outlet holds (on-hand less its buffer).
func (m *model) allowance(product string) int64 {
	o, ok := m.designated(product)
	if !ok {
		return 0
	}
	l := m.level(product, o)
	backlog := max(0, l.Reserved-max(0, l.OnHand-m.outlets[o].buffer))
	return max(0, m.backorders[product].Limit-backlog)
}

// allowanceAt is the allowance when outlet is the designated outlet, else 0.
func (m *model) allowanceAt(product, outlet string) int64 {
	if o, ok := m.designated(product); ok && o == outlet {
		return m.allowance(product)
	}
	return 0
}

// backorderAvailability is the label of an enabled product that may take
// r more units past its online stock q.
func (m *model) backorderAvailability(q, r int64) onlinestock.Availability {
	switch {
	case q == 0:
		return onlinestock.Availability{Quantity: r, Label: onlinestock.OnBackorder}
	case q <= m.lowStock:
		return onlinestock.Availability{Quantity: q + r, Label: onlinestock.LowStock}
	default:
		return onlinestock.Availability{Quantity: q + r, Label: onlinestock.InStock}
	}
}

// quoteBackorder completes the quote of an enabled ordinary line whose
// Available is its online stock: what may be backordered is available too,
// and the units past the stock are backordered.
func (m *model) quoteBackorder(pq *onlinestock.ProductQuote) {
	if _, ok := m.bundles[pq.Product]; ok {
		return
	}
	online := pq.Available
	pq.Available += m.allowance(pq.Product)
	if pq.Requested <= pq.Available && pq.Requested > online {
		pq.Backordered = pq.Requested - online
		pq.Expected = m.backorders[pq.Product].Expected
	}
}

// stockNeed splits ordinary lines (the cart allows) into what comes from
// stock and what is backordered: the units past the online stock, or,
// with a Restrict method's outlet, past what it holds when it is the
// designated outlet.
func (m *model) stockNeed(lines []onlinestock.Line, restrictAt string) (stock, backordered []onlinestock.Line) {
	for _, l := range lines {
		var bo int64
		if o, ok := m.designated(l.Product); ok && m.allowance(l.Product) > 0 {
			switch restrictAt {
			case "":
				bo = max(0, l.Quantity-m.online(l.Product))
			case o:
				bo = max(0, l.Quantity-m.contribution(l.Product, o))
			}
		}
		if bo > 0 {
			backordered = append(backordered, onlinestock.Line{Product: l.Product, Quantity: bo})
		}
		if n := l.Quantity - bo; n > 0 {
			stock = append(stock, onlinestock.Line{Product: l.Product, Quantity: n})
		}
	}
	return stock, backordered
}

// addBackorders reserves the backordered units at each product's
// designated outlet, with what it gives of stock there, and names the
// outlet as a source when it gives nothing else.
func (m *model) addBackorders(allocs []onlinestock.Allocation, sources []onlinestock.Source, backordered []onlinestock.Line, order []string) ([]onlinestock.Allocation, []onlinestock.Source) {
	for _, l := range backordered {
		o, _ := m.designated(l.Product)
		i := slices.IndexFunc(allocs, func(a onlinestock.Allocation) bool { return a.Product == l.Product && a.Outlet == o })
		if i >= 0 {
			allocs[i].Quantity += l.Quantity
			allocs[i].Backordered += l.Quantity
		} else {
			allocs = append(allocs, onlinestock.Allocation{Product: l.Product, Outlet: o, Quantity: l.Quantity, Backordered: l.Quantity})
		}
		if !slices.ContainsFunc(sources, func(s onlinestock.Source) bool { return s.Outlet == o }) {
			sources = append(sources, onlinestock.Source{Outlet: o, Stage: onlinestock.StageBackorder, Rank: slices.Index(order, o) + 1})
		}
	}
	slices.SortFunc(allocs, func(a, b onlinestock.Allocation) int {
		return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Outlet, b.Outlet))
	})
	return allocs, sources
}

// SetBackorder sets a backorder policy, now and then a bad one.
func (mc *machine) SetBackorder(t *rapid.T) {
	b := onlinestock.Backorder{
		Product: drawID(t, productIDs, "product"),
		Limit:   rapid.SampledFrom([]int64{0, 1, 2, 3, 5}).Draw(t, "limit"),
	}
	switch rapid.IntRange(0, 9).Draw(t, "oddBackorder") {
	case 0:
		b.Limit = rapid.SampledFrom([]int64{-1, onlinestock.MaxOnHand + 1}).Draw(t, "badLimit")
	case 1:
		b.Product = rapid.SampledFrom(bundleIDs).Draw(t, "bundle")
	case 2:
		b.Outlet = rapid.SampledFrom([]string{"nowhere", "bad\x01outlet"}).Draw(t, "badOutlet")
	}
	if rapid.IntRange(0, 3).Draw(t, "designated") == 0 {
		b.Outlet = rapid.SampledFrom(outletIDs).Draw(t, "outlet")
	}
	if rapid.Bool().Draw(t, "expected") {
		b.Expected = epoch.Add(time.Duration(rapid.IntRange(1, 30).Draw(t, "days")) * 24 * time.Hour)
	}
	mc.setBackorder(t, b)
}

func (mc *machine) setBackorder(t *rapid.T, b onlinestock.Backorder) {
	m := mc.m
	before := mc.before()
	err := mc.svc.SetBackorder(mc.ctx, b)
	call := fmt.Sprintf("SetBackorder(%+v)", b)
	_, exists := m.products[b.Product]
	old, had := m.backorders[b.Product]
	switch {
	case !validID(b.Product), b.Limit < 0, b.Limit > onlinestock.MaxOnHand, b.Outlet != "" && !validID(b.Outlet):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case b.Outlet != "" && m.outlets[b.Outlet] == nil:
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	case !exists:
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	case m.bundles[b.Product] != nil, mc.isComponent(b.Product):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case had && old.Limit == b.Limit && old.Outlet == b.Outlet && old.Expected.Equal(b.Expected):
		mc.expect(t, call, err)
	default:
		mc.expect(t, call, err)
		m.backorders[b.Product] = b
	}
	mc.expectEvents(t, call, before)
	mc.checkBackorders(t, call)
}

func (mc *machine) DeleteBackorder(t *rapid.T) {
	m := mc.m
	product := drawID(t, productIDs, "product")
	before := mc.before()
	err := mc.svc.DeleteBackorder(mc.ctx, product)
	call := fmt.Sprintf("DeleteBackorder(%q)", product)
	_, had := m.backorders[product]
	switch {
	case !validID(product):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case !had:
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	default:
		mc.expect(t, call, err)
		delete(m.backorders, product)
	}
	mc.expectEvents(t, call, before)
	mc.checkBackorders(t, call)
}

func (mc *machine) checkBackorders(t *rapid.T, call string) {
	t.Helper()
	got, err := mc.svc.Backorders(mc.ctx)
	if err != nil {
		t.Fatalf("Backorders() error = %v", err)
	}
	want := []onlinestock.Backorder{}
	for _, p := range sortedKeys(mc.m.backorders) {
		want = append(want, mc.m.backorders[p])
	}
	mc.expectResult(t, "Backorders() after "+call, want, got)
}

// checkBackordered checks an allocation with backordered units: at the
// product's designated outlet, the rest from its stock, the backordered
// units within what the product may still be backordered.
func (mc *machine) checkBackordered(t *rapid.T, call string, a onlinestock.Allocation) {
	t.Helper()
	m := mc.m
	switch o, ok := m.designated(a.Product); {
	case !ok || o != a.Outlet:
		t.Fatalf("%s: allocation %+v backorders at an outlet not designated for %q", call, a, a.Product)
	case a.Backordered > a.Quantity || a.Quantity-a.Backordered > m.contribution(a.Product, a.Outlet):
		t.Fatalf("%s: allocation %+v takes more than the outlet's stock, %d, besides what it backorders", call, a, m.contribution(a.Product, a.Outlet))
	case a.Backordered > m.allowance(a.Product):
		t.Fatalf("%s: allocation %+v backorders more than the %d %q may still be", call, a, m.allowance(a.Product), a.Product)
	}
}

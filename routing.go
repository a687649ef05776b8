package onlinestock

import (
	"cmp"
	"fmt"
	"slices"
)

// Stage says why an outlet gives to an order: the step of the routing rule
// that chose it (see [Service.Reserve]).
type Stage string

// Routing stages, in the order the rule tries them.
const (
	// StageRestricted: the order's Restrict method is linked to this outlet,
	// which gives everything.
	StageRestricted Stage = "restricted"
	// StageMethodOutlet: the order's AllowAll method is linked to this
	// outlet, which gives first all it can.
	StageMethodOutlet Stage = "method_outlet"
	// StageOneOutlet: this outlet fills the whole order (what the method's
	// outlet left) alone.
	StageOneOutlet Stage = "one_outlet"
	// StageWholeLines: no outlet fills the order alone, so it is split, and
	// every line comes whole from one outlet.
	StageWholeLines Stage = "whole_lines"
	// StageSplitLines: no split of whole lines exists, so some lines are
	// split across outlets.
	StageSplitLines Stage = "split_lines"
	// StageAssembly: no outlet fills the order alone, so its bundles are
	// assembled first, and this outlet assembles some of their units.
	StageAssembly Stage = "assembly"
	// StageBackorder: the outlet gives no stock, but is where the order's
	// backordered units are reserved (see [Backorder]).
	StageBackorder Stage = "backorder"
)

// Source is one outlet an order's stock comes from, and why it was chosen.
type Source struct {
	Outlet string `json:"outlet"`
	Stage  Stage  `json:"stage"`
	// Rank is the outlet's place, from 1, in the allocator's order of the
	// connected outlets when the order was routed.
	Rank int `json:"rank"`
}

// MaxExactOutlets bounds the exact routing search. When more outlets than
// this hold stock that the order still needs after its method's outlet has
// given, the fewest-outlets split is found greedily instead: repeatedly the
// outlet that covers the most lines still uncovered (for a split of whole
// lines) or gives the most units still needed (for a split of lines), the
// earlier in the allocator's order on a tie. The greedy split may use more
// outlets than the fewest possible; it never oversells.
const MaxExactOutlets = 16

// AllocationRequest is what an [Allocator] ranks outlets for.
type AllocationRequest struct {
	// Lines are the order's lines, summed per product, sorted by product,
	// with each bundle line counted in its components: what the order
	// needs of each product that holds stock.
	Lines    []Line
	Outlets  []Outlet  // every outlet, sorted by ID; only connected ones fill orders
	Products []Product // the order's products with their levels, sorted by ID
	Primary  string    // the primary outlet
}

// Available is what outlet can give of product now: its contribution.
func (r AllocationRequest) Available(product, outlet string) int64 {
	p, ok := findProduct(r.Products, product)
	if !ok {
		return 0
	}
	o, ok := findOutlet(r.Outlets, outlet)
	if !ok {
		return 0
	}
	i, ok := slices.BinarySearchFunc(p.Levels, outlet, byOutlet)
	if !ok {
		return 0
	}
	return Contribution(p.Levels[i], o)
}

// Allocator orders outlets by preference for filling an order. The Service
// routes every order by the same rule (see [Service.Reserve]): the fewest
// outlets first, and only among equally few does this order decide which
// outlets are used and which of them gives first. An Allocator only ranks,
// so whatever it returns the Service never allocates more than an outlet
// can give. Outlets it leaves out are ranked after, in the
// [FewestShipments] order; unknown, disconnected and repeated ones are
// ignored.
type Allocator interface {
	OutletOrder(r AllocationRequest) []string
}

// FewestShipments is the default [Allocator]: the primary outlet first, then
// ranked outlets by rank, then the rest, each group by ID.
type FewestShipments struct{}

// OutletOrder implements [Allocator].
func (FewestShipments) OutletOrder(r AllocationRequest) []string {
	order := defaultOrder(r.Outlets, r.Primary)
	ids := make([]string, len(order))
	for i, k := range order {
		ids[i] = r.Outlets[k].ID
	}
	return ids
}

// defaultOrder is the FewestShipments order, as indexes into outlets.
func defaultOrder(outlets []Outlet, primary string) []int {
	order := make([]int, 0, len(outlets))
	if k, ok := outletIndex(outlets, primary); ok {
		order = append(order, k)
	}
	for k := range outlets {
		if outlets[k].ID != primary {
			order = append(order, k)
		}
	}
	// Without ranks that is the order already: the primary, then by ID.
	if slices.ContainsFunc(outlets, func(o Outlet) bool { return o.Rank != 0 }) {
		slices.SortFunc(order, func(a, b int) int { return compareDefault(&outlets[a], &outlets[b], primary) })
	}
	return order
}

func compareDefault(a, b *Outlet, primary string) int {
	if (a.ID == primary) != (b.ID == primary) {
		if a.ID == primary {
			return -1
		}
		return 1
	}
	if (a.Rank == 0) != (b.Rank == 0) {
		if a.Rank == 0 {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(a.Rank, b.Rank); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// MostStockFirst is an [Allocator] that prefers the outlets that can give
// the most of the order, ties broken as [FewestShipments] does: it keeps
// stock even across outlets.
type MostStockFirst struct{}

// OutletOrder implements [Allocator].
func (MostStockFirst) OutletOrder(r AllocationRequest) []string {
	type ranked struct {
		o     Outlet
		stock int64
	}
	rs := make([]ranked, len(r.Outlets))
	for i, o := range r.Outlets {
		rs[i].o = o
		for _, l := range r.Lines {
			rs[i].stock += min(l.Quantity, r.Available(l.Product, o.ID))
		}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		if c := cmp.Compare(b.stock, a.stock); c != 0 {
			return c
		}
		return compareDefault(&a.o, &b.o, r.Primary)
	})
	ids := make([]string, len(rs))
	for i, x := range rs {
		ids[i] = x.o.ID
	}
	return ids
}

// outletOrder asks the allocator for its order of the connected outlets and
// completes it: unknown, disconnected and repeated outlets are dropped,
// missing connected ones appended in the default order.
// The order is returned as indexes into req.Outlets.
func outletOrder(alloc Allocator, req AllocationRequest) []int {
	connected := func(k int) bool { return req.Outlets[k].Connected }
	if _, ok := alloc.(FewestShipments); ok {
		return slices.DeleteFunc(defaultOrder(req.Outlets, req.Primary), func(k int) bool { return !connected(k) })
	}
	order := make([]int, 0, len(req.Outlets))
	seen := make([]bool, len(req.Outlets))
	add := func(k int) {
		if !seen[k] && connected(k) {
			seen[k] = true
			order = append(order, k)
		}
	}
	hint := 0
	for _, id := range alloc.OutletOrder(req) {
		if k, ok := locate(req.Outlets, id, &hint); ok {
			add(k)
		}
	}
	for _, k := range defaultOrder(req.Outlets, req.Primary) {
		add(k)
	}
	return order
}

// route places what is needed of each product of t (need[r] units of
// t.products[r]), which the connected outlets are known to cover, and says
// why each outlet gives. order holds the connected outlets in the
// allocator's order, as indexes into t.outlets; preferred is the position
// in order of the method's outlet, or -1, and restrict says it must give
// everything (it is known to cover the cart). need is used up.
func route(t *stockTable, need []int64, order []int, preferred int, restrict bool) ([]Allocation, []Source) {
	// Most carts get one allocation per product.
	r := router{t: t, order: order, left: need, allocs: make([]Allocation, 0, len(need))}
	if preferred >= 0 {
		stage := StageMethodOutlet
		if restrict {
			stage = StageRestricted
		}
		r.give([]int{preferred}, stage, false)
	}
	if need := r.needed(); len(need) > 0 {
		cands := r.candidates(need, preferred)
		if p, ok := r.oneOutlet(cands, need); ok {
			r.give([]int{p}, StageOneOutlet, false)
		} else if ps, ok := r.wholeLines(cands, need); ok {
			r.give(ps, StageWholeLines, true)
		} else {
			r.give(r.splitLines(cands, need), StageSplitLines, false)
		}
	}
	sortAllocations(r.allocs)
	return r.allocs, r.sources
}

// sortAllocations sorts allocations by product, then outlet.
func sortAllocations(allocs []Allocation) {
	slices.SortFunc(allocs, func(a, b Allocation) int {
		if c := cmp.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return cmp.Compare(a.Outlet, b.Outlet)
	})
}

// router is the working state of one [route]. Outlets are named by their
// position in order, so comparing positions compares preference.
type router struct {
	t       *stockTable
	order   []int
	left    []int64 // what product i still needs
	allocs  []Allocation
	sources []Source
}

// avail is what the outlet at position p gives of product i.
func (r *router) avail(i, p int) int64 { return r.t.avail[i*len(r.t.outlets)+r.order[p]] }

// needed returns the products still needed.
func (r *router) needed() []int {
	need := make([]int, 0, len(r.left))
	for i, n := range r.left {
		if n > 0 {
			need = append(need, i)
		}
	}
	return need
}

// candidates returns, in preference order, the positions of the outlets
// other than skip that can give some of the products needed.
func (r *router) candidates(need []int, skip int) []int {
	cands := make([]int, 0, len(r.order))
	for p := range r.order {
		if p != skip && slices.ContainsFunc(need, func(i int) bool { return r.avail(i, p) > 0 }) {
			cands = append(cands, p)
		}
	}
	return cands
}

// give has the outlets at positions ps (ascending) give the products still
// needed, each in turn: all it can of each, or, when whole is set, a
// product only when it can give all of it and no earlier one did. Outlets
// that give are recorded as sources, in order.
func (r *router) give(ps []int, stage Stage, whole bool) {
	var few [8]bool // most routes have few outlets give
	var gave []bool
	if len(ps) <= len(few) {
		gave = few[:len(ps)]
	} else {
		gave = make([]bool, len(ps))
	}
	for i := range r.left {
		for j, p := range ps {
			n := min(r.left[i], r.avail(i, p))
			if n <= 0 || (whole && n < r.left[i]) {
				continue
			}
			o := r.t.outlets[r.order[p]].ID
			r.allocs = append(r.allocs, Allocation{Product: r.t.products[i], Outlet: o, Quantity: n})
			r.left[i] -= n
			gave[j] = true
		}
	}
	for j, p := range ps {
		if gave[j] {
			r.sources = append(r.sources, Source{Outlet: r.t.outlets[r.order[p]].ID, Stage: stage, Rank: p + 1})
		}
	}
}

// oneOutlet finds the first candidate that can give every needed line.
func (r *router) oneOutlet(cands, need []int) (int, bool) {
	for _, p := range cands {
		if !slices.ContainsFunc(need, func(i int) bool { return r.avail(i, p) < r.left[i] }) {
			return p, true
		}
	}
	return 0, false
}

// wholeLines finds the fewest candidates that together can give every
// needed line whole, each from one of them; among equally few, the first
// in preference order (see [firstSubset]). It fails when some line is
// whole at no candidate.
func (r *router) wholeLines(cands, need []int) ([]int, bool) {
	whole := func(i, p int) bool { return r.avail(i, p) >= r.left[i] }
	for _, i := range need {
		if !slices.ContainsFunc(cands, func(p int) bool { return whole(i, p) }) {
			return nil, false
		}
	}
	if len(cands) <= MaxExactOutlets {
		// covers[x] holds the candidates (bits, by index into cands) that
		// can give need[x] whole.
		covers := make([]uint32, len(need))
		for x, i := range need {
			for c, p := range cands {
				if whole(i, p) {
					covers[x] |= 1 << c
				}
			}
		}
		for k := 2; k <= len(cands); k++ {
			if set, ok := firstSubset(len(cands), k, func(set []int) bool {
				var mask uint32
				for _, c := range set {
					mask |= 1 << c
				}
				return !slices.ContainsFunc(covers, func(m uint32) bool { return m&mask == 0 })
			}); ok {
				return positions(cands, set), true
			}
		}
	}
	// Greedy: the outlet that gives the most lines still uncovered whole,
	// the earlier on a tie, until every line is covered.
	uncovered := slices.Clone(need)
	var chosen []int
	for len(uncovered) > 0 {
		best, bestN := -1, 0
		for c, p := range cands {
			if n := countFunc(uncovered, func(i int) bool { return whole(i, p) }); n > bestN {
				best, bestN = c, n
			}
		}
		chosen = append(chosen, best)
		uncovered = slices.DeleteFunc(uncovered, func(i int) bool { return whole(i, cands[best]) })
	}
	slices.Sort(chosen)
	return positions(cands, chosen), true
}

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

// splitLines finds the fewest candidates that together can give every
// needed line, among equally few the first in preference order. The cart
// is known to be covered, so all of them together can.
func (r *router) splitLines(cands, need []int) []int {
	if len(cands) <= MaxExactOutlets {
		// No set is smaller than the most outlets one line needs.
		least := 1
		for _, i := range need {
			gives := make([]int64, len(cands))
			for c, p := range cands {
				gives[c] = r.avail(i, p)
			}
			slices.Sort(gives)
			var sum int64
			n := 0
			for k := len(gives) - 1; k >= 0 && sum < r.left[i]; k-- {
				sum += gives[k]
				n++
			}
			least = max(least, n)
		}
		for k := least; k <= len(cands); k++ {
			if set, ok := firstSubset(len(cands), k, func(set []int) bool {
				for _, i := range need {
					var sum int64
					for _, c := range set {
						sum += r.avail(i, cands[c])
					}
					if sum < r.left[i] {
						return false
					}
				}
				return true
			}); ok {
				return positions(cands, set)
			}
		}
	}
	// Greedy: take the outlet that gives the most units still needed, the
	// earlier on a tie, until nothing is needed.
	left := slices.Clone(r.left)
	used := make([]bool, len(cands))
	var chosen []int
	for slices.ContainsFunc(need, func(i int) bool { return left[i] > 0 }) {
		best, bestUnits := -1, int64(0)
		for c, p := range cands {
			if used[c] {
				continue
			}
			var units int64
			for _, i := range need {
				units += min(left[i], r.avail(i, p))
			}
			if units > bestUnits {
				best, bestUnits = c, units
			}
		}
		if best < 0 {
			break // unreachable: the cart is covered
		}
		used[best] = true
		chosen = append(chosen, best)
		for _, i := range need {
			left[i] -= min(left[i], r.avail(i, cands[best]))
		}
	}
	slices.Sort(chosen)
	return positions(cands, chosen)
}

// firstSubset returns the first k-subset of 0..n-1 that ok accepts, subsets
// taken in lexicographic order: the one whose first member comes earliest,
// then whose second does, and so on. Members are in ascending order; ok
// must not keep the slice.
func firstSubset(n, k int, ok func(set []int) bool) ([]int, bool) {
	set := make([]int, k)
	for i := range set {
		set[i] = i
	}
	for {
		if ok(set) {
			return set, true
		}
		i := k - 1
		for i >= 0 && set[i] == n-k+i {
			i--
		}
		if i < 0 {
			return nil, false
		}
		set[i]++
		for j := i + 1; j < k; j++ {
			set[j] = set[j-1] + 1
		}
	}
}

// positions maps indexes into cands to the positions they hold.
func positions(cands, set []int) []int {
	ps := make([]int, len(set))
	for x, c := range set {
		ps[x] = cands[c]
	}
	return ps
}

// place allocates a cart, which online stock covers product by product, to
// the outlets in order (indexes into cs.outlets), with the method's outlet
// at position preferred (-1 for none), which gives everything when
// restrict is set. A cart without bundles is routed by [route]. In a cart
// with bundles each bundle unit is assembled whole at one outlet:
//
//   - the method's outlet assembles first all it can of each bundle line,
//     in line order, then gives all it can of each product;
//   - then, of what is left, one outlet that can fill all of it does;
//   - else the bundles are assembled first, each bundle line in turn (the
//     one the fewest outlets can assemble a unit of first, then in line
//     order), each outlet in order assembling all it can of it, and the
//     products of the ordinary lines are then routed by [route] on the
//     stock left.
//
// It returns the allocations, sorted by product, then outlet; the sources,
// in the order the outlets first gave; and -1, or the index into cs.kits
// of a bundle line the outlets cannot assemble whole, with the units they
// can. Bundles that share components can compete for them, so such a line
// can exist even when online stock covers every product.
func place(cs *cartStock, order []int, preferred int, restrict bool) ([]Allocation, []Source, int, int64) {
	restrictAt := -1
	if restrict {
		restrictAt = order[preferred]
	}
	need, backordered := cs.stockNeed(restrictAt)
	if len(cs.kits) == 0 {
		allocs, sources := route(&cs.table, need, order, preferred, restrict)
		allocs, sources = cs.backorder(allocs, sources, backordered, order)
		return allocs, sources, -1, 0
	}
	p := newPlacer(cs, order, need)
	if preferred >= 0 {
		stage := StageMethodOutlet
		if restrict {
			stage = StageRestricted
		}
		p.fill(preferred, stage)
	}
	if p.anyLeft() {
		if pos, ok := p.oneOutlet(preferred); ok {
			p.fill(pos, StageOneOutlet)
		} else {
			for _, k := range p.kitOrder(preferred) {
				for pos := range order {
					if pos != preferred {
						p.assemble(k, pos, StageAssembly)
					}
				}
				if p.left[k] > 0 {
					return nil, nil, k, cs.kits[k].units - p.left[k]
				}
			}
			t := stockTable{products: cs.table.products, outlets: cs.outlets, avail: p.avail}
			allocs, sources := route(&t, p.need, order, -1, false)
			p.allocs = append(p.allocs, allocs...)
			for _, s := range sources {
				if !slices.ContainsFunc(p.sources, func(x Source) bool { return x.Outlet == s.Outlet }) {
					p.sources = append(p.sources, s)
				}
			}
		}
	}
	sortAllocations(p.allocs)
	allocs, sources := cs.backorder(mergeAllocations(p.allocs), p.sources, backordered, order)
	return allocs, sources, -1, 0
}

// backorder adds to allocs (sorted) the units backordered of each row, at
// its designated outlet, and that outlet to the sources when it gives
// nothing else.
func (cs *cartStock) backorder(allocs []Allocation, sources []Source, backordered []int64, order []int) ([]Allocation, []Source) {
	for r, n := range backordered {
		if n == 0 {
			continue
		}
		a := Allocation{Product: cs.table.products[r], Outlet: cs.outlets[cs.designated[r]].ID, Quantity: n, Backordered: n}
		k, found := slices.BinarySearchFunc(allocs, a, byProductOutlet)
		if found {
			allocs[k].Quantity += n
			allocs[k].Backordered += n
		} else {
			allocs = slices.Insert(allocs, k, a)
		}
		if !slices.ContainsFunc(sources, func(s Source) bool { return s.Outlet == a.Outlet }) {
			sources = append(sources, Source{Outlet: a.Outlet, Stage: StageBackorder, Rank: slices.Index(order, cs.designated[r]) + 1})
		}
	}
	return allocs, sources
}

// placer is the working state of one [place] of a cart with bundles.
type placer struct {
	cs      *cartStock
	order   []int
	avail   []int64 // what each outlet still gives of each row
	need    []int64 // what each row's own lines still need
	left    []int64 // what each kit still needs, in units
	allocs  []Allocation
	sources []Source
}

func newPlacer(cs *cartStock, order []int, need []int64) *placer {
	p := &placer{cs: cs, order: order, avail: slices.Clone(cs.table.avail), need: need, left: make([]int64, len(cs.kits))}
	for k, kt := range cs.kits {
		p.left[k] = kt.units
	}
	return p
}

func (p *placer) anyLeft() bool {
	return slices.ContainsFunc(p.left, func(n int64) bool { return n > 0 }) ||
		slices.ContainsFunc(p.need, func(n int64) bool { return n > 0 })
}

// source records that the outlet at position pos gives, unless it did
// already.
func (p *placer) source(pos int, stage Stage) {
	o := p.cs.outlets[p.order[pos]].ID
	if !slices.ContainsFunc(p.sources, func(s Source) bool { return s.Outlet == o }) {
		p.sources = append(p.sources, Source{Outlet: o, Stage: stage, Rank: pos + 1})
	}
}

// assemble has the outlet at pos assemble all it can of kit k.
func (p *placer) assemble(k, pos int, stage Stage) {
	j := p.order[pos]
	kt := p.cs.kits[k]
	units := min(p.left[k], p.cs.unitsAt(kt, j, p.avail))
	if units <= 0 {
		return
	}
	n := len(p.cs.outlets)
	for _, part := range kt.parts {
		p.avail[part.row*n+j] -= units * part.per
	}
	p.left[k] -= units
	p.allocs = append(p.allocs, Allocation{Product: p.cs.lines[kt.line].Product, Outlet: p.cs.outlets[j].ID, Quantity: units, Components: kt.components})
	p.source(pos, stage)
}

// kitOrder returns the kits left, the one the fewest outlets (other than
// skip) can assemble a unit of first, then in line order.
func (p *placer) kitOrder(skip int) []int {
	var ks []int
	able := make([]int, len(p.cs.kits))
	for k, kt := range p.cs.kits {
		if p.left[k] == 0 {
			continue
		}
		ks = append(ks, k)
		for pos, j := range p.order {
			if pos != skip && p.cs.unitsAt(kt, j, p.avail) > 0 {
				able[k]++
			}
		}
	}
	slices.SortStableFunc(ks, func(a, b int) int { return cmp.Compare(able[a], able[b]) })
	return ks
}

// fill has the outlet at pos assemble all it can of each kit, then give all
// it can of each row.
func (p *placer) fill(pos int, stage Stage) {
	for k := range p.cs.kits {
		p.assemble(k, pos, stage)
	}
	j, n := p.order[pos], len(p.cs.outlets)
	for r, need := range p.need {
		give := min(need, p.avail[r*n+j])
		if give <= 0 {
			continue
		}
		p.avail[r*n+j] -= give
		p.need[r] -= give
		p.allocs = append(p.allocs, Allocation{Product: p.cs.table.products[r], Outlet: p.cs.outlets[j].ID, Quantity: give})
		p.source(pos, stage)
	}
}

// oneOutlet finds the first outlet in order, other than skip, that can
// give all that is left: the kits' units assembled there and the rows.
func (p *placer) oneOutlet(skip int) (int, bool) {
	n := len(p.cs.outlets)
	want := slices.Clone(p.need)
	for k, kt := range p.cs.kits {
		for _, part := range kt.parts {
			want[part.row] = addSat(want[part.row], mulSat(p.left[k], part.per))
		}
	}
	for pos, j := range p.order {
		if pos == skip {
			continue
		}
		ok := true
		for r, w := range want {
			if w > p.avail[r*n+j] {
				ok = false
				break
			}
		}
		if ok {
			return pos, true
		}
	}
	return 0, false
}

// mergeAllocations merges sorted allocations of the same product at the
// same outlet.
func mergeAllocations(allocs []Allocation) []Allocation {
	out := allocs[:0]
	for _, a := range allocs {
		if n := len(out); n > 0 && out[n-1].Product == a.Product && out[n-1].Outlet == a.Outlet {
			out[n-1].Quantity += a.Quantity
			continue
		}
		out = append(out, a)
	}
	return out
}

// allocate places lines (summed, sorted) on outlets, or says why it
// cannot. It also returns why each outlet gives. When v is not nil, snap
// holds v's products as they are, and v learns their online stock, which
// allocate works out, so that moving their stock need not sum it again.
func (s *Service) allocate(snap Snapshot, lines []Line, methodID string, v *stockView) ([]Allocation, []Source, error) {
	cs := newCartStock(snap, lines)
	if v != nil {
		v.knownIDs, v.known = cs.table.products, cs.online
	}
	var order []int
	if len(cs.kits) > 0 && cs.purchasable {
		order = outletOrder(s.cfg.Allocator, cs.request(snap))
		cs.checkAssembly(order)
	}
	// A method the checkout cannot show is an error of the caller's, whatever
	// the stock; then the stock decides.
	var method *MethodQuote
	if methodID != "" {
		k, ok := slices.BinarySearchFunc(snap.Methods, methodID, byMethodID)
		if !ok {
			return nil, nil, notFound("method", methodID)
		}
		mq := cs.quoteMethod(snap.Methods[k], s.quoteOptions())
		if mq.Reason == ReasonHidden {
			return nil, nil, fmt.Errorf("method %q is orphaned and hidden: %w", methodID, ErrNotFound)
		}
		method = &mq
	}
	if !cs.purchasable {
		return nil, nil, &InsufficientStockError{Shortfalls: cs.shortfalls()}
	}
	if order == nil {
		order = outletOrder(s.cfg.Allocator, cs.request(snap))
	}
	preferred, restrict := -1, false
	switch {
	case method == nil:
	case method.Reason == ReasonOutletShort:
		return nil, nil, &InsufficientStockError{Outlet: method.Method.Outlet, Shortfalls: method.Shortfalls}
	case !method.Orphaned && method.Method.Outlet != "":
		k, _ := outletIndex(snap.Outlets, method.Method.Outlet)
		preferred, restrict = slices.Index(order, k), method.Method.Rule == Restrict
	}
	allocs, sources, short, _ := place(&cs, order, preferred, restrict)
	if short >= 0 && preferred >= 0 && !restrict {
		allocs, sources, short, _ = place(&cs, order, -1, false)
	}
	if short >= 0 { // unreachable: checkAssembly found the cart can be placed
		return nil, nil, &InsufficientStockError{Shortfalls: cs.shortfalls()}
	}
	return allocs, sources, nil
}

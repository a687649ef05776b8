package onlinestock

import (
	"cmp"
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
	Lines    []Line    // the order's lines, summed per product, sorted by product
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
func (s *Service) outletOrder(req AllocationRequest) []int {
	connected := func(k int) bool { return req.Outlets[k].Connected }
	if _, ok := s.cfg.Allocator.(FewestShipments); ok {
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
	for _, id := range s.cfg.Allocator.OutletOrder(req) {
		if k, ok := locate(req.Outlets, id, &hint); ok {
			add(k)
		}
	}
	for _, k := range defaultOrder(req.Outlets, req.Primary) {
		add(k)
	}
	return order
}

// route places the cart's lines, which the connected outlets are known to
// cover, and says why each outlet gives. order holds the connected outlets
// in the allocator's order, as indexes into cs.outlets; preferred is the
// position in order of the method's outlet, or -1, and restrict says it
// must give everything (it is known to cover the cart).
func route(cs *cartStock, order []int, preferred int, restrict bool) ([]Allocation, []Source) {
	r := router{cs: cs, order: order, left: make([]int64, len(cs.lines))}
	for i, l := range cs.lines {
		r.left[i] = l.Quantity
	}
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
	slices.SortFunc(r.allocs, func(a, b Allocation) int {
		if c := cmp.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return cmp.Compare(a.Outlet, b.Outlet)
	})
	return r.allocs, r.sources
}

// router is the working state of one [route]. Outlets are named by their
// position in order, so comparing positions compares preference.
type router struct {
	cs      *cartStock
	order   []int
	left    []int64 // what line i still needs
	allocs  []Allocation
	sources []Source
}

// avail is what the outlet at position p gives of line i.
func (r *router) avail(i, p int) int64 { return r.cs.contrib[i*len(r.cs.outlets)+r.order[p]] }

// needed returns the lines still needed.
func (r *router) needed() []int {
	var need []int
	for i, n := range r.left {
		if n > 0 {
			need = append(need, i)
		}
	}
	return need
}

// candidates returns, in preference order, the positions of the outlets
// other than skip that can give some of the lines needed.
func (r *router) candidates(need []int, skip int) []int {
	var cands []int
	for p := range r.order {
		if p != skip && slices.ContainsFunc(need, func(i int) bool { return r.avail(i, p) > 0 }) {
			cands = append(cands, p)
		}
	}
	return cands
}

// give has the outlets at positions ps (ascending) give the lines still
// needed, each in turn: all it can of each line, or, when whole is set, a
// line only when it can give all of it and no earlier one did. Outlets that
// give are recorded as sources, in order.
func (r *router) give(ps []int, stage Stage, whole bool) {
	gave := make([]bool, len(ps))
	for i := range r.left {
		for j, p := range ps {
			n := min(r.left[i], r.avail(i, p))
			if n <= 0 || (whole && n < r.left[i]) {
				continue
			}
			o := r.cs.outlets[r.order[p]].ID
			r.allocs = append(r.allocs, Allocation{Product: r.cs.lines[i].Product, Outlet: o, Quantity: n})
			r.left[i] -= n
			gave[j] = true
		}
	}
	for j, p := range ps {
		if gave[j] {
			r.sources = append(r.sources, Source{Outlet: r.cs.outlets[r.order[p]].ID, Stage: stage, Rank: p + 1})
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

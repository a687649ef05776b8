package onlinestock

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// routeCase is a random routing problem: what each outlet gives of each
// line, the allocator's order, and perhaps a method's outlet.
type routeCase struct {
	lines     []Line
	table     stockTable
	order     []int
	preferred int // position in order, or -1
	restrict  bool
}

func drawRouteCase(t *rapid.T, maxOutlets int) routeCase {
	nLines := rapid.IntRange(1, 4).Draw(t, "lines")
	nOutlets := rapid.IntRange(1, maxOutlets).Draw(t, "outlets")
	lines := make([]Line, nLines)
	tbl := stockTable{
		products: make([]string, nLines),
		outlets:  make([]Outlet, nOutlets),
		avail:    make([]int64, nLines*nOutlets),
	}
	for j := range tbl.outlets {
		tbl.outlets[j] = Outlet{ID: fmt.Sprintf("o%02d", j), Connected: true}
	}
	for i := range lines {
		var total int64
		for j := range tbl.outlets {
			n := rapid.Int64Range(0, 5).Draw(t, "avail")
			tbl.avail[i*nOutlets+j] = n
			total += n
		}
		if total == 0 {
			tbl.avail[i*nOutlets] = 1
			total = 1
		}
		lines[i] = Line{Product: fmt.Sprintf("p%d", i), Quantity: rapid.Int64Range(1, total).Draw(t, "quantity")}
		tbl.products[i] = lines[i].Product
	}
	c := routeCase{lines: lines, table: tbl, order: rapid.Permutation(seq(nOutlets)).Draw(t, "order"), preferred: -1}
	if rapid.IntRange(0, 2).Draw(t, "method") == 0 {
		c.preferred = rapid.IntRange(0, nOutlets-1).Draw(t, "preferred")
		covers := true
		for i, l := range lines {
			covers = covers && tbl.avail[i*nOutlets+c.order[c.preferred]] >= l.Quantity
		}
		c.restrict = covers && rapid.Bool().Draw(t, "restrict")
	}
	return c
}

// need is what the lines ask of each product of the table.
func (c routeCase) need() []int64 {
	need := make([]int64, len(c.lines))
	for i, l := range c.lines {
		need[i] = l.Quantity
	}
	return need
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// bruteRoute is the reference for route on small instances: every set of
// outlets is tried, and the best is the one of the earliest stage, then
// the fewest outlets, then the first in the allocator's order.
func bruteRoute(c routeCase) ([]Allocation, []Source) {
	n := len(c.table.outlets)
	avail := func(i, p int) int64 { return c.table.avail[i*n+c.order[p]] }
	left := make([]int64, len(c.lines))
	for i, l := range c.lines {
		left[i] = l.Quantity
	}
	var allocs []Allocation
	var sources []Source
	give := func(set []int, stage Stage, whole bool) {
		gave := map[int]bool{}
		for i := range left {
			for _, p := range set {
				q := min(left[i], avail(i, p))
				if q <= 0 || (whole && q < left[i]) {
					continue
				}
				allocs = append(allocs, Allocation{Product: c.lines[i].Product, Outlet: c.table.outlets[c.order[p]].ID, Quantity: q})
				left[i] -= q
				gave[p] = true
			}
		}
		for _, p := range set {
			if gave[p] {
				sources = append(sources, Source{Outlet: c.table.outlets[c.order[p]].ID, Stage: stage, Rank: p + 1})
			}
		}
	}
	if c.preferred >= 0 {
		stage := StageMethodOutlet
		if c.restrict {
			stage = StageRestricted
		}
		give([]int{c.preferred}, stage, false)
	}
	members := func(mask int) []int {
		var set []int
		for p := range n {
			if mask&(1<<p) != 0 {
				set = append(set, p)
			}
		}
		return set
	}
	best := func(ok func(set []int) bool) []int {
		var found []int
		for mask := 1; mask < 1<<n; mask++ {
			if c.preferred >= 0 && mask&(1<<c.preferred) != 0 {
				continue
			}
			set := members(mask)
			if !ok(set) {
				continue
			}
			if found == nil || len(set) < len(found) || (len(set) == len(found) && slices.Compare(set, found) < 0) {
				found = set
			}
		}
		return found
	}
	if slices.ContainsFunc(left, func(q int64) bool { return q > 0 }) {
		whole := best(func(set []int) bool {
			for i, q := range left {
				if q > 0 && !slices.ContainsFunc(set, func(p int) bool { return avail(i, p) >= q }) {
					return false
				}
			}
			return true
		})
		switch {
		case len(whole) == 1:
			give(whole, StageOneOutlet, false)
		case whole != nil:
			give(whole, StageWholeLines, true)
		default:
			give(best(func(set []int) bool {
				for i, q := range left {
					var sum int64
					for _, p := range set {
						sum += avail(i, p)
					}
					if sum < q {
						return false
					}
				}
				return true
			}), StageSplitLines, false)
		}
	}
	slices.SortFunc(allocs, func(a, b Allocation) int {
		if a.Product != b.Product {
			return cmpString(a.Product, b.Product)
		}
		return cmpString(a.Outlet, b.Outlet)
	})
	return allocs, sources
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestRouteMatchesBruteForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawRouteCase(t, 7)
		wantAllocs, wantSources := bruteRoute(c)
		gotAllocs, gotSources := route(&c.table, c.need(), c.order, c.preferred, c.restrict)
		if diff := cmp.Diff(wantAllocs, gotAllocs); diff != "" {
			t.Fatalf("route() allocations mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSources, gotSources); diff != "" {
			t.Fatalf("route() sources mismatch (-want +got):\n%s", diff)
		}
	})
}

// Above MaxExactOutlets the split is greedy: it must still fill every line
// exactly, never take more than an outlet gives, and use one outlet when
// one can fill the order.
func TestRouteGreedyIsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawRouteCase(t, MaxExactOutlets+12)
		n := len(c.table.outlets)
		allocs, sources := route(&c.table, c.need(), c.order, c.preferred, c.restrict)
		sums := map[string]int64{}
		for _, a := range allocs {
			j := slices.IndexFunc(c.table.outlets, func(o Outlet) bool { return o.ID == a.Outlet })
			i := slices.IndexFunc(c.lines, func(l Line) bool { return l.Product == a.Product })
			if a.Quantity <= 0 || a.Quantity > c.table.avail[i*n+j] {
				t.Fatalf("allocation %+v: outlet gives %d", a, c.table.avail[i*n+j])
			}
			sums[a.Product] += a.Quantity
		}
		for _, l := range c.lines {
			if sums[l.Product] != l.Quantity {
				t.Fatalf("%d of %q allocated, %d ordered: %+v", sums[l.Product], l.Product, l.Quantity, allocs)
			}
		}
		if c.preferred < 0 {
			fills := slices.ContainsFunc(seq(n), func(j int) bool {
				return !slices.ContainsFunc(seq(len(c.lines)), func(i int) bool { return c.table.avail[i*n+j] < c.lines[i].Quantity })
			})
			if fills && (len(sources) != 1 || sources[0].Stage != StageOneOutlet) {
				t.Fatalf("an outlet fills the order alone, but it ships from %+v", sources)
			}
		}
	})
}

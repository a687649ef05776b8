package onlinestock

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// ReservationStatus is where a reservation is in its life.
type ReservationStatus string

// Reservation statuses. Open is the only one that holds stock.
const (
	Open      ReservationStatus = "open"
	Released  ReservationStatus = "released"  // cancelled: units returned
	Fulfilled ReservationStatus = "fulfilled" // sold: units left the outlets
	Expired   ReservationStatus = "expired"   // its TTL passed: units returned
)

// Order is an online order to reserve stock for.
type Order struct {
	ID    string `json:"id"`
	Lines []Line `json:"lines"`
	// Method is the chosen shipping method's ID, or "" for none.
	Method string `json:"method,omitempty"`
	// TTL, when positive, makes the reservation expire that long after it
	// is made (see [Service.ExpireReservations]). The deadline must be a
	// time a Store keeps, in 2262 at the latest: a longer TTL is ErrInvalid.
	TTL time.Duration `json:"ttl_ns,omitempty"`
}

// Allocation is what one outlet gives to one product of an order.
type Allocation struct {
	Product  string `json:"product"`
	Outlet   string `json:"outlet"`
	Quantity int64  `json:"quantity"`
}

// Reservation is the stock held for an order and where it comes from.
type Reservation struct {
	Order       string            `json:"order"`
	Method      string            `json:"method"`
	Lines       []Line            `json:"lines"`       // summed per product, sorted by product
	Allocations []Allocation      `json:"allocations"` // sorted by product, then outlet
	Status      ReservationStatus `json:"status"`
	Created     time.Time         `json:"created"`
	// Deadline is when an open reservation expires; zero means never.
	Deadline time.Time `json:"deadline,omitzero"`
}

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
// fills an order from one outlet when one can fill all of it, taking the
// first such outlet in this order; otherwise it splits the order, each time
// taking all it can from the outlet that can give the most, the earlier in
// this order on a tie. An Allocator only ranks, so whatever it returns the
// Service never allocates more than is available. Outlets it leaves out are
// ranked after, in the [FewestShipments] order.
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

func (o Order) validate() ([]Line, error) {
	if err := checkID("order", o.ID); err != nil {
		return nil, err
	}
	if o.Method != "" {
		if err := checkID("method", o.Method); err != nil {
			return nil, err
		}
	}
	if o.TTL < 0 {
		return nil, invalid("TTL", "negative duration %v", o.TTL)
	}
	return totals(o.Lines)
}

// Reserve holds stock for an order, atomically: every line is allocated to
// connected outlets and their Reserved counts rise, or nothing happens.
//
// With a Restrict method linked to a connected outlet, everything comes from
// that outlet; with an AllowAll method linked to a connected outlet, that
// outlet gives first and the [Allocator] places the rest; otherwise the
// Allocator places everything. When the order cannot be filled the error is
// an [*InsufficientStockError] (ErrInsufficientStock) with the shortfalls.
// A method that is unknown, or orphaned while orphaned methods are hidden,
// is ErrNotFound.
//
// Reserve is idempotent by order ID: the same order again returns the
// reservation made the first time, whatever its status now; a different
// order under a used ID is ErrConflict. Concurrent reservations never
// oversell: of two racing for the last unit, exactly one gets it.
func (s *Service) Reserve(ctx context.Context, o Order) (Reservation, error) {
	lines, err := o.validate()
	if err != nil {
		return Reservation{}, err
	}
	now, err := s.now()
	if err != nil {
		return Reservation{}, err
	}
	var deadline time.Time
	if o.TTL > 0 {
		deadline = now.Add(o.TTL)
		if deadline.After(maxTime) {
			return Reservation{}, invalid("TTL", "%v from %v ends past %v, the last time a Store keeps",
				o.TTL, now, maxTime.UTC().Format(time.RFC3339Nano))
		}
	}
	var res Reservation
	err = s.store.Update(ctx, func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		existing, ok, err := tx.Reservation(ctx, o.ID)
		if err != nil {
			return err
		}
		if ok {
			if existing.Method != o.Method || !slices.Equal(existing.Lines, lines) {
				return fmt.Errorf("order %q was reserved with other lines or method: %w", o.ID, ErrConflict)
			}
			res = existing
			return nil
		}
		snap, err := s.snapshot(ctx, tx, setup, lines)
		if err != nil {
			return err
		}
		allocs, online, err := s.allocate(snap, lines, o.Method)
		if err != nil {
			return err
		}
		if err := s.moveStock(ctx, tx, snap.Outlets, snap.Products, allocs, +1, 0, online); err != nil {
			return err
		}
		res = Reservation{Order: o.ID, Method: o.Method, Lines: lines, Allocations: allocs, Status: Open, Created: now, Deadline: deadline}
		return tx.PutReservation(ctx, res)
	})
	if err != nil {
		return Reservation{}, err
	}
	return res, nil
}

// allocate places lines (summed, sorted) on outlets, or says why it cannot.
// It also returns the online stock of each product, as the evaluator saw it.
func (s *Service) allocate(snap Snapshot, lines []Line, methodID string) ([]Allocation, []ProductQuote, error) {
	cs := newCartStock(snap, lines)
	// A method the checkout cannot show is an error of the caller's, whatever
	// the stock; then the stock decides.
	var method *MethodQuote
	if methodID != "" {
		k, ok := slices.BinarySearchFunc(snap.Methods, methodID, byMethodID)
		if !ok {
			return nil, nil, notFound("method", methodID)
		}
		mq := cs.quoteMethod(snap.Methods[k], QuoteOptions{HideOrphanedMethods: s.cfg.HideOrphanedMethods})
		if mq.Reason == ReasonHidden {
			return nil, nil, fmt.Errorf("method %q is orphaned and hidden: %w", methodID, ErrNotFound)
		}
		method = &mq
	}
	if !cs.purchasable {
		short := &InsufficientStockError{}
		for _, p := range cs.products {
			if p.Status != LineOK {
				short.Shortfalls = append(short.Shortfalls, Shortfall{Product: p.Product, Requested: p.Requested, Available: p.Available})
			}
		}
		return nil, nil, short
	}
	preferred := ""
	switch {
	case method == nil:
	case method.Reason == ReasonOutletShort:
		return nil, nil, &InsufficientStockError{Outlet: method.Method.Outlet, Shortfalls: method.Shortfalls}
	case !method.Orphaned && method.Method.Outlet != "":
		preferred = method.Method.Outlet
	}

	req := AllocationRequest{Lines: lines, Outlets: snap.Outlets, Products: snap.Products, Primary: snap.Primary}
	return place(&cs, preferred, s.outletOrder(req)), cs.products, nil
}

// place allocates the cart's lines, which the connected outlets are known to
// cover: preferred first, then one outlet of order that can fill all the
// rest if there is one, else repeatedly the outlet that can give the most.
// A Restrict method's outlet is preferred and covers everything, so it
// fills the order alone.
func place(cs *cartStock, preferred string, order []int) []Allocation {
	// left[i] is what line i still needs; avail(i, j) what outlet order[j]
	// (an index into cs.outlets) can still give of it, kept in cs, which
	// place uses up.
	left := make([]int64, len(cs.lines))
	for i, l := range cs.lines {
		left[i] = l.Quantity
	}
	avail := func(i, j int) *int64 { return &cs.contrib[i*len(cs.outlets)+order[j]] }
	allocs := make([]Allocation, 0, len(cs.lines))
	take := func(j int) {
		for i := range left {
			if n := min(left[i], *avail(i, j)); n > 0 {
				allocs = append(allocs, Allocation{Product: cs.lines[i].Product, Outlet: cs.outlets[order[j]].ID, Quantity: n})
				left[i] -= n
				*avail(i, j) -= n
			}
		}
	}
	gives := func(j int) (units int64, all bool) {
		all = true
		for i := range left {
			units += min(left[i], *avail(i, j))
			all = all && *avail(i, j) >= left[i]
		}
		return units, all
	}
	if j := slices.IndexFunc(order, func(k int) bool { return cs.outlets[k].ID == preferred }); preferred != "" && j >= 0 {
		take(j)
	}
	for j := range order {
		if units, all := gives(j); all && units > 0 {
			take(j)
			break
		}
	}
	for {
		best, bestUnits := -1, int64(0)
		for j := range order {
			if units, _ := gives(j); units > bestUnits {
				best, bestUnits = j, units
			}
		}
		if best < 0 {
			break
		}
		take(best)
	}
	slices.SortFunc(allocs, func(a, b Allocation) int {
		if c := cmp.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return cmp.Compare(a.Outlet, b.Outlet)
	})
	return allocs
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

// moveStock changes the levels under allocs by reservedSign and onHandSign
// times each allocation's quantity, one version step per allocation, and
// writes the availability events. products must hold every allocated
// product with its levels. known, when not nil, holds the products' online
// stock already worked out, sorted by product.
func (s *Service) moveStock(ctx context.Context, tx Tx, outlets []Outlet, products []Product, allocs []Allocation, reservedSign, onHandSign int64, known []ProductQuote) error {
	writes := make([]Level, 0, len(allocs))
	events := make([]Event, 0, len(products))
	now, err := s.now()
	if err != nil {
		return err
	}
	for _, p := range products {
		first := len(writes) // p's moved levels are writes[first:]
		for _, a := range allocs {
			if a.Product != p.ID {
				continue
			}
			moved := writes[first:]
			i := slices.IndexFunc(moved, func(l Level) bool { return l.Outlet == a.Outlet })
			if i < 0 {
				k, ok := slices.BinarySearchFunc(p.Levels, a.Outlet, byOutlet)
				if !ok {
					return fmt.Errorf("allocation of %q at outlet %q has no level: %w", a.Product, a.Outlet, ErrConflict)
				}
				writes = append(writes, p.Levels[k])
				i = len(moved)
			}
			l := &writes[first+i]
			l.Reserved += reservedSign * a.Quantity
			l.OnHand += onHandSign * a.Quantity
			l.Version++
		}
		if len(writes) == first || !p.Enabled {
			continue
		}
		// Online stock is a sum over levels, so only the moved terms change.
		var online int64
		if i, ok := slices.BinarySearchFunc(known, p.ID, func(q ProductQuote, id string) int { return cmp.Compare(q.Product, id) }); ok {
			online = known[i].Available
		} else {
			online = OnlineStock(p.Levels, outlets)
		}
		next := online
		for _, l := range writes[first:] {
			if o, ok := findOutlet(outlets, l.Outlet); ok {
				k, _ := slices.BinarySearchFunc(p.Levels, l.Outlet, byOutlet)
				next += contribution(&l, &o) - contribution(&p.Levels[k], &o)
			}
		}
		before := Classify(true, online, s.cfg.LowStockThreshold)
		if after := Classify(true, next, s.cfg.LowStockThreshold); after != before {
			events = append(events, availabilityEvent(now, p.ID, before, after))
		}
	}
	if len(writes) > 0 {
		if err := tx.PutLevels(ctx, writes); err != nil {
			return err
		}
	}
	if len(events) > 0 {
		return tx.AppendEvents(ctx, events)
	}
	return nil
}

func byOutlet(l Level, outlet string) int { return cmp.Compare(l.Outlet, outlet) }

// Reservation returns an order's reservation; an unknown order is
// ErrNotFound.
func (s *Service) Reservation(ctx context.Context, order string) (Reservation, error) {
	if err := checkID("order", order); err != nil {
		return Reservation{}, err
	}
	var res Reservation
	err := s.store.View(ctx, func(tx Tx) error {
		r, ok, err := tx.Reservation(ctx, order)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("order", order)
		}
		res = r
		return nil
	})
	return res, err
}

// Release cancels an order's reservation: its units go back to the outlets
// they came from, even an outlet disconnected since. Releasing a released or
// expired reservation is a no-op; a fulfilled one is ErrConflict; an unknown
// order ErrNotFound. It returns the reservation as it now stands.
func (s *Service) Release(ctx context.Context, order string) (Reservation, error) {
	return s.close(ctx, order, Released, -1, 0)
}

// Fulfill records an order's sale: at each allocated outlet, Reserved and
// OnHand drop together by the allocated units. Fulfilling a fulfilled
// reservation is a no-op; a released or expired one is ErrConflict; an
// unknown order ErrNotFound. It returns the reservation as it now stands.
func (s *Service) Fulfill(ctx context.Context, order string) (Reservation, error) {
	return s.close(ctx, order, Fulfilled, -1, -1)
}

func (s *Service) close(ctx context.Context, order string, to ReservationStatus, reservedSign, onHandSign int64) (Reservation, error) {
	if err := checkID("order", order); err != nil {
		return Reservation{}, err
	}
	var res Reservation
	err := s.store.Update(ctx, func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		r, ok, err := tx.Reservation(ctx, order)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("order", order)
		}
		res = r
		if r.Status == to || (to == Released && r.Status == Expired) {
			return nil
		}
		if r.Status != Open {
			return fmt.Errorf("order %q is %s, cannot become %s: %w", order, r.Status, to, ErrConflict)
		}
		products, err := tx.Products(ctx, allocatedProducts(r.Allocations))
		if err != nil {
			return err
		}
		if err := s.moveStock(ctx, tx, setup.Outlets, products, r.Allocations, reservedSign, onHandSign, nil); err != nil {
			return err
		}
		res.Status = to
		return tx.PutReservation(ctx, res)
	})
	if err != nil {
		return Reservation{}, err
	}
	return res, nil
}

func allocatedProducts(allocs []Allocation) []string {
	ids := make([]string, len(allocs))
	for i, a := range allocs {
		ids[i] = a.Product
	}
	return sortedUnique(ids)
}

// ExpireReservations releases every open reservation whose deadline is not
// after now, as [Service.Release] would, and returns their order IDs,
// sorted. Call it periodically with the current time.
func (s *Service) ExpireReservations(ctx context.Context, now time.Time) ([]string, error) {
	var expired []string
	err := s.store.Update(ctx, func(tx Tx) error {
		expired = nil
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		due, err := tx.DueReservations(ctx, now)
		if err != nil || len(due) == 0 {
			return err
		}
		var all []Allocation
		var closed []Reservation
		for _, order := range due {
			r, ok, err := tx.Reservation(ctx, order)
			if err != nil {
				return err
			}
			if !ok || r.Status != Open {
				continue
			}
			all = append(all, r.Allocations...)
			r.Status = Expired
			closed = append(closed, r)
		}
		products, err := tx.Products(ctx, allocatedProducts(all))
		if err != nil {
			return err
		}
		if err := s.moveStock(ctx, tx, setup.Outlets, products, all, -1, 0, nil); err != nil {
			return err
		}
		for _, r := range closed {
			if err := tx.PutReservation(ctx, r); err != nil {
				return err
			}
			expired = append(expired, r.Order)
		}
		return nil
	})
	return expired, err
}

package onlinestock

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
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
	// Fulfilled and Released count the units of Quantity sold and returned
	// so far; the rest are held. Both are zero in a new reservation.
	Fulfilled int64 `json:"fulfilled,omitempty"`
	Released  int64 `json:"released,omitempty"`
	// Reported says that the POS has reported the sale of these units
	// ([Change.ForOrder]): on-hand already reflects it.
	Reported bool `json:"reported,omitempty"`
	// Components, for a bundle, are what one unit of it takes of each
	// component: the outlet holds Quantity times as many of each, and its
	// components' levels move with the bundle's units.
	Components []Component `json:"components,omitempty"`
	// Backordered is how many of Quantity were reserved past the outlet's
	// stock when the order was reserved (or last amended): units of a
	// product that takes backorders, at its designated outlet. The stock
	// that arrives there covers them first.
	Backordered int64 `json:"backordered,omitempty"`
}

// Held is what the allocation still holds: its units neither fulfilled nor
// released.
func (a Allocation) Held() int64 { return a.Quantity - a.Fulfilled - a.Released }

// Part names some units of an order to fulfil (a shipment) or release (a
// cancellation), for [Service.FulfillPart] and [Service.ReleasePart].
type Part struct {
	// ID identifies the call within the order, a shipment or cancellation
	// ID: a call under a used ID changes nothing.
	ID string `json:"id"`
	// Outlet, when set, is the one outlet the units come from.
	Outlet string `json:"outlet,omitempty"`
	// Lines are the units, summed per product.
	Lines []Line `json:"lines"`
}

// PartRecord is one partial call as the reservation records it.
type PartRecord struct {
	Part                   // Lines summed per product, sorted by product
	Kind ReservationStatus `json:"kind"` // Fulfilled or Released
	// Moved is where the units came from, sorted by product, then outlet;
	// each Quantity is the units moved.
	Moved []Allocation `json:"moved"`
	Time  time.Time    `json:"time"`
}

// Reservation is the stock held for an order and where it comes from.
type Reservation struct {
	Order       string       `json:"order"`
	Method      string       `json:"method"`
	Lines       []Line       `json:"lines"`       // summed per product, sorted by product
	Allocations []Allocation `json:"allocations"` // sorted by product, then outlet
	// Sources says, per outlet that gives, why it was chosen: in the order
	// they give, the method's outlet first.
	Sources []Source `json:"sources,omitempty"`
	// Status is Open while any unit is held. A reservation closes as its
	// last held units leave it: Fulfilled when they were fulfilled, Released
	// when released, Expired when they expired.
	Status  ReservationStatus `json:"status"`
	Created time.Time         `json:"created"`
	// Deadline is when an open reservation expires; zero means never.
	Deadline time.Time `json:"deadline,omitzero"`
	// Parts are the partial fulfilments and releases, in the order made.
	Parts []PartRecord `json:"parts,omitempty"`
}

// held returns, per allocation still holding units, what it holds.
func (r Reservation) held() []Allocation {
	out := make([]Allocation, 0, len(r.Allocations))
	for _, a := range r.Allocations {
		if n := a.Held(); n > 0 {
			out = append(out, Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: n, Components: a.Components})
		}
	}
	return out
}

// settle marks every held unit fulfilled or released.
func (r *Reservation) settle(to ReservationStatus) {
	r.Allocations = slices.Clone(r.Allocations)
	for i := range r.Allocations {
		a := &r.Allocations[i]
		if to == Fulfilled {
			a.Fulfilled += a.Held()
		} else {
			a.Released += a.Held()
		}
	}
	r.Status = to
}

// statusAt is the reservation's status at now: an open reservation past its
// deadline counts as expired, even before [Service.ExpireReservations]
// has run.
func (r Reservation) statusAt(now time.Time) ReservationStatus {
	if r.Status == Open && !r.Deadline.IsZero() && !r.Deadline.After(now) {
		return Expired
	}
	return r.Status
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
// Routing follows the merchant. With a Restrict method linked to a
// connected outlet, everything comes from that outlet. With an AllowAll
// method linked to a connected outlet, that outlet first gives all it can.
// What is left is routed in stages: (1) one outlet that fills all of it;
// else (2) a split in which every line comes whole from one outlet; else
// (3) a split of lines. At each stage the fewest outlets are used, and
// among equally few the [Allocator]'s order decides which: the set whose
// first outlet comes earliest in that order, then whose second, and so on.
// In a split the outlets give in that order, each all it can. So with W1
// holding 4 units, W2 holding 3 and W2 ranked first, an order of 5 is
// {W2: 3, W1: 2}. The search is exact up to [MaxExactOutlets] outlets
// holding what the order needs, greedy above. The reservation's Sources
// say, per outlet, its stage and its rank in the allocator's order.
//
// A bundle's units are reserved as its components' units: each unit is
// assembled whole at one outlet, whose components' Reserved counts rise;
// the allocation is of the bundle, in its units, and names its
// components. What the order needs of a component is its own lines and
// its bundles' units summed. When the method's outlet gives first, it
// assembles all it can of each bundle line, then gives of the other
// products; of what is left, one outlet that can fill all of it does;
// else each bundle line in turn (the one the fewest outlets can assemble
// a unit of first) is assembled at the outlets in the allocator's order,
// each all it can (stage [StageAssembly]), and the other products are
// routed as above on what stock is left. If the
// method's outlet assembling first would leave a bundle line short of
// components (bundles that share components can compete for them), the
// order is routed as if the method had no outlet.
//
// When the order cannot be filled the error is an [*InsufficientStockError]
// (ErrInsufficientStock) with the shortfalls, each saying whether the
// product is short or not for sale (unknown, or not enabled online). A
// method that is unknown, or orphaned while orphaned methods are hidden, is
// ErrNotFound.
//
// Reserve is idempotent by order ID: the same order again, while its
// reservation is open, returns the reservation made the first time. A
// different order under a used ID, or any order under the ID of a
// reservation that is closed (released, expired or fulfilled, or open but
// past its deadline), is ErrConflict naming the status. Concurrent
// reservations never oversell: of two racing for the last unit, exactly one
// gets it.
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
	err = s.update(ctx, "Reserve", func(tx Tx) error {
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
			if st := existing.statusAt(now); st != Open {
				return fmt.Errorf("order %q is %s: %w", o.ID, st, ErrConflict)
			}
			res = existing
			return nil
		}
		snap, v, err := s.snapshot(ctx, tx, setup, lines)
		if err != nil {
			return err
		}
		allocs, sources, err := s.allocate(snap, lines, o.Method, v)
		if err != nil {
			return err
		}
		if err := s.moveStock(ctx, tx, v, allocs, reserveMove.withRef(o.ID)); err != nil {
			return err
		}
		res = Reservation{Order: o.ID, Method: o.Method, Lines: lines, Allocations: allocs, Sources: sources, Status: Open, Created: now, Deadline: deadline}
		if err := tx.AppendEvents(ctx, []Event{orderEvent(now, OrderReserved, o.ID, "", allocs)}); err != nil {
			return err
		}
		return tx.PutReservation(ctx, res)
	})
	if err != nil {
		return Reservation{}, err
	}
	return res, nil
}

// stockMove says how [Service.moveStock] moves levels, and what the ledger
// records of it.
type stockMove struct {
	reservedSign, onHandSign int64
	// kind is the movements' kind; "" means reserve for a positive
	// quantity and release for a negative one (an amendment).
	kind MovementKind
	ref  string   // the movements' reference
	refs []string // when set, the reference of each allocation instead
}

var (
	reserveMove = stockMove{reservedSign: +1, kind: MovedByReserve}
	releaseMove = stockMove{reservedSign: -1, kind: MovedByRelease}
	fulfilMove  = stockMove{reservedSign: -1, onHandSign: -1, kind: MovedByFulfil}
	expireMove  = stockMove{reservedSign: -1, kind: MovedByExpiry}
	amendMove   = stockMove{reservedSign: +1}
)

// moveStock changes the levels under allocs by m's signs times each
// allocation's units (for a bundle, its components' units at its outlet),
// a version step per allocation and level when on-hand moves, appends a
// ledger movement per allocation and level (a component's naming the
// bundle), and writes an availability event for each product whose
// availability that moves. v must hold every product of allocs (for a
// bundle, its components) and the bundles having them as components, with
// their levels.
func (s *Service) moveStock(ctx context.Context, tx Tx, v *stockView, allocs []Allocation, m stockMove) error {
	sc := moveScratches.Get().(*moveScratch)
	defer sc.release()
	// One step per allocation and level it moves, grouped by product in
	// allocation order.
	steps := sc.steps[:0]
	for i, a := range allocs {
		if a.Quantity == 0 {
			continue
		}
		if len(a.Components) == 0 {
			steps = append(steps, moveStep{a.Product, "", i, a.Quantity})
		}
		for _, c := range a.Components {
			steps = append(steps, moveStep{c.Product, a.Product, i, a.Quantity * c.Quantity})
		}
	}
	sc.steps = steps
	if len(steps) == 0 {
		return nil
	}
	if !slices.IsSortedFunc(steps, compareStepProducts) {
		slices.SortStableFunc(steps, compareStepProducts)
	}
	now, err := s.now()
	if err != nil {
		return err
	}
	lg := ledger{now: now, movements: sc.movements[:0]}
	writes := sc.writes[:0]
	first := 0 // the current product's levels are writes[first:]
	for _, st := range steps {
		a := &allocs[st.alloc]
		if len(writes) > first && writes[first].Product != st.product {
			first = len(writes)
		}
		i := slices.IndexFunc(writes[first:], func(l Level) bool { return l.Outlet == a.Outlet })
		if i >= 0 {
			i += first
		} else {
			var levels []Level
			if p, ok := v.product(st.product); ok {
				levels = p.Levels
			}
			k, ok := slices.BinarySearchFunc(levels, a.Outlet, byOutlet)
			l := Level{Product: st.product, Outlet: a.Outlet}
			switch {
			case ok:
				l = levels[k]
			case m.reservedSign*st.units < 0:
				return fmt.Errorf("allocation of %q at outlet %q has no level: %w", st.product, a.Outlet, ErrConflict)
			}
			// else: units backordered at an outlet that never held the product
			i = len(writes)
			writes = append(writes, l)
		}
		l := &writes[i]
		l.Reserved += m.reservedSign * st.units
		l.OnHand += m.onHandSign * st.units
		kind := m.kind
		switch {
		case kind == "" && st.units > 0:
			kind = MovedByReserve
		case kind == "":
			kind = MovedByRelease
		}
		if kind.MovesOnHand() {
			l.Version++
		}
		ref := m.ref
		if m.refs != nil {
			ref = m.refs[st.alloc]
		}
		lg.move(kind, "", ref, l, m.onHandSign*st.units, m.reservedSign*st.units)
		lg.movements[len(lg.movements)-1].Bundle = st.bundle
	}
	sc.movements, sc.writes = lg.movements, writes
	if !slices.IsSortedFunc(writes, compareLevels) {
		slices.SortFunc(writes, compareLevels)
	}
	if err := tx.PutLevels(ctx, writes); err != nil {
		return err
	}
	if err := tx.AppendMovements(ctx, lg.movements); err != nil {
		return err
	}
	touched := sc.touched[:0]
	for _, l := range writes {
		if n := len(touched); n == 0 || touched[n-1] != l.Product {
			touched = append(touched, l.Product)
		}
	}
	sc.touched = touched
	events := v.moveEvents(sc.events[:0], now, writes, v.catalog.affected(touched))
	sc.events = events
	if len(events) > 0 {
		return tx.AppendEvents(ctx, events)
	}
	return nil
}

// moveStep is one step of [Service.moveStock]: units of product (of
// bundle, for a component) that allocation alloc moves.
type moveStep struct {
	product, bundle string
	alloc           int
	units           int64
}

func compareStepProducts(a, b moveStep) int { return cmp.Compare(a.product, b.product) }

func compareLevels(a, b Level) int {
	return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Outlet, b.Outlet))
}

// moveScratch holds the working slices of one [Service.moveStock], kept
// from call to call: a Tx copies the slices it is given.
type moveScratch struct {
	steps     []moveStep
	movements []Movement
	writes    []Level
	touched   []string
	events    []Event
}

var moveScratches = sync.Pool{New: func() any { return new(moveScratch) }}

// maxScratch is the most elements a kept scratch slice may hold: a call
// that moved more (an expiry of many orders) lets its slices go.
const maxScratch = 1024

// release clears the scratch, so it keeps no strings alive, and returns
// it to the pool unless it grew large.
func (sc *moveScratch) release() {
	if max(cap(sc.steps), cap(sc.movements), cap(sc.writes), cap(sc.touched), cap(sc.events)) > maxScratch {
		return
	}
	clear(sc.steps)
	clear(sc.movements)
	clear(sc.writes)
	clear(sc.touched)
	clear(sc.events)
	sc.steps, sc.movements, sc.writes, sc.touched, sc.events = sc.steps[:0], sc.movements[:0], sc.writes[:0], sc.touched[:0], sc.events[:0]
	moveScratches.Put(sc)
}

// withRef returns m with the reference ref.
func (m stockMove) withRef(ref string) stockMove {
	m.ref = ref
	return m
}

// withRefs returns m with a reference per allocation.
func (m stockMove) withRefs(refs []string) stockMove {
	m.refs = refs
	return m
}

func byOutlet(l Level, outlet string) int { return cmp.Compare(l.Outlet, outlet) }

// existingReservation reads an order's reservation; an order with none is
// ErrNotFound.
func existingReservation(ctx context.Context, tx Tx, order string) (Reservation, error) {
	r, ok, err := tx.Reservation(ctx, order)
	if err != nil {
		return Reservation{}, err
	}
	if !ok {
		return Reservation{}, notFound("order", order)
	}
	return r, nil
}

// Reservation returns an order's reservation; an unknown order is
// ErrNotFound.
func (s *Service) Reservation(ctx context.Context, order string) (Reservation, error) {
	if err := checkID("order", order); err != nil {
		return Reservation{}, err
	}
	var res Reservation
	err := s.view(ctx, "Reservation", func(tx Tx) error {
		r, err := existingReservation(ctx, tx, order)
		if err != nil {
			return err
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
	return s.close(ctx, "Release", order, Released, releaseMove)
}

// Fulfill records an order's sale: at each allocated outlet, Reserved and
// OnHand drop together by the allocated units. Fulfilling a fulfilled
// reservation is a no-op; a released or expired one is ErrConflict, and so
// is one past its deadline, even before [Service.ExpireReservations] has
// run; an unknown order ErrNotFound. It returns the reservation as it now stands.
func (s *Service) Fulfill(ctx context.Context, order string) (Reservation, error) {
	return s.close(ctx, "Fulfill", order, Fulfilled, fulfilMove)
}

func (s *Service) close(ctx context.Context, call string, order string, to ReservationStatus, m stockMove) (Reservation, error) {
	if err := checkID("order", order); err != nil {
		return Reservation{}, err
	}
	var res Reservation
	err := s.update(ctx, call, func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		r, err := existingReservation(ctx, tx, order)
		if err != nil {
			return err
		}
		res = r
		if r.Status == to || (to == Released && r.Status == Expired) {
			return nil
		}
		if r.Status != Open {
			return fmt.Errorf("order %q is %s, cannot become %s: %w", order, r.Status, to, ErrConflict)
		}
		now, err := s.now()
		if err != nil {
			return err
		}
		if to == Fulfilled && r.statusAt(now) == Expired {
			return fmt.Errorf("order %q is expired since %v, cannot become %s: %w", order, r.Deadline, to, ErrConflict)
		}
		held := r.held()
		v, err := s.readHeld(ctx, tx, setup, held)
		if err != nil {
			return err
		}
		if err := s.moveStock(ctx, tx, v, held, m.withRef(order)); err != nil {
			return err
		}
		res.settle(to)
		kind := OrderReleased
		if to == Fulfilled {
			kind = OrderFulfilled
		}
		if err := tx.AppendEvents(ctx, []Event{orderEvent(now, kind, order, "", held)}); err != nil {
			return err
		}
		return tx.PutReservation(ctx, res)
	})
	if err != nil {
		return Reservation{}, err
	}
	return res, nil
}

// FulfillPart records the sale of some units of an open order, a shipment
// for example: at the outlets they come from, Reserved and OnHand drop
// together; the rest stays reserved. When p.Outlet is set the units come
// from that outlet; otherwise from the order's outlets in the order they
// gave ([Reservation.Sources]). The order closes, Fulfilled, when no unit is
// left held.
//
// Each call carries its own ID (p.ID, unique within the order): a call
// under a used ID with the same content changes nothing and returns the
// reservation as it stands, so a retried call is safe; with other content
// it is ErrConflict. A product the order does not hold, an outlet that
// gives it nothing, or more units than are held there is ErrInvalid. A
// closed order, or one past its deadline, is ErrConflict; an unknown order
// ErrNotFound. Nothing changes on error.
func (s *Service) FulfillPart(ctx context.Context, order string, p Part) (Reservation, error) {
	return s.part(ctx, "FulfillPart", order, p, Fulfilled)
}

// ReleasePart cancels some units of an open order, one item of several for
// example: they go back to the outlets they came from, even an outlet
// disconnected since; the rest stays reserved. When p.Outlet is set the
// units come from that outlet; otherwise from the order's outlets in the
// reverse of the order they gave, so the outlets that gave first keep
// theirs. The order closes, Released, when no unit is left held. IDs,
// errors and retries are as for [Service.FulfillPart], except that an open
// order past its deadline can still be released.
func (s *Service) ReleasePart(ctx context.Context, order string, p Part) (Reservation, error) {
	return s.part(ctx, "ReleasePart", order, p, Released)
}

func (p Part) validate() ([]Line, error) {
	if err := checkID("part", p.ID); err != nil {
		return nil, err
	}
	if p.Outlet != "" {
		if err := checkID("part outlet", p.Outlet); err != nil {
			return nil, err
		}
	}
	return totals(p.Lines)
}

func (s *Service) part(ctx context.Context, call string, order string, p Part, kind ReservationStatus) (Reservation, error) {
	if err := checkID("order", order); err != nil {
		return Reservation{}, err
	}
	lines, err := p.validate()
	if err != nil {
		return Reservation{}, err
	}
	m := releaseMove
	if kind == Fulfilled {
		m = fulfilMove
	}
	var res Reservation
	err = s.update(ctx, call, func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		r, err := existingReservation(ctx, tx, order)
		if err != nil {
			return err
		}
		res = r
		if i := slices.IndexFunc(r.Parts, func(d PartRecord) bool { return d.ID == p.ID }); i >= 0 {
			if d := r.Parts[i]; d.Kind != kind || d.Outlet != p.Outlet || !slices.Equal(d.Lines, lines) {
				return fmt.Errorf("order %q: part %q was used for other units: %w", order, p.ID, ErrConflict)
			}
			return nil
		}
		now, err := s.now()
		if err != nil {
			return err
		}
		if r.Status != Open {
			return fmt.Errorf("order %q is %s: %w", order, r.Status, ErrConflict)
		}
		if kind == Fulfilled && r.statusAt(now) == Expired {
			return fmt.Errorf("order %q is expired since %v, cannot be fulfilled: %w", order, r.Deadline, ErrConflict)
		}
		moved, err := res.take(p.Outlet, lines, kind)
		if err != nil {
			return err
		}
		v, err := s.readHeld(ctx, tx, setup, moved)
		if err != nil {
			return err
		}
		if err := s.moveStock(ctx, tx, v, moved, m.withRef(order)); err != nil {
			return err
		}
		res.Parts = append(slices.Clone(res.Parts), PartRecord{
			Part: Part{ID: p.ID, Outlet: p.Outlet, Lines: lines}, Kind: kind, Moved: moved, Time: now,
		})
		event := map[ReservationStatus]EventKind{Fulfilled: OrderPartiallyFulfilled, Released: OrderPartiallyReleased}[kind]
		if len(res.held()) == 0 {
			res.Status = kind
			event = map[ReservationStatus]EventKind{Fulfilled: OrderFulfilled, Released: OrderReleased}[kind]
		}
		if err := tx.AppendEvents(ctx, []Event{orderEvent(now, event, order, p.ID, moved)}); err != nil {
			return err
		}
		return tx.PutReservation(ctx, res)
	})
	if err != nil {
		return Reservation{}, err
	}
	return res, nil
}

// take moves lines out of the held units, as fulfilled or released, from
// outlet or, when it is "", from the outlets in the order they gave
// (reversed for a release). It returns what moved, per product and outlet,
// sorted. Lines the reservation does not hold are ErrInvalid.
func (r *Reservation) take(outlet string, lines []Line, kind ReservationStatus) ([]Allocation, error) {
	rank := func(o string) int {
		if i := slices.IndexFunc(r.Sources, func(s Source) bool { return s.Outlet == o }); i >= 0 {
			return i
		}
		return len(r.Sources)
	}
	r.Allocations = slices.Clone(r.Allocations)
	var moved []Allocation
	for _, l := range lines {
		var at []int // r.Allocations of l.Product that may give
		var held int64
		for i, a := range r.Allocations {
			if a.Product == l.Product && (outlet == "" || a.Outlet == outlet) {
				at = append(at, i)
				held += a.Held()
			}
		}
		where := ""
		if outlet != "" {
			where = fmt.Sprintf(" at outlet %q", outlet)
		}
		if held < l.Quantity {
			return nil, invalid("lines", "%d of %q asked, order %q holds %d%s", l.Quantity, l.Product, r.Order, held, where)
		}
		slices.SortStableFunc(at, func(i, j int) int {
			a, b := &r.Allocations[i], &r.Allocations[j]
			if c := cmp.Compare(rank(a.Outlet), rank(b.Outlet)); c != 0 {
				return c
			}
			return cmp.Compare(a.Outlet, b.Outlet)
		})
		if kind != Fulfilled {
			slices.Reverse(at)
		}
		left := l.Quantity
		for _, i := range at {
			a := &r.Allocations[i]
			n := min(left, a.Held())
			if n == 0 {
				continue
			}
			if kind == Fulfilled {
				a.Fulfilled += n
			} else {
				a.Released += n
			}
			moved = append(moved, Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: n, Components: a.Components})
			left -= n
		}
	}
	slices.SortFunc(moved, func(a, b Allocation) int {
		if c := cmp.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return cmp.Compare(a.Outlet, b.Outlet)
	})
	return moved, nil
}

// Amend changes the lines of an open order, atomically: the whole new
// allocation is made, or nothing changes. lines are the order's lines as
// they now stand, units already fulfilled included, so each product keeps
// at least its fulfilled units (ErrInvalid otherwise). The units still to
// hold are routed anew by the rule of [Service.Reserve], with the same
// method, counting the units the order holds as available where they are:
// an amendment never fails for want of units the order already has, and
// only the difference moves, so units the new allocation keeps are never
// released and reserved again. Amending to the lines the order has changes
// nothing.
//
// A closed order, or one past its deadline, is ErrConflict naming its
// status; an unknown one ErrNotFound. When the new lines cannot be filled
// the error is an [*InsufficientStockError], as for Reserve, and the
// reservation stays as it was. An order left holding nothing (every unit
// of its new lines already fulfilled) closes, Fulfilled.
func (s *Service) Amend(ctx context.Context, order string, lines []Line) (Reservation, error) {
	if err := checkID("order", order); err != nil {
		return Reservation{}, err
	}
	lines, err := totals(lines)
	if err != nil {
		return Reservation{}, err
	}
	var res Reservation
	err = s.update(ctx, "Amend", func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		r, err := existingReservation(ctx, tx, order)
		if err != nil {
			return err
		}
		res = r
		now, err := s.now()
		if err != nil {
			return err
		}
		if st := r.statusAt(now); st != Open {
			return fmt.Errorf("order %q is %s: %w", order, st, ErrConflict)
		}
		if slices.Equal(r.Lines, lines) {
			return nil
		}
		// What each product must still hold: its new quantity less what
		// was fulfilled, which cannot come back.
		fulfilled := map[string]int64{}
		for _, a := range r.Allocations {
			fulfilled[a.Product] += a.Fulfilled
		}
		var want []Line
		for _, l := range lines {
			if n := l.Quantity - fulfilled[l.Product]; n > 0 {
				want = append(want, Line{Product: l.Product, Quantity: n})
			} else if n < 0 {
				return invalid("lines", "%d of %q asked, %d already fulfilled", l.Quantity, l.Product, fulfilled[l.Product])
			}
			delete(fulfilled, l.Product)
		}
		for p, n := range fulfilled {
			if n > 0 {
				return invalid("lines", "%q left out, %d already fulfilled", p, n)
			}
		}
		held := r.held()
		ids := sortedUnique(append(lineProducts(want), allocatedProducts(held)...))
		if _, err := requirePrimary(setup); err != nil {
			return err
		}
		methods, err := tx.Methods(ctx)
		if err != nil {
			return err
		}
		cat, err := tx.Catalog(ctx)
		if err != nil {
			return err
		}
		v, err := s.readStock(ctx, tx, setup, cat, ids)
		if err != nil {
			return err
		}
		var allocs []Allocation
		var sources []Source
		if len(want) > 0 {
			// Route on the stock as it would be without this order.
			snap := Snapshot{Outlets: setup.Outlets, Products: credit(v.products, held), Methods: methods, Primary: setup.Primary(), Catalog: cat}
			if allocs, sources, err = s.allocate(snap, want, r.Method, nil); err != nil {
				return err
			}
		}
		moves := difference(held, allocs)
		if err := s.moveStock(ctx, tx, v, moves, amendMove.withRef(order)); err != nil {
			return err
		}
		res.Lines, res.Sources = lines, sources
		res.Allocations = amended(r.Allocations, moves)
		for i := range res.Allocations {
			a := &res.Allocations[i]
			a.Backordered = 0
			if k, ok := slices.BinarySearchFunc(allocs, *a, byProductOutlet); ok {
				a.Backordered = allocs[k].Backordered
			}
		}
		if len(allocs) == 0 {
			res.Status = Fulfilled
		}
		if err := tx.AppendEvents(ctx, []Event{orderEvent(now, OrderAmended, order, "", allocs)}); err != nil {
			return err
		}
		return tx.PutReservation(ctx, res)
	})
	if err != nil {
		return Reservation{}, err
	}
	return res, nil
}

// credit returns products with the held units (a bundle's in its
// components) taken off their levels' Reserved: the stock as it would be
// if they were not held. products is left as it is.
func credit(products []Product, held []Allocation) []Product {
	out := slices.Clone(products)
	for i := range out {
		out[i].Levels = slices.Clone(out[i].Levels)
	}
	take := func(product, outlet string, units int64) {
		if i, ok := slices.BinarySearchFunc(out, product, byProductID); ok {
			if k, ok := slices.BinarySearchFunc(out[i].Levels, outlet, byOutlet); ok {
				out[i].Levels[k].Reserved -= units
			}
		}
	}
	for _, a := range held {
		if len(a.Components) == 0 {
			take(a.Product, a.Outlet, a.Quantity)
		}
		for _, c := range a.Components {
			take(c.Product, a.Outlet, a.Quantity*c.Quantity)
		}
	}
	return out
}

// difference returns, per product and outlet, what moves from held to
// next: positive to reserve, negative to release. Both are sorted by
// product, then outlet, and so is the result; pairs that do not move are
// left out.
func difference(held, next []Allocation) []Allocation {
	var out []Allocation
	key := func(a Allocation) string { return a.Product + "\x00" + a.Outlet }
	i, j := 0, 0
	for i < len(held) || j < len(next) {
		switch {
		case j == len(next) || (i < len(held) && cmp.Compare(key(held[i]), key(next[j])) < 0):
			out = append(out, Allocation{Product: held[i].Product, Outlet: held[i].Outlet, Quantity: -held[i].Quantity, Components: held[i].Components})
			i++
		case i == len(held) || cmp.Compare(key(held[i]), key(next[j])) > 0:
			out = append(out, next[j])
			j++
		default:
			if d := next[j].Quantity - held[i].Quantity; d != 0 {
				out = append(out, Allocation{Product: next[j].Product, Outlet: next[j].Outlet, Quantity: d, Components: next[j].Components})
			}
			i++
			j++
		}
	}
	return out
}

// amended applies moves to allocs: units reserved add to an allocation's
// Quantity (a new one when the outlet gave nothing yet), units released
// count as Released.
func amended(allocs, moves []Allocation) []Allocation {
	out := slices.Clone(allocs)
	for _, m := range moves {
		k, ok := slices.BinarySearchFunc(out, m, func(a, m Allocation) int {
			if c := cmp.Compare(a.Product, m.Product); c != 0 {
				return c
			}
			return cmp.Compare(a.Outlet, m.Outlet)
		})
		switch {
		case !ok:
			out = slices.Insert(out, k, Allocation{Product: m.Product, Outlet: m.Outlet, Quantity: m.Quantity, Components: m.Components})
		case m.Quantity > 0:
			out[k].Quantity += m.Quantity
		default:
			out[k].Released -= m.Quantity
		}
	}
	return out
}

// ReservationFilter selects reservations for [Service.Reservations]. The
// zero value selects the first page of open reservations.
type ReservationFilter struct {
	// Status is the status to list; "" means Open. An open reservation past
	// its deadline is listed as open until [Service.ExpireReservations]
	// has run: find those with DueBefore.
	Status ReservationStatus
	// Product and Outlet, when set, keep the reservations with an
	// allocation of that product, or at that outlet, or, both set, of that
	// product at that outlet. The allocation of a bundle is of the
	// bundle, not of its components.
	Product string
	Outlet  string
	// DueBefore, when set, keeps the reservations whose deadline is set and
	// before it.
	DueBefore time.Time
	// After, when set, starts the page after that order ID: pass the last
	// order of the previous page.
	After string
	// Limit is the most reservations to return: 0 means 100, and at most
	// MaxReservationsPage.
	Limit int
}

// MaxReservationsPage is the largest page [Service.Reservations] returns.
const MaxReservationsPage = 1000

func (f *ReservationFilter) normalize() error {
	switch f.Status {
	case "":
		f.Status = Open
	case Open, Released, Fulfilled, Expired:
	default:
		return invalid("status", "%q is not open, released, fulfilled or expired", f.Status)
	}
	for _, id := range []struct{ field, id string }{{"product", f.Product}, {"outlet", f.Outlet}, {"after", f.After}} {
		if id.id != "" {
			if err := checkID(id.field, id.id); err != nil {
				return err
			}
		}
	}
	if f.Limit < 0 || f.Limit > MaxReservationsPage {
		return invalid("limit", "%d outside [0, %d]", f.Limit, MaxReservationsPage)
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	return nil
}

// Reservations lists reservations, sorted by order ID, a page at a time:
// those of a status (open by default), holding a product or at an outlet,
// due before a time, as f says. Each page is one Store read. A bad filter
// is ErrInvalid.
func (s *Service) Reservations(ctx context.Context, f ReservationFilter) ([]Reservation, error) {
	if err := f.normalize(); err != nil {
		return nil, err
	}
	var out []Reservation
	err := s.view(ctx, "Reservations", func(tx Tx) error {
		var err error
		out, err = tx.Reservations(ctx, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Reservation{}
	}
	return out, nil
}

// Matches reports whether r is one f selects, [ReservationFilter.After]
// and Limit aside. f's Status must be set. Stores may use it to filter.
func (f ReservationFilter) Matches(r Reservation) bool {
	if r.Status != f.Status {
		return false
	}
	if !f.DueBefore.IsZero() && (r.Deadline.IsZero() || !r.Deadline.Before(f.DueBefore)) {
		return false
	}
	if f.Product == "" && f.Outlet == "" {
		return true
	}
	return slices.ContainsFunc(r.Allocations, func(a Allocation) bool {
		return (f.Product == "" || a.Product == f.Product) && (f.Outlet == "" || a.Outlet == f.Outlet)
	})
}

// readHeld reads, in tx, what moving allocs needs: see [Service.moveStock].
func (s *Service) readHeld(ctx context.Context, tx Tx, setup *Setup, allocs []Allocation) (*stockView, error) {
	cat, err := tx.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	return s.readStock(ctx, tx, setup, cat, allocatedProducts(allocs))
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
	err := s.update(ctx, "ExpireReservations", func(tx Tx) error {
		expired = nil
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		due, err := tx.DueReservations(ctx, now)
		if err != nil || len(due) == 0 {
			return err
		}
		at, err := s.now()
		if err != nil {
			return err
		}
		var all []Allocation
		var refs []string // the order of each of all
		var closed []Reservation
		var events []Event
		for _, order := range due {
			r, ok, err := tx.Reservation(ctx, order)
			if err != nil {
				return err
			}
			if !ok || r.Status != Open {
				continue
			}
			held := r.held()
			all = append(all, held...)
			for range held {
				refs = append(refs, r.Order)
			}
			events = append(events, orderEvent(at, OrderExpired, r.Order, "", held))
			r.settle(Expired)
			closed = append(closed, r)
		}
		v, err := s.readHeld(ctx, tx, setup, all)
		if err != nil {
			return err
		}
		if err := s.moveStock(ctx, tx, v, all, expireMove.withRefs(refs)); err != nil {
			return err
		}
		if len(events) > 0 {
			if err := tx.AppendEvents(ctx, events); err != nil {
				return err
			}
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

func byProductOutlet(a, b Allocation) int {
	return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Outlet, b.Outlet))
}

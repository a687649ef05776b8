package storetest

import (
	"cmp"
	"slices"
	"sort"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/onlinestock/onlinestock"
)

// model is the plain-Go picture of a store that the model-based test keeps
// beside the real one. Every rule is computed here the obvious way, from
// the documented rules, never by calling the library's own rules.
type model struct {
	lowStock  int64
	hide      bool
	retention time.Duration

	outlets       map[string]*modelOutlet
	registers     map[string]string // register → outlet
	orderRegister string
	products      map[string]bool // products reported so far → enabled
	levels        map[levelKey]*onlinestock.Level
	keys          map[string]keyRecord // idempotency key → when claimed, for what

	methods      map[string]onlinestock.Method
	reservations map[string]*onlinestock.Reservation
	announced    []onlinestock.Event    // order events of the last call
	moved        []onlinestock.Movement // ledger movements of the last call

	// The catalog: see catalogmodel.go.
	alloc      string                             // the allocator: "fewest" or "most"
	bundles    map[string][]onlinestock.Component // bundle → components, sorted
	backorders map[string]onlinestock.Backorder   // product → its backorder policy
}

// keyRecord is an idempotency key's claim: when, and the change it was
// applied to.
type keyRecord struct {
	at     time.Time
	change keyedChange
}

// keyedChange is what makes two changes under one key the same change.
type keyedChange struct {
	product, outlet string
	kind            onlinestock.ChangeKind
	quantity        int64
	order           string
}

type modelOutlet struct {
	name      string
	connected bool
	buffer    int64
	rank      int
}

type levelKey struct{ product, outlet string }

func newModel(lowStock int64, hide bool, retention time.Duration) *model {
	return &model{
		lowStock:     lowStock,
		hide:         hide,
		retention:    retention,
		outlets:      map[string]*modelOutlet{},
		registers:    map[string]string{},
		products:     map[string]bool{},
		levels:       map[levelKey]*onlinestock.Level{},
		keys:         map[string]keyRecord{},
		methods:      map[string]onlinestock.Method{},
		reservations: map[string]*onlinestock.Reservation{},
		alloc:        "fewest",
		bundles:      map[string][]onlinestock.Component{},
		backorders:   map[string]onlinestock.Backorder{},
	}
}

// validID is the library's rule for identifiers.
func validID(id string) bool {
	if id == "" || len(id) > 128 || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func (m *model) primary() string {
	if m.orderRegister == "" {
		return ""
	}
	return m.registers[m.orderRegister]
}

func (m *model) connected(outlet string) bool {
	o := m.outlets[outlet]
	return o != nil && o.connected
}

func (m *model) level(product, outlet string) onlinestock.Level {
	if l := m.levels[levelKey{product, outlet}]; l != nil {
		return *l
	}
	return onlinestock.Level{Product: product, Outlet: outlet}
}

// contribution is what a connected outlet offers of a product.
func (m *model) contribution(product, outlet string) int64 {
	o := m.outlets[outlet]
	if o == nil || !o.connected {
		return 0
	}
	l := m.level(product, outlet)
	return max(0, l.OnHand-l.Reserved-o.buffer)
}

// online is the sum over connected outlets of their contributions; for a
// bundle, of the units each can assemble.
func (m *model) online(product string) int64 {
	if comps, ok := m.bundles[product]; ok {
		return m.bundleOnline(comps)
	}
	var total int64
	for id := range m.outlets {
		total += m.contribution(product, id)
	}
	return total
}

// availability is the label rules.
func (m *model) availability(product string) onlinestock.Availability {
	if !m.products[product] {
		return onlinestock.Availability{Quantity: 0, Label: onlinestock.NotForSale}
	}
	q := m.online(product)
	if r := m.allowance(product); r > 0 {
		return m.backorderAvailability(q, r)
	}
	switch {
	case q == 0:
		return onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut}
	case q <= m.lowStock:
		return onlinestock.Availability{Quantity: q, Label: onlinestock.LowStock}
	default:
		return onlinestock.Availability{Quantity: q, Label: onlinestock.InStock}
	}
}

func (m *model) availabilities(products []string) map[string]onlinestock.Availability {
	out := make(map[string]onlinestock.Availability, len(products))
	for _, p := range products {
		out[p] = m.availability(p)
	}
	return out
}

func (m *model) setup() *onlinestock.Setup {
	s := &onlinestock.Setup{OrderRegister: m.orderRegister, Outlets: []onlinestock.Outlet{}, Registers: []onlinestock.Register{}}
	for _, id := range sortedKeys(m.outlets) {
		o := m.outlets[id]
		s.Outlets = append(s.Outlets, onlinestock.Outlet{ID: id, Name: o.name, Connected: o.connected, Buffer: o.buffer, Rank: o.rank})
	}
	for _, id := range sortedKeys(m.registers) {
		s.Registers = append(s.Registers, onlinestock.Register{ID: id, Outlet: m.registers[id]})
	}
	return s
}

func (m *model) productLevels(product string) []onlinestock.Level {
	var out []onlinestock.Level
	for k, l := range m.levels {
		if k.product == product {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b onlinestock.Level) int { return cmp.Compare(a.Outlet, b.Outlet) })
	return out
}

func (m *model) sortedMethods(keep func(onlinestock.Method) bool) []onlinestock.Method {
	out := []onlinestock.Method{}
	for _, id := range sortedKeys(m.methods) {
		if keep(m.methods[id]) {
			out = append(out, m.methods[id])
		}
	}
	return out
}

func (m *model) orphaned(meth onlinestock.Method) bool {
	return meth.Outlet != "" && !m.connected(meth.Outlet)
}

// selection is what moving to the connected set next (and, when
// register is set, to that order register) does:
// outlets connected and disconnected, methods orphaned and restored, and
// products whose availability changes. It changes nothing.
func (m *model) selection(next map[string]bool, products []string, register string) onlinestock.SelectionResult {
	var res onlinestock.SelectionResult
	for _, id := range sortedKeys(m.outlets) {
		was, now := m.outlets[id].connected, next[id]
		switch {
		case now && !was:
			res.Connected = append(res.Connected, id)
		case was && !now:
			res.Disconnected = append(res.Disconnected, id)
		}
	}
	for _, meth := range m.sortedMethods(func(onlinestock.Method) bool { return true }) {
		if slices.Contains(res.Connected, meth.Outlet) {
			res.Restored = append(res.Restored, meth)
		}
		if slices.Contains(res.Disconnected, meth.Outlet) {
			res.Orphaned = append(res.Orphaned, meth)
		}
	}
	before := m.availabilities(products)
	saved, savedRegister := m.connectedSet(), m.orderRegister
	m.setConnected(next)
	if register != "" { // a new order register: who takes backorders may move
		m.orderRegister = register
	}
	after := m.availabilities(products)
	m.setConnected(saved)
	m.orderRegister = savedRegister
	for _, p := range products {
		if before[p] != after[p] {
			res.Changes = append(res.Changes, onlinestock.AvailabilityChange{Product: p, Before: before[p], After: after[p]})
		}
	}
	return res
}

func (m *model) connectedSet() map[string]bool {
	set := map[string]bool{}
	for id, o := range m.outlets {
		set[id] = o.connected
	}
	return set
}

func (m *model) setConnected(set map[string]bool) {
	for id, o := range m.outlets {
		o.connected = set[id]
	}
}

// outletEvents are the OutletConnected and OutletDisconnected events of a
// selection result.
func outletEvents(res onlinestock.SelectionResult) []onlinestock.Event {
	var events []onlinestock.Event
	ids := func(methods []onlinestock.Method, outlet string) []string {
		var out []string
		for _, meth := range methods {
			if meth.Outlet == outlet {
				out = append(out, meth.ID)
			}
		}
		return out
	}
	for _, id := range res.Connected {
		events = append(events, onlinestock.Event{Kind: onlinestock.OutletConnected, Outlet: id, Methods: ids(res.Restored, id)})
	}
	for _, id := range res.Disconnected {
		events = append(events, onlinestock.Event{Kind: onlinestock.OutletDisconnected, Outlet: id, Methods: ids(res.Orphaned, id)})
	}
	return events
}

// sumLines sums lines per product, sorted by product.
func sumLines(lines []onlinestock.Line) []onlinestock.Line {
	totals := map[string]int64{}
	for _, l := range lines {
		totals[l.Product] += l.Quantity
	}
	out := []onlinestock.Line{}
	for _, p := range sortedKeys(totals) {
		out = append(out, onlinestock.Line{Product: p, Quantity: totals[p]})
	}
	return out
}

// quote is the brute-force reference for Service.Quote; a cart with
// bundles is checked further by quoteBundles.
func (m *model) quote(lines []onlinestock.Line) onlinestock.Quote {
	summed := sumLines(lines)
	q := onlinestock.Quote{Purchasable: true, Products: []onlinestock.ProductQuote{}, Methods: []onlinestock.MethodQuote{}}
	for _, l := range summed {
		pq := onlinestock.ProductQuote{Product: l.Product, Requested: l.Quantity, Status: onlinestock.LineNotForSale}
		if m.products[l.Product] {
			pq.Available = m.online(l.Product)
			pq.Status = onlinestock.LineOK
			m.quoteBackorder(&pq)
			if pq.Available < l.Quantity {
				pq.Status = onlinestock.LineShort
			}
		}
		if pq.Status != onlinestock.LineOK {
			q.Purchasable = false
		}
		q.Products = append(q.Products, pq)
	}
	m.quoteBundles(&q, summed)
	demand := m.demand(summed)
	for _, meth := range m.sortedMethods(func(onlinestock.Method) bool { return true }) {
		mq := onlinestock.MethodQuote{Method: meth, Orphaned: m.orphaned(meth)}
		switch {
		case mq.Orphaned && m.hide:
			mq.Reason = onlinestock.ReasonHidden
		case !q.Purchasable:
			mq.Reason = onlinestock.ReasonNotPurchasable
		case meth.Rule == onlinestock.Restrict && !mq.Orphaned:
			// Its outlet must hold what the cart needs of each product,
			// a bundle's units counted in its components.
			for _, l := range demand.need() {
				if have := m.contribution(l.Product, meth.Outlet) + m.allowanceAt(l.Product, meth.Outlet); have < l.Quantity {
					mq.Shortfalls = append(mq.Shortfalls, onlinestock.Shortfall{Product: l.Product, Requested: l.Quantity, Available: have, Status: onlinestock.LineShort})
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

// defaultOrder is the FewestShipments outlet order of the connected
// outlets: the primary first, then ranked outlets by rank, then the rest,
// each group by ID.
func (m *model) defaultOrder() []string {
	var ids []string
	for id, o := range m.outlets {
		if o.connected {
			ids = append(ids, id)
		}
	}
	group := func(id string) int {
		switch {
		case id == m.primary():
			return 0
		case m.outlets[id].rank > 0:
			return 1
		}
		return 2
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := ids[i], ids[j]
		if ga, gb := group(a), group(b); ga != gb {
			return ga < gb
		}
		if ra, rb := m.outlets[a].rank, m.outlets[b].rank; ra != rb {
			return ra < rb
		}
		return a < b
	})
	return ids
}

// applyBatch runs a batch of changes on the model. It returns the
// per-change results, or the errors the batch may fail with: the library
// reports one of them.
func (m *model) applyBatch(changes []onlinestock.Change, now time.Time) ([]onlinestock.ChangeResult, []error) {
	for _, c := range changes {
		switch {
		case c.Kind != onlinestock.SetOnHand && c.Kind != onlinestock.AdjustOnHand,
			!validID(c.Product), !validID(c.Outlet),
			c.Quantity < -onlinestock.MaxOnHand || c.Quantity > onlinestock.MaxOnHand,
			c.CheckVersion && c.IfVersion < 0,
			c.Key != "" && !validID(c.Key),
			c.Reason != "" && (len(c.Reason) > 64 || !validID(string(c.Reason))),
			c.Ref != "" && !validID(c.Ref),
			c.Order != "" && !validID(c.Order),
			c.Order != "" && c.Kind == onlinestock.AdjustOnHand && c.Quantity >= 0:
			return nil, []error{onlinestock.ErrInvalid}
		}
	}
	for _, c := range changes {
		if m.outlets[c.Outlet] == nil {
			return nil, []error{onlinestock.ErrNotFound}
		}
	}
	for _, c := range changes {
		if _, ok := m.bundles[c.Product]; ok {
			return nil, []error{onlinestock.ErrInvalid} // a bundle holds no stock
		}
	}
	// Keys: the same key for another change, in the batch or within the
	// retention, fails the batch.
	dup := make([]bool, len(changes))
	seen := map[string]keyedChange{}
	var claims []string
	for i, c := range changes {
		if c.Key == "" {
			continue
		}
		this := keyedChange{c.Product, c.Outlet, c.Kind, c.Quantity, c.Order}
		if first, ok := seen[c.Key]; ok {
			if first != this {
				return nil, []error{onlinestock.ErrConflict}
			}
			dup[i] = true
			continue
		}
		seen[c.Key] = this
		if rec, ok := m.keys[c.Key]; ok && !rec.at.Before(now.Add(-m.retention)) {
			if rec.change != this {
				return nil, []error{onlinestock.ErrConflict}
			}
			dup[i] = true
			continue
		}
		claims = append(claims, c.Key)
	}
	// Web orders reported: each must exist.
	orders := map[string]*onlinestock.Reservation{}
	for i, c := range changes {
		if c.Order == "" || dup[i] {
			continue
		}
		r := m.reservations[c.Order]
		if r == nil {
			return nil, []error{onlinestock.ErrNotFound}
		}
		if orders[c.Order] == nil {
			w := *r
			w.Allocations = slices.Clone(r.Allocations)
			orders[c.Order] = &w
		}
	}
	sold := map[string][]onlinestock.Allocation{}
	changed := map[string]bool{}

	results := make([]onlinestock.ChangeResult, len(changes))
	work := map[levelKey]onlinestock.Level{}
	failed := map[levelKey]bool{}
	var moved []onlinestock.Movement
	var errs []error
	for i, c := range changes {
		k := levelKey{c.Product, c.Outlet}
		if _, ok := work[k]; !ok {
			work[k] = m.level(c.Product, c.Outlet)
		}
		if failed[k] {
			continue
		}
		l := work[k]
		if dup[i] {
			results[i] = onlinestock.ChangeResult{Status: onlinestock.Duplicate, Level: l}
			continue
		}
		if c.CheckVersion && c.IfVersion != l.Version {
			failed[k] = true
			errs = append(errs, onlinestock.ErrConflict)
			continue
		}
		onHand := c.Quantity
		if c.Kind == onlinestock.AdjustOnHand {
			onHand += l.OnHand
		}
		var sell int64 // held units of the web order the change sells
		if c.Order != "" {
			r := orders[c.Order]
			j := slices.IndexFunc(r.Allocations, func(a onlinestock.Allocation) bool { return a.Product == c.Product && a.Outlet == c.Outlet })
			if j < 0 || (c.Kind == onlinestock.AdjustOnHand && -c.Quantity != r.Allocations[j].Quantity) {
				failed[k] = true
				errs = append(errs, onlinestock.ErrConflict)
				continue
			}
			a := &r.Allocations[j]
			if !a.Reported {
				// The POS took the units off on-hand; the library took off
				// those it fulfilled.
				notTaken := a.Quantity - a.Fulfilled
				sell = a.Quantity - a.Fulfilled - a.Released
				a.Fulfilled += sell
				a.Reported = true
				changed[c.Order] = true
				if sell > 0 {
					sold[c.Order] = append(sold[c.Order], onlinestock.Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: sell})
				}
				if c.Kind == onlinestock.AdjustOnHand {
					onHand = l.OnHand - notTaken
					if notTaken == 0 {
						results[i] = onlinestock.ChangeResult{Status: onlinestock.Duplicate, Level: l}
						continue
					}
				}
			} else if c.Kind == onlinestock.AdjustOnHand {
				results[i] = onlinestock.ChangeResult{Status: onlinestock.Duplicate, Level: l}
				continue
			}
		}
		if onHand < -onlinestock.MaxOnHand || onHand > onlinestock.MaxOnHand {
			failed[k] = true
			errs = append(errs, onlinestock.ErrInvalid)
			continue
		}
		delta := onHand - l.OnHand
		l.OnHand = onHand
		l.Reserved -= sell
		l.Version++
		work[k] = l
		results[i] = onlinestock.ChangeResult{Status: onlinestock.Applied, Level: l}
		kind, reason := onlinestock.MovedBySet, c.Reason
		if c.Kind == onlinestock.AdjustOnHand {
			kind = onlinestock.MovedByAdjust
		}
		if c.Order != "" && reason == "" {
			reason = onlinestock.StockSale
		}
		ref := c.Ref
		if ref == "" {
			ref = c.Order
		}
		if ref == "" {
			ref = c.Key
		}
		moved = append(moved, movement(l, kind, reason, ref, delta, -sell))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for k, l := range work {
		if l.Version == m.level(k.product, k.outlet).Version {
			continue // only duplicates: nothing written
		}
		l := l
		m.levels[k] = &l
		if _, ok := m.products[k.product]; !ok {
			m.products[k.product] = false
		}
	}
	for _, key := range claims {
		m.keys[key] = keyRecord{at: now, change: seen[key]}
	}
	for _, id := range sortedKeys(orders) {
		if !changed[id] {
			continue
		}
		r := orders[id]
		if units := sold[id]; len(units) > 0 {
			slices.SortFunc(units, func(a, b onlinestock.Allocation) int {
				return cmp.Or(cmp.Compare(a.Product, b.Product), cmp.Compare(a.Outlet, b.Outlet))
			})
			kind := onlinestock.OrderPartiallyFulfilled
			if r.Status == onlinestock.Open && len(m.held(r)) == 0 {
				r.Status = onlinestock.Fulfilled
				kind = onlinestock.OrderFulfilled
			}
			m.announce(kind, id, "", units)
		}
		m.reservations[id] = r
	}
	m.moved = append(m.moved, moved...)
	return results, nil
}

// movement is the ledger entry of a level l moved to by the deltas.
func movement(l onlinestock.Level, kind onlinestock.MovementKind, reason onlinestock.StockReason, ref string, onHand, reserved int64) onlinestock.Movement {
	return onlinestock.Movement{
		Product: l.Product, Outlet: l.Outlet, Kind: kind, Reason: reason, Ref: ref,
		OnHandDelta: onHand, ReservedDelta: reserved,
		OnHand: l.OnHand, Reserved: l.Reserved, Version: l.Version,
	}
}

// moveStock moves Reserved (and OnHand when sold) by the allocations for
// order ref, a version step per allocation and level when on-hand moves,
// and records the ledger's movements: of kind, or for an amendment ("") a
// reserve or a release by the quantity's sign. A bundle's allocation moves
// its components' levels, and their movements name the bundle.
func (m *model) moveStock(allocs []onlinestock.Allocation, reserved, onHand int64, kind onlinestock.MovementKind, ref string) {
	for _, a := range allocs {
		if a.Quantity == 0 {
			continue
		}
		for _, u := range units(a) {
			l := m.levels[u.key]
			if l == nil { // units backordered where the product was never reported
				l = &onlinestock.Level{Product: u.key.product, Outlet: u.key.outlet}
				m.levels[u.key] = l
			}
			l.Reserved += reserved * u.n
			l.OnHand += onHand * u.n
			if onHand != 0 {
				l.Version++
			}
			k := kind
			switch {
			case k == "" && a.Quantity > 0:
				k = onlinestock.MovedByReserve
			case k == "":
				k = onlinestock.MovedByRelease
			}
			mv := movement(*l, k, "", ref, onHand*u.n, reserved*u.n)
			if len(a.Components) > 0 {
				mv.Bundle = a.Product
			}
			m.moved = append(m.moved, mv)
		}
	}
}

// reservedByOrders sums the units open reservations hold per level.
func (m *model) reservedByOrders() map[levelKey]int64 {
	out := map[levelKey]int64{}
	for _, r := range m.reservations {
		if r.Status != onlinestock.Open {
			continue
		}
		for _, a := range r.Allocations {
			a.Quantity -= a.Fulfilled + a.Released
			for _, u := range units(a) {
				out[u.key] += u.n
			}
		}
	}
	return out
}

// held is what a reservation's allocations still hold, as allocations.
func (m *model) held(r *onlinestock.Reservation) []onlinestock.Allocation {
	var out []onlinestock.Allocation
	for _, a := range r.Allocations {
		if n := a.Quantity - a.Fulfilled - a.Released; n > 0 {
			out = append(out, onlinestock.Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: n, Components: a.Components})
		}
	}
	return out
}

// settle closes a reservation: every unit it holds becomes fulfilled, or
// released (when it is released or expires).
func (m *model) settle(r *onlinestock.Reservation, to onlinestock.ReservationStatus) {
	for i := range r.Allocations {
		a := &r.Allocations[i]
		if to == onlinestock.Fulfilled {
			a.Fulfilled = a.Quantity - a.Released
		} else {
			a.Released = a.Quantity - a.Fulfilled
		}
	}
	r.Status = to
}

// part is a partial fulfilment or release of an order that exists, on
// valid input: the reservation after it, or the errors it may fail with. A
// used part ID returns the reservation as it is if the call is the same,
// and is a conflict otherwise; a closed order (or, to fulfil, one past its
// deadline) is a conflict; lines the order does not hold, there, are
// invalid. Units come from the outlets in the order they gave, reversed
// for a release, and the order closes when it holds nothing more.
func (m *model) part(r *onlinestock.Reservation, id, outlet string, lines []onlinestock.Line, kind onlinestock.ReservationStatus, now time.Time) (onlinestock.Reservation, []error) {
	for _, d := range r.Parts {
		if d.ID == id {
			if d.Kind == kind && d.Outlet == outlet && slices.Equal(d.Lines, lines) {
				return *r, nil
			}
			return onlinestock.Reservation{}, []error{onlinestock.ErrConflict}
		}
	}
	if r.Status != onlinestock.Open || (kind == onlinestock.Fulfilled && m.statusAt(r, now) != onlinestock.Open) {
		return onlinestock.Reservation{}, []error{onlinestock.ErrConflict}
	}
	place := func(o string) int {
		for i, s := range r.Sources {
			if s.Outlet == o {
				return i
			}
		}
		return len(r.Sources)
	}
	next := *r
	next.Allocations = slices.Clone(r.Allocations)
	var moved []onlinestock.Allocation
	for _, l := range lines {
		var at []int
		var held int64
		for i, a := range next.Allocations {
			if a.Product == l.Product && (outlet == "" || a.Outlet == outlet) {
				at = append(at, i)
				held += a.Quantity - a.Fulfilled - a.Released
			}
		}
		if held < l.Quantity {
			return onlinestock.Reservation{}, []error{onlinestock.ErrInvalid}
		}
		sort.SliceStable(at, func(i, j int) bool {
			a, b := next.Allocations[at[i]], next.Allocations[at[j]]
			if place(a.Outlet) != place(b.Outlet) {
				return place(a.Outlet) < place(b.Outlet)
			}
			return a.Outlet < b.Outlet
		})
		if kind == onlinestock.Released {
			slices.Reverse(at)
		}
		left := l.Quantity
		for _, i := range at {
			a := &next.Allocations[i]
			n := min(left, a.Quantity-a.Fulfilled-a.Released)
			if n == 0 {
				continue
			}
			if kind == onlinestock.Fulfilled {
				a.Fulfilled += n
			} else {
				a.Released += n
			}
			moved = append(moved, onlinestock.Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: n, Components: a.Components})
			left -= n
		}
	}
	slices.SortFunc(moved, func(a, b onlinestock.Allocation) int {
		if c := cmp.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return cmp.Compare(a.Outlet, b.Outlet)
	})
	if kind == onlinestock.Fulfilled {
		m.moveStock(moved, -1, -1, onlinestock.MovedByFulfil, r.Order)
	} else {
		m.moveStock(moved, -1, 0, onlinestock.MovedByRelease, r.Order)
	}
	event := map[onlinestock.ReservationStatus]onlinestock.EventKind{
		onlinestock.Fulfilled: onlinestock.OrderPartiallyFulfilled, onlinestock.Released: onlinestock.OrderPartiallyReleased}[kind]
	next.Parts = append(slices.Clone(r.Parts), onlinestock.PartRecord{
		Part: onlinestock.Part{ID: id, Outlet: outlet, Lines: lines}, Kind: kind, Moved: moved, Time: now,
	})
	if len(m.held(&next)) == 0 {
		next.Status = kind
		event = map[onlinestock.ReservationStatus]onlinestock.EventKind{
			onlinestock.Fulfilled: onlinestock.OrderFulfilled, onlinestock.Released: onlinestock.OrderReleased}[kind]
	}
	m.announce(event, r.Order, id, moved)
	*r = next
	return next, nil
}

// outletOrder is the allocator's order of the connected outlets: the
// FewestShipments order, or for "most" the outlets that can give the most
// of the lines first, ties in the FewestShipments order.
func (m *model) outletOrder(alloc string, lines []onlinestock.Line) []string {
	order := m.defaultOrder()
	if alloc == "most" {
		gives := func(o string) int64 {
			var n int64
			for _, l := range lines {
				n += min(l.Quantity, m.contribution(l.Product, o))
			}
			return n
		}
		sort.SliceStable(order, func(i, j int) bool { return gives(order[i]) > gives(order[j]) })
	}
	return order
}

// route is the brute-force reference for Reserve's routing, for
// lines the connected outlets cover: a Restrict method's outlet gives
// everything, an AllowAll method's outlet gives first; for the rest every
// set of the other outlets is tried, and the best is the one of the
// earliest stage (one outlet, whole lines, split lines), then the fewest
// outlets, then the first in the allocator's order (compared member by
// member, in that order). In the set chosen, the outlets give in the
// allocator's order.
func (m *model) route(alloc string, lines []onlinestock.Line, method string) ([]onlinestock.Allocation, []onlinestock.Source) {
	if m.hasBundles(lines) {
		return m.placeCart(alloc, lines, method)
	}
	order := m.outletOrder(alloc, lines)
	preferred, restrict := -1, false
	if meth, ok := m.methods[method]; ok && meth.Outlet != "" && m.connected(meth.Outlet) {
		preferred, restrict = slices.Index(order, meth.Outlet), meth.Rule == onlinestock.Restrict
	}
	restrictAt := ""
	if restrict {
		restrictAt = order[preferred]
	}
	stock, backordered := m.stockNeed(lines, restrictAt)
	allocs, sources := m.routeOn(order, stock, preferred, restrict, m.contribution)
	return m.addBackorders(allocs, sources, backordered, order)
}

// routeOn is route on the stock avail says each outlet offers, with the
// outlets in order, and the method's outlet at position preferred (or -1),
// which gives everything when restrict is set.
func (m *model) routeOn(order []string, lines []onlinestock.Line, preferred int, restrict bool, avail func(product, outlet string) int64) ([]onlinestock.Allocation, []onlinestock.Source) {
	left := map[string]int64{}
	for _, l := range lines {
		left[l.Product] = l.Quantity
	}
	allocs := []onlinestock.Allocation{}
	var sources []onlinestock.Source
	give := func(set []int, stage onlinestock.Stage, whole bool) {
		gave := map[int]bool{}
		for _, l := range lines {
			for _, p := range set {
				q := min(left[l.Product], avail(l.Product, order[p]))
				if q <= 0 || (whole && q < left[l.Product]) {
					continue
				}
				allocs = append(allocs, onlinestock.Allocation{Product: l.Product, Outlet: order[p], Quantity: q})
				left[l.Product] -= q
				gave[p] = true
			}
		}
		for _, p := range set {
			if gave[p] {
				sources = append(sources, onlinestock.Source{Outlet: order[p], Stage: stage, Rank: p + 1})
			}
		}
	}
	if preferred >= 0 {
		stage := onlinestock.StageMethodOutlet
		if restrict {
			stage = onlinestock.StageRestricted
		}
		give([]int{preferred}, stage, false)
	}
	best := func(ok func(set []int) bool) []int {
		var found []int
		for mask := 1; mask < 1<<len(order); mask++ {
			var set []int
			for p := range order {
				if mask&(1<<p) != 0 {
					set = append(set, p)
				}
			}
			if slices.Contains(set, preferred) || !ok(set) {
				continue
			}
			if found == nil || len(set) < len(found) || (len(set) == len(found) && slices.Compare(set, found) < 0) {
				found = set
			}
		}
		return found
	}
	if slices.ContainsFunc(lines, func(l onlinestock.Line) bool { return left[l.Product] > 0 }) {
		whole := best(func(set []int) bool {
			for p, q := range left {
				if q > 0 && !slices.ContainsFunc(set, func(o int) bool { return avail(p, order[o]) >= q }) {
					return false
				}
			}
			return true
		})
		switch {
		case len(whole) == 1:
			give(whole, onlinestock.StageOneOutlet, false)
		case whole != nil:
			give(whole, onlinestock.StageWholeLines, true)
		default:
			give(best(func(set []int) bool {
				for p, q := range left {
					var sum int64
					for _, o := range set {
						sum += avail(p, order[o])
					}
					if sum < q {
						return false
					}
				}
				return true
			}), onlinestock.StageSplitLines, false)
		}
	}
	slices.SortFunc(allocs, func(a, b onlinestock.Allocation) int {
		if c := cmp.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return cmp.Compare(a.Outlet, b.Outlet)
	})
	return allocs, sources
}

// statusAt is a reservation's status at now: open but past its deadline is
// expired.
func (m *model) statusAt(r *onlinestock.Reservation, now time.Time) onlinestock.ReservationStatus {
	if r.Status == onlinestock.Open && !r.Deadline.IsZero() && !r.Deadline.After(now) {
		return onlinestock.Expired
	}
	return r.Status
}

// announce records the order event a call must write: the units moved in
// or out of an order, per product and outlet, and summed per product.
func (m *model) announce(kind onlinestock.EventKind, order, part string, units []onlinestock.Allocation) {
	e := onlinestock.Event{Kind: kind, Order: order, Part: part}
	var lines []onlinestock.Line
	for _, a := range units {
		e.Allocations = append(e.Allocations, onlinestock.Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: a.Quantity, Components: a.Components, Backordered: a.Backordered})
		lines = append(lines, onlinestock.Line{Product: a.Product, Quantity: a.Quantity})
	}
	e.Lines = sumLines(lines)
	m.announced = append(m.announced, e)
}

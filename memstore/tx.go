package memstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/onlinestock/onlinestock"
)

// tx reads the Store directly, under the Store's lock, and buffers writes
// until commit. Its buffers are reused from one transaction to the next.
type tx struct {
	s        *Store
	readOnly bool

	products []onlinestock.Product // arena for Products and ProductsAt results

	outlets       []onlinestock.Outlet
	registers     []onlinestock.Register
	orderRegister *string
	methods       []onlinestock.Method
	deleted       []string
	bundles       []onlinestock.Bundle
	unbundled     []string // bundles deleted
	backorders    []onlinestock.Backorder
	unbackordered []string // backorder policies deleted
	levels        []onlinestock.Level
	enabled       []string
	disabled      []string
	claims        []claim
	changes       []string            // the change each of claims stands for
	claimed       map[string]struct{} // the keys of claims, for a lookup in constant time
	claimsExpire  time.Time
	events        []onlinestock.Event
	movements     []onlinestock.Movement
	reservations  []onlinestock.Reservation
}

func (t *tx) reset() {
	clear(t.products)
	t.products = t.products[:0]
	t.outlets, t.registers, t.orderRegister = t.outlets[:0], t.registers[:0], nil
	t.methods, t.deleted = t.methods[:0], t.deleted[:0]
	t.bundles, t.unbundled = t.bundles[:0], t.unbundled[:0]
	t.backorders, t.unbackordered = t.backorders[:0], t.unbackordered[:0]
	clear(t.levels)
	t.levels = t.levels[:0]
	t.enabled, t.disabled = t.enabled[:0], t.disabled[:0]
	t.claims, t.claimsExpire = t.claims[:0], time.Time{}
	clear(t.changes)
	t.changes = t.changes[:0]
	clear(t.claimed)
	clear(t.events)
	t.events = t.events[:0]
	clear(t.movements)
	t.movements = t.movements[:0]
	t.reservations = t.reservations[:0]
}

func (t *tx) Setup(ctx context.Context) (*onlinestock.Setup, error) {
	return t.s.setup, nil
}

func (t *tx) LockSetup(ctx context.Context) (*onlinestock.Setup, error) {
	return t.s.setup, nil
}

func (t *tx) PutOutlet(ctx context.Context, o onlinestock.Outlet) error {
	if t.readOnly {
		return errReadOnly
	}
	t.outlets = append(t.outlets, o)
	return nil
}

func (t *tx) PutRegister(ctx context.Context, r onlinestock.Register) error {
	if t.readOnly {
		return errReadOnly
	}
	t.registers = append(t.registers, r)
	return nil
}

func (t *tx) SetOrderRegister(ctx context.Context, register string) error {
	if t.readOnly {
		return errReadOnly
	}
	t.orderRegister = &register
	return nil
}

func (t *tx) Catalog(ctx context.Context) (*onlinestock.Catalog, error) {
	return t.s.catalog, nil
}

func (t *tx) PutBundle(ctx context.Context, b onlinestock.Bundle) error {
	if t.readOnly {
		return errReadOnly
	}
	b.Components = slices.Clone(b.Components)
	t.bundles = append(t.bundles, b)
	t.unbundled = slices.DeleteFunc(t.unbundled, func(id string) bool { return id == b.ID })
	return nil
}

func (t *tx) PutBackorder(ctx context.Context, b onlinestock.Backorder) error {
	if t.readOnly {
		return errReadOnly
	}
	t.backorders = append(slices.DeleteFunc(t.backorders, func(x onlinestock.Backorder) bool { return x.Product == b.Product }), b)
	t.unbackordered = slices.DeleteFunc(t.unbackordered, func(id string) bool { return id == b.Product })
	return nil
}

func (t *tx) DeleteBackorder(ctx context.Context, product string) error {
	if t.readOnly {
		return errReadOnly
	}
	t.backorders = slices.DeleteFunc(t.backorders, func(b onlinestock.Backorder) bool { return b.Product == product })
	t.unbackordered = append(t.unbackordered, product)
	return nil
}

func (t *tx) DeleteBundle(ctx context.Context, id string) error {
	if t.readOnly {
		return errReadOnly
	}
	t.bundles = slices.DeleteFunc(t.bundles, func(b onlinestock.Bundle) bool { return b.ID == id })
	t.unbundled = append(t.unbundled, id)
	return nil
}

func (t *tx) Methods(ctx context.Context) ([]onlinestock.Method, error) {
	return t.s.methods, nil
}

func (t *tx) PutMethod(ctx context.Context, m onlinestock.Method) error {
	if t.readOnly {
		return errReadOnly
	}
	t.methods = append(t.methods, m)
	return nil
}

func (t *tx) DeleteMethod(ctx context.Context, id string) error {
	if t.readOnly {
		return errReadOnly
	}
	t.deleted = append(t.deleted, id)
	return nil
}

func (t *tx) Products(ctx context.Context, ids []string) ([]onlinestock.Product, error) {
	start := len(t.products)
	for _, id := range ids {
		if p := t.s.products[id]; p != nil {
			t.products = append(t.products, onlinestock.Product{ID: id, Enabled: p.enabled, Levels: p.levels})
		}
	}
	return t.products[start:len(t.products):len(t.products)], nil
}

func (t *tx) PeekProducts(ctx context.Context, ids []string) ([]onlinestock.Product, error) {
	return t.Products(ctx, ids)
}

func (t *tx) ProductsAt(ctx context.Context, outlets []string) ([]onlinestock.Product, error) {
	start := len(t.products)
	for id, p := range t.s.products {
		if slices.ContainsFunc(p.levels, func(l onlinestock.Level) bool { return slices.Contains(outlets, l.Outlet) }) {
			t.products = append(t.products, onlinestock.Product{ID: id, Enabled: p.enabled, Levels: p.levels})
		}
	}
	found := t.products[start:len(t.products):len(t.products)]
	slices.SortFunc(found, func(a, b onlinestock.Product) int { return strings.Compare(a.ID, b.ID) })
	return found, nil
}

func (t *tx) PutLevels(ctx context.Context, levels []onlinestock.Level) error {
	if t.readOnly {
		return errReadOnly
	}
	t.levels = append(t.levels, levels...)
	return nil
}

func (t *tx) SetEnabled(ctx context.Context, ids []string, enabled bool) error {
	if t.readOnly {
		return errReadOnly
	}
	if enabled {
		t.enabled = append(t.enabled, ids...)
	} else {
		t.disabled = append(t.disabled, ids...)
	}
	return nil
}

func (t *tx) ClaimKeys(ctx context.Context, claims []onlinestock.KeyClaim, now, notBefore time.Time) ([]string, error) {
	if t.readOnly {
		return nil, errReadOnly
	}
	if t.claimed == nil {
		t.claimed = make(map[string]struct{}, len(claims))
	}
	prior := make([]string, len(claims))
	for i, c := range claims {
		if _, again := t.claimed[c.Key]; again { // claimed earlier in this transaction
			prior[i] = t.changes[slices.IndexFunc(t.claims, func(cl claim) bool { return cl.key == c.Key })]
			continue
		}
		if k, ok := t.s.keys[c.Key]; ok && !k.at.Before(notBefore) {
			prior[i] = k.change
			continue
		}
		t.claims = append(t.claims, claim{key: c.Key, at: now})
		t.changes = append(t.changes, c.Change)
		t.claimed[c.Key] = struct{}{}
	}
	t.claimsExpire = notBefore
	return prior, nil
}

func (t *tx) AppendEvents(ctx context.Context, events []onlinestock.Event) error {
	if t.readOnly {
		return errReadOnly
	}
	t.events = append(t.events, events...)
	return nil
}

func (t *tx) AppendMovements(ctx context.Context, movements []onlinestock.Movement) error {
	if t.readOnly {
		return errReadOnly
	}
	t.movements = append(t.movements, movements...)
	return nil
}

func (t *tx) Reservation(ctx context.Context, order string) (onlinestock.Reservation, bool, error) {
	r, ok := t.s.reservations[order]
	return cloneReservation(r), ok, nil
}

func (t *tx) PutReservation(ctx context.Context, r onlinestock.Reservation) error {
	if t.readOnly {
		return errReadOnly
	}
	t.reservations = append(t.reservations, cloneReservation(r))
	return nil
}

func (t *tx) DueReservations(ctx context.Context, now time.Time) ([]string, error) {
	var due []string
	for order, deadline := range t.s.deadlines {
		if !deadline.After(now) {
			due = append(due, order)
		}
	}
	slices.Sort(due)
	return due, nil
}

// Reservations implements [onlinestock.Tx]: a scan of every reservation,
// fine for the sizes memstore is for.
func (t *tx) Reservations(ctx context.Context, f onlinestock.ReservationFilter) ([]onlinestock.Reservation, error) {
	var ids []string
	for id, r := range t.s.reservations {
		if id > f.After && f.Matches(r) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]onlinestock.Reservation, 0, min(len(ids), f.Limit))
	for _, id := range ids[:min(len(ids), f.Limit)] {
		out = append(out, cloneReservation(t.s.reservations[id]))
	}
	return out, nil
}

func cloneReservation(r onlinestock.Reservation) onlinestock.Reservation {
	r.Lines = slices.Clone(r.Lines)
	r.Allocations = slices.Clone(r.Allocations)
	r.Sources = slices.Clone(r.Sources)
	r.Parts = slices.Clone(r.Parts)
	for i := range r.Parts {
		r.Parts[i].Lines = slices.Clone(r.Parts[i].Lines)
		r.Parts[i].Moved = slices.Clone(r.Parts[i].Moved)
	}
	return r
}

// commit applies the buffered writes to the Store. It runs under the
// Store's write lock, with no reader inside.
func (t *tx) commit() {
	s := t.s
	if len(t.outlets)+len(t.registers) > 0 || t.orderRegister != nil {
		next := &onlinestock.Setup{
			OrderRegister: s.setup.OrderRegister,
			Outlets:       slices.Clone(s.setup.Outlets),
			Registers:     slices.Clone(s.setup.Registers),
		}
		for _, o := range t.outlets {
			next.Outlets = upsert(next.Outlets, o, func(o onlinestock.Outlet) string { return o.ID })
		}
		for _, r := range t.registers {
			next.Registers = upsert(next.Registers, r, func(r onlinestock.Register) string { return r.ID })
		}
		if t.orderRegister != nil {
			next.OrderRegister = *t.orderRegister
		}
		s.setup = next
	}
	if len(t.methods)+len(t.deleted) > 0 {
		next := slices.Clone(s.methods)
		for _, m := range t.methods {
			next = upsert(next, m, func(m onlinestock.Method) string { return m.ID })
		}
		for _, id := range t.deleted {
			next = slices.DeleteFunc(next, func(m onlinestock.Method) bool { return m.ID == id })
		}
		s.methods = next
	}
	if len(t.bundles)+len(t.unbundled)+len(t.backorders)+len(t.unbackordered) > 0 {
		policies := map[string]onlinestock.Backorder{}
		for _, b := range s.catalog.Backorders() {
			policies[b.Product] = b
		}
		for _, id := range t.unbackordered {
			delete(policies, id)
		}
		for _, b := range t.backorders {
			policies[b.Product] = b
		}
		next := map[string]onlinestock.Bundle{}
		for _, b := range s.catalog.Bundles() {
			next[b.ID] = b
		}
		for _, id := range t.unbundled {
			delete(next, id)
		}
		for _, b := range t.bundles {
			next[b.ID] = b
			if s.products[b.ID] == nil {
				s.products[b.ID] = &product{}
			}
		}
		bundles := make([]onlinestock.Bundle, 0, len(next))
		for _, b := range next {
			bundles = append(bundles, b)
		}
		backorders := make([]onlinestock.Backorder, 0, len(policies))
		for _, b := range policies {
			backorders = append(backorders, b)
		}
		s.catalog = onlinestock.NewCatalog(bundles, backorders)
	}
	for _, l := range t.levels {
		p := s.products[l.Product]
		if p == nil {
			p = &product{}
			s.products[l.Product] = p
		}
		// Levels share their outlet's ID string, so that comparing them
		// with the outlets, as every read of online stock does, is quick. A
		// level replaced keeps the string it has.
		i, found := slices.BinarySearchFunc(p.levels, l.Outlet, func(e onlinestock.Level, id string) int { return cmp.Compare(e.Outlet, id) })
		if found {
			l.Outlet = p.levels[i].Outlet
			p.levels[i] = l
			continue
		}
		if o, ok := s.setup.Outlet(l.Outlet); ok {
			l.Outlet = o.ID
		}
		p.levels = slices.Insert(p.levels, i, l)
	}
	for _, id := range t.enabled {
		s.products[id].enabled = true
	}
	for _, id := range t.disabled {
		s.products[id].enabled = false
	}
	if len(t.claims) > 0 {
		for i, c := range t.claims {
			s.keys[c.key] = keyClaim{at: c.at, change: t.changes[i]}
			s.keyLog = append(s.keyLog, c)
		}
		// Forget keys past retention; a key claimed again since is kept.
		n := 0
		for n < len(s.keyLog) && s.keyLog[n].at.Before(t.claimsExpire) {
			if c := s.keyLog[n]; s.keys[c.key].at.Equal(c.at) {
				delete(s.keys, c.key)
			}
			n++
		}
		s.keyLog = s.keyLog[n:]
	}
	for _, e := range t.events {
		e.Seq = s.events.n + 1
		s.events.append(e)
	}
	for _, m := range t.movements {
		m.Seq = s.movements.n + 1
		s.movements.append(m)
	}
	for _, r := range t.reservations {
		s.reservations[r.Order] = r
		if r.Status == onlinestock.Open && !r.Deadline.IsZero() {
			s.deadlines[r.Order] = r.Deadline
		} else {
			delete(s.deadlines, r.Order)
		}
	}
}

// upsert replaces the element of sorted with v's key, or inserts v in order.
func upsert[T any](sorted []T, v T, key func(T) string) []T {
	i, ok := slices.BinarySearchFunc(sorted, key(v), func(e T, k string) int { return cmp.Compare(key(e), k) })
	if ok {
		sorted[i] = v
		return sorted
	}
	return slices.Insert(sorted, i, v)
}

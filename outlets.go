package onlinestock

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Outlet is a physical store of the retailer, as the POS knows it.
type Outlet struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Connected says whether the outlet's stock counts toward online stock.
	Connected bool `json:"connected"`
	// Buffer is the online buffer: per product, this many units of the
	// outlet's stock are never offered online.
	Buffer int64 `json:"buffer"`
	// Rank is the merchant's preference when an order is allocated to
	// outlets: lower ranks go first, and 0 means unranked (after every
	// ranked outlet).
	Rank int `json:"rank"`
}

// Register is a till of an outlet. The register chosen to record online
// orders makes its outlet the primary outlet.
type Register struct {
	ID     string `json:"id"`
	Outlet string `json:"outlet"`
	Name   string `json:"name"`
}

// Setup is the small shared state of a store: outlets, registers and the
// order register.
type Setup struct {
	// OrderRegister is the register that records online orders, "" until
	// the online store is activated.
	OrderRegister string     `json:"order_register"`
	Outlets       []Outlet   `json:"outlets"`   // sorted by ID
	Registers     []Register `json:"registers"` // sorted by ID
}

// Outlet looks an outlet up by ID.
func (s *Setup) Outlet(id string) (Outlet, bool) { return findOutlet(s.Outlets, id) }

// Register looks a register up by ID.
func (s *Setup) Register(id string) (Register, bool) {
	i, ok := slices.BinarySearchFunc(s.Registers, id, func(r Register, id string) int { return cmp.Compare(r.ID, id) })
	if !ok {
		return Register{}, false
	}
	return s.Registers[i], true
}

// Primary returns the primary outlet, the outlet of the order register, or
// "" before activation.
func (s *Setup) Primary() string {
	if s.OrderRegister == "" {
		return ""
	}
	r, _ := s.Register(s.OrderRegister)
	return r.Outlet
}

// Connected returns the IDs of the connected outlets, sorted.
func (s *Setup) Connected() []string {
	var ids []string
	for _, o := range s.Outlets {
		if o.Connected {
			ids = append(ids, o.ID)
		}
	}
	return ids
}

func (s *Setup) clone() *Setup {
	return &Setup{
		OrderRegister: s.OrderRegister,
		Outlets:       slices.Clone(s.Outlets),
		Registers:     slices.Clone(s.Registers),
	}
}

// Setup returns a copy of the outlets, registers and order register.
func (s *Service) Setup(ctx context.Context) (*Setup, error) {
	var out *Setup
	err := s.view(ctx, "Setup", func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err == nil {
			out = setup.clone()
		}
		return err
	})
	return out, err
}

// SaveOutlet creates an outlet, not connected, or renames an existing one.
func (s *Service) SaveOutlet(ctx context.Context, id, name string) error {
	if err := checkID("outlet", id); err != nil {
		return err
	}
	if err := checkName("name", name); err != nil {
		return err
	}
	return s.update(ctx, "SaveOutlet", func(tx Tx) error {
		setup, err := tx.LockSetup(ctx)
		if err != nil {
			return err
		}
		o, ok := setup.Outlet(id)
		if ok && o.Name == name {
			return nil
		}
		o.ID, o.Name = id, name
		return tx.PutOutlet(ctx, o)
	})
}

// SaveRegister creates a register in an outlet, or renames it. A register
// belongs to one outlet for good: saving it under another outlet is
// ErrConflict. An unknown outlet is ErrNotFound.
func (s *Service) SaveRegister(ctx context.Context, id, outlet, name string) error {
	if err := checkID("register", id); err != nil {
		return err
	}
	if err := checkID("outlet", outlet); err != nil {
		return err
	}
	if err := checkName("name", name); err != nil {
		return err
	}
	return s.update(ctx, "SaveRegister", func(tx Tx) error {
		setup, err := tx.LockSetup(ctx)
		if err != nil {
			return err
		}
		if _, ok := setup.Outlet(outlet); !ok {
			return notFound("outlet", outlet)
		}
		r, ok := setup.Register(id)
		if ok && r.Outlet != outlet {
			return fmt.Errorf("register %q belongs to outlet %q, not %q: %w", id, r.Outlet, outlet, ErrConflict)
		}
		if ok && r.Name == name {
			return nil
		}
		return tx.PutRegister(ctx, Register{ID: id, Outlet: outlet, Name: name})
	})
}

// Activate chooses the register that records online orders, activating the
// online store on first use. Its outlet becomes the primary outlet and is
// connected if it was not; a former primary outlet stays connected until
// disconnected. Choosing the current order register again is a no-op.
func (s *Service) Activate(ctx context.Context, register string) (SelectionResult, error) {
	if err := checkID("register", register); err != nil {
		return SelectionResult{}, err
	}
	var res SelectionResult
	err := s.update(ctx, "Activate", func(tx Tx) error {
		res = SelectionResult{}
		setup, err := tx.LockSetup(ctx)
		if err != nil {
			return err
		}
		r, ok := setup.Register(register)
		if !ok {
			return notFound("register", register)
		}
		if setup.OrderRegister == register {
			return nil
		}
		if err := tx.SetOrderRegister(ctx, register); err != nil {
			return err
		}
		now, err := s.now()
		if err != nil {
			return err
		}
		changed := Event{Kind: PrimaryChanged, Time: now, Outlet: r.Outlet, Previous: setup.Primary()}
		if changed.Outlet == changed.Previous {
			return nil // another register of the same outlet: nothing visible moves
		}
		next := withConnected(setup.Outlets, func(o Outlet) bool { return o.Connected || o.ID == r.Outlet })
		res, err = s.reselect(ctx, tx, setup, next, true, changed)
		return err
	})
	return res, err
}

// SelectionResult tells what a change of the connected outlets did, or would
// do for [Service.PreviewSelection].
type SelectionResult struct {
	Connected    []string             `json:"connected"`    // outlets newly connected, sorted
	Disconnected []string             `json:"disconnected"` // outlets newly disconnected, sorted
	Orphaned     []Method             `json:"orphaned"`     // methods whose outlet was disconnected
	Restored     []Method             `json:"restored"`     // methods whose outlet was reconnected
	Changes      []AvailabilityChange `json:"changes"`      // products whose availability changes, sorted
}

// AvailabilityChange is a product's availability before and after a change.
type AvailabilityChange struct {
	Product string       `json:"product"`
	Before  Availability `json:"before"`
	After   Availability `json:"after"`
}

// SoldOut reports whether the change takes a listed product to sold out.
func (c AvailabilityChange) SoldOut() bool {
	return soldOut(c.Before, c.After)
}

// BackInStock reports whether the change brings a product that had no
// stock (sold out or on backorder) back in stock.
func (c AvailabilityChange) BackInStock() bool {
	return backInStock(c.Before, c.After)
}

// EntersBackorder reports whether the change takes a listed product to
// [OnBackorder].
func (c AvailabilityChange) EntersBackorder() bool {
	return entersBackorder(c.Before, c.After)
}

// LeavesBackorder reports whether the change takes a product off
// [OnBackorder], to stock or to sold out.
func (c AvailabilityChange) LeavesBackorder() bool {
	return leavesBackorder(c.Before, c.After)
}

// Connect adds an outlet's stock to online stock. Connecting a connected
// outlet is a no-op. Methods linked to the outlet are no longer orphaned.
func (s *Service) Connect(ctx context.Context, outlet string) (SelectionResult, error) {
	return s.changeSelection(ctx, "Connect", "outlet", []string{outlet}, func(setup *Setup, o Outlet) bool {
		return o.Connected || o.ID == outlet
	})
}

// Disconnect removes an outlet's stock from online stock; it is still
// tracked, so reconnecting restores it. Disconnecting the primary outlet is
// ErrPrimaryOutlet; disconnecting a disconnected outlet is a no-op. The
// outlet's methods are kept, now orphaned, and reported in the result and in
// the OutletDisconnected event so the merchant can delete them.
func (s *Service) Disconnect(ctx context.Context, outlet string) (SelectionResult, error) {
	return s.changeSelection(ctx, "Disconnect", "outlet", []string{outlet}, func(setup *Setup, o Outlet) bool {
		return o.Connected && o.ID != outlet
	})
}

// SaveSelection replaces the set of connected outlets in one step, as a
// settings page's "Save changes" does. The primary outlet stays connected
// whether or not it is in the set.
func (s *Service) SaveSelection(ctx context.Context, outlets []string) (SelectionResult, error) {
	set := sortedUnique(outlets)
	return s.changeSelection(ctx, "SaveSelection", "outlets", outlets, func(setup *Setup, o Outlet) bool {
		_, in := slices.BinarySearch(set, o.ID)
		return in || o.ID == setup.Primary()
	})
}

// PreviewSelection tells what [Service.SaveSelection] with the same set
// would do, without changing anything.
func (s *Service) PreviewSelection(ctx context.Context, outlets []string) (SelectionResult, error) {
	if err := checkIDs("outlets", outlets); err != nil {
		return SelectionResult{}, err
	}
	set := sortedUnique(outlets)
	var res SelectionResult
	err := s.view(ctx, "PreviewSelection", func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		next, err := selection(setup, outlets, func(setup *Setup, o Outlet) bool {
			_, in := slices.BinarySearch(set, o.ID)
			return in || o.ID == setup.Primary()
		})
		if err != nil {
			return err
		}
		res, err = s.reselect(ctx, tx, setup, next, false)
		return err
	})
	return res, err
}

// changeSelection connects exactly the outlets for which connected is true.
func (s *Service) changeSelection(ctx context.Context, call string, field string, named []string, connected func(*Setup, Outlet) bool) (SelectionResult, error) {
	if err := checkIDs(field, named); err != nil {
		return SelectionResult{}, err
	}
	var res SelectionResult
	err := s.update(ctx, call, func(tx Tx) error {
		res = SelectionResult{}
		setup, err := tx.LockSetup(ctx)
		if err != nil {
			return err
		}
		next, err := selection(setup, named, connected)
		if err != nil {
			return err
		}
		res, err = s.reselect(ctx, tx, setup, next, true)
		return err
	})
	return res, err
}

// selection checks that the online store is active and the named outlets
// exist, and returns the outlets with the connected set applied.
func selection(setup *Setup, named []string, connected func(*Setup, Outlet) bool) ([]Outlet, error) {
	primary, err := requirePrimary(setup)
	if err != nil {
		return nil, err
	}
	for _, id := range named {
		if _, ok := setup.Outlet(id); !ok {
			return nil, notFound("outlet", id)
		}
	}
	next := withConnected(setup.Outlets, func(o Outlet) bool { return connected(setup, o) })
	if p, _ := findOutlet(next, primary); !p.Connected {
		return nil, fmt.Errorf("outlet %q: %w", primary, ErrPrimaryOutlet)
	}
	return next, nil
}

func withConnected(outlets []Outlet, connected func(Outlet) bool) []Outlet {
	next := slices.Clone(outlets)
	for i := range next {
		next[i].Connected = connected(next[i])
	}
	return next
}

// SetBuffer sets an outlet's online buffer: per product, units of its stock
// never offered online. It must lie in [0, MaxOnHand].
func (s *Service) SetBuffer(ctx context.Context, outlet string, units int64) (SelectionResult, error) {
	return s.updateOutlet(ctx, "SetBuffer", outlet, func(o *Outlet) error {
		if err := checkRange("buffer", units, 0, MaxOnHand); err != nil {
			return err
		}
		o.Buffer = units
		return nil
	})
}

// SetRank sets an outlet's allocation rank (see [Outlet.Rank]); it must not
// be negative.
func (s *Service) SetRank(ctx context.Context, outlet string, rank int) error {
	_, err := s.updateOutlet(ctx, "SetRank", outlet, func(o *Outlet) error {
		if rank < 0 {
			return invalid("rank", "negative rank %d", rank)
		}
		o.Rank = rank
		return nil
	})
	return err
}

func (s *Service) updateOutlet(ctx context.Context, call string, outlet string, edit func(*Outlet) error) (SelectionResult, error) {
	if err := checkID("outlet", outlet); err != nil {
		return SelectionResult{}, err
	}
	if err := edit(&Outlet{}); err != nil { // validate before touching the store
		return SelectionResult{}, err
	}
	var res SelectionResult
	err := s.update(ctx, call, func(tx Tx) error {
		res = SelectionResult{}
		setup, err := tx.LockSetup(ctx)
		if err != nil {
			return err
		}
		i, ok := slices.BinarySearchFunc(setup.Outlets, outlet, func(o Outlet, id string) int { return cmp.Compare(o.ID, id) })
		if !ok {
			return notFound("outlet", outlet)
		}
		next := slices.Clone(setup.Outlets)
		if err := edit(&next[i]); err != nil {
			return err
		}
		res, err = s.reselect(ctx, tx, setup, next, true)
		return err
	})
	return res, err
}

// reselect moves from setup's outlets to next (the same outlets, connected
// or buffered differently): it works out the availability changes and the
// methods orphaned or restored and, if commit is set, writes the outlets and
// the events, leading with lead.
func (s *Service) reselect(ctx context.Context, tx Tx, setup *Setup, next []Outlet, commit bool, lead ...Event) (SelectionResult, error) {
	var res SelectionResult
	var touched, affected []string // outlets changed at all; those whose stock counts differently
	for i, o := range setup.Outlets {
		n := next[i]
		if n == o {
			continue
		}
		touched = append(touched, o.ID)
		switch {
		case n.Connected && !o.Connected:
			res.Connected = append(res.Connected, o.ID)
			affected = append(affected, o.ID)
		case !n.Connected && o.Connected:
			res.Disconnected = append(res.Disconnected, o.ID)
			affected = append(affected, o.ID)
		case n.Connected && n.Buffer != o.Buffer:
			affected = append(affected, o.ID)
		}
	}
	if len(touched) == 0 && len(lead) == 0 {
		return res, nil
	}
	// The primary outlet after: a lead PrimaryChanged event names it.
	primary := setup.Primary()
	for _, e := range lead {
		if e.Kind == PrimaryChanged {
			primary = e.Outlet
		}
	}
	cat, err := tx.Catalog(ctx)
	if err != nil {
		return res, err
	}
	// Products that take backorders at an outlet that moves, or at the
	// primary outlet when it changes, may take them differently.
	var policies []string
	for _, b := range cat.Backorders() {
		was, is := cmp.Or(b.Outlet, setup.Primary()), cmp.Or(b.Outlet, primary)
		if was != is || slices.Contains(affected, is) {
			policies = append(policies, b.Product)
		}
	}
	if len(affected)+len(policies) > 0 {
		var products []Product
		if len(affected) > 0 {
			if products, err = tx.ProductsAt(ctx, affected); err != nil {
				return res, err
			}
		}
		ids := make([]string, len(products))
		for i, p := range products {
			ids[i] = p.ID
		}
		// The bundles of these products move with them: read them, and
		// their other components; and the products that take backorders.
		var extra []string
		lock, peek := cat.related(ids)
		for _, id := range slices.Concat(lock, peek, policies) {
			if _, ok := slices.BinarySearch(ids, id); !ok {
				extra = append(extra, id)
			}
		}
		if len(extra) > 0 {
			extra = sortedUnique(extra)
			more, err := tx.Products(ctx, extra)
			if err != nil {
				return res, err
			}
			products = append(slices.Clone(products), more...)
			slices.SortFunc(products, func(a, b Product) int { return cmp.Compare(a.ID, b.ID) })
		}
		ids = sortedUnique(append(cat.affected(ids), policies...))
		before := s.stockView(setup, cat, products)
		after := stockView{outlets: next, primary: primary, catalog: cat, products: products, lowStock: s.cfg.LowStockThreshold}
		for _, id := range ids {
			if b, a := before.availability(id), after.availability(id); b != a {
				res.Changes = append(res.Changes, AvailabilityChange{Product: id, Before: b, After: a})
			}
		}
	}
	var connectedMethods, disconnectedMethods map[string][]string
	if len(res.Connected)+len(res.Disconnected) > 0 {
		methods, err := tx.Methods(ctx)
		if err != nil {
			return res, err
		}
		connectedMethods, disconnectedMethods = map[string][]string{}, map[string][]string{}
		for _, m := range methods {
			if m.Outlet == "" {
				continue
			}
			if _, ok := slices.BinarySearch(res.Connected, m.Outlet); ok {
				res.Restored = append(res.Restored, m)
				connectedMethods[m.Outlet] = append(connectedMethods[m.Outlet], m.ID)
			}
			if _, ok := slices.BinarySearch(res.Disconnected, m.Outlet); ok {
				res.Orphaned = append(res.Orphaned, m)
				disconnectedMethods[m.Outlet] = append(disconnectedMethods[m.Outlet], m.ID)
			}
		}
	}
	if !commit {
		return res, nil
	}
	for i, o := range next {
		if o != setup.Outlets[i] {
			if err := tx.PutOutlet(ctx, o); err != nil {
				return res, err
			}
		}
	}
	now, err := s.now()
	if err != nil {
		return res, err
	}
	events := make([]Event, 0, len(lead)+len(res.Connected)+len(res.Disconnected)+len(res.Changes))
	events = append(events, lead...)
	for _, id := range res.Connected {
		events = append(events, Event{Kind: OutletConnected, Time: now, Outlet: id, Methods: connectedMethods[id]})
	}
	for _, id := range res.Disconnected {
		events = append(events, Event{Kind: OutletDisconnected, Time: now, Outlet: id, Methods: disconnectedMethods[id]})
	}
	for _, c := range res.Changes {
		events = append(events, availabilityEvent(now, c.Product, c.Before, c.After))
	}
	if len(events) == 0 {
		return res, nil
	}
	return res, tx.AppendEvents(ctx, events)
}

// locate finds outlet id in outlets. Walking the levels of a product in
// outlet order, each outlet is at or just after the previous one found, so
// locate starts at *hint and moves it on; when the slices are not sorted it
// falls back to a search.
func locate(outlets []Outlet, id string, hint *int) (int, bool) {
	j := *hint
	for j < len(outlets) && outlets[j].ID != id && outlets[j].ID < id {
		j++
	}
	if j < len(outlets) && outlets[j].ID == id {
		*hint = j + 1
		return j, true
	}
	return outletIndex(outlets, id)
}

// findOutlet looks an outlet up by ID, by binary search when outlets are
// sorted and by a scan when they are not.
func findOutlet(outlets []Outlet, id string) (Outlet, bool) {
	if i, ok := outletIndex(outlets, id); ok {
		return outlets[i], true
	}
	return Outlet{}, false
}

func outletIndex(outlets []Outlet, id string) (int, bool) {
	if i, ok := slices.BinarySearchFunc(outlets, id, func(o Outlet, id string) int { return cmp.Compare(o.ID, id) }); ok {
		return i, true
	}
	i := slices.IndexFunc(outlets, func(o Outlet) bool { return o.ID == id })
	return i, i >= 0
}

// requirePrimary returns the primary outlet, or ErrNotActive.
func requirePrimary(setup *Setup) (string, error) {
	p := setup.Primary()
	if p == "" {
		return "", ErrNotActive
	}
	return p, nil
}

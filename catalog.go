package onlinestock

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Component is one product a bundle is made of, and how many units of it
// one unit of the bundle takes.
type Component struct {
	Product  string `json:"product"`
	Quantity int64  `json:"quantity"`
}

// Bundle is a product made of other products, its components: a kit, a
// gift box. It holds no stock of its own. One unit is assembled at one
// outlet from the components that outlet holds, so what an outlet adds to a
// bundle's online stock is, over its components, the least of the
// component's contribution there divided by the units one bundle takes,
// rounded down; the bundle's online stock is the sum over the connected
// outlets.
type Bundle struct {
	ID string `json:"id"`
	// Components are what one unit is made of, sorted by product, each
	// product once.
	Components []Component `json:"components"`
}

// Limits of a bundle's definition.
const (
	MaxComponents        = 100 // most components of one bundle
	MaxComponentQuantity = 1e6 // most units of one component in one bundle unit
)

// normalizeAndValidate checks a bundle's definition on its own (the Store
// is checked later) and sorts its components.
func (b *Bundle) normalizeAndValidate() error {
	if err := checkID("bundle", b.ID); err != nil {
		return err
	}
	if len(b.Components) == 0 {
		return invalid("components", "a bundle needs at least one component")
	}
	if len(b.Components) > MaxComponents {
		return invalid("components", "%d components, more than %d", len(b.Components), MaxComponents)
	}
	b.Components = slices.Clone(b.Components)
	for i, c := range b.Components {
		if err := checkID("component", c.Product); err != nil {
			return fmt.Errorf("components[%d]: %w", i, err)
		}
		if err := checkRange("component quantity", c.Quantity, 1, MaxComponentQuantity); err != nil {
			return fmt.Errorf("components[%d] (%q): %w", i, c.Product, err)
		}
		if c.Product == b.ID {
			return invalid("components", "bundle %q lists itself as a component: a bundle cannot contain itself", b.ID)
		}
	}
	slices.SortFunc(b.Components, func(x, y Component) int { return cmp.Compare(x.Product, y.Product) })
	for i := 1; i < len(b.Components); i++ {
		if b.Components[i].Product == b.Components[i-1].Product {
			return invalid("components", "%q is listed twice", b.Components[i].Product)
		}
	}
	return nil
}

// Backorder is a product's backorder (or pre-order) policy: it stays
// purchasable past its online stock, up to Limit units. Backordered units
// are reserved at the designated outlet, past what that outlet holds, so
// they are never taken from another order's units, and the stock that
// arrives there goes to them first. The units backordered at a time are
// what the outlet's reservations exceed its stock by (its backlog:
// Reserved less OnHand less the outlet's buffer, when positive); the
// product can still be ordered Limit less that backlog past its stock.
type Backorder struct {
	Product string `json:"product"`
	// Limit is how many units may be backordered at once, in
	// [0, MaxOnHand].
	Limit int64 `json:"limit"`
	// Expected, when set, is when stock is expected, for the storefront
	// to show.
	Expected time.Time `json:"expected,omitzero"`
	// Outlet is the designated outlet the backordered units are reserved
	// at; "" means the primary outlet, whichever it is. Backorders are
	// taken only while it is connected.
	Outlet string `json:"outlet,omitempty"`
}

func (b *Backorder) validate() error {
	if err := checkID("product", b.Product); err != nil {
		return err
	}
	if err := checkRange("backorder limit", b.Limit, 0, MaxOnHand); err != nil {
		return err
	}
	if !b.Expected.IsZero() {
		if err := checkTime("expected", b.Expected); err != nil {
			return err
		}
	}
	if b.Outlet != "" {
		return checkID("backorder outlet", b.Outlet)
	}
	return nil
}

// Catalog is what a Store keeps of the catalog besides products and their
// levels: the bundles and the backorder policies. Stores build it with
// [NewCatalog]; it is read-only, so one Catalog may be shared by any
// number of transactions. A nil *Catalog is an empty one.
type Catalog struct {
	bundles    []Bundle            // sorted by ID
	index      map[string]int      // bundle ID → position in bundles
	of         map[string][]string // component → the bundles having it, sorted
	backorders []Backorder         // sorted by product
}

// NewCatalog returns the catalog of the given bundles, each with its
// components sorted by product, and backorder policies, in any order. It
// keeps the slices: the caller must not modify them afterwards.
func NewCatalog(bundles []Bundle, backorders []Backorder) *Catalog {
	slices.SortFunc(bundles, func(a, b Bundle) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(backorders, func(a, b Backorder) int { return cmp.Compare(a.Product, b.Product) })
	c := &Catalog{bundles: bundles, index: make(map[string]int, len(bundles)), of: map[string][]string{}, backorders: backorders}
	for i, b := range bundles {
		c.index[b.ID] = i
		for _, comp := range b.Components {
			c.of[comp.Product] = append(c.of[comp.Product], b.ID) // in ID order, as bundles are
		}
	}
	return c
}

// Backorders returns every backorder policy, sorted by product. The slice
// belongs to the Catalog.
func (c *Catalog) Backorders() []Backorder {
	if c == nil {
		return nil
	}
	return c.backorders
}

// Backorder looks a product's backorder policy up.
func (c *Catalog) Backorder(product string) (Backorder, bool) {
	if c == nil || len(c.backorders) == 0 {
		return Backorder{}, false
	}
	if i, ok := slices.BinarySearchFunc(c.backorders, product, func(b Backorder, id string) int { return cmp.Compare(b.Product, id) }); ok {
		return c.backorders[i], true
	}
	return Backorder{}, false
}

// Bundles returns every bundle, sorted by ID. The slice belongs to the
// Catalog.
func (c *Catalog) Bundles() []Bundle {
	if c == nil {
		return nil
	}
	return c.bundles
}

// Bundle looks a bundle up by ID.
func (c *Catalog) Bundle(id string) (Bundle, bool) {
	if c == nil || len(c.bundles) == 0 {
		return Bundle{}, false
	}
	i, ok := c.index[id]
	if !ok {
		return Bundle{}, false
	}
	return c.bundles[i], true
}

// IsBundle reports whether id is a bundle.
func (c *Catalog) IsBundle(id string) bool {
	if c == nil || len(c.bundles) == 0 {
		return false
	}
	_, ok := c.index[id]
	return ok
}

// BundlesOf returns the IDs of the bundles that have product as a
// component, sorted. The slice belongs to the Catalog.
func (c *Catalog) BundlesOf(product string) []string {
	if c == nil {
		return nil
	}
	return c.of[product]
}

// empty reports whether the catalog has no bundles: then no product's
// availability depends on another's.
func (c *Catalog) empty() bool { return c == nil || len(c.bundles) == 0 }

// WithComponents returns ids (sorted and unique) with the components of
// the bundles among them, sorted and unique: the products whose levels the
// availability of ids is computed from. Stores use it to read a page.
func (c *Catalog) WithComponents(ids []string) []string {
	if c.empty() {
		return ids
	}
	var comps []string
	for _, id := range ids {
		if b, ok := c.Bundle(id); ok {
			for _, comp := range b.Components {
				comps = append(comps, comp.Product)
			}
		}
	}
	if len(comps) == 0 {
		return ids
	}
	slices.Sort(comps)
	// Merge the two sorted lists.
	out := make([]string, 0, len(ids)+len(comps))
	i, j := 0, 0
	for i < len(ids) || j < len(comps) {
		var next string
		switch {
		case j == len(comps) || (i < len(ids) && ids[i] <= comps[j]):
			next = ids[i]
			i++
		default:
			next = comps[j]
			j++
		}
		if n := len(out); n == 0 || out[n-1] != next {
			out = append(out, next)
		}
	}
	return out
}

// affected returns ids (sorted and unique) with the bundles that have any
// of them as a component: the products whose availability a change of the
// levels of ids may move. Sorted and unique.
func (c *Catalog) affected(ids []string) []string {
	if c.empty() {
		return ids
	}
	out := slices.Clone(ids)
	for _, id := range ids {
		out = append(out, c.of[id]...)
	}
	if len(out) == len(ids) {
		return ids
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// related returns what a call on ids (sorted and unique: the products of
// a cart, or those whose levels it changes) must read, in two sorted
// lists. lock holds ids, the components of the bundles among them, and
// the bundles that have any of those as a component: the products whose
// levels the call may write or whose availability it may move. peek holds
// the other components of those bundles, which their availability is
// computed from. Every call that changes a product's levels locks the
// bundles it is a component of, so a call holding a bundle's lock can
// peek at its components without locking them.
func (c *Catalog) related(ids []string) (lock, peek []string) {
	if c.empty() {
		return ids, nil
	}
	lock = c.affected(c.WithComponents(ids))
	for _, id := range c.WithComponents(lock) {
		if _, ok := slices.BinarySearch(lock, id); !ok {
			peek = append(peek, id)
		}
	}
	return lock, peek
}

// with returns a catalog with b added or replacing the bundle of its
// ID, and without the bundle of ID drop when drop is not "".
func (c *Catalog) with(b *Bundle, drop string) *Catalog {
	var bundles []Bundle
	for _, x := range c.Bundles() {
		if x.ID != drop && (b == nil || x.ID != b.ID) {
			bundles = append(bundles, x)
		}
	}
	if b != nil {
		bundles = append(bundles, *b)
	}
	return NewCatalog(bundles, slices.Clone(c.Backorders()))
}

// withBackorder returns a catalog with p added or replacing the policy of
// its product, or, when p.Limit is negative, without it.
func (c *Catalog) withBackorder(p Backorder) *Catalog {
	var policies []Backorder
	for _, x := range c.Backorders() {
		if x.Product != p.Product {
			policies = append(policies, x)
		}
	}
	if p.Limit >= 0 {
		policies = append(policies, p)
	}
	return NewCatalog(slices.Clone(c.Bundles()), policies)
}

// SetBackorder sets a product's backorder policy, or replaces it: the
// product stays purchasable past its online stock, up to b.Limit units
// (see [Backorder]). A policy with a limit of 0 takes no backorders, and
// the product then behaves as any other. Its availability moves at once:
// it is labelled [OnBackorder] when it has no stock but may still be
// ordered, and its Quantity counts the units it may be backordered.
//
// The product must exist (ErrNotFound), and must not be a bundle or a
// component of one (ErrInvalid): a bundle is assembled from stock. The
// limit lies in [0, MaxOnHand] (ErrInvalid); the designated outlet, when
// set, must exist (ErrNotFound). Setting the policy a product has changes
// nothing. Nothing changes on error.
func (s *Service) SetBackorder(ctx context.Context, b Backorder) error {
	if err := b.validate(); err != nil {
		return err
	}
	return s.updateCatalog(ctx, "SetBackorder", func(tx Tx, setup *Setup, cat *Catalog) error {
		if _, ok := setup.Outlet(b.Outlet); b.Outlet != "" && !ok {
			return notFound("outlet", b.Outlet)
		}
		found, err := tx.Products(ctx, []string{b.Product})
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return notFound("product", b.Product)
		}
		if cat.IsBundle(b.Product) {
			return invalid("product", "%q is a bundle: a bundle is made of stock and takes no backorders", b.Product)
		}
		if users := cat.BundlesOf(b.Product); len(users) > 0 {
			return invalid("product", "%q is a component of bundle %q: a bundle is made of stock and its components take no backorders", b.Product, users[0])
		}
		if old, ok := cat.Backorder(b.Product); ok && old.Limit == b.Limit && old.Outlet == b.Outlet && old.Expected.Equal(b.Expected) {
			return nil
		}
		return s.changeCatalog(ctx, tx, setup, cat, cat.withBackorder(b), b.Product, func() error { return tx.PutBackorder(ctx, b) })
	})
}

// DeleteBackorder removes a product's backorder policy: it is no longer
// purchasable past its online stock. Units already backordered stay
// reserved. A product without a policy is ErrNotFound.
func (s *Service) DeleteBackorder(ctx context.Context, product string) error {
	if err := checkID("product", product); err != nil {
		return err
	}
	return s.updateCatalog(ctx, "DeleteBackorder", func(tx Tx, setup *Setup, cat *Catalog) error {
		if _, ok := cat.Backorder(product); !ok {
			return notFound("backorder policy of product", product)
		}
		next := cat.withBackorder(Backorder{Product: product, Limit: -1})
		return s.changeCatalog(ctx, tx, setup, cat, next, product, func() error { return tx.DeleteBackorder(ctx, product) })
	})
}

// Backorders returns every backorder policy, sorted by product.
func (s *Service) Backorders(ctx context.Context) ([]Backorder, error) {
	out := []Backorder{}
	err := s.view(ctx, "Backorders", func(tx Tx) error {
		cat, err := tx.Catalog(ctx)
		if err != nil {
			return err
		}
		out = append(out, cat.Backorders()...)
		return nil
	})
	return out, err
}

// SaveBundle defines a bundle, or replaces the definition of one, and
// creates its product, not enabled, when it does not exist yet: enable it
// for online sale like any product. Its availability follows from its
// components' stock at once.
//
// Components are sorted by product; each must be listed once, with a
// quantity in [1, MaxComponentQuantity], and there are at most
// MaxComponents of them. Bundles do not nest: a component must be a
// product that exists (ErrNotFound) and is not a bundle itself, and a
// product that is a component of a bundle cannot become one (ErrInvalid),
// so no bundle ever contains itself. A product that holds stock (the POS
// has reported a level for it) cannot become a bundle, and neither it nor
// a component may take backorders (ErrInvalid): a bundle is assembled
// from stock. A
// bundle held by an open order cannot be changed (ErrConflict naming the
// order): release or fulfil the order first. Saving a bundle as it is
// changes nothing. Nothing changes on error.
func (s *Service) SaveBundle(ctx context.Context, b Bundle) error {
	if err := b.normalizeAndValidate(); err != nil {
		return err
	}
	return s.updateCatalog(ctx, "SaveBundle", func(tx Tx, setup *Setup, cat *Catalog) error {
		old, exists := cat.Bundle(b.ID)
		if exists && slices.Equal(old.Components, b.Components) {
			return nil
		}
		if users := cat.BundlesOf(b.ID); len(users) > 0 {
			return invalid("bundle", "%q is a component of bundle %q: bundles do not nest", b.ID, users[0])
		}
		if _, ok := cat.Backorder(b.ID); ok {
			return invalid("bundle", "%q takes backorders: a bundle is made of stock", b.ID)
		}
		var ids []string
		for _, c := range b.Components {
			if cat.IsBundle(c.Product) {
				return invalid("components", "%q is a bundle: bundles do not nest", c.Product)
			}
			if _, ok := cat.Backorder(c.Product); ok {
				return invalid("components", "%q takes backorders: a bundle is made of stock", c.Product)
			}
			ids = append(ids, c.Product)
		}
		found, err := tx.Products(ctx, ids)
		if err != nil {
			return err
		}
		for i, id := range ids {
			if i >= len(found) || found[i].ID != id {
				return notFound("component", id)
			}
		}
		if exists {
			if err := checkNotHeld(ctx, tx, b.ID); err != nil {
				return err
			}
		}
		next := cat.with(&b, "")
		return s.changeCatalog(ctx, tx, setup, cat, next, b.ID, func() error { return tx.PutBundle(ctx, b) })
	})
}

// DeleteBundle deletes a bundle's definition. Its product stays, as an
// ordinary product without stock until the POS reports some. An unknown
// bundle is ErrNotFound; one held by an open order ErrConflict, naming the
// order. Nothing changes on error.
func (s *Service) DeleteBundle(ctx context.Context, id string) error {
	if err := checkID("bundle", id); err != nil {
		return err
	}
	return s.updateCatalog(ctx, "DeleteBundle", func(tx Tx, setup *Setup, cat *Catalog) error {
		if !cat.IsBundle(id) {
			return notFound("bundle", id)
		}
		if err := checkNotHeld(ctx, tx, id); err != nil {
			return err
		}
		next := cat.with(nil, id)
		return s.changeCatalog(ctx, tx, setup, cat, next, id, func() error { return tx.DeleteBundle(ctx, id) })
	})
}

// checkNotHeld fails with ErrConflict when an open order holds units of
// product.
func checkNotHeld(ctx context.Context, tx Tx, product string) error {
	open, err := tx.Reservations(ctx, ReservationFilter{Status: Open, Product: product, Limit: 1})
	if err != nil {
		return err
	}
	if len(open) > 0 {
		return fmt.Errorf("bundle %q is held by open order %q: %w", product, open[0].Order, ErrConflict)
	}
	return nil
}

// updateCatalog runs fn in an Update with the setup and the catalog read
// under the exclusive setup lock, which every change of the catalog takes.
func (s *Service) updateCatalog(ctx context.Context, call string, fn func(tx Tx, setup *Setup, cat *Catalog) error) error {
	return s.update(ctx, call, func(tx Tx) error {
		setup, err := tx.LockSetup(ctx)
		if err != nil {
			return err
		}
		cat, err := tx.Catalog(ctx)
		if err != nil {
			return err
		}
		return fn(tx, setup, cat)
	})
}

// changeCatalog checks product, which the change from cat to next
// redefines, holds no stock of its own if next makes it a bundle; then
// writes the change and the availability event it causes. It runs under
// the exclusive setup lock.
func (s *Service) changeCatalog(ctx context.Context, tx Tx, setup *Setup, cat, next *Catalog, product string, write func() error) error {
	ids := sortedUnique(append(cat.WithComponents([]string{product}), next.WithComponents([]string{product})...))
	products, err := tx.Products(ctx, ids)
	if err != nil {
		return err
	}
	before, after := s.stockView(setup, cat, products), s.stockView(setup, next, products)
	if p, ok := before.product(product); ok && next.IsBundle(product) && len(p.Levels) > 0 {
		return invalid("bundle", "product %q holds stock at outlet %q: a bundle holds none of its own", product, p.Levels[0].Outlet)
	}
	if err := write(); err != nil {
		return err
	}
	now, err := s.now()
	if err != nil {
		return err
	}
	if events := availabilityEvents(now, &before, &after, []string{product}); len(events) > 0 {
		return tx.AppendEvents(ctx, events)
	}
	return nil
}

// Bundles returns every bundle, sorted by ID.
func (s *Service) Bundles(ctx context.Context) ([]Bundle, error) {
	out := []Bundle{}
	err := s.view(ctx, "Bundles", func(tx Tx) error {
		cat, err := tx.Catalog(ctx)
		if err != nil {
			return err
		}
		for _, b := range cat.Bundles() {
			out = append(out, Bundle{ID: b.ID, Components: slices.Clone(b.Components)})
		}
		return nil
	})
	return out, err
}

func designatedOutlet(b Backorder, outlets []Outlet, primary string) (int, bool) {
	id := cmp.Or(b.Outlet, primary)
	if id == "" {
		return 0, false
	}
	j, ok := outletIndex(outlets, id)
	return j, ok && outlets[j].Connected
}

// allowance is how many units a policy still allows past the stock, given
// the level at its designated outlet o: the limit less the backlog, the
// units reserved there past its stock (on-hand less the buffer).
func allowance(b Backorder, l *Level, o *Outlet) int64 {
	backlog := max(0, l.Reserved-max(0, l.OnHand-o.Buffer))
	return max(0, b.Limit-backlog)
}

package onlinestock

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// MethodKind is how a customer receives an order.
type MethodKind string

// Method kinds.
const (
	Shipping MethodKind = "shipping" // sent by carrier
	Delivery MethodKind = "delivery" // brought by the retailer
	Pickup   MethodKind = "pickup"   // collected at an outlet
)

// Rule says when a method linked to an outlet is offered.
type Rule string

// Rules.
const (
	// AllowAll offers the method whenever online stock covers the cart; the
	// order may be filled from any connected outlet. It is the default.
	AllowAll Rule = "allow_all"
	// Restrict offers the method only when its outlet alone covers the whole
	// cart. It needs a linked outlet.
	Restrict Rule = "restrict"
)

// Method is a shipping, delivery or pickup method offered at checkout.
type Method struct {
	ID   string     `json:"id"`
	Name string     `json:"name"`
	Kind MethodKind `json:"kind"`
	// Outlet is the outlet the method is linked to, or "" for none.
	Outlet string `json:"outlet,omitempty"`
	// Rule is AllowAll or Restrict; "" means AllowAll.
	Rule Rule `json:"rule"`
}

func (m *Method) normalizeAndValidate() error {
	if err := checkID("method", m.ID); err != nil {
		return err
	}
	if m.Name == "" {
		return invalid("method name", "empty")
	}
	if err := checkName("method name", m.Name); err != nil {
		return err
	}
	switch m.Kind {
	case Shipping, Delivery, Pickup:
	default:
		return invalid("method kind", "%q is not shipping, delivery or pickup", m.Kind)
	}
	if m.Rule == "" {
		m.Rule = AllowAll
	}
	switch m.Rule {
	case AllowAll:
	case Restrict:
		if m.Outlet == "" {
			return invalid("method outlet", "a Restrict method needs a linked outlet")
		}
	default:
		return invalid("method rule", "%q is not allow_all or restrict", m.Rule)
	}
	if m.Outlet != "" {
		return checkID("method outlet", m.Outlet)
	}
	return nil
}

// orphaned reports whether m is linked to an outlet that is not connected.
func orphaned(m Method, outlets []Outlet) bool {
	if m.Outlet == "" {
		return false
	}
	o, _ := findOutlet(outlets, m.Outlet)
	return !o.Connected
}

// SaveMethod creates or replaces a method. A linked outlet must exist
// (ErrNotFound); it need not be connected, in which case the method is
// orphaned from the start.
func (s *Service) SaveMethod(ctx context.Context, m Method) error {
	if err := m.normalizeAndValidate(); err != nil {
		return err
	}
	return s.update(ctx, "SaveMethod", func(tx Tx) error {
		setup, err := tx.LockSetup(ctx)
		if err != nil {
			return err
		}
		if _, ok := setup.Outlet(m.Outlet); m.Outlet != "" && !ok {
			return notFound("outlet", m.Outlet)
		}
		return tx.PutMethod(ctx, m)
	})
}

// DeleteMethod deletes a method; an unknown one is ErrNotFound.
func (s *Service) DeleteMethod(ctx context.Context, id string) error {
	if err := checkID("method", id); err != nil {
		return err
	}
	return s.update(ctx, "DeleteMethod", func(tx Tx) error {
		if _, err := tx.LockSetup(ctx); err != nil {
			return err
		}
		methods, err := tx.Methods(ctx)
		if err != nil {
			return err
		}
		if _, ok := slices.BinarySearchFunc(methods, id, byMethodID); !ok {
			return notFound("method", id)
		}
		return tx.DeleteMethod(ctx, id)
	})
}

func byMethodID(m Method, id string) int { return cmp.Compare(m.ID, id) }

// Methods returns every method, sorted by ID.
func (s *Service) Methods(ctx context.Context) ([]Method, error) {
	return s.methods(ctx, "Methods", func(Method, []Outlet) bool { return true })
}

// OrphanedMethods returns the methods linked to an outlet that is not
// connected, sorted by ID: candidates for the merchant to delete.
func (s *Service) OrphanedMethods(ctx context.Context) ([]Method, error) {
	return s.methods(ctx, "OrphanedMethods", orphaned)
}

func (s *Service) methods(ctx context.Context, call string, keep func(Method, []Outlet) bool) ([]Method, error) {
	out := []Method{}
	err := s.view(ctx, call, func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		methods, err := tx.Methods(ctx)
		if err != nil {
			return err
		}
		for _, m := range methods {
			if keep(m, setup.Outlets) {
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// Snapshot is the state a checkout is evaluated on: the outlets, the
// products of the cart with their levels, and the methods.
type Snapshot struct {
	Outlets []Outlet // sorted by ID
	// Products are the products of the cart and the components of its
	// bundles, sorted by ID; a product missing is not for sale, a component
	// missing has no stock.
	Products []Product
	Methods  []Method // in the order the quote lists them
	Primary  string   // the primary outlet, first in allocation by default
	Catalog  *Catalog // the bundles; nil for none
}

// QuoteOptions tune [Evaluate].
type QuoteOptions struct {
	// HideOrphanedMethods: see [Config.HideOrphanedMethods].
	HideOrphanedMethods bool
	// Allocator orders the outlets that assemble a cart's bundles, as
	// [Config.Allocator] does; nil means [FewestShipments].
	Allocator Allocator
}

// LineStatus says whether online stock covers one product of a cart.
type LineStatus string

// Line statuses.
const (
	LineOK         LineStatus = "ok"
	LineNotForSale LineStatus = "not_for_sale" // not enabled online, or unknown
	LineShort      LineStatus = "short"        // enabled, but online stock is short
)

// ProductQuote is the verdict on one product of a cart.
type ProductQuote struct {
	Product   string `json:"product"`
	Requested int64  `json:"requested"` // the cart's lines summed
	// Available is the product's online stock, and for a product that
	// takes backorders the units it may still be backordered. For a bundle
	// line that the cart's other bundle lines leave short of components at
	// the outlets that would assemble it, it is the units those outlets can
	// assemble.
	Available int64 `json:"available"`
	// Backordered is how many of Requested are past the online stock and
	// would be backordered (when the order may come from any outlet: a
	// Restrict method's outlet may backorder more), and Expected when the
	// product's policy expects stock.
	Backordered int64      `json:"backordered,omitempty"`
	Expected    time.Time  `json:"expected,omitzero"`
	Status      LineStatus `json:"status"`
}

// Reason says why a method is not offered.
type Reason string

// Reasons.
const (
	ReasonNone           Reason = ""
	ReasonNotPurchasable Reason = "cart_not_purchasable" // online stock does not cover the cart
	ReasonOutletShort    Reason = "outlet_short"         // Restrict: its outlet alone does not cover the cart
	ReasonHidden         Reason = "orphaned_hidden"      // orphaned, and orphaned methods are hidden
)

// MethodQuote is the verdict on one method for a cart.
type MethodQuote struct {
	Method  Method `json:"method"`
	Offered bool   `json:"offered"`
	// Orphaned says the method's outlet is not connected. An orphaned
	// method is evaluated as AllowAll, since its outlet's stock is not online.
	Orphaned bool   `json:"orphaned"`
	Reason   Reason `json:"reason,omitempty"`
	// Shortfalls lists, for ReasonOutletShort, what the outlet lacks.
	Shortfalls []Shortfall `json:"shortfalls,omitempty"`
}

// Quote is the verdict on a cart at checkout.
type Quote struct {
	// Purchasable says online stock covers every product of the cart and,
	// for a cart with bundles, every component.
	Purchasable bool           `json:"purchasable"`
	Products    []ProductQuote `json:"products"` // one per product, sorted by product
	// Components, for a cart with bundles, has one entry per component of
	// its bundles, sorted by product: Requested is what the whole cart
	// needs of it, its own lines and its bundles' units summed, and
	// Available its online stock.
	Components []ProductQuote `json:"components,omitempty"`
	Methods    []MethodQuote  `json:"methods"` // every method, in the snapshot's order
}

// Offered returns the methods offered, in order.
func (q Quote) Offered() []Method {
	var out []Method
	for _, m := range q.Methods {
		if m.Offered {
			out = append(out, m.Method)
		}
	}
	return out
}

// Evaluate is the shipping-rule evaluator: a pure function from a snapshot
// and a cart to a [Quote]. A product is OK when it is enabled and its online
// stock covers the cart's lines summed; the cart is purchasable when every
// product is OK. A method is offered when the cart is purchasable and, for a
// Restrict method whose outlet is connected, when that outlet's contribution
// covers each product. An orphaned method is treated as AllowAll, or hidden
// when opts say so.
//
// A cart with bundles ([Catalog]) needs of each component the units of
// its own lines and of every bundle line summed: it is purchasable when,
// besides every line, online stock covers each component so summed, and
// the bundles can be assembled at the outlets (see [Service.Reserve]); a
// Restrict method's outlet must hold all of it alone.
//
// The cart is checked as [Service.Quote] checks it, and the snapshot's
// methods as the Service keeps them: a rule of AllowAll, Restrict or "", a
// Restrict method linked to an outlet, and every linked outlet among
// snap.Outlets. Anything else is an error matching [ErrInvalid], with a
// zero Quote.
func Evaluate(snap Snapshot, cart Cart, opts QuoteOptions) (Quote, error) {
	lines, err := totals(cart.Lines)
	if err != nil {
		return Quote{}, err
	}
	for i, m := range snap.Methods {
		if err := checkLink(m, snap.Outlets); err != nil {
			return Quote{}, fmt.Errorf("methods[%d] (%q): %w", i, m.ID, err)
		}
	}
	return evaluate(snap, lines, opts), nil
}

// checkLink checks what the evaluator needs of a method: a known rule, and
// an outlet that exists when it is linked, as a Restrict method must be.
func checkLink(m Method, outlets []Outlet) error {
	switch m.Rule {
	case "", AllowAll:
	case Restrict:
		if m.Outlet == "" {
			return invalid("method outlet", "a Restrict method needs a linked outlet")
		}
	default:
		return invalid("method rule", "%q is not allow_all or restrict", m.Rule)
	}
	if _, ok := outletIndex(outlets, m.Outlet); m.Outlet != "" && !ok {
		return invalid("method outlet", "outlet %q is not in the snapshot", m.Outlet)
	}
	return nil
}

// evaluate is Evaluate for lines already summed per product and sorted.
func evaluate(snap Snapshot, lines []Line, opts QuoteOptions) Quote {
	cs := newCartStock(snap, lines)
	if len(cs.kits) > 0 && cs.purchasable {
		alloc := opts.Allocator
		if alloc == nil {
			alloc = FewestShipments{}
		}
		cs.checkAssembly(outletOrder(alloc, cs.request(snap)))
	}
	q := Quote{Purchasable: cs.purchasable, Products: cs.products, Components: cs.components, Methods: make([]MethodQuote, len(snap.Methods))}
	for k, m := range snap.Methods {
		q.Methods[k] = cs.quoteMethod(m, opts)
	}
	return q
}

// Quote evaluates a cart at checkout: read-only, one Store transaction. The
// cart needs at least one line; each line a valid product ID and a quantity
// in [1, MaxLineQuantity] (ErrInvalid). Before activation it is ErrNotActive.
func (s *Service) Quote(ctx context.Context, cart Cart) (Quote, error) {
	lines, err := totals(cart.Lines)
	if err != nil {
		return Quote{}, err
	}
	var q Quote
	err = s.view(ctx, "Quote", func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		snap, _, err := s.snapshot(ctx, tx, setup, lines)
		if err != nil {
			return err
		}
		q = evaluate(snap, lines, s.quoteOptions())
		return nil
	})
	return q, err
}

func (s *Service) quoteOptions() QuoteOptions {
	return QuoteOptions{HideOrphanedMethods: s.cfg.HideOrphanedMethods, Allocator: s.cfg.Allocator}
}

package onlinestock

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Level is the stock of one product at one outlet.
type Level struct {
	Product string `json:"product"`
	Outlet  string `json:"outlet"`
	// OnHand is what the POS counts. It may be negative: POS systems allow
	// selling below zero.
	OnHand int64 `json:"on_hand"`
	// Reserved is the units held for open online orders.
	Reserved int64 `json:"reserved"`
	// Version starts at 0 for a level never reported and grows by one
	// whenever OnHand may have moved: every POS change applied (a set or an
	// adjust, even one that leaves the count as it was) and every
	// fulfilment. Reserving, releasing and expiring move only Reserved and
	// leave Version alone, so a compare-and-set count ([Change.WithVersion])
	// is refused only when the count it was based on is stale.
	Version int64 `json:"version"`
}

// Product is a sellable SKU or variant as a [Store] returns it: whether it is
// enabled for online sale and its levels, sorted by outlet ID.
type Product struct {
	ID      string  `json:"id"`
	Enabled bool    `json:"enabled"`
	Levels  []Level `json:"levels"`
}

// Levels returns the levels of a product at every outlet that has reported
// it, sorted by outlet ID. A product never reported is ErrNotFound.
func (s *Service) Levels(ctx context.Context, product string) ([]Level, error) {
	if err := checkID("product", product); err != nil {
		return nil, err
	}
	var out []Level
	err := s.view(ctx, "Levels", func(tx Tx) error {
		found, err := tx.Products(ctx, []string{product})
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return notFound("product", product)
		}
		out = slices.Clone(found[0].Levels)
		return nil
	})
	return out, err
}

// EnableOnline lists products for online sale. Products exist once the POS
// has reported stock for them; an unknown product is ErrNotFound and nothing
// changes. Enabling an enabled product is a no-op.
func (s *Service) EnableOnline(ctx context.Context, products ...string) error {
	return s.setEnabled(ctx, "EnableOnline", products, true)
}

// DisableOnline takes products off online sale; their stock is still
// tracked. An unknown product is ErrNotFound and nothing changes.
func (s *Service) DisableOnline(ctx context.Context, products ...string) error {
	return s.setEnabled(ctx, "DisableOnline", products, false)
}

func (s *Service) setEnabled(ctx context.Context, call string, products []string, enabled bool) error {
	if err := checkIDs("products", products); err != nil {
		return err
	}
	ids := sortedUnique(products)
	kind := ProductDisabled
	if enabled {
		kind = ProductEnabled
	}
	return s.update(ctx, call, func(tx Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		cat, err := tx.Catalog(ctx)
		if err != nil {
			return err
		}
		// Enabling a component does not move its bundles, but a bundle's
		// availability is read from its components, which its lock
		// protects.
		var peek []string
		for _, id := range cat.WithComponents(ids) {
			if _, ok := slices.BinarySearch(ids, id); !ok {
				peek = append(peek, id)
			}
		}
		found, err := readProducts(ctx, tx, ids, peek)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, ok := slices.BinarySearchFunc(found, id, byProductID); !ok {
				return notFound("product", id)
			}
		}
		now, err := s.now()
		if err != nil {
			return err
		}
		before, after := s.stockView(setup, cat, found), s.stockView(setup, cat, slices.Clone(found))
		var changed []string
		var events []Event
		for _, id := range ids {
			p, _ := after.product(id)
			if p.Enabled == enabled {
				continue
			}
			changed = append(changed, p.ID)
			p.Enabled = enabled
			events = append(events, Event{Kind: kind, Time: now, Product: p.ID})
			events = append(events, availabilityEvents(now, &before, &after, []string{p.ID})...)
		}
		if len(changed) == 0 {
			return nil
		}
		if err := tx.SetEnabled(ctx, changed, enabled); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events)
	})
}

// ChangeKind says how a [Change] moves a level.
type ChangeKind uint8

// Change kinds.
const (
	SetOnHand    ChangeKind = iota + 1 // set OnHand to an absolute count
	AdjustOnHand                       // add a delta to OnHand
)

// String names the kind: "set" or "adjust".
func (k ChangeKind) String() string {
	switch k {
	case SetOnHand:
		return "set"
	case AdjustOnHand:
		return "adjust"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// MarshalText encodes the kind as its name, "set" or "adjust", so that it
// reads as a name in JSON.
func (k ChangeKind) MarshalText() ([]byte, error) {
	if k != SetOnHand && k != AdjustOnHand {
		return nil, invalid("kind", "unknown change kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes "set" or "adjust"; anything else is ErrInvalid.
func (k *ChangeKind) UnmarshalText(text []byte) error {
	switch string(text) {
	case "set":
		*k = SetOnHand
	case "adjust":
		*k = AdjustOnHand
	default:
		return invalid("kind", "%q is not set or adjust", text)
	}
	return nil
}

// Change is one stock change reported by the POS. Build it with [Set] or
// [Adjust].
type Change struct {
	Kind    ChangeKind `json:"kind"`
	Product string     `json:"product"`
	Outlet  string     `json:"outlet"`
	// Quantity is the new count for SetOnHand and the delta for AdjustOnHand.
	Quantity int64 `json:"quantity"`
	// IfVersion, when CheckVersion is set, is the version the POS read the
	// level at; if the level has moved on since, the batch fails with
	// ErrConflict. A level never reported is at version 0.
	IfVersion    int64 `json:"if_version,omitempty"`
	CheckVersion bool  `json:"check_version,omitempty"`
	// Key, when not empty, makes the change idempotent: a key already
	// applied within the key retention to the same change (product,
	// outlet, kind, quantity and order) is skipped and reported as a
	// duplicate; applied to another change, it is ErrConflict (a
	// [*KeyConflictError]) for the whole batch. Use one key per line of a
	// POS document, for example "receipt-42/1", "receipt-42/2".
	Key string `json:"key,omitempty"`
	// Reason says why the level changed, for the stock ledger: a standard
	// [StockReason] or a merchant's own code.
	Reason StockReason `json:"reason,omitempty"`
	// Ref is the POS document the change comes from (a receipt, a
	// transfer), kept in the stock ledger.
	Ref string `json:"ref,omitempty"`
	// Order, when set, says that the change reports the POS's sale of the
	// web order's units at the outlet; see [Change.ForOrder].
	Order string `json:"order,omitempty"`
}

// Set returns a change that sets a product's on-hand count at an outlet.
func Set(product, outlet string, onHand int64) Change {
	return Change{Kind: SetOnHand, Product: product, Outlet: outlet, Quantity: onHand}
}

// Adjust returns a change that adds delta (which may be negative) to a
// product's on-hand count at an outlet.
func Adjust(product, outlet string, delta int64) Change {
	return Change{Kind: AdjustOnHand, Product: product, Outlet: outlet, Quantity: delta}
}

// WithVersion returns c made conditional on the level being at version v.
func (c Change) WithVersion(v int64) Change {
	c.IfVersion, c.CheckVersion = v, true
	return c
}

// WithKey returns c with an idempotency key.
func (c Change) WithKey(key string) Change {
	c.Key = key
	return c
}

// WithReason returns c with the reason the stock ledger records for it.
func (c Change) WithReason(r StockReason) Change {
	c.Reason = r
	return c
}

// WithRef returns c with the reference of the POS document it comes from,
// which the stock ledger records.
func (c Change) WithRef(ref string) Change {
	c.Ref = ref
	return c
}

// ForOrder returns c as the POS's report of the sale of a web order's
// units at c's outlet, so that the sale reaches the stock once, whenever
// it is reported:
//
//   - an Adjust by minus the units the order took of the product at that
//     outlet ([Allocation.Quantity]) lowers on-hand only by the units
//     [Service.Fulfill] has not already taken off, and turns the units
//     the order still holds there into sold ones at once (Reserved drops
//     with OnHand, so they are never offered online in between). Reported
//     again, or after Fulfill took them all, it is skipped as Duplicate;
//   - a Set is a count the POS made after it recorded the order's sale:
//     it sets on-hand, and the units the order still holds there are sold
//     (Reserved drops by them), so a later Fulfill does not take them
//     again.
//
// Once the sale is reported, a Set under the order is an ordinary count.
// A report that contradicts the order (an outlet the order took nothing of
// the product from, or an Adjust by another quantity) is ErrConflict
// naming the order, and nothing in the batch is applied; an unknown order
// is ErrNotFound. The order closes,
// Fulfilled, when no unit is left held. The ledger records the report
// under the order's ID, with reason sale unless c gives another.
func (c Change) ForOrder(order string) Change {
	c.Order = order
	return c
}

// fingerprint describes the change a key stands for: its product, outlet,
// kind, quantity and order.
func (c *Change) fingerprint() string {
	s := fmt.Sprintf("%s %d of %q at %q", c.Kind, c.Quantity, c.Product, c.Outlet)
	if c.Order != "" {
		s += fmt.Sprintf(" for order %q", c.Order)
	}
	return s
}

// ref is the reference the ledger records for the change.
func (c *Change) ref() string {
	return cmp.Or(c.Ref, c.Order, c.Key)
}

func (c Change) validate() error {
	if c.Kind != SetOnHand && c.Kind != AdjustOnHand {
		return invalid("kind", "unknown change kind %d", uint8(c.Kind))
	}
	if err := checkID("product", c.Product); err != nil {
		return err
	}
	if err := checkID("outlet", c.Outlet); err != nil {
		return err
	}
	field := "on-hand"
	if c.Kind == AdjustOnHand {
		field = "delta"
	}
	if err := checkRange(field, c.Quantity, -MaxOnHand, MaxOnHand); err != nil {
		return err
	}
	if c.CheckVersion && c.IfVersion < 0 {
		return invalid("version", "negative version %d", c.IfVersion)
	}
	if c.Key != "" {
		if err := checkID("key", c.Key); err != nil {
			return err
		}
	}
	if c.Reason != "" {
		if err := checkReason(c.Reason); err != nil {
			return err
		}
	}
	if c.Ref != "" {
		if err := checkID("ref", c.Ref); err != nil {
			return err
		}
	}
	if c.Order != "" {
		if err := checkID("order", c.Order); err != nil {
			return err
		}
		if c.Kind == AdjustOnHand && c.Quantity >= 0 {
			return invalid("delta", "%d: the sale of a web order lowers on-hand", c.Quantity)
		}
	}
	return nil
}

// ChangeStatus says what became of one change in a batch.
type ChangeStatus uint8

// Change statuses.
const (
	Applied   ChangeStatus = iota + 1 // the change was applied
	Duplicate                         // already counted: its key was applied before, or the web sale it reports was: skipped
)

// String names the status: "applied" or "duplicate".
func (s ChangeStatus) String() string {
	switch s {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	}
	return fmt.Sprintf("ChangeStatus(%d)", uint8(s))
}

// MarshalText encodes the status as its name, "applied" or "duplicate".
func (s ChangeStatus) MarshalText() ([]byte, error) {
	if s != Applied && s != Duplicate {
		return nil, invalid("status", "unknown change status %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes "applied" or "duplicate"; anything else is
// ErrInvalid.
func (s *ChangeStatus) UnmarshalText(text []byte) error {
	switch string(text) {
	case "applied":
		*s = Applied
	case "duplicate":
		*s = Duplicate
	default:
		return invalid("status", "%q is not applied or duplicate", text)
	}
	return nil
}

// ChangeResult is the outcome of one change of a batch.
type ChangeResult struct {
	Status ChangeStatus `json:"status"`
	// Level is the level right after this change (for a duplicate, as it
	// stood at that point of the batch).
	Level Level `json:"level"`
}

// Apply applies a batch of POS stock changes, all or nothing, in order: a
// later change to the same level sees the earlier ones. It returns one
// result per change.
//
// The whole batch is rejected, with nothing changed and no event, when a
// change is malformed (ErrInvalid), names an unknown outlet (ErrNotFound),
// reports stock for a bundle, which holds none of its own (ErrInvalid),
// expects a version the level is no longer at (ErrConflict), or would take
// on-hand outside ±MaxOnHand (ErrInvalid). A change whose key was applied
// within the key retention, or earlier in the same batch, is skipped and
// reported as Duplicate, so a batch replayed any number of times, even
// concurrently, changes stock once.
//
// Products are created by their first change, not enabled for online sale.
// At most one availability event is written per product, and only when what
// the storefront sees changed: the products changed, and the bundles they
// are components of.
func (s *Service) Apply(ctx context.Context, changes []Change) ([]ChangeResult, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if len(changes) > MaxBatch {
		return nil, invalid("changes", "%d changes, more than %d", len(changes), MaxBatch)
	}
	for i, c := range changes {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
	}
	sc, _ := s.apply.Get().(*applyScratch)
	if sc == nil {
		sc = &applyScratch{s: s, seenKey: map[string]string{}}
		sc.run = sc.apply
	}
	sc.ctx, sc.changes = ctx, changes
	sc.results = make([]ChangeResult, len(changes))
	err := s.update(ctx, "Apply", sc.run)
	results := sc.results
	sc.reset()
	s.apply.Put(sc)
	s.metrics.applied(ctx, results, err)
	if err != nil {
		return nil, err
	}
	return results, nil
}

// applyScratch holds one Apply's working memory, reused across calls.
type applyScratch struct {
	s       *Service
	run     func(Tx) error // sc.apply, bound once
	ctx     context.Context
	changes []Change
	results []ChangeResult

	duplicate []bool  // per change
	order     []int32 // change indices, sorted by (product, outlet), stable
	ids       []string
	claims    []KeyClaim
	keyOwner  []int32           // the change each claim belongs to
	seenKey   map[string]string // key → the change it stands for, within the batch
	after     []Level
	writes    []Level
	touched   []string // the products written
	events    []Event
	ledger    ledger
	orders    []webOrder // the orders the batch reports web sales of, by ID
}

func (sc *applyScratch) reset() {
	sc.ctx, sc.changes, sc.results = nil, nil, nil
	clear(sc.ids)
	clear(sc.claims)
	clear(sc.after)
	clear(sc.writes)
	clear(sc.touched)
	clear(sc.events)
	clear(sc.ledger.movements)
	sc.ledger.movements = sc.ledger.movements[:0]
	clear(sc.orders)
	sc.orders = sc.orders[:0]
}

func (sc *applyScratch) apply(tx Tx) error {
	ctx, changes := sc.ctx, sc.changes
	setup, err := tx.Setup(ctx)
	if err != nil {
		return err
	}
	for i, c := range changes {
		if _, ok := findOutlet(setup.Outlets, c.Outlet); !ok {
			return fmt.Errorf("change %d: %w", i, notFound("outlet", c.Outlet))
		}
	}
	cat, err := tx.Catalog(ctx)
	if err != nil {
		return err
	}
	if !cat.empty() {
		for i, c := range changes {
			if cat.IsBundle(c.Product) {
				return fmt.Errorf("change %d: %w", i, invalid("product", "%q is a bundle: it holds no stock of its own", c.Product))
			}
		}
	}
	now, err := sc.s.now()
	if err != nil {
		return err
	}
	if err := sc.claimKeys(tx, now); err != nil {
		return err
	}
	if err := sc.readOrders(tx); err != nil {
		return err
	}

	// Group the changes by level, keeping batch order within a level: levels
	// are independent, so applying group by group equals applying in order.
	sc.order = sc.order[:0]
	for i := range changes {
		sc.order = append(sc.order, int32(i))
	}
	if len(changes) > 1 {
		slices.SortStableFunc(sc.order, func(a, b int32) int {
			ca, cb := &changes[a], &changes[b]
			if c := cmp.Compare(ca.Product, cb.Product); c != 0 {
				return c
			}
			return cmp.Compare(ca.Outlet, cb.Outlet)
		})
	}
	sc.ids = sc.ids[:0]
	for _, i := range sc.order {
		if p := changes[i].Product; len(sc.ids) == 0 || sc.ids[len(sc.ids)-1] != p {
			sc.ids = append(sc.ids, p)
		}
	}
	found, err := readRelated(ctx, tx, cat, sc.ids)
	if err != nil {
		return err
	}

	sc.writes, sc.events = sc.writes[:0], sc.events[:0]
	sc.ledger.now = now
	for g := 0; g < len(sc.order); {
		product := changes[sc.order[g]].Product
		var current Product
		if k, ok := slices.BinarySearchFunc(found, product, byProductID); ok {
			current = found[k]
		}
		sc.after = append(sc.after[:0], current.Levels...)
		for g < len(sc.order) && changes[sc.order[g]].Product == product {
			outlet := changes[sc.order[g]].Outlet
			k, ok := slices.BinarySearchFunc(sc.after, outlet, byOutlet)
			if !ok {
				sc.after = slices.Insert(sc.after, k, Level{Product: product, Outlet: outlet})
			}
			lv := &sc.after[k]
			changed := false
			for ; g < len(sc.order) && changes[sc.order[g]].Product == product && changes[sc.order[g]].Outlet == outlet; g++ {
				i := sc.order[g]
				c := &changes[i]
				if sc.duplicate[i] {
					sc.results[i] = ChangeResult{Status: Duplicate, Level: *lv}
					continue
				}
				if c.CheckVersion && lv.Version != c.IfVersion {
					return fmt.Errorf("change %d: level %q at outlet %q is at version %d, not %d: %w",
						i, product, outlet, lv.Version, c.IfVersion, ErrConflict)
				}
				onHand := c.Quantity
				if c.Kind == AdjustOnHand {
					onHand += lv.OnHand
				}
				var sold int64 // held units of a web order the change reports sold
				if c.Order != "" {
					var counted bool
					onHand, sold, counted, err = sc.webSale(int(i), lv)
					if err != nil {
						return err
					}
					if counted {
						sc.results[i] = ChangeResult{Status: Duplicate, Level: *lv}
						continue
					}
				}
				if onHand < -MaxOnHand || onHand > MaxOnHand {
					return fmt.Errorf("change %d: %w", i,
						invalid("on-hand", "%d %+d leaves %d, outside ±%d", lv.OnHand, c.Quantity, onHand, int64(MaxOnHand)))
				}
				delta := onHand - lv.OnHand
				lv.OnHand = onHand
				lv.Reserved -= sold
				lv.Version++
				changed = true
				kind, reason := MovedBySet, c.Reason
				if c.Kind == AdjustOnHand {
					kind = MovedByAdjust
				}
				if c.Order != "" && reason == "" {
					reason = StockSale
				}
				sc.ledger.move(kind, reason, c.ref(), lv, delta, -sold)
				sc.results[i] = ChangeResult{Status: Applied, Level: *lv}
			}
			if changed {
				sc.writes = append(sc.writes, *lv)
			}
		}
	}
	if len(sc.writes) > 0 {
		if err := tx.PutLevels(ctx, sc.writes); err != nil {
			return err
		}
		sc.touched = sc.touched[:0]
		for _, l := range sc.writes {
			if n := len(sc.touched); n == 0 || sc.touched[n-1] != l.Product {
				sc.touched = append(sc.touched, l.Product)
			}
		}
		v := sc.s.stockView(setup, cat, found)
		sc.events = v.moveEvents(sc.events, now, sc.writes, cat.affected(sc.touched))
	}
	if err := sc.closeOrders(tx, now); err != nil {
		return err
	}
	if len(sc.events) > 0 {
		if err := tx.AppendEvents(ctx, sc.events); err != nil {
			return err
		}
	}
	if len(sc.ledger.movements) > 0 {
		return tx.AppendMovements(ctx, sc.ledger.movements)
	}
	return nil
}

// claimKeys marks the duplicate changes: a key's repeat within the batch,
// and a key the Store says was claimed before, for the same change. A key
// used for another change, in the batch or before it, fails the batch.
func (sc *applyScratch) claimKeys(tx Tx, now time.Time) error {
	changes := sc.changes
	sc.duplicate = append(sc.duplicate[:0], make([]bool, len(changes))...)
	sc.claims, sc.keyOwner = sc.claims[:0], sc.keyOwner[:0]
	defer clear(sc.seenKey)
	for i := range changes {
		c := &changes[i]
		if c.Key == "" {
			continue
		}
		fp := c.fingerprint()
		if first, seen := sc.seenKey[c.Key]; seen {
			if first != fp {
				return fmt.Errorf("change %d: %w", i, &KeyConflictError{Key: c.Key, Applied: first, Change: fp})
			}
			sc.duplicate[i] = true
			continue
		}
		sc.seenKey[c.Key] = fp
		sc.claims = append(sc.claims, KeyClaim{Key: c.Key, Change: fp})
		sc.keyOwner = append(sc.keyOwner, int32(i))
	}
	if len(sc.claims) == 0 {
		return nil
	}
	prior, err := tx.ClaimKeys(sc.ctx, sc.claims, now, now.Add(-sc.s.cfg.KeyRetention))
	if err != nil {
		return err
	}
	for k, p := range prior {
		switch p {
		case "":
		case sc.claims[k].Change:
			sc.duplicate[sc.keyOwner[k]] = true
		default:
			return fmt.Errorf("change %d: %w", sc.keyOwner[k], &KeyConflictError{Key: sc.claims[k].Key, Applied: p, Change: sc.claims[k].Change})
		}
	}
	return nil
}

// webOrder is an order whose web sale a batch reports.
type webOrder struct {
	r       Reservation
	sold    []Allocation // held units the reports sold
	changed bool
}

// readOrders reads, in order ID order, the reservations of the orders
// whose web sales the batch reports, skipping duplicates.
func (sc *applyScratch) readOrders(tx Tx) error {
	sc.orders = sc.orders[:0]
	for i := range sc.changes {
		if c := &sc.changes[i]; c.Order != "" && !sc.duplicate[i] {
			sc.orders = append(sc.orders, webOrder{r: Reservation{Order: c.Order}})
		}
	}
	if len(sc.orders) == 0 {
		return nil
	}
	slices.SortFunc(sc.orders, func(a, b webOrder) int { return cmp.Compare(a.r.Order, b.r.Order) })
	sc.orders = slices.CompactFunc(sc.orders, func(a, b webOrder) bool { return a.r.Order == b.r.Order })
	for k := range sc.orders {
		r, err := existingReservation(sc.ctx, tx, sc.orders[k].r.Order)
		if err != nil {
			return err
		}
		r.Allocations = slices.Clone(r.Allocations)
		sc.orders[k].r = r
	}
	return nil
}

// webSale works out change i, a POS report of a web order's sale, on level
// lv: the on-hand it leaves and the held units it sells. counted says the
// sale is already in on-hand (reported before, or fulfilled), so the
// change is a duplicate. It marks the order's allocation reported.
func (sc *applyScratch) webSale(i int, lv *Level) (onHand, sold int64, counted bool, err error) {
	c := &sc.changes[i]
	k, _ := slices.BinarySearchFunc(sc.orders, c.Order, func(w webOrder, id string) int { return cmp.Compare(w.r.Order, id) })
	w := &sc.orders[k]
	j := slices.IndexFunc(w.r.Allocations, func(a Allocation) bool { return a.Product == c.Product && a.Outlet == c.Outlet })
	if j < 0 {
		return 0, 0, false, fmt.Errorf("change %d: order %q took no %q from outlet %q: %w", i, c.Order, c.Product, c.Outlet, ErrConflict)
	}
	a := &w.r.Allocations[j]
	if c.Kind == AdjustOnHand && -c.Quantity != a.Quantity {
		return 0, 0, false, fmt.Errorf("change %d: order %q took %d of %q from outlet %q, not %d: %w",
			i, c.Order, a.Quantity, c.Product, c.Outlet, -c.Quantity, ErrConflict)
	}
	if a.Reported {
		if c.Kind == AdjustOnHand {
			return lv.OnHand, 0, true, nil
		}
		return c.Quantity, 0, false, nil // a count like any other
	}
	// On-hand still counts the units Fulfill has not taken off: those held
	// until now, and those released back to the outlet since.
	notTaken := a.Quantity - a.Fulfilled
	sold = a.Held()
	a.Fulfilled += sold
	a.Reported = true
	w.changed = true
	if sold > 0 {
		w.sold = append(w.sold, Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: sold})
	}
	switch {
	case c.Kind == SetOnHand:
		return c.Quantity, sold, false, nil
	case notTaken == 0:
		return lv.OnHand, 0, true, nil
	}
	return lv.OnHand - notTaken, sold, false, nil
}

// closeOrders writes the reservations whose web sales the batch reported,
// with an order event for the units the reports sold; an order left
// holding nothing closes, Fulfilled.
func (sc *applyScratch) closeOrders(tx Tx, now time.Time) error {
	for k := range sc.orders {
		w := &sc.orders[k]
		if !w.changed {
			continue
		}
		if len(w.sold) > 0 {
			slices.SortFunc(w.sold, byProductOutlet)
			kind := OrderPartiallyFulfilled
			if w.r.Status == Open && len(w.r.held()) == 0 {
				w.r.Status = Fulfilled
				kind = OrderFulfilled
			}
			sc.events = append(sc.events, orderEvent(now, kind, w.r.Order, "", w.sold))
		}
		if err := tx.PutReservation(sc.ctx, w.r); err != nil {
			return err
		}
	}
	return nil
}

// sortedUnique returns ids sorted with repeats removed, leaving ids as it is.
func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

package onlinestock

import (
	"context"
	"fmt"
	"time"
)

// MovementKind says what moved a level.
type MovementKind string

// Movement kinds: what the POS reported, and what online orders did.
const (
	MovedBySet     MovementKind = "set"     // the POS reported an absolute count
	MovedByAdjust  MovementKind = "adjust"  // the POS reported a delta
	MovedByReserve MovementKind = "reserve" // an order reserved units (Reserve, or Amend holding more)
	MovedByRelease MovementKind = "release" // an order gave units back (Release, ReleasePart, or Amend holding fewer)
	MovedByFulfil  MovementKind = "fulfil"  // an order's units were sold (Fulfill, FulfillPart)
	MovedByExpiry  MovementKind = "expire"  // an order's reservation expired
)

// StockReason says why the POS changed a level. The standard reasons are
// below; a merchant may use codes of its own, which the library keeps as
// they are.
type StockReason string

// Standard reasons.
const (
	StockSale       StockReason = "sale"       // sold at the counter, or online
	StockReturn     StockReason = "return"     // a customer brought units back
	StockReceipt    StockReason = "receipt"    // goods received from a supplier
	StockCount      StockReason = "count"      // a stock count
	StockDamage     StockReason = "damage"     // written off: damaged, lost or stolen
	StockTransfer   StockReason = "transfer"   // moved between outlets
	StockCorrection StockReason = "correction" // a mistake put right
)

// MaxReasonBytes is the longest reason, in bytes.
const MaxReasonBytes = 64

// Movement is one entry of the stock ledger: one change of one level's
// OnHand or Reserved, and why. Every call that changes a level appends its
// movements in the same transaction, so the ledger explains every level:
// replaying a level's movements from zero, adding each delta and counting
// one version for each movement that moves on-hand (see
// [MovementKind.MovesOnHand]), gives its OnHand, Reserved and Version
// exactly. Movements never change once committed.
type Movement struct {
	// Seq numbers the movements of a Store 1, 2, 3, … with no gap, in
	// commit order: the movements of one level are in the order they
	// happened.
	Seq     uint64       `json:"seq"`
	Time    time.Time    `json:"time"`
	Product string       `json:"product"`
	Outlet  string       `json:"outlet"`
	Kind    MovementKind `json:"kind"`
	// Reason is the reason the POS gave ([Change.WithReason]), if any.
	Reason StockReason `json:"reason,omitempty"`
	// Ref ties the movement to a document: the order ID for an order's
	// movements and a POS report of a web sale; the reference the POS gave
	// ([Change.WithRef]), or else the change's idempotency key, for a POS
	// change; "" when there is none.
	Ref string `json:"ref,omitempty"`
	// Bundle, for an order's movement of a component that one of its
	// bundles took, is that bundle.
	Bundle string `json:"bundle,omitempty"`
	// OnHandDelta and ReservedDelta are how much the level's OnHand and
	// Reserved moved.
	OnHandDelta   int64 `json:"on_hand_delta"`
	ReservedDelta int64 `json:"reserved_delta"`
	// OnHand, Reserved and Version are the level right after the movement.
	OnHand   int64 `json:"on_hand"`
	Reserved int64 `json:"reserved"`
	Version  int64 `json:"version"`
}

// MovesOnHand reports whether movements of the kind move a level's
// on-hand count, and so its Version: a POS set or adjust (even by zero
// units) and a fulfilment do; reserving, releasing and expiring move only
// Reserved.
func (k MovementKind) MovesOnHand() bool {
	return k == MovedBySet || k == MovedByAdjust || k == MovedByFulfil
}

// MovementFilter selects movements for [Service.Movements]. Empty fields
// select every movement.
type MovementFilter struct {
	Product string `json:"product,omitempty"`
	Outlet  string `json:"outlet,omitempty"`
	Ref     string `json:"ref,omitempty"`
	// After pages: only movements with a greater sequence number are
	// returned. Pass the last Seq of a page to get the next.
	After uint64 `json:"after,omitempty"`
	// Limit is the most movements returned: zero means 100, and more than
	// MaxMovementPage is ErrInvalid.
	Limit int `json:"limit,omitempty"`
}

// MaxMovementPage is the most movements one [Service.Movements] call
// returns.
const MaxMovementPage = 10_000

// Matches reports whether f selects m, leaving After and Limit aside.
func (f MovementFilter) Matches(m Movement) bool {
	return (f.Product == "" || f.Product == m.Product) &&
		(f.Outlet == "" || f.Outlet == m.Outlet) &&
		(f.Ref == "" || f.Ref == m.Ref)
}

func (f *MovementFilter) normalize() error {
	for _, c := range []struct{ field, id string }{{"product", f.Product}, {"outlet", f.Outlet}, {"ref", f.Ref}} {
		if c.id != "" {
			if err := checkID(c.field, c.id); err != nil {
				return err
			}
		}
	}
	if f.After > 1<<63-1 {
		return invalid("after", "%d is beyond the largest sequence number", f.After)
	}
	switch {
	case f.Limit == 0:
		f.Limit = 100
	case f.Limit < 0 || f.Limit > MaxMovementPage:
		return invalid("limit", "%d outside [1, %d]", f.Limit, MaxMovementPage)
	}
	return nil
}

// Movements returns the stock ledger's movements that f selects, in
// sequence order, one page at a time: at most f.Limit of them after
// f.After. An empty slice means there are no more.
func (s *Service) Movements(ctx context.Context, f MovementFilter) ([]Movement, error) {
	if err := f.normalize(); err != nil {
		return nil, err
	}
	var movements []Movement
	err := s.read(ctx, "Movements", func() (err error) {
		movements, err = s.store.Movements(ctx, f)
		return err
	})
	return movements, err
}

// checkReason validates a reason: a standard one or a merchant's code, at
// most MaxReasonBytes bytes, valid UTF-8, no control characters.
func checkReason(r StockReason) error {
	if len(r) > MaxReasonBytes {
		return invalid("reason", "%d bytes, longer than %d", len(r), MaxReasonBytes)
	}
	return checkID("reason", string(r))
}

// ledger builds the movements of one Store transaction.
type ledger struct {
	now       time.Time
	movements []Movement
}

// move records that level l (as it stands after the move) moved by the
// deltas.
func (lg *ledger) move(kind MovementKind, reason StockReason, ref string, l *Level, onHand, reserved int64) {
	lg.movements = append(lg.movements, Movement{
		Time: lg.now, Product: l.Product, Outlet: l.Outlet, Kind: kind, Reason: reason, Ref: ref,
		OnHandDelta: onHand, ReservedDelta: reserved,
		OnHand: l.OnHand, Reserved: l.Reserved, Version: l.Version,
	})
}

// String describes the movement, for logs and errors.
func (m Movement) String() string {
	return fmt.Sprintf("#%d %s %q at %q: on-hand %+d, reserved %+d", m.Seq, m.Kind, m.Product, m.Outlet, m.OnHandDelta, m.ReservedDelta)
}

package onlinestock

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the library returns wraps at most one of these
// with context; test for them with [errors.Is].
var (
	// ErrInvalid reports bad input: an empty or malformed ID, a quantity out
	// of range, a rule that cannot hold. The message names the field and why.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound reports an outlet, register, product, method or order that
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports a stale compare-and-set version, an order ID reused
	// for a different order, or an order in a state that forbids the call.
	ErrConflict = errors.New("conflict")
	// ErrInsufficientStock reports an order that online stock cannot fill.
	// The error is an [*InsufficientStockError] carrying the shortfalls.
	ErrInsufficientStock = errors.New("insufficient stock")
	// ErrPrimaryOutlet reports an attempt to disconnect the primary outlet,
	// the outlet of the order register, which is always connected.
	ErrPrimaryOutlet = errors.New("primary outlet is always connected")
	// ErrNotActive reports a call that needs the online store to be
	// activated (an order register chosen) before it.
	ErrNotActive = errors.New("online store not activated: choose an order register first")
	// ErrCommitUnknown reports a call whose outcome cannot be known: the
	// connection to the database was lost while the transaction was
	// committing, and the database could not be asked afterwards whether it
	// committed. The call may have taken effect or not. Retrying is safe for
	// a keyed Adjust (its key makes a second application a Duplicate), for
	// a Set with the version it was based on, and for Reserve, Release and
	// Fulfill (they are idempotent by order ID); an unkeyed Adjust must not
	// be retried blindly, since it would be applied twice if the first
	// attempt committed: read the level, or key your adjustments. A
	// cancelled context or a deadline never causes it: a call whose commit
	// was already on its way waits for the answer and reports what happened.
	ErrCommitUnknown = errors.New("commit outcome unknown")
)

// Shortfall is what one product lacks to fill an order or a cart.
type Shortfall struct {
	Product   string `json:"product"`
	Requested int64  `json:"requested"` // units asked for, lines summed
	Available int64  `json:"available"` // units that can be offered
	// Status is LineShort when the product is enabled but short, and
	// LineNotForSale when it is unknown or not enabled online.
	Status LineStatus `json:"status"`
}

// InsufficientStockError is returned when an order cannot be filled. It
// matches [ErrInsufficientStock] with [errors.Is]; use [errors.As] to read the
// shortfalls.
type InsufficientStockError struct {
	// Outlet is set when the order had to come from one outlet (a Restrict
	// method) and that outlet is short.
	Outlet     string      `json:"outlet,omitempty"`
	Shortfalls []Shortfall `json:"shortfalls"`
}

// Error lists the shortfalls.
func (e *InsufficientStockError) Error() string {
	var b strings.Builder
	b.WriteString("insufficient stock")
	if e.Outlet != "" {
		fmt.Fprintf(&b, " at outlet %q", e.Outlet)
	}
	for i, s := range e.Shortfalls {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		if s.Status == LineNotForSale {
			fmt.Fprintf(&b, "%q requested %d, not for sale", s.Product, s.Requested)
			continue
		}
		fmt.Fprintf(&b, "%q requested %d, available %d", s.Product, s.Requested, s.Available)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInsufficientStock) hold.
func (e *InsufficientStockError) Is(target error) bool { return target == ErrInsufficientStock }

// KeyConflictError is the error of an [Service.Apply] batch that uses an
// idempotency key for another change than the one it was applied to
// (within the key retention, or earlier in the batch). errors.Is(err,
// ErrConflict) holds for it. Nothing of the batch is applied.
type KeyConflictError struct {
	Key     string
	Applied string // the change the key was applied to
	Change  string // the change that reused it
}

func (e *KeyConflictError) Error() string {
	return fmt.Sprintf("key %q was applied to %s, not %s: %v", e.Key, e.Applied, e.Change, ErrConflict)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *KeyConflictError) Is(target error) bool { return target == ErrConflict }

func notFound(kind, id string) error {
	return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
}

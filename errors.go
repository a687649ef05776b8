package onlinestock

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
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

// Limits of the input the library accepts: beyond them, input is ErrInvalid.
const (
	MaxIDBytes      = 128       // longest ID, in bytes
	MaxNameBytes    = 256       // longest display name, in bytes
	MaxOnHand       = 1e12      // on-hand counts, deltas and buffers lie within ±MaxOnHand
	MaxLineQuantity = 1e9       // a cart or order line asks for 1 to MaxLineQuantity units
	MaxBatch        = 1_000_000 // most changes in one Apply, lines in one cart, IDs in one call
)

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(format, args...), ErrInvalid)
}

// checkID validates an identifier: non-empty, at most MaxIDBytes bytes, valid
// UTF-8 and free of control characters.
func checkID(field, id string) error {
	if id == "" {
		return invalid(field, "empty")
	}
	if len(id) > MaxIDBytes {
		return invalid(field, "%d bytes, longer than %d", len(id), MaxIDBytes)
	}
	return checkText(field, id)
}

// checkName validates an optional display name.
func checkName(field, name string) error {
	if len(name) > MaxNameBytes {
		return invalid(field, "%d bytes, longer than %d", len(name), MaxNameBytes)
	}
	return checkText(field, name)
}

func checkText(field, s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return invalid(field, "control character at byte %d", i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return invalid(field, "invalid UTF-8 at byte %d", i)
		}
		if unicode.IsControl(r) {
			return invalid(field, "control character at byte %d", i)
		}
		i += size
	}
	return nil
}

func checkRange(field string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return invalid(field, "%d outside [%d, %d]", v, lo, hi)
	}
	return nil
}

func checkIDs(field string, ids []string) error {
	if len(ids) > MaxBatch {
		return invalid(field, "%d IDs, more than %d", len(ids), MaxBatch)
	}
	for i, id := range ids {
		if err := checkID(field, id); err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
	}
	return nil
}

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

package onlinestock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EventKind names what an [Event] announces.
type EventKind string

// Event kinds.
const (
	// AvailabilityChanged: what the storefront sees of Product went from
	// Before to After.
	AvailabilityChanged EventKind = "availability_changed"
	// OutletConnected: Outlet now contributes to online stock; Methods lists
	// the methods linked to it, no longer orphaned.
	OutletConnected EventKind = "outlet_connected"
	// OutletDisconnected: Outlet no longer contributes; Methods lists the
	// methods linked to it, now orphaned.
	OutletDisconnected EventKind = "outlet_disconnected"
	// PrimaryChanged: the order register moved; Outlet is the new primary
	// outlet and Previous the former one ("" on activation).
	PrimaryChanged EventKind = "primary_changed"
	// ProductEnabled and ProductDisabled: Product was listed or unlisted.
	ProductEnabled  EventKind = "product_enabled"
	ProductDisabled EventKind = "product_disabled"

	// Order events. Each carries Order; Lines, the units concerned, summed
	// per product; and Allocations, the same units per product and outlet
	// (only Quantity is set, a bundle's Components, and for the units
	// reserved, those backordered). A partial call sets Part to its ID.

	// OrderReserved: stock was reserved for Order, as Allocations say.
	OrderReserved EventKind = "order_reserved"
	// OrderAmended: Order's lines changed; Lines and Allocations are the
	// units it now holds.
	OrderAmended EventKind = "order_amended"
	// OrderPartiallyFulfilled: some units of Order were fulfilled, and some
	// are still held.
	OrderPartiallyFulfilled EventKind = "order_partially_fulfilled"
	// OrderFulfilled: Order's last held units were fulfilled; it is closed.
	OrderFulfilled EventKind = "order_fulfilled"
	// OrderPartiallyReleased: some units of Order were released, and some
	// are still held.
	OrderPartiallyReleased EventKind = "order_partially_released"
	// OrderReleased: Order's last held units were released; it is closed.
	OrderReleased EventKind = "order_released"
	// OrderExpired: Order passed its deadline and its held units were
	// released; it is closed.
	OrderExpired EventKind = "order_expired"
)

// Event is one committed change, as the outbox keeps it and a [Notifier]
// receives it. Fields not used by a kind are zero.
type Event struct {
	// Seq numbers events in commit order, strictly increasing per store.
	Seq  uint64    `json:"seq"`
	Kind EventKind `json:"kind"`
	Time time.Time `json:"time"`

	Product string       `json:"product,omitempty"` // AvailabilityChanged, ProductEnabled, ProductDisabled
	Before  Availability `json:"before,omitzero"`   // AvailabilityChanged
	After   Availability `json:"after,omitzero"`    // AvailabilityChanged

	Outlet   string   `json:"outlet,omitempty"`   // OutletConnected, OutletDisconnected, PrimaryChanged
	Previous string   `json:"previous,omitempty"` // PrimaryChanged: the former primary outlet
	Methods  []string `json:"methods,omitempty"`  // OutletConnected, OutletDisconnected: method IDs

	Order       string       `json:"order,omitempty"`       // order events
	Part        string       `json:"part,omitempty"`        // order events of a partial call: its ID
	Lines       []Line       `json:"lines,omitempty"`       // order events: the units, per product
	Allocations []Allocation `json:"allocations,omitempty"` // order events: the units, per product and outlet
}

// IsOrderEvent reports whether the event is about an order.
func (e Event) IsOrderEvent() bool {
	switch e.Kind {
	case OrderReserved, OrderAmended, OrderPartiallyFulfilled, OrderFulfilled,
		OrderPartiallyReleased, OrderReleased, OrderExpired:
		return true
	}
	return false
}

// SoldOut reports whether the event takes a listed product to sold out.
func (e Event) SoldOut() bool {
	return e.Kind == AvailabilityChanged && soldOut(e.Before, e.After)
}

// BackInStock reports whether the event brings a product that had no
// stock (sold out or on backorder) back in stock.
func (e Event) BackInStock() bool {
	return e.Kind == AvailabilityChanged && backInStock(e.Before, e.After)
}

// EntersBackorder reports whether the event takes a product with stock, or
// sold out, to [OnBackorder]: it has no stock, but takes backorders.
func (e Event) EntersBackorder() bool {
	return e.Kind == AvailabilityChanged && entersBackorder(e.Before, e.After)
}

// LeavesBackorder reports whether the event takes a product off
// [OnBackorder]: stock arrived (or the designated outlet came back
// connected with stock), or it may no longer be backordered.
func (e Event) LeavesBackorder() bool {
	return e.Kind == AvailabilityChanged && leavesBackorder(e.Before, e.After)
}

func soldOut(before, after Availability) bool {
	return after.Label == SoldOut && before.Label != SoldOut && before.Label != NotForSale
}

// backInStock: a product that had no stock (sold out or on backorder) has
// some again.
func backInStock(before, after Availability) bool {
	return (before.Label == SoldOut || before.Label == OnBackorder) && (after.Label == InStock || after.Label == LowStock)
}

func entersBackorder(before, after Availability) bool {
	return after.Label == OnBackorder && before.Label != OnBackorder && before.Label != NotForSale
}

func leavesBackorder(before, after Availability) bool {
	return before.Label == OnBackorder && after.Label != OnBackorder && after.Label != NotForSale
}

// String describes the event on one line, for logs and examples.
func (e Event) String() string {
	switch e.Kind {
	case AvailabilityChanged:
		return fmt.Sprintf("#%d %s %s: %d %s -> %d %s", e.Seq, e.Kind, e.Product,
			e.Before.Quantity, e.Before.Label, e.After.Quantity, e.After.Label)
	case ProductEnabled, ProductDisabled:
		return fmt.Sprintf("#%d %s %s", e.Seq, e.Kind, e.Product)
	case PrimaryChanged:
		return fmt.Sprintf("#%d %s %s (was %q)", e.Seq, e.Kind, e.Outlet, e.Previous)
	case OrderReserved, OrderAmended, OrderPartiallyFulfilled, OrderFulfilled,
		OrderPartiallyReleased, OrderReleased, OrderExpired:
		var b strings.Builder
		fmt.Fprintf(&b, "#%d %s %s", e.Seq, e.Kind, e.Order)
		if e.Part != "" {
			fmt.Fprintf(&b, " part %s", e.Part)
		}
		b.WriteString(":")
		for _, a := range e.Allocations {
			fmt.Fprintf(&b, " %s@%s=%d", a.Product, a.Outlet, a.Quantity)
		}
		return b.String()
	default:
		return fmt.Sprintf("#%d %s %s methods=%v", e.Seq, e.Kind, e.Outlet, e.Methods)
	}
}

func availabilityEvent(now time.Time, product string, before, after Availability) Event {
	return Event{Kind: AvailabilityChanged, Time: now, Product: product, Before: before, After: after}
}

// orderEvent announces that units moved in or out of an order's
// reservation; allocs (sorted by product, then outlet) are the units, and
// only their Quantity (and a bundle's Components, and the units
// backordered) is kept.
func orderEvent(now time.Time, kind EventKind, order, part string, allocs []Allocation) Event {
	products := 0 // allocations are sorted by product: count the runs
	for i := range allocs {
		if i == 0 || allocs[i].Product != allocs[i-1].Product {
			products++
		}
	}
	e := Event{Kind: kind, Time: now, Order: order, Part: part, Allocations: make([]Allocation, len(allocs))}
	if products > 0 {
		e.Lines = make([]Line, 0, products)
	}
	for i, a := range allocs {
		e.Allocations[i] = Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: a.Quantity, Components: a.Components, Backordered: a.Backordered}
		if n := len(e.Lines); n > 0 && e.Lines[n-1].Product == a.Product {
			e.Lines[n-1].Quantity += a.Quantity
		} else {
			e.Lines = append(e.Lines, Line{Product: a.Product, Quantity: a.Quantity})
		}
	}
	return e
}

// Notifier announces committed events to the outside world: a webhook, a
// message broker, a cache. The delivery of package worker calls it with
// events in sequence order, one call at a time, and calls it again with the
// same events when it fails, so a Notifier sees each event at least once
// and should tolerate repeats (each event's Seq identifies it).
//
// Notify returns nil when every event was delivered. An error wrapped with
// [Permanent] says the events will never be accepted (a malformed payload, a
// receiver that refuses it): they are recorded as dead letters
// ([DeadLetter]) and delivery goes on.
// Any other error is transient and retried. Wrapping either with [Partial]
// says how many events, from the first, did get through.
type Notifier interface {
	Notify(ctx context.Context, events []Event) error
}

// NotifierFunc adapts a function to a [Notifier]: handy in tests, examples
// and for in-process consumers such as a channel.
type NotifierFunc func(ctx context.Context, events []Event) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, events []Event) error { return f(ctx, events) }

// PermanentError marks a delivery failure that retrying cannot fix.
type PermanentError struct{ Err error }

// Error says the failure is permanent and why.
func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap returns the failure.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a permanent failure; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is, or wraps, a [PermanentError].
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// PartialError reports that a Notifier delivered the first Delivered events
// handed to it before Err stopped it. Delivery acknowledges those and
// retries (or dead-letters, if Err is permanent) only the rest, so a batch
// sent in several requests does not start over at every failure.
type PartialError struct {
	Delivered int
	Err       error
}

// Error says how many events got through, and what stopped the rest.
func (e *PartialError) Error() string {
	return fmt.Sprintf("delivered %d events, then: %v", e.Delivered, e.Err)
}

// Unwrap returns what stopped the delivery.
func (e *PartialError) Unwrap() error { return e.Err }

// Partial wraps err to say the first delivered events of a Notify call got
// through. Partial(0, err) is err, and Partial(n, nil) is nil.
func Partial(delivered int, err error) error {
	if err == nil || delivered <= 0 {
		return err
	}
	return &PartialError{Delivered: delivered, Err: err}
}

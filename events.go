package onlinestock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
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
// message broker, a cache. A [Dispatcher] calls it with events in sequence
// order, one call at a time, and calls it again with the same events when it
// fails, so a Notifier sees each event at least once and should tolerate
// repeats (each event's Seq identifies it).
//
// Notify returns nil when every event was delivered. An error wrapped with
// [Permanent] says the events will never be accepted (a malformed payload, a
// receiver that refuses it): the Dispatcher dead-letters them and goes on.
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
// handed to it before Err stopped it. The Dispatcher acknowledges those and
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

// delivered returns how many of n events err says were delivered.
func delivered(err error, n int) int {
	var p *PartialError
	if !errors.As(err, &p) {
		return 0
	}
	return min(max(p.Delivered, 0), n)
}

// DispatcherConfig configures a [Dispatcher]. Zero values are defaults.
type DispatcherConfig struct {
	// Consumer names the cursor and dead letters in the Store, so several
	// dispatchers can each follow the outbox. Default "default".
	Consumer string
	// BatchSize is the most events handed to one Notify call. Default 100.
	BatchSize int
	// PollInterval is how long Run waits when no event is pending.
	// Default 200ms.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// transient failure; it doubles from MinBackoff up to MaxBackoff, with
	// jitter. Defaults 50ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives delivery failures. Default slog.Default().
	Logger *slog.Logger
	// Clock stamps dead letters. Default time.Now. A time outside the years
	// 1678 to 2262 (what a Store keeps) fails the dead-lettering with
	// ErrInvalid.
	Clock func() time.Time
}

func (c DispatcherConfig) withDefaults() DispatcherConfig {
	if c.Consumer == "" {
		c.Consumer = "default"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 50 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Dispatcher delivers committed events from a Store's outbox to a
// [Notifier], in sequence order and at least once. It records its progress
// in the Store (the consumer's cursor) after each delivered batch, so after
// a restart it resumes after the last acknowledged event; with a durable
// Store, progress survives the process.
//
// Transient failures are retried with capped exponential backoff. An event
// the Notifier refuses permanently is recorded as a dead letter, with the
// refusal's message as its reason (quoted, as by [strconv.Quote], for a
// Store that rejects the message as ErrInvalid), and delivery goes on;
// [Dispatcher.DeadLetters] lists them and [Dispatcher.Redeliver] tries one
// again. Events stay readable through [Store.EventsSince]. An event is
// logged as dead-lettered only once the Store has recorded it; until then
// the pass fails with the Store's error and the event is sent again later.
//
// Run one Dispatcher per consumer name at a time: two would both deliver.
// A [Worker] runs dispatchers for you, one per consumer across every process
// sharing the Store.
type Dispatcher struct {
	store    Store
	notifier Notifier
	cfg      DispatcherConfig
	// turn admits one delivery pass at a time. A channel rather than a
	// mutex, so that a caller waiting for its turn gives up when its
	// context ends.
	turn chan struct{}
	// onDelivered, when set, is told of every batch the Notifier
	// acknowledged, with the time of acknowledgement; a [Worker] counts
	// them.
	onDelivered func(events []Event, at time.Time)
	// onRetry and onDead, when set, count retried and dead-lettered batches.
	onRetry func(events []Event)
	onDead  func(e Event)
}

// NewDispatcher returns a Dispatcher from store to n.
func NewDispatcher(store Store, n Notifier, cfg DispatcherConfig) (*Dispatcher, error) {
	if store == nil {
		return nil, invalid("store", "nil")
	}
	if n == nil {
		return nil, invalid("notifier", "nil")
	}
	cfg = cfg.withDefaults()
	if err := checkID("DispatcherConfig.Consumer", cfg.Consumer); err != nil {
		return nil, err
	}
	return &Dispatcher{store: store, notifier: n, cfg: cfg, turn: make(chan struct{}, 1)}, nil
}

// lock waits for the dispatcher's turn, or for ctx to end.
func (d *Dispatcher) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case d.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) unlock() { <-d.turn }

// Run delivers events until ctx is done, then returns ctx's error. When the
// Store fails, Run waits before trying again, with the same capped
// exponential backoff and jitter as a failing delivery (never shorter than
// PollInterval), so a Store that keeps failing is not hammered; it logs the
// failure once, when it starts, and once more when the Store answers again.
func (d *Dispatcher) Run(ctx context.Context) error {
	retry := newBackoff(d.cfg.MinBackoff, d.cfg.MaxBackoff)
	health := failureLog{logger: d.cfg.Logger, msg: "onlinestock: dispatch", attrs: []any{"consumer", d.cfg.Consumer}}
	for {
		n, err := d.flush(ctx, nil)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := d.cfg.PollInterval
		if err != nil {
			health.failed(ctx, err)
			wait = max(wait, retry.next())
		} else {
			health.ok(ctx)
			retry.reset()
			if n > 0 {
				continue
			}
		}
		if err := sleep(ctx, nil, wait); err != nil {
			return ctx.Err()
		}
	}
}

// Flush delivers every event committed so far and returns how many it
// handed on (delivered or dead-lettered). It retries transient failures until
// they succeed or ctx is done, and returns early with an error only when the
// Store fails or ctx ends. While another delivery pass of this Dispatcher
// runs (Run's, or another Flush or Redeliver), Flush waits for it to end, or
// for ctx to end.
func (d *Dispatcher) Flush(ctx context.Context) (int, error) {
	return d.flush(ctx, nil)
}

// errStopping ends a delivery pass that stop interrupted between attempts.
var errStopping = errors.New("onlinestock: stopping")

// flush is Flush, which also ends, between two Notify calls, once stop is
// closed: a Notify call in flight finishes, and no other starts.
func (d *Dispatcher) flush(ctx context.Context, stop <-chan struct{}) (int, error) {
	if err := d.lock(ctx); err != nil {
		return 0, err
	}
	defer d.unlock()
	cursor, err := d.store.Cursor(ctx, d.cfg.Consumer)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		if stopped(stop) {
			return total, errStopping
		}
		events, err := d.store.EventsSince(ctx, cursor, d.cfg.BatchSize)
		if err != nil {
			return total, err
		}
		if len(events) == 0 {
			return total, nil
		}
		if err := d.deliver(ctx, stop, events, false); err != nil {
			return total, err
		}
		cursor = events[len(events)-1].Seq
		if err := d.store.SetCursor(ctx, d.cfg.Consumer, cursor); err != nil {
			return total, err
		}
		total += len(events)
	}
}

// step delivers the next batch after the consumer's cursor, if any, as
// flush does, but tries the Notifier once: a transient failure ends the
// step with the Notifier's error, after acknowledging what got through,
// and the caller decides when to try again. It reads the cursor from the
// Store unless the caller knows it (known), and returns how many events it
// handed on and the cursor after them. A Worker serving many tenants
// delivers this way, a batch per tenant at a time, so that one tenant's
// failing receiver holds up no other tenant.
func (d *Dispatcher) step(ctx context.Context, stop <-chan struct{}, known bool, cursor uint64) (int, uint64, error) {
	if err := d.lock(ctx); err != nil {
		return 0, 0, err
	}
	defer d.unlock()
	if !known {
		var err error
		if cursor, err = d.store.Cursor(ctx, d.cfg.Consumer); err != nil {
			return 0, 0, err
		}
	}
	events, err := d.store.EventsSince(ctx, cursor, d.cfg.BatchSize)
	if err != nil || len(events) == 0 {
		return 0, cursor, err
	}
	if err := d.deliver(ctx, stop, events, true); err != nil {
		return 0, 0, err
	}
	cursor = events[len(events)-1].Seq
	if err := d.store.SetCursor(ctx, d.cfg.Consumer, cursor); err != nil {
		return 0, 0, err
	}
	return len(events), cursor, nil
}

// deliver hands a batch to the notifier until it is accepted, retrying
// transient failures with backoff and acknowledging what a partial failure
// says got through. When events are refused permanently they are tried one
// by one, so only the refused ones are dead-lettered. With once, a
// transient failure is not retried: deliver returns it.
func (d *Dispatcher) deliver(ctx context.Context, stop <-chan struct{}, events []Event, once bool) error {
	retry := newBackoff(d.cfg.MinBackoff, d.cfg.MaxBackoff)
	for attempt := 1; ; attempt++ {
		err := d.notifier.Notify(ctx, events)
		if err == nil {
			if d.onDelivered != nil {
				d.onDelivered(events, d.cfg.Clock())
			}
			return nil
		}
		if n := delivered(err, len(events)); n > 0 {
			if d.onDelivered != nil {
				d.onDelivered(events[:n], d.cfg.Clock())
			}
			if err := d.store.SetCursor(ctx, d.cfg.Consumer, events[n-1].Seq); err != nil {
				return err
			}
			events = events[n:]
			retry.reset() // progress: start the backoff over
			attempt = 1
			if len(events) == 0 {
				return nil
			}
		}
		if IsPermanent(err) {
			return d.refused(ctx, stop, events, err, once)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.onRetry != nil {
			d.onRetry(events)
		}
		if once {
			return fmt.Errorf("delivering event %d: %w", events[0].Seq, err)
		}
		wait := retry.next()
		d.cfg.Logger.Warn("onlinestock: delivery failed, retrying", "consumer", d.cfg.Consumer,
			"first_seq", events[0].Seq, "attempt", attempt, "wait", wait, "err", err)
		if err := sleep(ctx, stop, wait); err != nil {
			return err
		}
	}
}

// refused handles events the notifier refused for good: one event is
// dead-lettered, several are delivered again one by one to find which.
func (d *Dispatcher) refused(ctx context.Context, stop <-chan struct{}, events []Event, err error, once bool) error {
	if len(events) > 1 {
		for i := range events {
			if stopped(stop) {
				return errStopping
			}
			if err := d.deliver(ctx, stop, events[i:i+1], once); err != nil {
				return err
			}
			// Acknowledge each event as it is settled, so a stop between
			// two of them does not deliver the first again.
			if err := d.store.SetCursor(ctx, d.cfg.Consumer, events[i].Seq); err != nil {
				return err
			}
		}
		return nil
	}
	e := events[0]
	letter := DeadLetter{Seq: e.Seq, Reason: err.Error(), Time: d.cfg.Clock()}
	if err := checkTime("DispatcherConfig.Clock", letter.Time); err != nil {
		return fmt.Errorf("dead-lettering event %d: %w", e.Seq, err)
	}
	perr := d.store.PutDeadLetter(ctx, d.cfg.Consumer, letter)
	if errors.Is(perr, ErrInvalid) {
		// The Store cannot keep this reason (a Store of text may refuse
		// bytes that are not UTF-8, or NUL): keep it escaped instead, so
		// that delivery goes on.
		letter.Reason = escapeReason(letter.Reason)
		perr = d.store.PutDeadLetter(ctx, d.cfg.Consumer, letter)
	}
	if perr != nil {
		return fmt.Errorf("dead-lettering event %d: %w", e.Seq, perr)
	}
	d.cfg.Logger.Error("onlinestock: event dead-lettered", "consumer", d.cfg.Consumer, "seq", e.Seq, "kind", e.Kind, "err", err)
	if d.onDead != nil {
		d.onDead(e)
	}
	return nil
}

// maxEscapedReason bounds an escaped reason, in bytes of the original.
const maxEscapedReason = 4096

// escapeReason quotes a reason as a Go string literal: printable UTF-8,
// without NUL, that strconv.Unquote turns back into the reason (or into its
// first maxEscapedReason bytes, for a longer one).
func escapeReason(reason string) string {
	if len(reason) > maxEscapedReason {
		return strconv.Quote(reason[:maxEscapedReason]) + "…"
	}
	return strconv.Quote(reason)
}

// DeadLetters lists the events this dispatcher's consumer gave up on.
func (d *Dispatcher) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	return d.store.DeadLetters(ctx, d.cfg.Consumer)
}

// Redeliver tries a dead-lettered event again, once, and removes the dead
// letter when it is delivered. A seq that is not a dead letter of this
// consumer is ErrNotFound; a failed delivery returns the Notifier's error
// and keeps the dead letter. Like Flush, it waits for a delivery pass in
// progress to end, or for ctx to end.
func (d *Dispatcher) Redeliver(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return notFound("dead letter", "0")
	}
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	dead, err := d.store.DeadLetters(ctx, d.cfg.Consumer)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(dead, func(l DeadLetter) bool { return l.Seq == seq }) {
		return notFound("dead letter", fmt.Sprint(seq))
	}
	events, err := d.store.EventsSince(ctx, seq-1, 1)
	if err != nil {
		return err
	}
	if len(events) == 0 || events[0].Seq != seq {
		return notFound("event", fmt.Sprint(seq))
	}
	if err := d.notifier.Notify(ctx, events); err != nil {
		return err
	}
	return d.store.DeleteDeadLetter(ctx, d.cfg.Consumer, seq)
}

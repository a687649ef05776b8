package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/onlinestock/onlinestock"
)

// Version is the version of the JSON schema this package sends and accepts.
// It changes only when a change would break a receiver that follows the
// rules in the package documentation: new event kinds, new fields and new
// labels are added without changing it.
const Version = 1

// MaxBatchSize is the largest [Config.BatchSize]: at a few hundred bytes per
// event, a full batch stays well under [DefaultMaxBodyBytes].
const MaxBatchSize = 1000

// EventID returns the id of the event with sequence number seq, as it appears
// in the body: "evt_" followed by seq in decimal.
func EventID(seq uint64) string { return "evt_" + strconv.FormatUint(seq, 10) }

// BatchID returns the webhook-id of a request carrying events: the
// [EventID] of a single event, or "evt_<first>-<last>" for several. A request
// retried with the same events keeps its webhook-id. It returns "" for no
// events.
func BatchID(events []onlinestock.Event) string {
	switch len(events) {
	case 0:
		return ""
	case 1:
		return EventID(events[0].Seq)
	}
	return EventID(events[0].Seq) + "-" + strconv.FormatUint(events[len(events)-1].Seq, 10)
}

// payload is the JSON body of a request.
type payload struct {
	Version int         `json:"version"`
	Events  []wireEvent `json:"events"`
}

// wireEvent is an event as JSON. Pointer fields are omitted when nil; which
// ones are set depends on the kind (see the package documentation).
type wireEvent struct {
	ID       string            `json:"id"`
	Seq      uint64            `json:"seq"`
	Kind     string            `json:"kind"`
	Time     string            `json:"time"`
	Product  *string           `json:"product,omitempty"`
	Before   *wireAvailability `json:"before,omitempty"`
	After    *wireAvailability `json:"after,omitempty"`
	Outlet   *string           `json:"outlet,omitempty"`
	Previous *string           `json:"previous,omitempty"`
	Methods  *[]string         `json:"methods,omitempty"`

	Order       *string           `json:"order,omitempty"`
	Part        *string           `json:"part,omitempty"`
	Lines       *[]wireLine       `json:"lines,omitempty"`
	Allocations *[]wireAllocation `json:"allocations,omitempty"`
}

type wireLine struct {
	Product  string `json:"product"`
	Quantity int64  `json:"quantity"`
}

type wireAllocation struct {
	Product  string `json:"product"`
	Outlet   string `json:"outlet"`
	Quantity int64  `json:"quantity"`
}

type wireAvailability struct {
	Quantity int64  `json:"quantity"`
	Label    string `json:"label"`
}

// fields is the set of optional fields an event kind carries.
type fields uint16

const (
	fProduct fields = 1 << iota
	fBefore
	fAfter
	fOutlet
	fPrevious
	fMethods
	fOrder
	fPart
	fLines
	fAllocations
)

const fOrderEvent = fOrder | fLines | fAllocations

// required is, per known kind, the optional fields it always carries; the
// others are left out of the JSON and ignored when decoding.
var required = map[onlinestock.EventKind]fields{
	onlinestock.AvailabilityChanged: fProduct | fBefore | fAfter,
	onlinestock.ProductEnabled:      fProduct,
	onlinestock.ProductDisabled:     fProduct,
	onlinestock.OutletConnected:     fOutlet | fMethods,
	onlinestock.OutletDisconnected:  fOutlet | fMethods,
	onlinestock.PrimaryChanged:      fOutlet | fPrevious,

	onlinestock.OrderReserved:           fOrderEvent,
	onlinestock.OrderAmended:            fOrderEvent,
	onlinestock.OrderPartiallyFulfilled: fOrderEvent | fPart,
	onlinestock.OrderFulfilled:          fOrderEvent,
	onlinestock.OrderPartiallyReleased:  fOrderEvent | fPart,
	onlinestock.OrderReleased:           fOrderEvent,
	onlinestock.OrderExpired:            fOrderEvent,
}

// optional is, per known kind, the fields it carries only when set: a
// fulfilment or release that closes an order in a partial call names the
// part.
var optional = map[onlinestock.EventKind]fields{
	onlinestock.OrderFulfilled: fPart,
	onlinestock.OrderReleased:  fPart,
}

// Encode returns the JSON body announcing events, as the [Notifier] sends it.
// events must be non-empty, with strictly increasing sequence numbers
// starting above 0, times between years 0 and 9999, and the fields their kind
// needs (a product, an outlet, labels, quantities not negative). An event of
// a kind this package does not know is sent with its non-zero fields.
func Encode(events []onlinestock.Event) ([]byte, error) {
	if len(events) == 0 {
		return nil, errors.New("webhook: no events to encode")
	}
	p := payload{Version: Version, Events: make([]wireEvent, len(events))}
	var last uint64
	for i, e := range events {
		if err := checkEvent(e, last); err != nil {
			return nil, fmt.Errorf("webhook: event %d: %w", i, err)
		}
		last = e.Seq
		p.Events[i] = toWire(e)
	}
	return json.Marshal(p)
}

func toWire(e onlinestock.Event) wireEvent {
	w := wireEvent{ID: EventID(e.Seq), Seq: e.Seq, Kind: string(e.Kind), Time: e.Time.UTC().Format(time.RFC3339Nano)}
	f, known := required[e.Kind]
	if !known {
		f = presentFields(e)
	}
	f |= optional[e.Kind] & presentFields(e)
	if f&fProduct != 0 {
		w.Product = &e.Product
	}
	if f&fBefore != 0 {
		w.Before = &wireAvailability{Quantity: e.Before.Quantity, Label: string(e.Before.Label)}
	}
	if f&fAfter != 0 {
		w.After = &wireAvailability{Quantity: e.After.Quantity, Label: string(e.After.Label)}
	}
	if f&fOutlet != 0 {
		w.Outlet = &e.Outlet
	}
	if f&fPrevious != 0 {
		w.Previous = &e.Previous
	}
	if f&fMethods != 0 {
		methods := e.Methods
		if methods == nil {
			methods = []string{} // "methods": [] rather than null
		}
		w.Methods = &methods
	}
	if f&fOrder != 0 {
		w.Order = &e.Order
	}
	if f&fPart != 0 {
		w.Part = &e.Part
	}
	if f&fLines != 0 {
		lines := make([]wireLine, len(e.Lines))
		for i, l := range e.Lines {
			lines[i] = wireLine(l)
		}
		w.Lines = &lines
	}
	if f&fAllocations != 0 {
		allocs := make([]wireAllocation, len(e.Allocations))
		for i, a := range e.Allocations {
			allocs[i] = wireAllocation{Product: a.Product, Outlet: a.Outlet, Quantity: a.Quantity}
		}
		w.Allocations = &allocs
	}
	return w
}

// presentFields returns the fields of e that are not zero.
func presentFields(e onlinestock.Event) fields {
	var f fields
	if e.Product != "" {
		f |= fProduct
	}
	if e.Before != (onlinestock.Availability{}) {
		f |= fBefore
	}
	if e.After != (onlinestock.Availability{}) {
		f |= fAfter
	}
	if e.Outlet != "" {
		f |= fOutlet
	}
	if e.Previous != "" {
		f |= fPrevious
	}
	if len(e.Methods) > 0 {
		f |= fMethods
	}
	if e.Order != "" {
		f |= fOrder
	}
	if e.Part != "" {
		f |= fPart
	}
	if len(e.Lines) > 0 {
		f |= fLines
	}
	if len(e.Allocations) > 0 {
		f |= fAllocations
	}
	return f
}

// checkEvent applies the rules Encode and Decode share to one event whose
// predecessor in the payload has sequence number last (0 for the first).
func checkEvent(e onlinestock.Event, last uint64) error {
	switch {
	case e.Seq == 0:
		return errors.New("seq is 0")
	case e.Seq <= last:
		return fmt.Errorf("seq %d does not follow %d", e.Seq, last)
	case e.Kind == "":
		return fmt.Errorf("seq %d: empty kind", e.Seq)
	case e.Time.UTC().Year() < 0 || e.Time.UTC().Year() > 9999:
		return fmt.Errorf("seq %d: time %v out of range", e.Seq, e.Time)
	}
	f := required[e.Kind]
	if f&fProduct != 0 && e.Product == "" {
		return fmt.Errorf("seq %d: %s without a product", e.Seq, e.Kind)
	}
	if f&fOutlet != 0 && e.Outlet == "" {
		return fmt.Errorf("seq %d: %s without an outlet", e.Seq, e.Kind)
	}
	if f&fOrder != 0 && e.Order == "" {
		return fmt.Errorf("seq %d: %s without an order", e.Seq, e.Kind)
	}
	if f&fPart != 0 && e.Part == "" {
		return fmt.Errorf("seq %d: %s without a part", e.Seq, e.Kind)
	}
	if f&fBefore != 0 {
		if err := checkAvailability("before", e.Before); err != nil {
			return fmt.Errorf("seq %d: %w", e.Seq, err)
		}
	}
	if f&fAfter != 0 {
		if err := checkAvailability("after", e.After); err != nil {
			return fmt.Errorf("seq %d: %w", e.Seq, err)
		}
	}
	return nil
}

func checkAvailability(field string, a onlinestock.Availability) error {
	if a.Label == "" {
		return fmt.Errorf("%s: empty label", field)
	}
	if a.Quantity < 0 {
		return fmt.Errorf("%s: negative quantity %d", field, a.Quantity)
	}
	return nil
}

// Decode parses a body sent by a [Notifier] back into events, Seq
// preserved, times in UTC. It does not check a signature: use
// [Verifier.Verify] for a request from the network. The error wraps
// [ErrPayload] when body is not valid JSON, is of another [Version], has no
// events, or an event lacks what its kind needs, has an id that does not
// match its seq, or is out of sequence order. Unknown fields are ignored, as
// are the fields a known kind does not use; an unknown kind is decoded with
// the fields present.
func Decode(body []byte) ([]onlinestock.Event, error) {
	events, err := decode(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	return events, nil
}

func decode(body []byte) ([]onlinestock.Event, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	if p.Version != Version {
		return nil, fmt.Errorf("version %d, want %d", p.Version, Version)
	}
	if len(p.Events) == 0 {
		return nil, errors.New("no events")
	}
	events := make([]onlinestock.Event, len(p.Events))
	var last uint64
	for i, w := range p.Events {
		e, err := fromWire(w)
		if err == nil {
			err = checkEvent(e, last)
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		last = e.Seq
		events[i] = e
	}
	return events, nil
}

func fromWire(w wireEvent) (onlinestock.Event, error) {
	if want := EventID(w.Seq); w.ID != want {
		return onlinestock.Event{}, fmt.Errorf("id %q does not match seq %d", w.ID, w.Seq)
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(w.Time)); err != nil { // strict RFC 3339
		return onlinestock.Event{}, fmt.Errorf("seq %d: time: %w", w.Seq, err)
	}
	e := onlinestock.Event{Seq: w.Seq, Kind: onlinestock.EventKind(w.Kind), Time: t.UTC()}
	f, known := required[e.Kind]
	if !known {
		f = ^fields(0)
	}
	f |= optional[e.Kind]
	if f&fProduct != 0 && w.Product != nil {
		e.Product = *w.Product
	}
	if f&fBefore != 0 && w.Before != nil {
		e.Before = onlinestock.Availability{Quantity: w.Before.Quantity, Label: onlinestock.Label(w.Before.Label)}
	}
	if f&fAfter != 0 && w.After != nil {
		e.After = onlinestock.Availability{Quantity: w.After.Quantity, Label: onlinestock.Label(w.After.Label)}
	}
	if f&fOutlet != 0 && w.Outlet != nil {
		e.Outlet = *w.Outlet
	}
	if f&fPrevious != 0 && w.Previous != nil {
		e.Previous = *w.Previous
	}
	if f&fMethods != 0 && w.Methods != nil && len(*w.Methods) > 0 {
		e.Methods = *w.Methods
	}
	if f&fOrder != 0 && w.Order != nil {
		e.Order = *w.Order
	}
	if f&fPart != 0 && w.Part != nil {
		e.Part = *w.Part
	}
	if f&fLines != 0 && w.Lines != nil && len(*w.Lines) > 0 {
		e.Lines = make([]onlinestock.Line, len(*w.Lines))
		for i, l := range *w.Lines {
			e.Lines[i] = onlinestock.Line(l)
		}
	}
	if f&fAllocations != 0 && w.Allocations != nil && len(*w.Allocations) > 0 {
		e.Allocations = make([]onlinestock.Allocation, len(*w.Allocations))
		for i, a := range *w.Allocations {
			e.Allocations[i] = onlinestock.Allocation{Product: a.Product, Outlet: a.Outlet, Quantity: a.Quantity}
		}
	}
	return e, nil
}

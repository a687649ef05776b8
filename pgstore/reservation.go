package pgstore

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/onlinestock/onlinestock"
)

// reservationDetail is the part of a reservation kept in the detail
// column, a JSON document: what no query filters on. Fulfilled and
// Released run parallel to the allocation columns, and are left out while
// every one is zero.
type reservationDetail struct {
	Sources   []onlinestock.Source     `json:"sources,omitempty"`
	Fulfilled []int64                  `json:"fulfilled,omitempty"`
	Released  []int64                  `json:"released,omitempty"`
	Parts     []onlinestock.PartRecord `json:"parts,omitempty"`
}

func encodeDetail(r onlinestock.Reservation) ([]byte, error) {
	d := reservationDetail{Sources: r.Sources, Parts: r.Parts}
	if slices.ContainsFunc(r.Allocations, func(a onlinestock.Allocation) bool { return a.Fulfilled != 0 || a.Released != 0 }) {
		d.Fulfilled, d.Released = make([]int64, len(r.Allocations)), make([]int64, len(r.Allocations))
		for i, a := range r.Allocations {
			d.Fulfilled[i], d.Released[i] = a.Fulfilled, a.Released
		}
	}
	return json.Marshal(d)
}

// decodeDetail fills r from its detail column; NULL (a row written before
// the column existed) leaves r as it is.
func decodeDetail(raw []byte, r *onlinestock.Reservation) error {
	if raw == nil {
		return nil
	}
	var d reservationDetail
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("pgstore: reservation %q: corrupt detail: %w", r.Order, err)
	}
	if d.Fulfilled != nil {
		if len(d.Fulfilled) != len(r.Allocations) || len(d.Released) != len(r.Allocations) {
			return fmt.Errorf("pgstore: reservation %q: corrupt detail: %d allocations, %d fulfilled, %d released",
				r.Order, len(r.Allocations), len(d.Fulfilled), len(d.Released))
		}
		for i := range r.Allocations {
			r.Allocations[i].Fulfilled, r.Allocations[i].Released = d.Fulfilled[i], d.Released[i]
		}
	}
	r.Sources, r.Parts = d.Sources, d.Parts
	return nil
}

// orderDetail is the part of an order event kept in the order_detail
// column.
type orderDetail struct {
	Order       string                   `json:"order"`
	Part        string                   `json:"part,omitempty"`
	Lines       []onlinestock.Line       `json:"lines"`
	Allocations []onlinestock.Allocation `json:"allocations"`
}

// encodeOrderDetail returns the order_detail of an event, nil for an event
// that names no order.
func encodeOrderDetail(e onlinestock.Event) (*string, error) {
	if e.Order == "" {
		return nil, nil
	}
	raw, err := json.Marshal(orderDetail{Order: e.Order, Part: e.Part, Lines: e.Lines, Allocations: e.Allocations})
	if err != nil {
		return nil, err
	}
	doc := string(raw)
	return &doc, nil
}

func decodeOrderDetail(raw []byte, e *onlinestock.Event) error {
	if raw == nil {
		return nil
	}
	var d orderDetail
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("corrupt order detail: %w", err)
	}
	e.Order, e.Part, e.Lines, e.Allocations = d.Order, d.Part, d.Lines, d.Allocations
	return nil
}

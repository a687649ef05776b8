package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/onlinestock/onlinestock"
)

// reservationDetail is the part of a reservation kept in the detail
// column, a JSON document: what no query filters on. Fulfilled and
// Released run parallel to the allocation columns, and are left out while
// every one is zero; Reported likewise, while none is reported.
type reservationDetail struct {
	Sources   []onlinestock.Source     `json:"sources,omitempty"`
	Fulfilled []int64                  `json:"fulfilled,omitempty"`
	Released  []int64                  `json:"released,omitempty"`
	Reported  []bool                   `json:"reported,omitempty"`
	Parts     []onlinestock.PartRecord `json:"parts,omitempty"`
	// Components run parallel to the allocations, and are left out while
	// no allocation is of a bundle; Backordered likewise while no
	// allocation backordered units.
	Components  [][]onlinestock.Component `json:"components,omitempty"`
	Backordered []int64                   `json:"backordered,omitempty"`
}

func encodeDetail(r onlinestock.Reservation) ([]byte, error) {
	d := reservationDetail{Sources: r.Sources, Parts: r.Parts}
	if slices.ContainsFunc(r.Allocations, func(a onlinestock.Allocation) bool { return a.Fulfilled != 0 || a.Released != 0 }) {
		d.Fulfilled, d.Released = make([]int64, len(r.Allocations)), make([]int64, len(r.Allocations))
		for i, a := range r.Allocations {
			d.Fulfilled[i], d.Released[i] = a.Fulfilled, a.Released
		}
	}
	if slices.ContainsFunc(r.Allocations, func(a onlinestock.Allocation) bool { return a.Reported }) {
		d.Reported = make([]bool, len(r.Allocations))
		for i, a := range r.Allocations {
			d.Reported[i] = a.Reported
		}
	}
	if slices.ContainsFunc(r.Allocations, func(a onlinestock.Allocation) bool { return len(a.Components) > 0 }) {
		d.Components = make([][]onlinestock.Component, len(r.Allocations))
		for i, a := range r.Allocations {
			d.Components[i] = a.Components
		}
	}
	if slices.ContainsFunc(r.Allocations, func(a onlinestock.Allocation) bool { return a.Backordered != 0 }) {
		d.Backordered = make([]int64, len(r.Allocations))
		for i, a := range r.Allocations {
			d.Backordered[i] = a.Backordered
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
	if (d.Fulfilled == nil) != (d.Released == nil) {
		return fmt.Errorf("pgstore: reservation %q: corrupt detail: fulfilled and released units not kept together", r.Order)
	}
	for _, err := range []error{
		spread(r, "fulfilled", d.Fulfilled, func(a *onlinestock.Allocation, n int64) { a.Fulfilled = n }),
		spread(r, "released", d.Released, func(a *onlinestock.Allocation, n int64) { a.Released = n }),
		spread(r, "reported", d.Reported, func(a *onlinestock.Allocation, b bool) { a.Reported = b }),
		spread(r, "component lists", d.Components, func(a *onlinestock.Allocation, c []onlinestock.Component) { a.Components = c }),
		spread(r, "backordered", d.Backordered, func(a *onlinestock.Allocation, n int64) { a.Backordered = n }),
	} {
		if err != nil {
			return err
		}
	}
	r.Sources, r.Parts = d.Sources, d.Parts
	return nil
}

// spread hands each of r's allocations its value in vals, a list of the
// detail kept per allocation; nil is no list, and a list of another
// length is corrupt.
func spread[T any](r *onlinestock.Reservation, what string, vals []T, set func(*onlinestock.Allocation, T)) error {
	if vals == nil {
		return nil
	}
	if len(vals) != len(r.Allocations) {
		return fmt.Errorf("pgstore: reservation %q: corrupt detail: %d allocations, %d %s", r.Order, len(r.Allocations), len(vals), what)
	}
	for i := range r.Allocations {
		set(&r.Allocations[i], vals[i])
	}
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

// reservationRow is a row of onlinestock_reservations as it is scanned,
// its columns in the order of sqlReservationColumns.
type reservationRow struct {
	order, method                             string
	lineProducts, allocProducts, allocOutlets []string
	lineQuantities, allocQuantities           []int64
	status                                    string
	created, deadline                         *int64
	detail                                    []byte
}

// sqlReservationColumns are the columns a reservationRow scans, in order.
const sqlReservationColumns = `order_id, method, line_products, line_quantities, alloc_products, alloc_outlets,
	alloc_quantities, status, created_ns, deadline_ns, detail`

func (w *reservationRow) dest() []any {
	return []any{&w.order, &w.method, &w.lineProducts, &w.lineQuantities, &w.allocProducts, &w.allocOutlets,
		&w.allocQuantities, &w.status, &w.created, &w.deadline, &w.detail}
}

func (w *reservationRow) reservation() (onlinestock.Reservation, error) {
	r := onlinestock.Reservation{Order: w.order, Method: w.method}
	if len(w.lineProducts) != len(w.lineQuantities) || len(w.allocProducts) != len(w.allocOutlets) || len(w.allocProducts) != len(w.allocQuantities) {
		return onlinestock.Reservation{}, fmt.Errorf("pgstore: reservation %q: corrupt row", w.order)
	}
	if w.lineProducts != nil {
		r.Lines = make([]onlinestock.Line, len(w.lineProducts))
		for i := range w.lineProducts {
			r.Lines[i] = onlinestock.Line{Product: w.lineProducts[i], Quantity: w.lineQuantities[i]}
		}
	}
	if w.allocProducts != nil {
		r.Allocations = make([]onlinestock.Allocation, len(w.allocProducts))
		for i := range w.allocProducts {
			r.Allocations[i] = onlinestock.Allocation{Product: w.allocProducts[i], Outlet: w.allocOutlets[i], Quantity: w.allocQuantities[i]}
		}
	}
	r.Status, r.Created, r.Deadline = onlinestock.ReservationStatus(w.status), fromNanos(w.created), fromNanos(w.deadline)
	if err := decodeDetail(w.detail, &r); err != nil {
		return onlinestock.Reservation{}, err
	}
	return r, nil
}

// Reservations implements [onlinestock.Tx]: one statement, along the index
// on (tenant, status, order_id).
func (t *tx) Reservations(ctx context.Context, f onlinestock.ReservationFilter) ([]onlinestock.Reservation, error) {
	var due *int64
	if !f.DueBefore.IsZero() {
		n := clampNanos(f.DueBefore)
		due = &n
	}
	b := t.batch()
	b.Queue(`SELECT `+sqlReservationColumns+` FROM onlinestock_reservations
		WHERE tenant = $1 AND status = $2 AND order_id > $3
		AND ($4 = '' OR alloc_products @> ARRAY[$4::text])
		AND ($5 = '' OR alloc_outlets @> ARRAY[$5::text])
		AND ($4 = '' OR $5 = '' OR EXISTS (SELECT 1 FROM unnest(alloc_products, alloc_outlets) AS a(p, o) WHERE p = $4 AND o = $5))
		AND ($6::bigint IS NULL OR deadline_ns < $6)
		ORDER BY order_id LIMIT $7`,
		t.tenant(), string(f.Status), f.After, f.Product, f.Outlet, due, f.Limit)
	br, err := t.send(ctx, b)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	defer rows.Close()
	var out []onlinestock.Reservation
	var row reservationRow
	dest := row.dest()
	for rows.Next() {
		row = reservationRow{}
		if err := rows.Scan(dest...); err != nil {
			return nil, interpretError(ctx, err)
		}
		r, err := row.reservation()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(ctx, err)
	}
	return out, nil
}

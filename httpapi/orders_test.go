package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
)

// TestOrderLifecycle ships, cancels and amends an order over HTTP, part by
// part, and checks each answer against the Service's own view.
func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		setUpShop(c)
		// sameAsService checks that an answer is the order as the Service
		// now has it.
		sameAsService := func(what string, got onlinestock.Reservation) {
			t.Helper()
			want, err := svc.Reservation(ctx, got.Order)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: answer mismatch with the Service (-want +got):\n%s", what, diff)
			}
		}

		var r onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 4}]}`).into(t, &r)
		if len(r.Sources) != 2 || r.Sources[0].Outlet != "north" {
			t.Fatalf("web-1 %+v: want north, then south", r)
		}

		// A shipment of one tee comes from north, which gave first.
		shipment := `{"id": "ship-1", "lines": [{"product": "tee", "quantity": 1}]}`
		var shipped, again onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations/web-1/fulfill-part", shipment).into(t, &shipped)
		sameAsService("fulfill-part", shipped)
		if shipped.Status != onlinestock.Open || len(shipped.Parts) != 1 || shipped.Parts[0].Moved[0].Outlet != "north" {
			t.Errorf("after shipping one: %+v", shipped)
		}
		events, err := svc.EventsSince(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		c.must(200, "POST", "/v1/reservations/web-1/fulfill-part", shipment).into(t, &again)
		if diff := cmp.Diff(shipped, again); diff != "" {
			t.Errorf("retried fulfill-part mismatch (-first +retry):\n%s", diff)
		}
		if after, err := svc.EventsSince(ctx, 0, 0); err != nil || len(after) != len(events) {
			t.Errorf("the retry wrote %d events (%v)", len(after)-len(events), err)
		}

		// A cancellation at south, named.
		var cancelled onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations/web-1/release-part",
			map[string]any{"id": "cancel-1", "outlet": "south", "lines": []map[string]any{{"product": "tee", "quantity": 1}}}).into(t, &cancelled)
		sameAsService("release-part", cancelled)
		if held := heldAt(cancelled); held["south"] != 1 || held["north"] != 1 {
			t.Errorf("held after shipping one from north and cancelling one at south: %v", held)
		}

		// Amend to 3 tees: one shipped, two to hold, routed anew.
		var amended onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "tee", "quantity": 3}]}`).into(t, &amended)
		sameAsService("amend", amended)
		if amended.Lines[0].Quantity != 3 || amended.Status != onlinestock.Open {
			t.Errorf("amended: %+v", amended)
		}

		// Another order, released, to list by status.
		c.must(200, "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}], "ttl_seconds": 600}`)
		c.must(200, "POST", "/v1/reservations", `{"id": "web-0", "lines": [{"product": "tee", "quantity": 1}]}`)
		c.must(200, "POST", "/v1/reservations/web-0/release", nil)

		for _, f := range []onlinestock.ReservationFilter{
			{},
			{Status: onlinestock.Released},
			{Status: onlinestock.Fulfilled},
			{Product: "tee"},
			{Product: "cap"},
			{Outlet: "south"},
			{Product: "tee", Outlet: "north"},
			{DueBefore: amended.Created.Add(24 * time.Hour)},
			{After: "web-1"},
			{Limit: 1},
		} {
			var page httpapi.Reservations
			c.must(200, "GET", "/v1/reservations"+reservationsQuery(f), nil).into(t, &page)
			want, err := svc.Reservations(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, page.Reservations); diff != "" {
				t.Errorf("GET /v1/reservations%s mismatch (-want +got):\n%s", reservationsQuery(f), diff)
			}
		}

		// Page by page, one at a time, the open orders are web-1 and web-2.
		var orders []string
		for after := ""; ; {
			var page httpapi.Reservations
			c.must(200, "GET", "/v1/reservations"+reservationsQuery(onlinestock.ReservationFilter{After: after, Limit: 1}), nil).into(t, &page)
			if len(page.Reservations) == 0 {
				break
			}
			after = page.Reservations[0].Order
			orders = append(orders, after)
		}
		if diff := cmp.Diff([]string{"web-1", "web-2"}, orders); diff != "" {
			t.Errorf("open orders, paged mismatch (-want +got):\n%s", diff)
		}

		// Shipping what is left closes web-1, fulfilled.
		var closed onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "ship-2", "lines": [{"product": "tee", "quantity": 2}]}`).into(t, &closed)
		sameAsService("the last fulfill-part", closed)
		if closed.Status != onlinestock.Fulfilled {
			t.Errorf("after shipping the rest: status %s", closed.Status)
		}
		var fulfilled httpapi.Reservations
		c.must(200, "GET", "/v1/reservations?status=fulfilled", nil).into(t, &fulfilled)
		if len(fulfilled.Reservations) != 1 || fulfilled.Reservations[0].Order != "web-1" {
			t.Errorf("fulfilled orders: %+v", fulfilled)
		}
	})
}

// heldAt sums the units a reservation holds, by outlet.
func heldAt(r onlinestock.Reservation) map[string]int64 {
	held := map[string]int64{}
	for _, a := range r.Allocations {
		held[a.Outlet] += a.Held()
	}
	return held
}

// reservationsQuery is the query string of listReservations for f.
func reservationsQuery(f onlinestock.ReservationFilter) string {
	q := url.Values{}
	for name, v := range map[string]string{"status": string(f.Status), "product": f.Product, "outlet": f.Outlet, "after": f.After} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if !f.DueBefore.IsZero() {
		q.Set("due_before", f.DueBefore.Format(time.RFC3339Nano))
	}
	if f.Limit != 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// TestOrderErrors checks that each bad call on an order is answered with its
// status and code, and changes nothing.
func TestOrderErrors(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		setUpShop(c)
		c.must(200, "POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 3}]}`)
		c.must(200, "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "ship-1", "outlet": "south", "lines": [{"product": "tee", "quantity": 1}]}`)
		c.must(200, "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}]}`)
		c.must(200, "POST", "/v1/reservations/web-2/release", nil)

		type state struct {
			Events       []onlinestock.Event
			Levels       []onlinestock.Level
			Reservations []onlinestock.Reservation
		}
		snapshot := func() state {
			t.Helper()
			var s state
			var err error
			if s.Events, err = svc.EventsSince(ctx, 0, 0); err != nil {
				t.Fatal(err)
			}
			if s.Levels, err = svc.Levels(ctx, "tee"); err != nil {
				t.Fatal(err)
			}
			for _, order := range []string{"web-1", "web-2"} {
				r, err := svc.Reservation(ctx, order)
				if err != nil {
					t.Fatal(err)
				}
				s.Reservations = append(s.Reservations, r)
			}
			return s
		}
		before := snapshot()

		tests := []refusal{
			{"shipping an unknown order", "POST", "/v1/reservations/nope/fulfill-part", `{"id": "s", "lines": [{"product": "tee", "quantity": 1}]}`, 404, httpapi.CodeNotFound, "", "nope"},
			{"a part without an ID", "POST", "/v1/reservations/web-1/fulfill-part", `{"lines": [{"product": "tee", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "id", "id: required"},
			{"a part without lines", "POST", "/v1/reservations/web-1/release-part", `{"id": "c"}`, 400, httpapi.CodeInvalid, "lines", "lines: required"},
			{"a part of no units", "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "s", "lines": [{"product": "tee", "quantity": 0}]}`, 400, httpapi.CodeInvalid, "", "quantity"},
			{"a part of more than the order holds", "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "s", "lines": [{"product": "tee", "quantity": 3}]}`, 400, httpapi.CodeInvalid, "", "holds 2"},
			{"a part of a product the order lacks", "POST", "/v1/reservations/web-1/release-part", `{"id": "c", "lines": [{"product": "cap", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "cap"},
			{"a part at an outlet that gave nothing of it", "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "s", "outlet": "west", "lines": [{"product": "tee", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "west"},
			{"a part with an unknown field", "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "s", "lines": [{"product": "tee", "quantity": 1}], "carrier": "x"}`, 400, httpapi.CodeInvalid, "carrier", "carrier"},
			{"a part with a string for a quantity", "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "s", "lines": [{"product": "tee", "quantity": "1"}]}`, 400, httpapi.CodeInvalid, "lines[0].quantity", "integer"},
			{"a part that is not JSON", "POST", "/v1/reservations/web-1/release-part", `{"id": "c", "lines": [`, 400, httpapi.CodeInvalid, "", "JSON"},
			{"a shipment ID used for other units", "POST", "/v1/reservations/web-1/fulfill-part", `{"id": "ship-1", "lines": [{"product": "tee", "quantity": 1}]}`, 409, httpapi.CodeConflict, "", "ship-1"},
			{"a shipment ID used again to release", "POST", "/v1/reservations/web-1/release-part", `{"id": "ship-1", "outlet": "south", "lines": [{"product": "tee", "quantity": 1}]}`, 409, httpapi.CodeConflict, "", "ship-1"},
			{"shipping a released order", "POST", "/v1/reservations/web-2/fulfill-part", `{"id": "s", "lines": [{"product": "tee", "quantity": 1}]}`, 409, httpapi.CodeConflict, "", "released"},
			{"amending an unknown order", "POST", "/v1/reservations/nope/amend", `{"lines": [{"product": "tee", "quantity": 1}]}`, 404, httpapi.CodeNotFound, "", "nope"},
			{"amending a released order", "POST", "/v1/reservations/web-2/amend", `{"lines": [{"product": "tee", "quantity": 2}]}`, 409, httpapi.CodeConflict, "", "released"},
			{"amending to no lines", "POST", "/v1/reservations/web-1/amend", `{"lines": []}`, 400, httpapi.CodeInvalid, "", "lines: empty"},
			{"amending away what was shipped", "POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "cap", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "already fulfilled"},
			{"amending past the stock", "POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "tee", "quantity": 7}]}`, 409, httpapi.CodeInsufficientStock, "", "tee"},
			{"an amendment with an unknown field", "POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "tee", "quantity": 2}], "method": "courier"}`, 400, httpapi.CodeInvalid, "method", "method"},
			{"an amendment that is an array", "POST", "/v1/reservations/web-1/amend", `[{"product": "tee", "quantity": 2}]`, 400, httpapi.CodeInvalid, "", "not an object"},
			{"an unknown status", "GET", "/v1/reservations?status=shipped", ``, 400, httpapi.CodeInvalid, "status", "shipped"},
			{"a status given twice", "GET", "/v1/reservations?status=open&status=released", ``, 400, httpapi.CodeInvalid, "status", "2 times"},
			{"an empty product", "GET", "/v1/reservations?product=", ``, 400, httpapi.CodeInvalid, "product", "empty"},
			{"a misspelt parameter", "GET", "/v1/reservations?prodcut=tee", ``, 400, httpapi.CodeInvalid, "prodcut", "unknown query parameter"},
			{"a control character in an outlet", "GET", "/v1/reservations?outlet=n%01", ``, 400, httpapi.CodeInvalid, "", "outlet: control character"},
			{"a due time that is not a time", "GET", "/v1/reservations?due_before=tomorrow", ``, 400, httpapi.CodeInvalid, "due_before", "RFC 3339"},
			{"a due time whose + was not escaped", "GET", "/v1/reservations?due_before=2026-03-01T09:30:00+02:00", ``, 400, httpapi.CodeInvalid, "due_before", "%2B"},
			{"a malformed escape", "GET", "/v1/reservations?product=%zz", ``, 400, httpapi.CodeInvalid, "", "malformed query"},
			{"a semicolon", "GET", "/v1/reservations?product=tee;outlet=north", ``, 400, httpapi.CodeInvalid, "", "malformed query"},
			{"a limit of zero", "GET", "/v1/reservations?limit=0", ``, 400, httpapi.CodeInvalid, "limit", "from 1 to 1000"},
			{"a limit too large", "GET", "/v1/reservations?limit=1001", ``, 400, httpapi.CodeOverLimit, "limit", "more than the 1000 one page may hold"},
			{"a limit that is not a number", "GET", "/v1/reservations?limit=ten", ``, 400, httpapi.CodeInvalid, "limit", "non-negative integer"},
			{"reading an amendment", "GET", "/v1/reservations/web-1/amend", ``, 405, httpapi.CodeMethodNotAllowed, "", "GET"},
		}
		checkRefusals(t, c, tests, func(t *testing.T, tt refusal, _ response, p httpapi.Error) {
			if tt.code == httpapi.CodeInsufficientStock && len(p.Shortfalls) != 1 {
				t.Errorf("shortfalls %+v, want tee's", p.Shortfalls)
			}
		})
		if diff := cmp.Diff(before, snapshot()); diff != "" {
			t.Errorf("state after rejected requests mismatch (-want +got):\n%s", diff)
		}
	})
}

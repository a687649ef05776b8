package httpapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
)

// shopState is what a shop holds that a request could change.
type shopState struct {
	Setup        *onlinestock.Setup
	Levels       map[string][]onlinestock.Level
	Events       []onlinestock.Event
	Movements    []onlinestock.Movement
	Reservations []onlinestock.Reservation
	Methods      []onlinestock.Method
	Bundles      []onlinestock.Bundle
	Backorders   []onlinestock.Backorder
	Availability []onlinestock.Availability
}

// products the tests name, whose levels and availability a snapshot reads.
var products = []string{"tee", "cap", "mug", "gift", "q", "sku-\u00e4", "sku-\u00f6", "sku-\ufffd"}

func snapshot(t *testing.T, svc *onlinestock.Service) shopState {
	t.Helper()
	ctx := context.Background()
	s := shopState{Levels: map[string][]onlinestock.Level{}}
	var err error
	must := func() {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Setup, err = svc.Setup(ctx)
	must()
	for _, p := range products {
		s.Levels[p], err = svc.Levels(ctx, p)
		if errors.Is(err, onlinestock.ErrNotFound) {
			err = nil
		}
		must()
	}
	s.Events, err = svc.EventsSince(ctx, 0, 0)
	must()
	s.Movements, err = svc.Movements(ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage})
	must()
	for _, status := range []onlinestock.ReservationStatus{onlinestock.Open, onlinestock.Released, onlinestock.Fulfilled, onlinestock.Expired} {
		rs, err := svc.Reservations(ctx, onlinestock.ReservationFilter{Status: status, Limit: onlinestock.MaxReservationsPage})
		if err != nil {
			t.Fatal(err)
		}
		s.Reservations = append(s.Reservations, rs...)
	}
	s.Methods, err = svc.Methods(ctx)
	must()
	s.Bundles, err = svc.Bundles(ctx)
	must()
	s.Backorders, err = svc.Backorders(ctx)
	must()
	s.Availability, err = svc.Availability(ctx, products...)
	must()
	return s
}

// TestStrictReading sends requests a lenient reader would take for
// another: each is refused with a problem naming the field, and nothing
// of any is applied.
func TestStrictReading(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		setUpShop(c)
		c.must(200, "POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 1}]}`)
		before := snapshot(t, svc)
		tests := []refusal{
			// Required fields missing or null.
			{"a set without its quantity", "POST", "/v1/changes", `{"changes":[{"kind":"set","product":"q","outlet":"north"}]}`, 400, httpapi.CodeInvalid, "changes[0].quantity", "required"},
			{"a null quantity", "POST", "/v1/changes", `{"changes":[{"kind":"set","product":"tee","outlet":"north","quantity":null}]}`, 400, httpapi.CodeInvalid, "changes[0].quantity", "null"},
			{"the second change without its outlet", "POST", "/v1/changes", `{"changes":[{"kind":"set","product":"tee","outlet":"north","quantity":1},{"kind":"adjust","product":"tee","quantity":1}]}`, 400, httpapi.CodeInvalid, "changes[1].outlet", "required"},
			{"null changes", "POST", "/v1/changes", `{"changes": null}`, 400, httpapi.CodeInvalid, "changes", "null"},
			{"an empty selection object", "PUT", "/v1/selection", `{}`, 400, httpapi.CodeInvalid, "outlets", "required"},
			{"a null selection", "PUT", "/v1/selection", `{"outlets": null}`, 400, httpapi.CodeInvalid, "outlets", "null"},
			{"an empty buffer object", "PUT", "/v1/outlets/north/buffer", `{}`, 400, httpapi.CodeInvalid, "units", "required"},
			{"an empty outlet object", "PUT", "/v1/outlets/north", `{}`, 400, httpapi.CodeInvalid, "name", "required"},
			{"an empty rank object", "PUT", "/v1/outlets/north/rank", `{}`, 400, httpapi.CodeInvalid, "rank", "required"},
			{"an order without lines", "POST", "/v1/reservations", `{"id": "web-2"}`, 400, httpapi.CodeInvalid, "lines", "required"},
			{"a line without its product", "POST", "/v1/quote", `{"lines": [{"quantity": 1}]}`, 400, httpapi.CodeInvalid, "lines[0].product", "required"},
			{"a null method", "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}], "method": null}`, 400, httpapi.CodeInvalid, "method", "null"},
			// Names given twice, in another case, or unknown.
			{"a quantity given twice", "POST", "/v1/changes", `{"changes":[{"kind":"adjust","product":"tee","outlet":"north","quantity":5,"quantity":-100}]}`, 400, httpapi.CodeInvalid, "changes[0].quantity", "given twice"},
			{"changes given twice", "POST", "/v1/changes", `{"changes":[],"changes":[{"kind":"set","product":"tee","outlet":"north","quantity":1}]}`, 400, httpapi.CodeInvalid, "changes", "given twice"},
			{"a name in capitals", "POST", "/v1/changes", `{"changes":[{"kind":"set","product":"tee","outlet":"north","QUANTITY":5}]}`, 400, httpapi.CodeInvalid, "changes[0].QUANTITY", `send "changes[0].quantity"`},
			{"the body's name in capitals", "POST", "/v1/changes", `{"CHANGES":[{"kind":"set","product":"tee","outlet":"north","quantity":5}]}`, 400, httpapi.CodeInvalid, "CHANGES", "case-sensitive"},
			{"an unknown name", "PUT", "/v1/outlets/north", `{"name": "N", "nmae": "M"}`, 400, httpapi.CodeInvalid, "nmae", "unknown field"},
			{"the old ttl_ns", "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}], "ttl_ns": 1000}`, 400, httpapi.CodeInvalid, "ttl_ns", "unknown field"},
			// Text that is not UTF-8.
			{"invalid UTF-8 in an ID", "POST", "/v1/changes", "{\"changes\":[{\"kind\":\"set\",\"product\":\"sku-\xe4\",\"outlet\":\"north\",\"quantity\":1}]}", 400, httpapi.CodeInvalid, "changes[0].product", "UTF-8"},
			{"a lone surrogate in an ID", "POST", "/v1/changes", `{"changes":[{"kind":"set","product":"sku-\ud800","outlet":"north","quantity":1}]}`, 400, httpapi.CodeInvalid, "changes[0].product", "surrogate"},
			{"invalid UTF-8 in a key", "POST", "/v1/changes", "{\"changes\":[{\"kind\":\"adjust\",\"product\":\"tee\",\"outlet\":\"north\",\"quantity\":1,\"key\":\"receipt-\xf6/1\"}]}", 400, httpapi.CodeInvalid, "changes[0].key", "UTF-8"},
			{"invalid UTF-8 in a name", "POST", "/v1/changes", "{\"changes\":[{\"kind\":\"set\",\"product\":\"tee\",\"outlet\":\"north\",\"quantity\":1,\"\xffx\":1}]}", 400, httpapi.CodeInvalid, "changes[0]", "UTF-8"},
			// Types.
			{"a quantity with an exponent", "POST", "/v1/changes", `{"changes":[{"kind":"set","product":"tee","outlet":"north","quantity":1e2}]}`, 400, httpapi.CodeInvalid, "changes[0].quantity", "not an integer"},
			{"a string for a flag", "POST", "/v1/changes", `{"changes":[{"kind":"set","product":"tee","outlet":"north","quantity":1,"check_version":"true"}]}`, 400, httpapi.CodeInvalid, "changes[0].check_version", "true or false"},
			{"a negative TTL", "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}], "ttl_seconds": -1}`, 400, httpapi.CodeInvalid, "ttl_seconds", "ttl_seconds"},
			{"a TTL past what a duration holds", "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}], "ttl_seconds": 9223372037}`, 400, httpapi.CodeInvalid, "ttl_seconds", "ttl_seconds"},
			// Queries.
			{"events after a malformed escape", "GET", "/v1/events?after=%zz", ``, 400, httpapi.CodeInvalid, "", "malformed query"},
			{"events with an unknown parameter", "GET", "/v1/events?since=3", ``, 400, httpapi.CodeInvalid, "since", "unknown query parameter"},
			{"events with after twice", "GET", "/v1/events?after=1&after=2", ``, 400, httpapi.CodeInvalid, "after", "given 2 times"},
			{"events with an empty after", "GET", "/v1/events?after=", ``, 400, httpapi.CodeInvalid, "after", "empty"},
			{"a query on an operation that takes none", "GET", "/v1/setup?tenant=b", ``, 400, httpapi.CodeInvalid, "tenant", "takes none"},
			{"a product that is not UTF-8", "GET", "/v1/availability?product=%ff", ``, 400, httpapi.CodeInvalid, "product", "UTF-8"},
			{"a movements filter that is not UTF-8", "GET", "/v1/movements?ref=receipt-%e4", ``, 400, httpapi.CodeInvalid, "ref", "UTF-8"},
			{"an availability without a product", "GET", "/v1/availability?product=", ``, 400, httpapi.CodeInvalid, "product", "empty"},
		}
		checkRefusals(t, c, tests, nil)
		if diff := cmp.Diff(before, snapshot(t, svc)); diff != "" {
			t.Errorf("the shop after refused requests mismatch (-before +after):\n%s", diff)
		}
		// What a strict reader takes is applied as sent.
		c.must(200, "POST", "/v1/changes", `{"changes":[{"kind":"adjust","product":"tee","outlet":"north","quantity":-1,"key":"receipt-\u00e4/1"},
			{"kind":"adjust","product":"tee","outlet":"north","quantity":-1,"key":"receipt-\u00f6/1"}]}`)
		levels, err := svc.Levels(context.Background(), "tee")
		if err != nil {
			t.Fatal(err)
		}
		if levels[0].OnHand != 0 {
			t.Errorf("two changes under two keys: on hand %d at north, want 0 (2 - 1 - 1)", levels[0].OnHand)
		}
	})
}

// TestRequestLineLimits checks the bounds of a quote's work: its lines,
// and its lines times the shop's outlets.
func TestRequestLineLimits(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{MaxLines: 4, MaxLineOutlets: 6})
		setUpShop(c)
		before := snapshot(t, svc)
		lines := func(n int) string {
			ls := make([]string, n)
			for i := range ls {
				ls[i] = `{"product": "tee", "quantity": 1}`
			}
			return `[` + strings.Join(ls, ",") + `]`
		}
		checkRefusals(t, c, []refusal{
			{"five lines", "POST", "/v1/quote", `{"lines": ` + lines(5) + `}`, 400, httpapi.CodeOverLimit, "lines", "more than the 4 of one request"},
			{"four lines at two outlets", "POST", "/v1/quote", `{"lines": ` + lines(4) + `}`, 400, httpapi.CodeOverLimit, "lines", "4 lines at 2 outlets, more than the 6"},
			{"an order of four lines at two outlets", "POST", "/v1/reservations", `{"id": "w", "lines": ` + lines(4) + `}`, 400, httpapi.CodeOverLimit, "lines", "more than the 6"},
			{"a part of five lines", "POST", "/v1/reservations/w/fulfill-part", `{"id": "s", "lines": ` + lines(5) + `}`, 400, httpapi.CodeOverLimit, "lines", "more than the 4"},
		}, func(t *testing.T, tt refusal, r response, p httpapi.Error) {
			if p.Limit != 4 && p.Limit != 6 {
				t.Errorf("problem %+v: want the limit given", p)
			}
		})
		c.must(200, "POST", "/v1/quote", `{"lines": `+lines(3)+`}`)
		if diff := cmp.Diff(before, snapshot(t, svc)); diff != "" {
			t.Errorf("the shop after refused requests mismatch (-before +after):\n%s", diff)
		}
	})
}

package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
)

// TestCatalog defines a bundle and a backorder policy over HTTP, sells
// them, and reads each answer back from the Service: a bundle's stock is
// what its least plentiful component allows, an open order keeps its
// bundle from changing, and a backorder policy sells past zero.
func TestCatalog(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		setUpShop(c) // tee: 2 at north, 3 at south
		c.must(200, "POST", "/v1/changes", `{"changes": [
			{"kind": "set", "product": "cap", "outlet": "north", "quantity": 4},
			{"kind": "set", "product": "cap", "outlet": "south", "quantity": 1}]}`)

		var bundles httpapi.Bundles
		c.must(200, "GET", "/v1/bundles", nil).into(t, &bundles)
		if bundles.Bundles == nil || len(bundles.Bundles) != 0 {
			t.Errorf("bundles before any: %+v, want an empty list", bundles)
		}
		var policies httpapi.Backorders
		c.must(200, "GET", "/v1/backorders", nil).into(t, &policies)
		if policies.Backorders == nil || len(policies.Backorders) != 0 {
			t.Errorf("backorder policies before any: %+v, want an empty list", policies)
		}

		// A gift box of a tee and two caps, its components given out of
		// order and its ID left to the path.
		c.must(204, "PUT", "/v1/bundles/gift", `{"components": [{"product": "tee", "quantity": 1}, {"product": "cap", "quantity": 2}]}`)
		c.must(204, "POST", "/v1/products/enable", map[string]any{"products": []string{"gift"}})
		want := []onlinestock.Bundle{{ID: "gift", Components: []onlinestock.Component{{Product: "cap", Quantity: 2}, {Product: "tee", Quantity: 1}}}}
		c.must(200, "GET", "/v1/bundles", nil).into(t, &bundles)
		if diff := cmp.Diff(want, bundles.Bundles); diff != "" {
			t.Errorf("bundles mismatch (-want +got):\n%s", diff)
		}
		if got, err := svc.Bundles(ctx); err != nil || !cmp.Equal(want, got) {
			t.Errorf("the Service's bundles: %+v, %v", got, err)
		}
		// North assembles min(2/1, 4/2) = 2 boxes, south min(3/1, 1/2) = 0.
		var page httpapi.AvailabilityPage
		c.must(200, "GET", "/v1/availability?product=gift", nil).into(t, &page)
		if got := page.Products[0].Quantity; got != 2 {
			t.Errorf("gift's online stock %d, want 2", got)
		}

		// An open order holds the bundle's definition.
		var r onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "gift", "quantity": 1}]}`).into(t, &r)
		if len(r.Allocations) != 1 || r.Allocations[0].Outlet != "north" || len(r.Allocations[0].Components) != 2 {
			t.Fatalf("web-1 %+v: want one box assembled at north", r)
		}
		for _, req := range []struct{ method, body string }{
			{"PUT", `{"components": [{"product": "cap", "quantity": 1}]}`},
			{"DELETE", ``},
		} {
			var resp response
			if req.body == "" {
				resp = c.do(req.method, "/v1/bundles/gift", nil)
			} else {
				resp = c.raw(req.method, "/v1/bundles/gift", "application/json", strings.NewReader(req.body))
			}
			if p := resp.problem(t); resp.status != 409 || p.Code != httpapi.CodeConflict || !strings.Contains(p.Detail, "web-1") {
				t.Errorf("%s of a held bundle: %d %+v, want 409 naming web-1", req.method, resp.status, p)
			}
		}
		// Saving it as it is changes nothing, even while held.
		c.must(204, "PUT", "/v1/bundles/gift", `{"id": "gift", "components": [{"product": "cap", "quantity": 2}, {"product": "tee", "quantity": 1}]}`)
		c.must(200, "POST", "/v1/reservations/web-1/release", nil)
		c.must(204, "DELETE", "/v1/bundles/gift", nil)
		c.must(404, "DELETE", "/v1/bundles/gift", nil)
		c.must(200, "GET", "/v1/bundles", nil).into(t, &bundles)
		if len(bundles.Bundles) != 0 {
			t.Errorf("bundles after the delete: %+v", bundles)
		}

		// Tees sell 5 past their stock, reserved at south, expected by
		// Christmas.
		expected := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
		c.must(204, "PUT", "/v1/products/tee/backorder", `{"limit": 5, "expected": "2026-12-24T09:00:00Z", "outlet": "south"}`)
		wantPolicies := []onlinestock.Backorder{{Product: "tee", Limit: 5, Expected: expected, Outlet: "south"}}
		c.must(200, "GET", "/v1/backorders", nil).into(t, &policies)
		if diff := cmp.Diff(wantPolicies, policies.Backorders); diff != "" {
			t.Errorf("backorder policies mismatch (-want +got):\n%s", diff)
		}
		if got, err := svc.Backorders(ctx); err != nil || !cmp.Equal(wantPolicies, got) {
			t.Errorf("the Service's backorder policies: %+v, %v", got, err)
		}
		c.must(200, "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 5}]}`)
		c.must(200, "GET", "/v1/availability?product=tee", nil).into(t, &page)
		if got := page.Products[0].Availability; got != (onlinestock.Availability{Quantity: 5, Label: onlinestock.OnBackorder}) {
			t.Errorf("tee with its stock reserved: %+v, want 5 on backorder", got)
		}
		c.must(200, "POST", "/v1/reservations", `{"id": "web-3", "lines": [{"product": "tee", "quantity": 2}]}`).into(t, &r)
		if len(r.Allocations) != 1 || r.Allocations[0].Outlet != "south" || r.Allocations[0].Backordered != 2 {
			t.Errorf("web-3 %+v: want 2 backordered at south", r)
		}
		c.must(204, "DELETE", "/v1/products/tee/backorder", nil)
		c.must(404, "DELETE", "/v1/products/tee/backorder", nil)
		c.must(200, "GET", "/v1/backorders", nil).into(t, &policies)
		if len(policies.Backorders) != 0 {
			t.Errorf("backorder policies after the delete: %+v", policies)
		}
		// Units already backordered stay reserved.
		if got, err := svc.Reservation(ctx, "web-3"); err != nil || got.Status != onlinestock.Open || got.Allocations[0].Backordered != 2 {
			t.Errorf("web-3 after the policy's delete: %+v, %v", got, err)
		}
	})
}

// TestCatalogErrors sends bad catalog requests: each is refused with a
// clear problem, and nothing changes.
func TestCatalogErrors(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		setUpShop(c)
		c.must(200, "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "cap", "outlet": "north", "quantity": 4}]}`)
		c.must(204, "PUT", "/v1/bundles/gift", `{"components": [{"product": "cap", "quantity": 2}]}`)
		c.must(200, "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "hat", "outlet": "north", "quantity": 1}]}`)
		c.must(204, "PUT", "/v1/products/hat/backorder", `{"limit": 3}`)

		type state struct {
			Events     []onlinestock.Event
			Bundles    []onlinestock.Bundle
			Backorders []onlinestock.Backorder
		}
		snapshot := func() state {
			t.Helper()
			var s state
			var err error
			if s.Events, err = svc.EventsSince(ctx, 0, 0); err != nil {
				t.Fatal(err)
			}
			if s.Bundles, err = svc.Bundles(ctx); err != nil {
				t.Fatal(err)
			}
			if s.Backorders, err = svc.Backorders(ctx); err != nil {
				t.Fatal(err)
			}
			return s
		}
		before := snapshot()

		tests := []refusal{
			{"a bundle ID that differs from the path", "PUT", "/v1/bundles/gift", `{"id": "box", "components": [{"product": "cap", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "id", "path"},
			{"a bundle without components", "PUT", "/v1/bundles/box", `{"components": []}`, 400, httpapi.CodeInvalid, "", "at least one component"},
			{"a bundle that is null", "PUT", "/v1/bundles/box", `null`, 400, httpapi.CodeInvalid, "", ""},
			{"a component of no units", "PUT", "/v1/bundles/box", `{"components": [{"product": "cap", "quantity": 0}]}`, 400, httpapi.CodeInvalid, "", "quantity"},
			{"a component listed twice", "PUT", "/v1/bundles/box", `{"components": [{"product": "cap", "quantity": 1}, {"product": "cap", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "cap"},
			{"an unknown component", "PUT", "/v1/bundles/box", `{"components": [{"product": "scarf", "quantity": 1}]}`, 404, httpapi.CodeNotFound, "", "scarf"},
			{"a bundle inside a bundle", "PUT", "/v1/bundles/box", `{"components": [{"product": "gift", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "do not nest"},
			{"a component that takes backorders", "PUT", "/v1/bundles/box", `{"components": [{"product": "hat", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "backorders"},
			{"a product holding stock made a bundle", "PUT", "/v1/bundles/tee", `{"components": [{"product": "cap", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "tee"},
			{"a bundle with an unknown field", "PUT", "/v1/bundles/box", `{"components": [{"product": "cap", "quantity": 1}], "price": 10}`, 400, httpapi.CodeInvalid, "price", "unknown field"},
			{"components that are a string", "PUT", "/v1/bundles/box", `{"components": "cap"}`, 400, httpapi.CodeInvalid, "components", "not an array"},
			{"deleting an unknown bundle", "DELETE", "/v1/bundles/box", ``, 404, httpapi.CodeNotFound, "", "box"},
			{"posting to the bundles", "POST", "/v1/bundles", `{}`, 405, httpapi.CodeMethodNotAllowed, "", "POST"},

			{"a policy's product that differs from the path", "PUT", "/v1/products/tee/backorder", `{"product": "cap", "limit": 1}`, 400, httpapi.CodeInvalid, "product", "path"},
			{"a policy of an unknown product", "PUT", "/v1/products/scarf/backorder", `{"limit": 1}`, 404, httpapi.CodeNotFound, "", "scarf"},
			{"a negative limit", "PUT", "/v1/products/tee/backorder", `{"limit": -1}`, 400, httpapi.CodeInvalid, "", "limit"},
			{"a limit past the largest count", "PUT", "/v1/products/tee/backorder", `{"limit": 1000000000001}`, 400, httpapi.CodeInvalid, "", "limit"},
			{"a limit that is a string", "PUT", "/v1/products/tee/backorder", `{"limit": "5"}`, 400, httpapi.CodeInvalid, "limit", "integer"},
			{"an expected date that is not a time", "PUT", "/v1/products/tee/backorder", `{"limit": 1, "expected": "christmas"}`, 400, httpapi.CodeInvalid, "expected", `"christmas" is not an RFC 3339 time`},
			{"an expected date past December", "PUT", "/v1/products/tee/backorder", `{"limit": 1, "expected": "2026-13-01T00:00:00Z"}`, 400, httpapi.CodeInvalid, "expected", "month out of range"},
			{"an expected date that is a number", "PUT", "/v1/products/tee/backorder", `{"limit": 1, "expected": 20261224}`, 400, httpapi.CodeInvalid, "expected", "an integer, not a string"},
			{"an unknown designated outlet", "PUT", "/v1/products/tee/backorder", `{"limit": 1, "outlet": "west"}`, 404, httpapi.CodeNotFound, "", "west"},
			{"backorders of a bundle's component", "PUT", "/v1/products/cap/backorder", `{"limit": 1}`, 400, httpapi.CodeInvalid, "", "gift"},
			{"backorders of a bundle", "PUT", "/v1/products/gift/backorder", `{"limit": 1}`, 400, httpapi.CodeInvalid, "", "gift"},
			{"a policy with an unknown field", "PUT", "/v1/products/tee/backorder", `{"limit": 1, "preorder": true}`, 400, httpapi.CodeInvalid, "preorder", "unknown field"},
			{"deleting a policy a product lacks", "DELETE", "/v1/products/tee/backorder", ``, 404, httpapi.CodeNotFound, "", "tee"},
			{"reading one policy", "GET", "/v1/products/hat/backorder", ``, 405, httpapi.CodeMethodNotAllowed, "", "GET"},
		}
		checkRefusals(t, c, tests, nil)
		if diff := cmp.Diff(before, snapshot()); diff != "" {
			t.Errorf("state after rejected requests mismatch (-want +got):\n%s", diff)
		}
	})
}

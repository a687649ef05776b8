package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
)

// TestStory drives a storefront and a POS through the API, from setup to a
// fulfilled order, and checks every answer against the Service's own view.
func TestStory(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		setUpShop(c)

		var setup onlinestock.Setup
		c.must(200, "GET", "/v1/setup", nil).into(t, &setup)
		want, err := svc.Setup(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(*want, setup); diff != "" {
			t.Errorf("GET /v1/setup mismatch (-want +got):\n%s", diff)
		}

		var page httpapi.AvailabilityPage
		c.must(200, "GET", "/v1/availability?product=tee&product=mug&product=tee", nil).into(t, &page)
		wantPage := httpapi.AvailabilityPage{Products: []httpapi.ProductAvailability{
			{Product: "tee", Availability: onlinestock.Availability{Quantity: 5, Label: onlinestock.InStock}},
			{Product: "mug", Availability: onlinestock.Unlisted},
			{Product: "tee", Availability: onlinestock.Availability{Quantity: 5, Label: onlinestock.InStock}},
		}}
		if diff := cmp.Diff(wantPage, page); diff != "" {
			t.Errorf("GET /v1/availability mismatch (-want +got):\n%s", diff)
		}

		var q onlinestock.Quote
		c.must(200, "POST", "/v1/quote", `{"lines": [{"product": "tee", "quantity": 4}]}`).into(t, &q)
		wantQ, err := svc.Quote(ctx, onlinestock.Cart{Lines: []onlinestock.Line{{Product: "tee", Quantity: 4}}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantQ, q); diff != "" {
			t.Errorf("POST /v1/quote mismatch (-want +got):\n%s", diff)
		}
		if !q.Purchasable || len(q.Offered()) != 1 {
			t.Fatalf("quote %+v: want purchasable by courier", q)
		}

		order := `{"id": "web-1", "lines": [{"product": "tee", "quantity": 4}], "method": "courier", "ttl_seconds": 900}`
		var r, again onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations", order).into(t, &r)
		c.must(200, "POST", "/v1/reservations", order).into(t, &again) // idempotent by order ID
		if diff := cmp.Diff(r, again); diff != "" {
			t.Errorf("reserving twice mismatch (-first +second):\n%s", diff)
		}
		if r.Status != onlinestock.Open || r.Deadline.Sub(r.Created) != 15*time.Minute || len(r.Allocations) != 2 {
			t.Errorf("reservation %+v: want open for 15 minutes, split over two outlets", r)
		}
		var got onlinestock.Reservation
		c.must(200, "GET", "/v1/reservations/web-1", nil).into(t, &got)
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("GET /v1/reservations/web-1 mismatch (-want +got):\n%s", diff)
		}

		c.must(200, "GET", "/v1/availability?product=tee", nil).into(t, &page)
		if a := page.Products[0].Availability; a != (onlinestock.Availability{Quantity: 1, Label: onlinestock.LowStock}) {
			t.Errorf("availability after reserving 4 of 5: %+v", a)
		}

		var done onlinestock.Reservation
		c.must(200, "POST", "/v1/reservations/web-1/fulfill", nil).into(t, &done)
		if done.Status != onlinestock.Fulfilled {
			t.Errorf("fulfil: status %s", done.Status)
		}
		var levels httpapi.Levels
		c.must(200, "GET", "/v1/products/tee/levels", nil).into(t, &levels)
		wantLevels, err := svc.Levels(ctx, "tee")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantLevels, levels.Levels); diff != "" {
			t.Errorf("GET levels mismatch (-want +got):\n%s", diff)
		}
		var onHand int64
		for _, l := range levels.Levels {
			onHand += l.OnHand
		}
		if onHand != 1 {
			t.Errorf("on hand after selling 4 of 5: %d", onHand)
		}

		// Events, polled page by page, are the Service's.
		var all []onlinestock.Event
		for after := uint64(0); ; {
			var page httpapi.Events
			c.must(200, "GET", fmt.Sprintf("/v1/events?after=%d&limit=2", after), nil).into(t, &page)
			if len(page.Events) == 0 {
				break
			}
			all = append(all, page.Events...)
			after = page.Events[len(page.Events)-1].Seq
		}
		wantEvents, err := svc.EventsSince(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantEvents, all); diff != "" {
			t.Errorf("GET /v1/events mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestSetupOperations(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, _ := newAPI(t, ns, httpapi.Config{})
		setUpShop(c)

		var res onlinestock.SelectionResult
		c.must(200, "PUT", "/v1/outlets/south/buffer", map[string]any{"units": 1}).into(t, &res)
		if len(res.Changes) != 1 || res.Changes[0].After.Quantity != 4 {
			t.Errorf("buffer of 1 at south: %+v", res)
		}
		c.must(204, "PUT", "/v1/outlets/south/rank", map[string]any{"rank": 1})
		c.must(200, "POST", "/v1/selection/preview", map[string]any{"outlets": []string{"north"}}).into(t, &res)
		if !slices.Equal(res.Disconnected, []string{"south"}) {
			t.Errorf("preview of north alone: %+v", res)
		}
		c.must(200, "PUT", "/v1/selection", map[string]any{"outlets": []string{"north"}}).into(t, &res)
		c.must(200, "POST", "/v1/outlets/south/connect", nil).into(t, &res)
		if !slices.Equal(res.Connected, []string{"south"}) {
			t.Errorf("connect south: %+v", res)
		}
		c.must(200, "POST", "/v1/outlets/south/disconnect", nil)

		c.must(204, "PUT", "/v1/methods/pickup-south", map[string]any{"id": "pickup-south", "name": "Pick up south", "kind": "pickup", "outlet": "south", "rule": "restrict"})
		var methods httpapi.Methods
		c.must(200, "GET", "/v1/methods", nil).into(t, &methods)
		if len(methods.Methods) != 2 || methods.Methods[1].Rule != onlinestock.Restrict {
			t.Errorf("methods: %+v", methods)
		}
		c.must(204, "DELETE", "/v1/methods/pickup-south", nil)
		c.must(404, "DELETE", "/v1/methods/pickup-south", nil)

		c.must(204, "POST", "/v1/products/disable", map[string]any{"products": []string{"tee"}})
		var page httpapi.AvailabilityPage
		c.must(200, "GET", "/v1/availability?product=tee", nil).into(t, &page)
		if page.Products[0].Label != onlinestock.NotForSale {
			t.Errorf("disabled tee: %+v", page)
		}

		c.must(200, "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "cap", "outlet": "north", "quantity": 1}]}`)
		c.must(204, "POST", "/v1/products/enable", map[string]any{"products": []string{"tee", "cap"}})
		c.must(200, "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "cap", "quantity": 1}]}`)
		c.must(200, "POST", "/v1/reservations/web-2/release", nil)
		var expired httpapi.Orders
		c.must(200, "POST", "/v1/reservations/expire", nil).into(t, &expired)
		if len(expired.Orders) != 0 {
			t.Errorf("expired %v, want none", expired.Orders)
		}
	})
}

// TestErrors checks that each error is answered with its status and code,
// and that a rejected request changes nothing.
func TestErrors(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()

		p := c.must(503, "POST", "/v1/reservations", `{"id": "web-0", "lines": [{"product": "tee", "quantity": 1}]}`).problem(t)
		if p.Code != httpapi.CodeNotActive {
			t.Errorf("reserving before activation: code %q", p.Code)
		}
		setUpShop(c)
		events, err := svc.EventsSince(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		levels, err := svc.Levels(ctx, "tee")
		if err != nil {
			t.Fatal(err)
		}

		tests := []refusal{
			{"malformed JSON", "POST", "/v1/changes", `{"changes": [`, 400, httpapi.CodeInvalid, "", "JSON"},
			{"a syntax error", "POST", "/v1/changes", `{"changes": [}]}`, 400, httpapi.CodeInvalid, "changes[0]", "malformed JSON"},
			{"an empty body", "POST", "/v1/quote", ``, 400, httpapi.CodeInvalid, "", "empty"},
			{"a string for a number", "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": "5"}]}`, 400, httpapi.CodeInvalid, "changes[0].quantity", "quantity"},
			{"a fraction for a number", "POST", "/v1/quote", `{"lines": [{"product": "tee", "quantity": 1.5}]}`, 400, httpapi.CodeInvalid, "lines[0].quantity", "integer"},
			{"an array for the body", "POST", "/v1/quote", `[1]`, 400, httpapi.CodeInvalid, "", "not an object"},
			{"an unknown field", "POST", "/v1/quote", `{"lines": [], "coupon": "x"}`, 400, httpapi.CodeInvalid, "coupon", "coupon"},
			{"two values", "POST", "/v1/quote", `{"lines": []} {}`, 400, httpapi.CodeInvalid, "", "more than one"},
			{"an unknown change kind", "POST", "/v1/changes", `{"changes": [{"kind": "delete", "product": "tee", "outlet": "north", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "changes[0].kind", "kind"},
			{"an empty batch", "POST", "/v1/changes", `{"changes": []}`, 400, httpapi.CodeInvalid, "changes", "empty"},
			{"a control character in an ID", "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "t\u0001", "outlet": "north", "quantity": 1}]}`, 400, httpapi.CodeInvalid, "", "product"},
			{"an on-hand out of range", "POST", "/v1/changes", `{"changes": [{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": 1000000000001}]}`, 400, httpapi.CodeInvalid, "", "delta"},
			{"an unknown outlet", "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "tee", "outlet": "west", "quantity": 1}]}`, 404, httpapi.CodeNotFound, "", "west"},
			{"a stale version", "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 9, "if_version": 0, "check_version": true}]}`, 409, httpapi.CodeConflict, "", "version"},
			{"an unknown product to enable", "POST", "/v1/products/enable", `{"products": ["nope"]}`, 404, httpapi.CodeNotFound, "", "nope"},
			{"an unknown order", "GET", "/v1/reservations/nope", ``, 404, httpapi.CodeNotFound, "", "nope"},
			{"more than the stock", "POST", "/v1/reservations", `{"id": "web-9", "lines": [{"product": "tee", "quantity": 6}]}`, 409, httpapi.CodeInsufficientStock, "", "tee"},
			{"disconnecting the primary outlet", "POST", "/v1/outlets/north/disconnect", ``, 409, httpapi.CodePrimaryOutlet, "", "primary"},
			{"no product asked", "GET", "/v1/availability", ``, 400, httpapi.CodeInvalid, "product", "product"},
			{"a negative after", "GET", "/v1/events?after=-1", ``, 400, httpapi.CodeInvalid, "after", "after"},
			{"a limit too large", "GET", "/v1/events?limit=5000", ``, 400, httpapi.CodeOverLimit, "limit", "limit"},
			{"a method ID that differs from the path", "PUT", "/v1/methods/a", `{"id": "b", "name": "B", "kind": "pickup"}`, 400, httpapi.CodeInvalid, "id", "path"},
			{"an unknown path", "GET", "/v2/availability", ``, 404, httpapi.CodeNoRoute, "", "/v2"},
			{"a wrong method", "DELETE", "/v1/quote", ``, 405, httpapi.CodeMethodNotAllowed, "", "DELETE"},
		}
		checkRefusals(t, c, tests, func(t *testing.T, tt refusal, r response, p httpapi.Error) {
			if tt.code == httpapi.CodeInsufficientStock {
				want := []onlinestock.Shortfall{{Product: "tee", Requested: 6, Available: 5, Status: onlinestock.LineShort}}
				if diff := cmp.Diff(want, p.Shortfalls); diff != "" {
					t.Errorf("shortfalls mismatch (-want +got):\n%s", diff)
				}
			}
			if tt.code == httpapi.CodeMethodNotAllowed && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow: %q, want POST", r.header.Get("Allow"))
			}
		})

		// Nothing changed: the same levels, no new event.
		after, err := svc.EventsSince(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(events, after); diff != "" {
			t.Errorf("events after rejected requests mismatch (-want +got):\n%s", diff)
		}
		nowLevels, err := svc.Levels(ctx, "tee")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(levels, nowLevels); diff != "" {
			t.Errorf("levels after rejected requests mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestRequestLimits(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, _ := newAPI(t, ns, httpapi.Config{MaxBodyBytes: 1 << 10, MaxPage: 3, BodyTimeout: 200 * time.Millisecond})
		setUpShop(c)

		t.Run("a body over the limit is 413", func(t *testing.T) {
			huge := `{"changes": [` + strings.Repeat(`{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": 0},`, 100) + `]}`
			p := c.raw("POST", "/v1/changes", "application/json", strings.NewReader(huge)).problem(t)
			if p.Status != 413 || p.Code != httpapi.CodeTooLarge {
				t.Errorf("problem %+v, want 413 too_large", p)
			}
		})
		t.Run("an endless body is cut at the limit", func(t *testing.T) {
			p := c.raw("POST", "/v1/quote", "application/json", endless{}).problem(t)
			if p.Status != 413 {
				t.Errorf("problem %+v, want 413", p)
			}
		})
		t.Run("a body that is not JSON is 415", func(t *testing.T) {
			p := c.raw("POST", "/v1/quote", "text/plain", strings.NewReader(`{"lines": []}`)).problem(t)
			if p.Status != 415 || p.Code != httpapi.CodeUnsupportedMedia {
				t.Errorf("problem %+v, want 415 unsupported_media", p)
			}
		})
		t.Run("a body without a Content-Type is 415", func(t *testing.T) {
			p := c.raw("POST", "/v1/quote", "", strings.NewReader(`{"lines": [{"product": "tee", "quantity": 1}]}`)).problem(t)
			if p.Status != 415 || p.Code != httpapi.CodeUnsupportedMedia {
				t.Errorf("problem %+v, want 415 unsupported_media", p)
			}
		})
		t.Run("JSON with a charset is JSON", func(t *testing.T) {
			r := c.raw("POST", "/v1/quote", "application/json; charset=utf-8", strings.NewReader(`{"lines": [{"product": "tee", "quantity": 1}]}`))
			if r.status != 200 {
				t.Errorf("status %d, body %s", r.status, r.body)
			}
		})
		t.Run("too many products in a page is 400", func(t *testing.T) {
			p := c.do("GET", "/v1/availability?product=a&product=b&product=c&product=d", nil).problem(t)
			if p.Status != 400 || p.Field != "product" {
				t.Errorf("problem %+v, want 400 on product", p)
			}
		})
		t.Run("a slow body is 408", func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				_, _ = pw.Write([]byte(`{"lines": [`))
				time.Sleep(2 * time.Second)
				pw.Close()
			}()
			start := time.Now()
			p := c.raw("POST", "/v1/quote", "application/json", pr).problem(t)
			if p.Status != 408 || p.Code != httpapi.CodeBodyTimeout {
				t.Errorf("problem %+v, want 408 body_timeout", p)
			}
			if time.Since(start) > 1500*time.Millisecond {
				t.Errorf("answered after %v, not at the body timeout", time.Since(start))
			}
		})
	})
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// stuckStore is a Store whose reads wait until their context ends.
type stuckStore struct{ onlinestock.Store }

func (stuckStore) View(ctx context.Context, _ func(onlinestock.Tx) error) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestOperationTimeout(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		svc, err := onlinestock.New(stuckStore{ns(t)}, onlinestock.Config{})
		if err != nil {
			t.Fatal(err)
		}
		c := serve(t, svc, httpapi.Config{Timeout: 50 * time.Millisecond})
		p := c.do("GET", "/v1/setup", nil).problem(t)
		if p.Status != 503 || p.Code != httpapi.CodeTimeout {
			t.Errorf("problem %+v, want 503 timeout", p)
		}
	})
}

// TestAuthorize checks that Authorize sees the principal Authenticate
// proved and the operation, after the role check, and may refuse more.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	var seen []string
	keys := map[string]httpapi.Principal{
		"pos":        {Role: httpapi.RolePOS, Key: "k1"},
		"storefront": {Role: httpapi.RoleStorefront, Key: "k2"},
		"read-only":  {Role: httpapi.RolePOS, Key: "k3"},
	}
	authenticate := httpapi.BearerToken(func(_ context.Context, token string) (httpapi.Principal, error) {
		p, ok := keys[token]
		if !ok {
			return httpapi.Principal{}, httpapi.ErrUnauthenticated
		}
		return p, nil
	})
	authorize := func(_ context.Context, p httpapi.Principal, operation string) error {
		seen = append(seen, p.Key+" "+operation)
		if p.Key == "k3" && operation != "getLevels" {
			return errors.New("this key may only read levels")
		}
		return nil
	}
	c, _ := newAPI(t, stores()["memstore"], httpapi.Config{Authenticate: authenticate, Authorize: authorize})
	send := func(key, method, path, body string) response {
		req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		return c.send(req)
	}
	for _, tt := range []struct {
		name, key, method, path, body string
		status                        int
		code, challenge, detail       string
	}{
		{"no key", "", "GET", "/v1/availability?product=tee", "", 401, httpapi.CodeUnauthenticated, `Bearer realm="onlinestock"`, "Bearer"},
		{"an unknown key", "nope", "GET", "/v1/availability?product=tee", "", 401, httpapi.CodeUnauthenticated, `Bearer realm="onlinestock", error="invalid_token"`, "not valid"},
		{"the storefront reading", "storefront", "GET", "/v1/availability?product=tee", "", 200, "", "", ""},
		{"the storefront changing stock", "storefront", "POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 1}]}`,
			403, httpapi.CodeForbidden, "", "applyChanges needs the pos or admin role; this key has the storefront role"},
		{"the POS saving an outlet", "pos", "PUT", "/v1/outlets/north", `{"name": "North"}`, 204, "", "", ""},
		{"the POS reserving", "pos", "POST", "/v1/reservations", `{"id": "w", "lines": [{"product": "tee", "quantity": 1}]}`,
			403, httpapi.CodeForbidden, "", "reserve needs the storefront or admin role"},
		{"Authorize refusing what the role allows", "read-only", "GET", "/v1/setup", "", 403, httpapi.CodeForbidden, "", "only read levels"},
		{"the OpenAPI document without a key", "", "GET", "/v1/openapi.json", "", 200, "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := send(tt.key, tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.code != "" {
				if p := r.problem(t); p.Code != tt.code || !strings.Contains(p.Detail, tt.detail) {
					t.Errorf("problem %+v, want code %s and a detail holding %q", p, tt.code, tt.detail)
				}
			}
			if got := r.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
		})
	}
	want := []string{"k2 getAvailability", "k1 saveOutlet", "k3 getSetup"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("operations authorized mismatch (-want +got):\n%s", diff)
	}
}

// TestTenants serves two tenants from one Handler, picked by the
// principal: no header, path or ID reaches the other tenant.
func TestTenants(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		services := map[string]*onlinestock.Service{}
		for _, tenant := range []string{"a", "b"} {
			svc, err := onlinestock.New(ns(t), onlinestock.Config{})
			if err != nil {
				t.Fatal(err)
			}
			services[tenant] = svc
		}
		c := serve(t, nil, httpapi.Config{
			Authenticate: func(r *http.Request) (httpapi.Principal, error) {
				return httpapi.Principal{Tenant: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), Role: httpapi.RoleAdmin}, nil
			},
			Tenant: func(_ context.Context, p httpapi.Principal) (*onlinestock.Service, error) {
				svc, ok := services[p.Tenant]
				if !ok {
					return nil, fmt.Errorf("tenant %q: %w", p.Tenant, onlinestock.ErrNotFound)
				}
				return svc, nil
			}})
		put := func(tenant, outlet string) int {
			req, err := http.NewRequest("PUT", c.base+"/v1/outlets/"+outlet, strings.NewReader(`{"name": "X"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tenant)
			req.Header.Set("X-Tenant", "b")
			req.Header.Set("Content-Type", "application/json")
			return c.send(req).status
		}
		if s := put("a", "only-a"); s != 204 {
			t.Fatalf("tenant a: status %d", s)
		}
		if s := put("c", "x"); s != 404 {
			t.Errorf("unknown tenant: status %d, want 404", s)
		}
		for tenant, want := range map[string]int{"a": 1, "b": 0} {
			setup, err := services[tenant].Setup(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(setup.Outlets) != want {
				t.Errorf("tenant %s has %d outlets, want %d", tenant, len(setup.Outlets), want)
			}
		}
	})
}

func TestNewNeedsAService(t *testing.T) {
	if _, err := httpapi.New(nil, httpapi.Config{}); err == nil {
		t.Error("New(nil) without a Tenant hook succeeded")
	}
}

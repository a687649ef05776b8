package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
	"github.com/onlinestock/onlinestock/memstore"
)

// A storefront asks for availability and reserves an order over HTTP; a
// bad request is a problem with a stable code.
func Example() {
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	// The POS side, in Go here, but it could be HTTP calls too.
	if err := svc.SaveOutlet(ctx, "downtown", "Downtown"); err != nil {
		log.Fatal(err)
	}
	if err := svc.SaveRegister(ctx, "till-1", "downtown", "Till 1"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Activate(ctx, "till-1"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "downtown", 3)}); err != nil {
		log.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, "tee"); err != nil {
		log.Fatal(err)
	}

	api, err := httpapi.New(svc, httpapi.Config{})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(api) // in production: an http.Server with timeouts
	defer srv.Close()

	call := func(method, path, body string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Print(resp.StatusCode, " ", string(b))
	}
	call("GET", "/v1/availability?product=tee", "")
	call("POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 5}]}`)
	// Output:
	// 200 {"products":[{"product":"tee","quantity":3,"label":"in_stock"}]}
	// 409 {"type":"about:blank","title":"Conflict","status":409,"detail":"insufficient stock: \"tee\" requested 5, available 3","code":"insufficient_stock","shortfalls":[{"product":"tee","requested":5,"available":3,"status":"short"}]}
}

// Each API key proves a principal: its tenant and its role. The
// storefront's key reads availability but may not change stock.
func ExampleBearerToken() {
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := svc.SaveOutlet(ctx, "downtown", "Downtown"); err != nil {
		log.Fatal(err)
	}
	keys := map[string]httpapi.Principal{ // in production: a lookup of hashed keys
		"storefront-key": {Role: httpapi.RoleStorefront},
		"pos-key":        {Role: httpapi.RolePOS},
	}
	api, err := httpapi.New(svc, httpapi.Config{
		Authenticate: httpapi.BearerToken(func(_ context.Context, token string) (httpapi.Principal, error) {
			p, ok := keys[token]
			if !ok {
				return httpapi.Principal{}, httpapi.ErrUnauthenticated
			}
			return p, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	call := func(key, method, path, body string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Print(resp.StatusCode, " ", string(b))
	}
	changes := `{"changes": [{"kind": "set", "product": "tee", "outlet": "downtown", "quantity": 3}]}`
	call("", "GET", "/v1/availability?product=tee", "")
	call("storefront-key", "POST", "/v1/changes", changes)
	call("pos-key", "POST", "/v1/changes", changes)
	// Output:
	// 401 {"type":"about:blank","title":"Unauthorized","status":401,"detail":"send Authorization: Bearer \u003ckey\u003e","code":"unauthenticated"}
	// 403 {"type":"about:blank","title":"Forbidden","status":403,"detail":"applyChanges needs the pos or admin role; this key has the storefront role","code":"forbidden"}
	// 200 {"results":[{"status":"applied","level":{"product":"tee","outlet":"downtown","on_hand":3,"reserved":0,"version":1}}]}
}

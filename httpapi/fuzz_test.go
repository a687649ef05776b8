package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// bodyRoutes are the operations that read a body, by index for the fuzzer.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/v1/changes"},
	{"POST", "/v1/quote"},
	{"POST", "/v1/reservations"},
	{"POST", "/v1/products/enable"},
	{"PUT", "/v1/outlets/east"},
	{"PUT", "/v1/registers/till-2"},
	{"POST", "/v1/activate"},
	{"PUT", "/v1/outlets/north/buffer"},
	{"PUT", "/v1/selection"},
	{"PUT", "/v1/methods/courier"},
}

// FuzzRequestBody sends any body to each operation that reads one: the
// answer is never a 500, always one JSON value, and an error is a problem
// with a code.
func FuzzRequestBody(f *testing.F) {
	seeds := []string{
		`{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 5}]}`,
		`{"changes": [{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -1, "key": "k"}]}`,
		`{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 1, "if_version": 1, "check_version": true}]}`,
		`{"lines": [{"product": "tee", "quantity": 2}]}`,
		`{"id": "web-1", "lines": [{"product": "tee", "quantity": 1}], "method": "courier", "ttl_ns": 1000}`,
		`{"products": ["tee"]}`, `{"name": "East"}`, `{"outlet": "north", "name": "Till 2"}`,
		`{"register": "till"}`, `{"units": 3}`, `{"outlets": ["north"]}`,
		`{"name": "Courier", "kind": "shipping", "rule": "allow_all"}`,
		``, `null`, `[]`, `{"changes": null}`, `{"lines": [{"quantity": 1e400}]}`, "\"\\ud800\"", `{"a":`,
	}
	for i := range bodyRoutes {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := bodyRoutes[int(route)%len(bodyRoutes)]
		h := fuzzShop(t)
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s %q: status %d, body %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusNoContent {
			return
		}
		d := json.NewDecoder(rec.Body)
		var v map[string]any
		if err := d.Decode(&v); err != nil || d.More() {
			t.Fatalf("%s %s %q: answer %q is not one JSON object: %v", rt.method, rt.path, body, rec.Body, err)
		}
		if rec.Code >= 400 && (rec.Header().Get("Content-Type") != "application/problem+json" || v["code"] == "") {
			t.Fatalf("%s %s %q: error answer %v is not a problem with a code", rt.method, rt.path, body, v)
		}
	})
}

// fuzzShop returns a Handler over a small, active shop.
func fuzzShop(t *testing.T) *Handler {
	t.Helper()
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		svc.SaveOutlet(ctx, "north", "North"),
		svc.SaveRegister(ctx, "till", "north", "Till"),
		svc.SaveMethod(ctx, onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Activate(ctx, "till"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 5)}); err != nil {
		t.Fatal(err)
	}
	h, err := New(svc, Config{MaxBodyBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
	"github.com/onlinestock/onlinestock/memstore"
)

// BenchmarkQuoteAtTheLimit measures a quote at the default bound of its
// work, 100 lines at each of 1,000 outlets (DefaultMaxLineOutlets), beside
// a quote of one line in the same shop: B/op is the memory one request may
// take.
func BenchmarkQuoteAtTheLimit(b *testing.B) {
	const outlets, products = 1000, 100
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		b.Fatal(err)
	}
	var changes []onlinestock.Change
	var ids []string
	for o := range outlets {
		id := fmt.Sprintf("outlet-%04d", o)
		if err := svc.SaveOutlet(ctx, id, id); err != nil {
			b.Fatal(err)
		}
		for p := range products {
			changes = append(changes, onlinestock.Set(fmt.Sprintf("sku-%03d", p), id, 5))
		}
		ids = append(ids, id)
	}
	if err := svc.SaveRegister(ctx, "till", ids[0], "Till"); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Activate(ctx, "till"); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.SaveSelection(ctx, ids); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Apply(ctx, changes); err != nil {
		b.Fatal(err)
	}
	var skus []string
	for p := range products {
		skus = append(skus, fmt.Sprintf("sku-%03d", p))
	}
	if err := svc.EnableOnline(ctx, skus...); err != nil {
		b.Fatal(err)
	}
	api, err := httpapi.New(svc, httpapi.Config{})
	if err != nil {
		b.Fatal(err)
	}
	cart := func(n int) string {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"product": "sku-%03d", "quantity": 1}`, i)
		}
		return `{"lines": [` + strings.Join(lines, ",") + `]}`
	}
	for _, n := range []int{1, httpapi.DefaultMaxLineOutlets / outlets} {
		body := cart(n)
		b.Run(fmt.Sprintf("lines=%d/outlets=%d", n, outlets), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/quote", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				api.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

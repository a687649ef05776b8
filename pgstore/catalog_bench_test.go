package pgstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/onlinestock/onlinestock"
)

// benchBundleCatalog stocks products p000… and components c00000… at every
// outlet, enabled, and makes bundles b00000… of size components each,
// every bundle of its own components, enabled.
func benchBundleCatalog(b *testing.B, svc *onlinestock.Service, outlets []string, products, bundles, size int, stock int64) (plain, kits []string) {
	b.Helper()
	ctx := context.Background()
	plain = productIDs(products)
	var changes []onlinestock.Change
	for _, p := range plain {
		for _, o := range outlets {
			changes = append(changes, onlinestock.Set(p, o, stock))
		}
	}
	var defs []onlinestock.Bundle
	for i := range bundles {
		def := onlinestock.Bundle{ID: fmt.Sprintf("b%05d", i)}
		for k := range size {
			c := fmt.Sprintf("c%05d", i*size+k)
			def.Components = append(def.Components, onlinestock.Component{Product: c, Quantity: 1})
			for _, o := range outlets {
				changes = append(changes, onlinestock.Set(c, o, stock))
			}
		}
		defs = append(defs, def)
		kits = append(kits, def.ID)
	}
	if _, err := svc.Apply(ctx, changes); err != nil {
		b.Fatal(err)
	}
	for _, def := range defs {
		if err := svc.SaveBundle(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
	if err := svc.EnableOnline(ctx, append(plain, kits...)...); err != nil {
		b.Fatal(err)
	}
	return plain, kits
}

// BenchmarkAvailabilityPageBundles reads a page of 100 products over 50
// connected outlets, with and without bundles, in one run: "products" is
// 100 ordinary products; "bundles" is 80 of them and 20 bundles of 5
// components each, whose 100 components are read with the page.
func BenchmarkAvailabilityPageBundles(b *testing.B) {
	ctx := context.Background()
	pool := newPool(b, 2)
	store := newStore(b, pool)
	svc := newService(b, store, onlinestock.Config{})
	outlets := benchOutlets(b, svc, 50)
	plain, kits := benchBundleCatalog(b, svc, outlets, 100, 20, 5, 3)
	pages := map[string][]string{"products": plain, "bundles": append(plain[:80:80], kits...)}
	for _, name := range []string{"products", "bundles"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				got, err := svc.Availability(ctx, pages[name]...)
				if err != nil {
					b.Fatal(err)
				}
				if got[0].Quantity != 3*50 || got[99].Quantity != 3*50 {
					b.Fatal(got[0], got[99])
				}
			}
		})
	}
}

// BenchmarkApplyComponentOfBundles adjusts a product that is a component
// of 1,000 bundles (each of it and 4 others, at 3 outlets), so that every
// call moves the availability of each of them: 1,001 events per call. The
// baseline adjusts a product of no bundle in the same store.
func BenchmarkApplyComponentOfBundles(b *testing.B) {
	ctx := context.Background()
	pool := newPool(b, 2)
	store := newStore(b, pool)
	svc := newService(b, store, onlinestock.Config{})
	outlets := benchOutlets(b, svc, 3)
	plain := productIDs(4_002)
	var changes []onlinestock.Change
	for _, p := range plain {
		for _, o := range outlets {
			changes = append(changes, onlinestock.Set(p, o, 1_000_000))
		}
	}
	if _, err := svc.Apply(ctx, changes); err != nil {
		b.Fatal(err)
	}
	var kits []string
	for i := range 1_000 {
		def := onlinestock.Bundle{ID: fmt.Sprintf("b%05d", i), Components: []onlinestock.Component{{Product: plain[0], Quantity: 1}}}
		for k := range 4 {
			def.Components = append(def.Components, onlinestock.Component{Product: plain[2+i*4+k], Quantity: 1})
		}
		if err := svc.SaveBundle(ctx, def); err != nil {
			b.Fatal(err)
		}
		kits = append(kits, def.ID)
	}
	if err := svc.EnableOnline(ctx, append(plain, kits...)...); err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct{ name, product string }{{"no-bundle", plain[1]}, {"component-of-1000", plain[0]}} {
		b.Run(bench.name, func(b *testing.B) {
			// Between 0 and 1 at the primary: the product's availability,
			// and each bundle's, moves on every call.
			sets := [][]onlinestock.Change{{onlinestock.Set(bench.product, outlets[0], 0)}, {onlinestock.Set(bench.product, outlets[0], 1)}}
			b.ReportAllocs()
			for i := range b.N {
				if _, err := svc.Apply(ctx, sets[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

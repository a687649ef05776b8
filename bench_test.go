package onlinestock_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// Each benchmark sits beside a baseline that does the bare minimum of the
// same work (a map update, a loop summing a slice), so one run gives a ratio
// that does not depend on the machine.

// benchService returns a Service over memstore with outlets o00…, all
// connected, the order register in o00, and products p00000… stocked at
// every outlet and enabled.
func benchService(b *testing.B, outlets, products int, stock int64) *onlinestock.Service {
	b.Helper()
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{LowStockThreshold: 3})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, outlets)
	for i := range ids {
		ids[i] = fmt.Sprintf("o%02d", i)
		if err := svc.SaveOutlet(ctx, ids[i], ""); err != nil {
			b.Fatal(err)
		}
	}
	if err := svc.SaveRegister(ctx, "till", ids[0], ""); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Activate(ctx, "till"); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.SaveSelection(ctx, ids); err != nil {
		b.Fatal(err)
	}
	var changes []onlinestock.Change
	var enable []string
	for p := range products {
		id := benchProduct(p)
		enable = append(enable, id)
		for _, o := range ids {
			changes = append(changes, onlinestock.Set(id, o, stock))
		}
	}
	if _, err := svc.Apply(ctx, changes); err != nil {
		b.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, enable...); err != nil {
		b.Fatal(err)
	}
	return svc
}

func benchProduct(i int) string { return fmt.Sprintf("p%05d", i) }

func BenchmarkApplyOneAdjust(b *testing.B) {
	svc := benchService(b, 3, 100, 10)
	benchApplyOneAdjust(b, svc)
}

// BenchmarkApplyOneAdjustMetered is BenchmarkApplyOneAdjust with the
// Service's metrics recorded by the OpenTelemetry SDK.
func BenchmarkApplyOneAdjustMetered(b *testing.B) {
	svc := benchService(b, 3, 100, 10)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	metered, err := onlinestock.New(svc.Store(), onlinestock.Config{LowStockThreshold: 3, MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	benchApplyOneAdjust(b, metered)
}

func benchApplyOneAdjust(b *testing.B, svc *onlinestock.Service) {
	ctx := context.Background()
	changes := []onlinestock.Change{onlinestock.Adjust("p00042", "o01", 1)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Apply(ctx, changes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselineMapUpdate(b *testing.B) {
	type key struct{ product, outlet string }
	m := map[key]int64{}
	for p := range 100 {
		for _, o := range []string{"o00", "o01", "o02"} {
			m[key{benchProduct(p), o}] = 10
		}
	}
	k := key{"p00042", "o01"}
	b.ReportAllocs()
	for b.Loop() {
		m[k]++
	}
}

func BenchmarkAvailabilityPage100x50(b *testing.B) {
	svc := benchService(b, 50, 100, 10)
	ctx := context.Background()
	page := make([]string, 100)
	for i := range page {
		page[i] = benchProduct(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Availability(ctx, page...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineSumPage sums the 5,000 levels of a page in a plain loop.
func BenchmarkBaselineSumPage(b *testing.B) {
	benchSum(b, 100*50)
}

func benchSum(b *testing.B, n int) {
	levels := make([]int64, n)
	for i := range levels {
		levels[i] = int64(i % 17)
	}
	var sink int64
	b.ReportAllocs()
	for b.Loop() {
		var total int64
		for _, v := range levels {
			total += max(0, v-2)
		}
		sink += total
	}
	_ = sink
}

func BenchmarkConnectDisconnect100k(b *testing.B) {
	ctx := context.Background()
	svc := benchService(b, 2, 100_000, 5)
	b.ReportAllocs()
	for b.Loop() {
		// o01 holds every product; disconnecting it halves every product's stock.
		if _, err := svc.Disconnect(ctx, "o01"); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Connect(ctx, "o01"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N)/1e6, "ms/op-each")
}

// BenchmarkBaselineSum100k sums 100,000 levels in a plain loop, the least a
// connect of an outlet holding 100,000 products must touch.
func BenchmarkBaselineSum100k(b *testing.B) {
	benchSum(b, 100_000)
}

func BenchmarkQuote20Lines50Outlets100Methods(b *testing.B) {
	ctx := context.Background()
	svc := benchService(b, 50, 40, 3)
	for i := range 100 {
		m := onlinestock.Method{ID: fmt.Sprintf("m%03d", i), Name: "method", Kind: onlinestock.Pickup, Outlet: fmt.Sprintf("o%02d", i%50)}
		if i%2 == 0 {
			m.Rule = onlinestock.Restrict
		}
		if err := svc.SaveMethod(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	cart := onlinestock.Cart{}
	for i := range 20 {
		cart.Lines = append(cart.Lines, onlinestock.Line{Product: benchProduct(i * 2), Quantity: int64(1 + i%4)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Quote(ctx, cart); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReserveRelease5Lines50Outlets reserves and releases a 5-line
// order that the primary outlet fills alone, the common case.
func BenchmarkReserveRelease5Lines50Outlets(b *testing.B) {
	benchReserveRelease(b, 10)
}

// BenchmarkReserveRelease5Lines50OutletsSplit does the same when every
// outlet holds 2 units and each line wants 5, so every line is split.
func BenchmarkReserveRelease5Lines50OutletsSplit(b *testing.B) {
	benchReserveRelease(b, 2)
}

func benchReserveRelease(b *testing.B, stock int64) {
	ctx := context.Background()
	svc := benchService(b, 50, 100, stock)
	order := onlinestock.Order{ID: "order"}
	for i := range 5 {
		order.Lines = append(order.Lines, onlinestock.Line{Product: benchProduct(i * 7), Quantity: 5})
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		order.ID = fmt.Sprint("order-", n)
		n++
		if _, err := svc.Reserve(ctx, order); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Release(ctx, order.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineReserveMaps does a reserve and a release of 5 lines as
// bare map updates.
func BenchmarkBaselineReserveMaps(b *testing.B) {
	type key struct{ product, outlet string }
	reserved := map[key]int64{}
	orders := map[string][]key{}
	keys := make([]key, 5)
	for i := range keys {
		keys[i] = key{benchProduct(i * 7), "o00"}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range keys {
			reserved[k] += 5
		}
		orders["order"] = keys
		for _, k := range orders["order"] {
			reserved[k] -= 5
		}
		delete(orders, "order")
	}
}

func BenchmarkReserveParallel10kProducts(b *testing.B) {
	ctx := context.Background()
	svc := benchService(b, 5, 10_000, 1_000_000)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			order := onlinestock.Order{ID: fmt.Sprint("order-", n), Lines: []onlinestock.Line{
				{Product: benchProduct(int(n*7919) % 10_000), Quantity: 1},
				{Product: benchProduct(int(n*104729) % 10_000), Quantity: 1},
			}}
			if _, err := svc.Reserve(ctx, order); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBaselineParallelMapUpdate updates one shared map under a lock
// from every goroutine, the floor for a serialized store.
func BenchmarkBaselineParallelMapUpdate(b *testing.B) {
	var mu atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Add(1)
		}
	})
}

// benchBundles makes bundles of the given size, each from its own
// components (c00000…), stocked like the products, and returns their IDs.
func benchBundles(b *testing.B, svc *onlinestock.Service, outlets, bundles, size int, stock int64) []string {
	b.Helper()
	ctx := context.Background()
	var changes []onlinestock.Change
	var ids []string
	for i := range bundles {
		bundle := onlinestock.Bundle{ID: fmt.Sprintf("b%05d", i)}
		for k := range size {
			c := fmt.Sprintf("c%05d", i*size+k)
			bundle.Components = append(bundle.Components, onlinestock.Component{Product: c, Quantity: 1})
			for o := range outlets {
				changes = append(changes, onlinestock.Set(c, fmt.Sprintf("o%02d", o), stock))
			}
		}
		if _, err := svc.Apply(ctx, changes); err != nil {
			b.Fatal(err)
		}
		changes = changes[:0]
		if err := svc.SaveBundle(ctx, bundle); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, bundle.ID)
	}
	if err := svc.EnableOnline(ctx, ids...); err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkAvailabilityPage100x50Bundles reads a page of 100 products over
// 50 outlets of which 20 are bundles of 5 components each (100 more
// products read). BenchmarkAvailabilityPage100x50 is the same page without
// bundles.
func BenchmarkAvailabilityPage100x50Bundles(b *testing.B) {
	svc := benchService(b, 50, 80, 10)
	page := benchBundles(b, svc, 50, 20, 5, 10)
	for i := range 80 {
		page = append(page, benchProduct(i))
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := svc.Availability(ctx, page...)
		if err != nil {
			b.Fatal(err)
		}
		if got[0].Quantity != 500 {
			b.Fatal(got[0])
		}
	}
}

// BenchmarkApplyComponentOf1000Bundles adjusts a product that is a
// component of 1,000 bundles (each of it and 4 others, at 3 outlets), so
// every call moves the availability of all of them. BenchmarkApplyOneAdjust
// adjusts a product of no bundle.
func BenchmarkApplyComponentOf1000Bundles(b *testing.B) {
	svc := benchService(b, 3, 4_001, 1_000_000)
	ctx := context.Background()
	var ids []string
	for i := range 1_000 {
		bundle := onlinestock.Bundle{ID: fmt.Sprintf("b%05d", i), Components: []onlinestock.Component{{Product: benchProduct(0), Quantity: 1}}}
		for k := range 4 {
			bundle.Components = append(bundle.Components, onlinestock.Component{Product: benchProduct(1 + i*4 + k), Quantity: 1})
		}
		if err := svc.SaveBundle(ctx, bundle); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, bundle.ID)
	}
	if err := svc.EnableOnline(ctx, ids...); err != nil {
		b.Fatal(err)
	}
	// Each call moves p00000 at o00 between 0 and 1: every bundle's
	// availability changes, and 1,001 events are written.
	changes := [][]onlinestock.Change{{onlinestock.Set(benchProduct(0), "o00", 0)}, {onlinestock.Set(benchProduct(0), "o00", 1)}}
	if _, err := svc.Apply(ctx, changes[1]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := svc.Apply(ctx, changes[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// Catalog shows the two kinds of product beyond a plain SKU. A gift box is a
// bundle of a candle, a soap and a ribbon: it holds no stock of its own,
// each unit is made at one outlet, and it sells out when the last candle
// goes at the only outlet that has all three, however much soap and ribbon
// the other outlet holds. A record is sold as a pre-order before it is in
// stock, up to a limit, and the stock that arrives covers the pre-orders
// first. Run it with:
//
//	go run ./examples/catalog
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

func main() {
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		log.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	apply := func(changes ...onlinestock.Change) {
		_, err := svc.Apply(ctx, changes)
		must(err)
	}
	show := func(products ...string) {
		got, err := svc.Availability(ctx, products...)
		must(err)
		for i, p := range products {
			fmt.Printf("  %-9s %3d %s\n", p, got[i].Quantity, got[i].Label)
		}
	}
	var seen uint64
	events := func() {
		got, err := svc.EventsSince(ctx, seen, 0)
		must(err)
		for _, e := range got {
			seen = e.Seq
			if e.Kind != onlinestock.AvailabilityChanged {
				continue
			}
			var notes string
			switch {
			case e.SoldOut():
				notes = "  (sold out)"
			case e.EntersBackorder():
				notes = "  (on backorder)"
			case e.LeavesBackorder() && e.BackInStock():
				notes = "  (back in stock)"
			}
			fmt.Printf("  event: %-9s %d %s -> %d %s%s\n", e.Product, e.Before.Quantity, e.Before.Label, e.After.Quantity, e.After.Label, notes)
		}
	}

	// Two outlets, both connected; online orders are recorded downtown.
	must(svc.SaveOutlet(ctx, "downtown", "Downtown"))
	must(svc.SaveOutlet(ctx, "harbour", "Harbour"))
	must(svc.SaveRegister(ctx, "till", "downtown", "Till"))
	_, err = svc.Activate(ctx, "till")
	must(err)
	_, err = svc.Connect(ctx, "harbour")
	must(err)

	fmt.Println("A gift box of a candle, a soap and a ribbon; only downtown has candles")
	apply(
		onlinestock.Set("candle", "downtown", 2), onlinestock.Set("soap", "downtown", 6), onlinestock.Set("ribbon", "downtown", 9),
		onlinestock.Set("soap", "harbour", 40), onlinestock.Set("ribbon", "harbour", 40),
	)
	must(svc.SaveBundle(ctx, onlinestock.Bundle{ID: "gift-box", Components: []onlinestock.Component{
		{Product: "candle", Quantity: 1}, {Product: "soap", Quantity: 1}, {Product: "ribbon", Quantity: 1},
	}}))
	must(svc.EnableOnline(ctx, "candle", "soap", "ribbon", "gift-box"))
	show("gift-box", "candle", "soap", "ribbon")
	events()

	fmt.Println("\nA cart of a gift box and 6 soaps needs 7 soaps in all, more than downtown's 6")
	q, err := svc.Quote(ctx, onlinestock.Cart{Lines: []onlinestock.Line{{Product: "gift-box", Quantity: 1}, {Product: "soap", Quantity: 6}}})
	must(err)
	for _, c := range q.Components {
		fmt.Printf("  the cart needs %d %s of %d online: %s\n", c.Requested, c.Product, c.Available, c.Status)
	}
	fmt.Printf("  purchasable: %v: the box is made downtown, soaps come from the harbour too\n", q.Purchasable)

	fmt.Println("\nAn order takes a gift box, made downtown")
	r, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "gift-box", Quantity: 1}}})
	must(err)
	for _, a := range r.Allocations {
		fmt.Printf("  %s at %s: %d, each of %v\n", a.Product, a.Outlet, a.Quantity, a.Components)
	}
	events()

	fmt.Println("\nThe shop downtown sells its last candle: the gift box sells out in the same call")
	apply(onlinestock.Adjust("candle", "downtown", -1).WithReason(onlinestock.StockSale))
	show("gift-box", "candle", "soap", "ribbon")
	events()

	fmt.Println("\nA record on pre-order: none in stock, up to 3 may be ordered, expected on 1 March")
	apply(onlinestock.Set("record", "downtown", 0))
	must(svc.EnableOnline(ctx, "record"))
	expected := time.Date(2031, time.March, 1, 0, 0, 0, 0, time.UTC)
	must(svc.SetBackorder(ctx, onlinestock.Backorder{Product: "record", Limit: 3, Expected: expected}))
	show("record")
	events()
	q, err = svc.Quote(ctx, onlinestock.Cart{Lines: []onlinestock.Line{{Product: "record", Quantity: 2}}})
	must(err)
	p := q.Products[0]
	fmt.Printf("  a cart of 2: %s, %d backordered, expected %s\n", p.Status, p.Backordered, p.Expected.Format(time.DateOnly))
	r, err = svc.Reserve(ctx, onlinestock.Order{ID: "web-2", Lines: []onlinestock.Line{{Product: "record", Quantity: 2}}})
	must(err)
	fmt.Printf("  reserved: %d at %s, %d backordered\n", r.Allocations[0].Quantity, r.Allocations[0].Outlet, r.Allocations[0].Backordered)
	show("record")
	events()
	_, err = svc.Reserve(ctx, onlinestock.Order{ID: "web-3", Lines: []onlinestock.Line{{Product: "record", Quantity: 2}}})
	fmt.Printf("  2 more: %v\n", err)

	fmt.Println("\nFive records arrive downtown: the two pre-ordered take theirs first")
	apply(onlinestock.Adjust("record", "downtown", 5).WithReason(onlinestock.StockReceipt))
	show("record")
	events()
	r, err = svc.Fulfill(ctx, "web-2")
	must(err)
	fmt.Printf("  web-2 ships: %s\n", r.Status)
	show("record")
}

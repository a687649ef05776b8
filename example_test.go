package onlinestock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// newShop returns a Service with two connected outlets, the order register
// in "north", and a tee stocked at both, enabled online.
func newShop() *onlinestock.Service {
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		panic(err)
	}
	check := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	check(svc.SaveOutlet(ctx, "north", "North"))
	check(svc.SaveOutlet(ctx, "south", "South"))
	check(svc.SaveRegister(ctx, "till", "north", ""))
	_, err = svc.Activate(ctx, "till")
	check(err)
	_, err = svc.Connect(ctx, "south")
	check(err)
	_, err = svc.Apply(ctx, []onlinestock.Change{
		onlinestock.Set("tee", "north", 2),
		onlinestock.Set("tee", "south", 3),
	})
	check(err)
	check(svc.EnableOnline(ctx, "tee"))
	return svc
}

func Example() {
	ctx := context.Background()
	svc := newShop()

	avail, _ := svc.Availability(ctx, "tee")
	fmt.Println("online:", avail[0].Quantity, avail[0].Label)

	// Disconnecting an outlet takes its stock off line.
	res, _ := svc.Disconnect(ctx, "south")
	for _, c := range res.Changes {
		fmt.Printf("%s: %d -> %d\n", c.Product, c.Before.Quantity, c.After.Quantity)
	}
	// Output:
	// online: 5 in_stock
	// tee: 5 -> 2
}

func ExampleService_Apply() {
	ctx := context.Background()
	svc := newShop()

	// A sale at the till, sent twice by a retrying POS: applied once.
	sale := onlinestock.Adjust("tee", "north", -1).WithKey("receipt-77")
	for range 2 {
		res, _ := svc.Apply(ctx, []onlinestock.Change{sale})
		fmt.Println(res[0].Status, res[0].Level.OnHand)
	}

	// A count based on a stale read is refused.
	_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 9).WithVersion(1)})
	fmt.Println(errors.Is(err, onlinestock.ErrConflict))
	// Output:
	// applied 1
	// duplicate 1
	// true
}

func ExampleService_Quote() {
	ctx := context.Background()
	svc := newShop()
	_ = svc.SaveMethod(ctx, onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping})
	_ = svc.SaveMethod(ctx, onlinestock.Method{
		ID: "pickup-north", Name: "Pick up north", Kind: onlinestock.Pickup,
		Outlet: "north", Rule: onlinestock.Restrict,
	})

	q, _ := svc.Quote(ctx, onlinestock.Cart{Lines: []onlinestock.Line{{Product: "tee", Quantity: 3}}})
	for _, m := range q.Methods {
		fmt.Printf("%s offered=%v reason=%q\n", m.Method.ID, m.Offered, m.Reason)
	}
	// Output:
	// courier offered=true reason=""
	// pickup-north offered=false reason="outlet_short"
}

func ExampleService_Reserve() {
	ctx := context.Background()
	svc := newShop()

	// No outlet holds 4 tees, so the order is split over two outlets, and
	// north, the primary, gives first.
	r, _ := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 4}}})
	for _, a := range r.Allocations {
		fmt.Println(a.Outlet, a.Quantity)
	}
	for _, s := range r.Sources {
		fmt.Println(s.Outlet, s.Stage, "rank", s.Rank)
	}
	_, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-2", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}})
	var short *onlinestock.InsufficientStockError
	if errors.As(err, &short) {
		fmt.Println("short:", short.Shortfalls[0].Available, "available")
	}
	_, _ = svc.Fulfill(ctx, "web-1")
	avail, _ := svc.Availability(ctx, "tee")
	fmt.Println("online:", avail[0].Quantity)
	// Output:
	// north 2
	// south 2
	// north split_lines rank 1
	// south split_lines rank 2
	// short: 1 available
	// online: 1
}

func ExampleService_FulfillPart() {
	ctx := context.Background()
	svc := newShop()
	_, _ = svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 4}}})

	// North ships its 2 tees; the shipment is sent twice by a retrying
	// client, and counted once.
	ship := onlinestock.Part{ID: "shipment-1", Outlet: "north", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}}
	for range 2 {
		r, _ := svc.FulfillPart(ctx, "web-1", ship)
		fmt.Println(r.Status, len(r.Parts))
	}
	// The customer cancels one of the other two.
	r, _ := svc.ReleasePart(ctx, "web-1", onlinestock.Part{ID: "cancel-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}})
	for _, a := range r.Allocations {
		fmt.Printf("%s: %d allocated, %d fulfilled, %d released, %d held\n", a.Outlet, a.Quantity, a.Fulfilled, a.Released, a.Held())
	}
	// The last one ships, and the order closes.
	r, _ = svc.FulfillPart(ctx, "web-1", onlinestock.Part{ID: "shipment-2", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}})
	fmt.Println(r.Status)
	// Output:
	// open 1
	// open 1
	// north: 2 allocated, 2 fulfilled, 0 released, 0 held
	// south: 2 allocated, 0 fulfilled, 1 released, 1 held
	// fulfilled
}

func ExampleService_Amend() {
	ctx := context.Background()
	svc := newShop()
	_, _ = svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 4}}})

	// The customer wants a fifth tee: the four held stay where they are,
	// and south gives one more.
	r, _ := svc.Amend(ctx, "web-1", []onlinestock.Line{{Product: "tee", Quantity: 5}})
	for _, a := range r.Allocations {
		fmt.Println(a.Outlet, a.Held())
	}
	// Six tees are more than there are: nothing changes.
	_, err := svc.Amend(ctx, "web-1", []onlinestock.Line{{Product: "tee", Quantity: 6}})
	fmt.Println(errors.Is(err, onlinestock.ErrInsufficientStock))
	// Output:
	// north 2
	// south 3
	// true
}

func ExampleService_Reservations() {
	ctx := context.Background()
	svc := newShop()
	for _, o := range []onlinestock.Order{
		{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}, TTL: time.Hour},
		{ID: "web-2", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}},
		{ID: "web-3", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}, TTL: 10 * time.Minute},
	} {
		_, _ = svc.Reserve(ctx, o)
	}
	// The open orders of the tee due within the next half hour.
	due, _ := svc.Reservations(ctx, onlinestock.ReservationFilter{Product: "tee", DueBefore: time.Now().Add(30 * time.Minute)})
	for _, r := range due {
		fmt.Println(r.Order, r.Status)
	}
	// Every open order, two at a time.
	var page []onlinestock.Reservation
	for f := (onlinestock.ReservationFilter{Limit: 2}); ; f.After = page[len(page)-1].Order {
		page, _ = svc.Reservations(ctx, f)
		if len(page) == 0 {
			break
		}
		fmt.Println("page of", len(page))
	}
	// Output:
	// web-3 open
	// page of 2
	// page of 1
}

func ExampleService_SaveBundle() {
	ctx := context.Background()
	svc := newShop()
	// A pack of two tees and a cap; only south has caps.
	_, _ = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("cap", "south", 5)})
	_ = svc.SaveBundle(ctx, onlinestock.Bundle{ID: "pack", Components: []onlinestock.Component{
		{Product: "tee", Quantity: 2}, {Product: "cap", Quantity: 1},
	}})
	_ = svc.EnableOnline(ctx, "pack")
	avail, _ := svc.Availability(ctx, "pack")
	fmt.Println("packs:", avail[0].Quantity) // south's 3 tees make one

	// A pack and a tee need 3 tees at south, which has them, or from both.
	q, _ := svc.Quote(ctx, onlinestock.Cart{Lines: []onlinestock.Line{{Product: "pack", Quantity: 1}, {Product: "tee", Quantity: 3}}})
	for _, c := range q.Components {
		fmt.Printf("%s: the cart needs %d of %d\n", c.Product, c.Requested, c.Available)
	}
	fmt.Println("purchasable:", q.Purchasable)
	// Output:
	// packs: 1
	// cap: the cart needs 1 of 5
	// tee: the cart needs 5 of 5
	// purchasable: true
}

func ExampleService_SetBackorder() {
	ctx := context.Background()
	svc := newShop()
	// Five tees in stock, and up to three more on backorder, at north.
	_ = svc.SetBackorder(ctx, onlinestock.Backorder{Product: "tee", Limit: 3})
	r, _ := svc.Reserve(ctx, onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 7}}})
	for _, a := range r.Allocations {
		fmt.Printf("%s: %d, %d backordered\n", a.Outlet, a.Quantity, a.Backordered)
	}
	avail, _ := svc.Availability(ctx, "tee")
	fmt.Println("tee:", avail[0].Quantity, avail[0].Label)
	// Output:
	// north: 4, 2 backordered
	// south: 3, 0 backordered
	// tee: 1 backorder
}

func ExampleEvaluate() {
	snap := onlinestock.Snapshot{
		Outlets: []onlinestock.Outlet{{ID: "a", Connected: true}, {ID: "b", Connected: false}},
		Products: []onlinestock.Product{{ID: "mug", Enabled: true, Levels: []onlinestock.Level{
			{Product: "mug", Outlet: "a", OnHand: 1},
			{Product: "mug", Outlet: "b", OnHand: 9},
		}}},
		Methods: []onlinestock.Method{{ID: "pickup-b", Name: "Pickup B", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict}},
	}
	q, err := onlinestock.Evaluate(snap, onlinestock.Cart{Lines: []onlinestock.Line{{Product: "mug", Quantity: 1}}}, onlinestock.QuoteOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := q.Methods[0]
	fmt.Println(q.Purchasable, m.Offered, m.Orphaned)
	// Output:
	// true true true
}

func ExampleOnlineStock() {
	outlets := []onlinestock.Outlet{
		{ID: "a", Connected: true, Buffer: 1},
		{ID: "b", Connected: true},
		{ID: "c", Connected: false},
	}
	levels := []onlinestock.Level{
		{Outlet: "a", OnHand: 4, Reserved: 1}, // 4 - 1 reserved - 1 buffer = 2
		{Outlet: "b", OnHand: -3},             // negative: counts as 0
		{Outlet: "c", OnHand: 50},             // not connected: 0
	}
	fmt.Println(onlinestock.OnlineStock(levels, outlets))
	// Output: 2
}

// A web order's life as a POS like Lightspeed sees it: reserved online,
// fulfilled, recorded on the order register in the POS, reported back by
// the POS's stock sync. Reported with ForOrder, the sale reaches on-hand
// once, and the stock ledger shows every step under the order's ID.
func ExampleChange_ForOrder() {
	ctx := context.Background()
	svc := newShop() // tee: 2 at north, 3 at south

	// The storefront reserves web-7; north, the primary outlet, gives 2.
	_, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-7", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}})
	if err != nil {
		panic(err)
	}
	// The parcel leaves: on-hand at north drops by 2.
	if _, err := svc.Fulfill(ctx, "web-7"); err != nil {
		panic(err)
	}
	// The order register records web-7 in the POS, whose stock sync then
	// reports the sale, with its receipt line as key. The library counted
	// it already: the report is a duplicate and on-hand stays.
	res, err := svc.Apply(ctx, []onlinestock.Change{
		onlinestock.Adjust("tee", "north", -2).ForOrder("web-7").WithKey("receipt-88/1"),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("report:", res[0].Status, "on hand:", res[0].Level.OnHand)

	// Had the POS reported other units, nothing would have applied.
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", -3).ForOrder("web-7")})
	fmt.Println("contradicting report is a conflict:", errors.Is(err, onlinestock.ErrConflict))

	moves, err := svc.Movements(ctx, onlinestock.MovementFilter{Ref: "web-7"})
	if err != nil {
		panic(err)
	}
	for _, m := range moves {
		fmt.Printf("%-7s %s@%s on hand %+d -> %d, reserved %+d -> %d\n",
			m.Kind, m.Product, m.Outlet, m.OnHandDelta, m.OnHand, m.ReservedDelta, m.Reserved)
	}
	// Output:
	// report: duplicate on hand: 0
	// contradicting report is a conflict: true
	// reserve tee@north on hand +0 -> 2, reserved +2 -> 2
	// fulfil  tee@north on hand -2 -> 0, reserved -2 -> 0
}

// The POS reports the sale of a web order before the library is told the
// order is fulfilled: the units it still holds are sold at once, so they
// are never offered online in between, and Fulfill later takes nothing
// more.
func ExampleChange_ForOrder_beforeFulfill() {
	ctx := context.Background()
	svc := newShop()
	_, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-8", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}})
	if err != nil {
		panic(err)
	}
	online := func() int64 {
		a, err := svc.Availability(ctx, "tee")
		if err != nil {
			panic(err)
		}
		return a[0].Quantity
	}
	fmt.Println("online while reserved:", online())
	res, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", -2).ForOrder("web-8")})
	if err != nil {
		panic(err)
	}
	l := res[0].Level
	fmt.Println("report:", res[0].Status, "on hand:", l.OnHand, "reserved:", l.Reserved, "online:", online())
	r, err := svc.Fulfill(ctx, "web-8")
	if err != nil {
		panic(err)
	}
	levels, _ := svc.Levels(ctx, "tee")
	fmt.Println("after Fulfill:", r.Status, "on hand at north:", levels[0].OnHand)
	// Output:
	// online while reserved: 3
	// report: applied on hand: 0 reserved: 0 online: 3
	// after Fulfill: fulfilled on hand at north: 0
}

// A key remembers the change it was applied to: a replay is a duplicate,
// another change under it is refused whole, naming the key.
func ExampleKeyConflictError() {
	ctx := context.Background()
	svc := newShop()
	sale := onlinestock.Adjust("tee", "north", -1).WithKey("receipt-42")
	if _, err := svc.Apply(ctx, []onlinestock.Change{sale}); err != nil {
		panic(err)
	}
	_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("mug", "north", -1).WithKey("receipt-42")})
	var conflict *onlinestock.KeyConflictError
	if errors.As(err, &conflict) {
		fmt.Println(conflict.Key)
		fmt.Println(conflict.Applied)
		fmt.Println(conflict.Change)
	}
	// Output:
	// receipt-42
	// adjust -1 of "tee" at "north"
	// adjust -1 of "mug" at "north"
}

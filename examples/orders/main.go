// Orders shows reservations for online orders: a pickup order held at its
// outlet, a shipping order split across two outlets that ships in two
// shipments, with one item cancelled and the order amended on the way, the
// events an ERP would follow, and a reservation that expires (with a clock
// the example moves by hand). Run it with:
//
//	go run ./examples/orders
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// clock is a hand-moved clock, so expiry can be shown without waiting.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	clk := &clock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{Clock: clk.Now})
	if err != nil {
		return err
	}
	if err := setUp(ctx, svc); err != nil {
		return err
	}
	show := func(title string) error {
		levels, err := svc.Levels(ctx, "lamp")
		if err != nil {
			return err
		}
		avail, err := svc.Availability(ctx, "lamp")
		if err != nil {
			return err
		}
		fmt.Printf("%-40s", title)
		for _, l := range levels {
			fmt.Printf("  %s %d on hand, %d reserved", l.Outlet, l.OnHand, l.Reserved)
		}
		fmt.Printf("  | online %d\n", avail[0].Quantity)
		return nil
	}
	reserve := func(o onlinestock.Order) error {
		r, err := svc.Reserve(ctx, o)
		if err != nil {
			return err
		}
		fmt.Printf("order %s reserved:", r.Order)
		for _, a := range r.Allocations {
			fmt.Printf(" %d from %s", a.Quantity, a.Outlet)
		}
		fmt.Print("  (why:")
		for _, src := range r.Sources {
			fmt.Printf(" %s %s, rank %d;", src.Outlet, src.Stage, src.Rank)
		}
		fmt.Println(")")
		return show("  now")
	}

	if err := show("lamps before any order"); err != nil {
		return err
	}

	fmt.Println("\nA customer picks up 2 lamps at the west outlet (Restrict: all from west):")
	if err := reserve(onlinestock.Order{ID: "web-100", Method: "pickup-west", Lines: []onlinestock.Line{{Product: "lamp", Quantity: 2}}}); err != nil {
		return err
	}

	seq, err := lastSeq(ctx, svc)
	if err != nil {
		return err
	}
	fmt.Println("\nA customer has 6 lamps shipped; no outlet has 6, so the order is split:")
	if err := reserve(onlinestock.Order{ID: "web-101", Method: "courier", Lines: []onlinestock.Line{{Product: "lamp", Quantity: 6}}}); err != nil {
		return err
	}

	fmt.Println("\nAnother wants 3 more; only what is left online can be reserved:")
	_, err = svc.Reserve(ctx, onlinestock.Order{ID: "web-102", Method: "courier", Lines: []onlinestock.Line{{Product: "lamp", Quantity: 3}}})
	var short *onlinestock.InsufficientStockError
	if !errors.As(err, &short) {
		return fmt.Errorf("expected a shortfall, got %v", err)
	}
	fmt.Println("refused:", err)

	held := func(r onlinestock.Reservation, err error) error {
		if err != nil {
			return err
		}
		fmt.Printf("order %s is %s:", r.Order, r.Status)
		for _, a := range r.Allocations {
			fmt.Printf("  %s %d held, %d shipped, %d cancelled;", a.Outlet, a.Held(), a.Fulfilled, a.Released)
		}
		fmt.Println()
		return show("  now")
	}

	fmt.Println("\nThe customer cancels one lamp; it goes back to west, which gave last:")
	cancel := onlinestock.Part{ID: "cancel-1", Lines: []onlinestock.Line{{Product: "lamp", Quantity: 1}}}
	if err := held(svc.ReleasePart(ctx, "web-101", cancel)); err != nil {
		return err
	}

	fmt.Println("\nEast ships its 4 lamps; the shipment is sent twice, and counted once:")
	ship := onlinestock.Part{ID: "shipment-1", Outlet: "east", Lines: []onlinestock.Line{{Product: "lamp", Quantity: 4}}}
	if _, err := svc.FulfillPart(ctx, "web-101", ship); err != nil {
		return err
	}
	if err := held(svc.FulfillPart(ctx, "web-101", ship)); err != nil {
		return err
	}

	fmt.Println("\nThe customer wants 7 lamps after all; the order is amended, the lamp held stays:")
	if err := held(svc.Amend(ctx, "web-101", []onlinestock.Line{{Product: "lamp", Quantity: 7}})); err != nil {
		return err
	}

	fmt.Println("\nWest ships the rest, and the order closes:")
	rest := onlinestock.Part{ID: "shipment-2", Lines: []onlinestock.Line{{Product: "lamp", Quantity: 3}}}
	if err := held(svc.FulfillPart(ctx, "web-101", rest)); err != nil {
		return err
	}

	fmt.Println("\nWhat an ERP following the outbox saw of web-101:")
	events, err := svc.EventsSince(ctx, seq, 0)
	if err != nil {
		return err
	}
	for _, e := range events {
		if e.Order == "web-101" {
			fmt.Println(" ", e)
		}
	}

	fmt.Println("\nEast receives 4 lamps:")
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("lamp", "east", 4)}); err != nil {
		return err
	}
	if err := show("after the delivery"); err != nil {
		return err
	}

	fmt.Println("\nA cart holds 2 lamps for 15 minutes while the customer pays:")
	if err := reserve(onlinestock.Order{ID: "web-103", Method: "courier", TTL: 15 * time.Minute, Lines: []onlinestock.Line{{Product: "lamp", Quantity: 2}}}); err != nil {
		return err
	}
	clk.Advance(10 * time.Minute)
	expired, err := svc.ExpireReservations(ctx, clk.Now())
	if err != nil {
		return err
	}
	fmt.Printf("10 minutes later, expired: %v\n", expired)
	clk.Advance(10 * time.Minute)
	if expired, err = svc.ExpireReservations(ctx, clk.Now()); err != nil {
		return err
	}
	fmt.Printf("20 minutes later, expired: %v\n", expired)
	if err := show("after expiry"); err != nil {
		return err
	}

	fmt.Println("\nThe pickup order is collected: the sale leaves the west outlet:")
	if _, err := svc.Fulfill(ctx, "web-100"); err != nil {
		return err
	}
	return show("after fulfilling web-100")
}

// lastSeq returns the sequence number of the last event so far.
func lastSeq(ctx context.Context, svc *onlinestock.Service) (uint64, error) {
	var seq uint64
	for {
		events, err := svc.EventsSince(ctx, seq, 0)
		if err != nil || len(events) == 0 {
			return seq, err
		}
		seq = events[len(events)-1].Seq
	}
}

func setUp(ctx context.Context, svc *onlinestock.Service) error {
	steps := []func() error{
		func() error { return svc.SaveOutlet(ctx, "east", "East") },
		func() error { return svc.SaveOutlet(ctx, "west", "West") },
		func() error { return svc.SaveRegister(ctx, "east-till", "east", "") },
		func() error { _, err := svc.Activate(ctx, "east-till"); return err },
		func() error { _, err := svc.Connect(ctx, "west"); return err },
		func() error {
			_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("lamp", "east", 4), onlinestock.Set("lamp", "west", 5)})
			return err
		},
		func() error { return svc.EnableOnline(ctx, "lamp") },
		func() error {
			return svc.SaveMethod(ctx, onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping})
		},
		func() error {
			return svc.SaveMethod(ctx, onlinestock.Method{ID: "pickup-west", Name: "Pick up west", Kind: onlinestock.Pickup, Outlet: "west", Rule: onlinestock.Restrict})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

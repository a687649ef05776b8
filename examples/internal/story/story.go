// Package story is the story the examples tell, over whichever Store they
// run on: a retailer with three outlets starts selling online, with the
// order register in one outlet, a second outlet connected, stock reported by
// the POS, products enabled (one left out), a checkout, and an outlet
// disconnected; then the events, as a notifier received them.
package story

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/worker"
)

// Tell runs the story on svc, whose Store must be empty, printing to
// standard output.
func Tell(ctx context.Context, svc *onlinestock.Service) error {
	// The events, as a notifier receives them once they are committed.
	var received []onlinestock.Event
	dispatcher, err := worker.NewDispatcher(svc.Store(), onlinestock.NotifierFunc(
		func(ctx context.Context, events []onlinestock.Event) error {
			received = append(received, events...)
			return nil
		}), worker.DispatcherConfig{})
	if err != nil {
		return err
	}

	section("The POS has three outlets; online orders are recorded on a till downtown")
	for _, o := range [][2]string{{"downtown", "Downtown"}, {"harbour", "Harbour"}, {"airport", "Airport"}} {
		if err := svc.SaveOutlet(ctx, o[0], o[1]); err != nil {
			return err
		}
	}
	if err := svc.SaveRegister(ctx, "downtown-till-1", "downtown", "Till 1"); err != nil {
		return err
	}
	if _, err := svc.Activate(ctx, "downtown-till-1"); err != nil {
		return err
	}
	if _, err := svc.Connect(ctx, "harbour"); err != nil {
		return err
	}
	setup, err := svc.Setup(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("primary outlet: %s; connected: %s\n", setup.Primary(), strings.Join(setup.Connected(), ", "))

	section("The POS reports stock; the harbour outlet keeps one unit of everything back")
	if _, err := svc.SetBuffer(ctx, "harbour", 1); err != nil {
		return err
	}
	results, err := svc.Apply(ctx, []onlinestock.Change{
		onlinestock.Set("tee-black-m", "downtown", 3),
		onlinestock.Set("tee-black-m", "harbour", 5),
		onlinestock.Set("tee-black-m", "airport", 40),
		onlinestock.Set("mug-logo", "downtown", 0),
		onlinestock.Set("mug-logo", "harbour", 4),
		onlinestock.Set("cap-red", "downtown", -2), // sold below zero at the till
		onlinestock.Set("cap-red", "harbour", 2),
		onlinestock.Set("poster-2026", "downtown", 12),
		onlinestock.Adjust("tee-black-m", "downtown", -1).WithKey("sale-1001"),
		onlinestock.Adjust("tee-black-m", "downtown", -1).WithKey("sale-1001"), // a replay
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d changes: %d applied, last one %s\n", len(results), countApplied(results), results[len(results)-1].Status)

	section("Products are enabled for online sale one by one; the poster is left out")
	products := []string{"tee-black-m", "mug-logo", "cap-red", "poster-2026"}
	if err := svc.EnableOnline(ctx, "tee-black-m", "mug-logo", "cap-red"); err != nil {
		return err
	}
	if err := availabilityTable(ctx, svc, products); err != nil {
		return err
	}

	section("Checkout: two tees and a mug")
	for _, m := range []onlinestock.Method{
		{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping},
		{ID: "pickup-downtown", Name: "Pick up downtown", Kind: onlinestock.Pickup, Outlet: "downtown", Rule: onlinestock.Restrict},
		{ID: "pickup-harbour", Name: "Pick up at the harbour", Kind: onlinestock.Pickup, Outlet: "harbour", Rule: onlinestock.Restrict},
		{ID: "harbour-bikes", Name: "Bike delivery from the harbour", Kind: onlinestock.Delivery, Outlet: "harbour"},
	} {
		if err := svc.SaveMethod(ctx, m); err != nil {
			return err
		}
	}
	cart := onlinestock.Cart{Lines: []onlinestock.Line{{Product: "tee-black-m", Quantity: 2}, {Product: "mug-logo", Quantity: 1}}}
	if err := quoteTable(ctx, svc, cart); err != nil {
		return err
	}

	section("The harbour outlet is disconnected")
	res, err := svc.Disconnect(ctx, "harbour")
	if err != nil {
		return err
	}
	for _, c := range res.Changes {
		note := ""
		if c.SoldOut() {
			note = "  <- now sold out"
		}
		fmt.Printf("%-12s %d %s -> %d %s%s\n", c.Product, c.Before.Quantity, c.Before.Label, c.After.Quantity, c.After.Label, note)
	}
	for _, m := range res.Orphaned {
		fmt.Printf("orphaned method: %s (%s); delete it or reconnect the outlet\n", m.ID, m.Name)
	}
	section("Checkout again: the mug is sold out, two tees are left to sell")
	if err := quoteTable(ctx, svc, cart); err != nil {
		return err
	}
	one := onlinestock.Cart{Lines: []onlinestock.Line{{Product: "tee-black-m", Quantity: 1}}}
	fmt.Println("with a single tee instead:")
	if err := quoteTable(ctx, svc, one); err != nil {
		return err
	}

	section("Events, as the notifier received them")
	if _, err := dispatcher.Flush(ctx); err != nil {
		return err
	}
	for _, e := range received {
		fmt.Println(e)
	}
	return nil
}

func section(title string) { fmt.Printf("\n== %s\n", title) }

func countApplied(results []onlinestock.ChangeResult) int {
	n := 0
	for _, r := range results {
		if r.Status == onlinestock.Applied {
			n++
		}
	}
	return n
}

func availabilityTable(ctx context.Context, svc *onlinestock.Service, products []string) error {
	avail, err := svc.Availability(ctx, products...)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "product\tonline\tlabel")
	for i, p := range products {
		fmt.Fprintf(w, "%s\t%d\t%s\n", p, avail[i].Quantity, avail[i].Label)
	}
	return w.Flush()
}

func quoteTable(ctx context.Context, svc *onlinestock.Service, cart onlinestock.Cart) error {
	q, err := svc.Quote(ctx, cart)
	if err != nil {
		return err
	}
	fmt.Printf("purchasable: %v\n", q.Purchasable)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "method\tkind\toffered\twhy")
	for _, m := range q.Methods {
		why := string(m.Reason)
		for _, s := range m.Shortfalls {
			why += fmt.Sprintf(" (%s: needs %d, has %d)", s.Product, s.Requested, s.Available)
		}
		if m.Orphaned {
			why = strings.TrimSpace(why + " orphaned: its outlet is disconnected")
		}
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", m.Method.ID, m.Method.Kind, m.Offered, why)
	}
	return w.Flush()
}

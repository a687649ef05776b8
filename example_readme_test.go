package onlinestock_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// sellOnline is the README's "In code" section, word for word (a test
// checks that they agree): a POS mirrors its outlets and stock, a
// storefront quotes a cart and reserves an order, and the POS records the
// sale.
func sellOnline(ctx context.Context) error {
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		return err
	}
	// Mirror the POS: outlets, a register; choosing the order register activates.
	for _, o := range []struct{ id, name string }{{"downtown", "Downtown"}, {"harbour", "Harbour"}} {
		if err := svc.SaveOutlet(ctx, o.id, o.name); err != nil {
			return err
		}
	}
	if err := svc.SaveRegister(ctx, "till-1", "downtown", "Till 1"); err != nil {
		return err
	}
	if _, err := svc.Activate(ctx, "till-1"); err != nil { // downtown is now the primary outlet
		return err
	}
	if _, err := svc.Connect(ctx, "harbour"); err != nil {
		return err
	}
	// A checkout offers only the methods saved: save one first.
	courier := onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping}
	if err := svc.SaveMethod(ctx, courier); err != nil {
		return err
	}

	// The POS reports stock: all or nothing, exactly once.
	if _, err := svc.Apply(ctx, []onlinestock.Change{
		onlinestock.Set("tee", "downtown", 3).WithVersion(0),          // compare-and-set
		onlinestock.Set("tee", "harbour", 2),                          // absolute count
		onlinestock.Adjust("tee", "harbour", -1).WithKey("sale-1001"), // idempotent
	}); err != nil {
		return err
	}
	if err := svc.EnableOnline(ctx, "tee"); err != nil {
		return err
	}
	avail, err := svc.Availability(ctx, "tee")
	if err != nil {
		return err
	}
	fmt.Println("tee:", avail[0].Quantity, avail[0].Label) // tee: 4 in_stock

	// The storefront quotes a cart, then reserves the order.
	lines := []onlinestock.Line{{Product: "tee", Quantity: 2}}
	q, err := svc.Quote(ctx, onlinestock.Cart{Lines: lines})
	if err != nil {
		return err
	}
	offered := q.Offered()
	if len(offered) == 0 {
		return errors.New("no method can ship this cart")
	}
	r, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: lines, Method: offered[0].ID})
	if errors.Is(err, onlinestock.ErrInsufficientStock) {
		return fmt.Errorf("sold out while checking out: %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Println("reserved:", r.Allocations[0].Quantity, "from", r.Allocations[0].Outlet) // 2 from downtown

	// The POS records the sale (or Release gives the units back).
	if _, err := svc.Fulfill(ctx, r.Order); err != nil {
		return err
	}
	avail, err = svc.Availability(ctx, "tee")
	if err != nil {
		return err
	}
	fmt.Println("tee:", avail[0].Quantity, avail[0].Label) // tee: 2 low_stock
	return nil
}

func ExampleService() {
	if err := sellOnline(context.Background()); err != nil {
		fmt.Println("error:", err)
	}
	// Output:
	// tee: 4 in_stock
	// reserved: 2 from downtown
	// tee: 2 low_stock
}

package worker_test

import (
	"context"

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

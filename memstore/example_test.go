package memstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// A Service over the in-memory Store: nothing to set up, safe for
// concurrent use, and gone when the process ends.
func Example() {
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := svc.SaveOutlet(ctx, "downtown", "Downtown"); err != nil {
		log.Fatal(err)
	}
	if err := svc.SaveRegister(ctx, "till-1", "downtown", "Till 1"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Activate(ctx, "till-1"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "downtown", 5)}); err != nil {
		log.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, "tee"); err != nil {
		log.Fatal(err)
	}
	avail, err := svc.Availability(ctx, "tee", "mug")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(avail)
	// Output:
	// [{5 in_stock} {0 not_for_sale}]
}

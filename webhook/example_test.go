package webhook_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"sync"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

// The POS side sends each committed event to the online store, which
// verifies the request and handles each event once.
func Example() {
	ctx := context.Background()
	secret := []byte("at least 24 random bytes, shared by both ends")

	// The online store: verify, then handle each event once, by seq.
	v, err := webhook.NewVerifier(webhook.VerifierConfig{Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint64]bool{}
	shop := httptest.NewServer(webhook.Handler(v, func(ctx context.Context, events []onlinestock.Event) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if !seen[e.Seq] {
				seen[e.Seq] = true
				fmt.Println("received", e)
			}
		}
		return nil // 204: delivered
	}))
	defer shop.Close()

	// The POS side: a Service, and a Dispatcher sending its events.
	store := memstore.New()
	svc, err := onlinestock.New(store, onlinestock.Config{})
	if err != nil {
		log.Fatal(err)
	}
	n, err := webhook.New(webhook.Config{URL: shop.URL, Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	d, err := worker.NewDispatcher(store, n, worker.DispatcherConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if err := svc.SaveOutlet(ctx, "north", "North"); err != nil {
		log.Fatal(err)
	}
	if err := svc.SaveRegister(ctx, "till-1", "north", "Till 1"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Activate(ctx, "till-1"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee-m", "north", 3)}); err != nil {
		log.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, "tee-m"); err != nil {
		log.Fatal(err)
	}

	sent, err := d.Flush(ctx) // a program runs d.Run(ctx) instead
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent", sent, "events;", n.Stats().Requests, "requests")
	// Output:
	// received #1 primary_changed north (was "")
	// received #2 outlet_connected north methods=[]
	// received #3 product_enabled tee-m
	// received #4 availability_changed tee-m: 0 not_for_sale -> 3 in_stock
	// sent 4 events; 4 requests
}

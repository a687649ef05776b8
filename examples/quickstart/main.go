// Quickstart tells the story of a retailer with three outlets that starts
// selling online: the order register in one outlet, a second outlet
// connected, stock reported by the POS, products enabled, a checkout, and an
// outlet disconnected. The story itself is in examples/internal/story, so
// that examples/postgres tells the same one on PostgreSQL. Run it with:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"log"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/examples/internal/story"
	"github.com/onlinestock/onlinestock/memstore"
)

func main() {
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		log.Fatal(err)
	}
	if err := story.Tell(context.Background(), svc); err != nil {
		log.Fatal(err)
	}
}

// Possync shows the POS side of the library: a sync loop that turns the
// POS's documents (receipts, goods received, a stock count) into changes
// with reasons, references and one idempotency key per line, replays a
// batch as a flaky network would, and reports the sale of a web order the
// order register recorded, which reaches the stock once. The stock ledger
// then says why every level is what it is. Run it with:
//
//	go run ./examples/possync
package main

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// line is one line of a POS document.
type line struct {
	product string
	units   int64
}

// document is what the POS syncs: a sale, a delivery, a count, or the
// register's record of a web order.
type document struct {
	id     string // the POS's document number
	outlet string
	reason onlinestock.StockReason
	lines  []line
	count  bool   // lines are absolute counts, not deltas
	order  string // the web order a sale records, if any
}

// changes turns a document into a batch: one key per line, so that a
// replayed batch changes stock once and no two lines share a key.
func (d document) changes() []onlinestock.Change {
	out := make([]onlinestock.Change, len(d.lines))
	for i, l := range d.lines {
		c := onlinestock.Adjust(l.product, d.outlet, l.units)
		if d.count {
			c = onlinestock.Set(l.product, d.outlet, l.units)
		}
		c = c.WithReason(d.reason).WithRef(d.id).WithKey(fmt.Sprintf("%s/%d", d.id, i+1))
		if d.order != "" {
			c = c.ForOrder(d.order)
		}
		out[i] = c
	}
	return out
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		return err
	}
	if err := svc.SaveOutlet(ctx, "store", "High Street"); err != nil {
		return err
	}
	if err := svc.SaveRegister(ctx, "web-till", "store", "Web orders"); err != nil {
		return err
	}
	if _, err := svc.Activate(ctx, "web-till"); err != nil {
		return err
	}
	sync := func(d document) error {
		res, err := svc.Apply(ctx, d.changes())
		if err != nil {
			return fmt.Errorf("%s: %w", d.id, err)
		}
		for i, r := range res {
			fmt.Printf("%-10s line %d: %-9s %s on hand %d\n", d.id, i+1, r.Status, r.Level.Product, r.Level.OnHand)
		}
		return nil
	}
	online := func() error {
		a, err := svc.Availability(ctx, "mug", "tee")
		if err != nil {
			return err
		}
		fmt.Printf("online: mug %d, tee %d\n", a[0].Quantity, a[1].Quantity)
		return nil
	}

	fmt.Println("== the POS syncs its documents")
	delivery := document{id: "grn-501", outlet: "store", reason: onlinestock.StockReceipt,
		lines: []line{{"mug", 12}, {"tee", 8}}}
	if err := sync(delivery); err != nil {
		return err
	}
	if err := svc.EnableOnline(ctx, "mug", "tee"); err != nil {
		return err
	}
	sale := document{id: "rcpt-1001", outlet: "store", reason: onlinestock.StockSale,
		lines: []line{{"mug", -1}, {"tee", -2}}}
	if err := sync(sale); err != nil {
		return err
	}
	fmt.Println("-- the network drops the answer; the POS sends the receipt again")
	if err := sync(sale); err != nil {
		return err
	}
	fmt.Println("-- a key reused for another line is refused, whole")
	bad := document{id: "rcpt-1001", outlet: "store", reason: onlinestock.StockSale, lines: []line{{"tee", -5}}}
	err = sync(bad)
	if !errors.Is(err, onlinestock.ErrConflict) {
		return fmt.Errorf("a reused key: %v, want a conflict", err)
	}
	fmt.Println("refused:", err)
	if err := online(); err != nil {
		return err
	}

	fmt.Println("\n== a web order: reserved, fulfilled, recorded by the order register")
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-77", Lines: []onlinestock.Line{{Product: "tee", Quantity: 3}}}); err != nil {
		return err
	}
	if err := online(); err != nil {
		return err
	}
	if _, err := svc.Fulfill(ctx, "web-77"); err != nil {
		return err
	}
	// The register records web-77 as a sale in the POS; the next sync
	// reports it for the order, so it is not subtracted a second time.
	recorded := document{id: "rcpt-1002", outlet: "store", reason: onlinestock.StockSale,
		lines: []line{{"tee", -3}}, order: "web-77"}
	if err := sync(recorded); err != nil {
		return err
	}
	if err := online(); err != nil {
		return err
	}

	fmt.Println("\n== a stock count")
	count := document{id: "count-9", outlet: "store", reason: onlinestock.StockCount, count: true,
		lines: []line{{"mug", 10}}}
	if err := sync(count); err != nil {
		return err
	}

	fmt.Println("\n== the ledger: why each level is what it is")
	moves, err := svc.Movements(ctx, onlinestock.MovementFilter{})
	if err != nil {
		return err
	}
	for _, m := range moves {
		fmt.Printf("#%-2d %-4s %-7s %-8s %-10s on hand %+3d -> %2d  reserved %+d -> %d\n",
			m.Seq, m.Product, m.Kind, m.Reason, m.Ref, m.OnHandDelta, m.OnHand, m.ReservedDelta, m.Reserved)
	}
	return nil
}

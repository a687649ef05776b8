package worker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/worker"
)

// A Dispatcher delivers the committed events to a Notifier in order, at
// least once, and keeps its place in the outbox: Flush delivers what is
// waiting, Run does so until its context ends.
func ExampleDispatcher() {
	ctx := context.Background()
	svc := newShop()
	notifier := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		for _, e := range events {
			if e.Kind == onlinestock.AvailabilityChanged {
				fmt.Println(e.Product, e.Before.Label, "->", e.After.Label)
			}
		}
		return nil // a PermanentError would dead-letter the events
	})
	d, err := worker.NewDispatcher(svc.Store(), notifier, worker.DispatcherConfig{Consumer: "storefront"})
	if err != nil {
		panic(err)
	}
	if _, err := d.Flush(ctx); err != nil { // the shop's setup: the tee listed
		panic(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 0), onlinestock.Set("tee", "south", 0)}); err != nil {
		panic(err)
	}
	n, err := d.Flush(ctx) // only what is new since the last Flush
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "new event")
	// Output:
	// tee not_for_sale -> in_stock
	// tee in_stock -> sold_out
	// 1 new event
}

// A Worker delivers every committed event to its consumers in the
// background, releases reservations past their deadline, and prunes what
// has aged out; Stop lets a delivery in flight finish.
func ExampleWorker() {
	ctx := context.Background()
	svc := newShop()
	printer := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		for _, e := range events {
			if e.Kind == onlinestock.AvailabilityChanged {
				fmt.Println(e.Product, e.Before.Quantity, "->", e.After.Quantity)
			}
		}
		return nil
	})
	w, err := worker.New(svc, worker.Config{
		Consumers:    []worker.Consumer{{Name: "printer", Notifier: printer}},
		PollInterval: time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	if err := w.Start(ctx); err != nil {
		panic(err)
	}
	_, _ = svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", -2)})

	// Wait until the printer has every event, then stop.
	events, _ := svc.EventsSince(ctx, 0, 0)
	for cursor := uint64(0); cursor < events[len(events)-1].Seq; {
		time.Sleep(time.Millisecond)
		cursor, _ = svc.Store().Cursor(ctx, "printer")
	}
	if err := w.Stop(ctx); err != nil {
		panic(err)
	}
	// Output:
	// tee 0 -> 5
	// tee 5 -> 3
}

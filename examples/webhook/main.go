// Command webhook shows onlinestock's events travelling to an online store
// as signed webhooks: it starts a receiver on a loopback port, points a
// webhook.Notifier at it, runs a worker.Worker that delivers the
// events in the background, changes stock through a Service over
// memstore, stops the Worker once everything is delivered and prints what
// the receiver verified. It exits by itself.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// Both ends share a secret: webhook.FormatSecret writes it in the
	// "whsec_" form receivers are usually configured with.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}

	// The online store: a receiver on a loopback port that verifies each
	// request and keeps each event once, by seq.
	rc := &receiver{seen: map[uint64]bool{}}
	v, err := webhook.NewVerifier(webhook.VerifierConfig{Secret: secret})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/stock", webhook.Handler(v, rc.handle))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String() + "/hooks/stock"
	fmt.Println("receiver listening at", url)

	// The POS side: a Service over memstore, and a Worker handing its
	// events to a webhook Notifier, two events per request. The Worker
	// also releases expired reservations and prunes old events.
	store := memstore.New()
	svc, err := onlinestock.New(store, onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		return err
	}
	n, err := webhook.New(webhook.Config{URL: url, Secret: secret, BatchSize: 2, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := worker.New(svc, worker.Config{
		Consumers:    []worker.Consumer{{Name: "shop", Notifier: n}},
		PollInterval: 10 * time.Millisecond,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}

	if err := changeStock(ctx, svc); err != nil {
		return err
	}
	// Wait until the Worker has handed on every event, then stop it: Stop
	// lets a request in flight finish.
	events, err := svc.EventsSince(ctx, 0, 0)
	if err != nil {
		return err
	}
	last := events[len(events)-1].Seq
	for {
		cursor, err := store.Cursor(ctx, "shop")
		if err != nil {
			return err
		}
		if cursor == last {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop, cancelStop := context.WithTimeout(ctx, 5*time.Second)
	defer cancelStop()
	if err := w.Stop(stop); err != nil {
		return err
	}
	dead, err := store.DeadLetters(ctx, "shop")
	if err != nil {
		return err
	}
	sent := len(events)

	shutdown, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}

	fmt.Printf("\nthe receiver verified %d events:\n", len(rc.events))
	for _, e := range rc.events {
		line := e.String()
		switch {
		case e.SoldOut():
			line += "  (sold out)"
		case e.BackInStock():
			line += "  (back in stock)"
		}
		fmt.Println(" ", line)
	}
	st := n.Stats()
	fmt.Printf("\nsent %d events in %d requests; delivered %d, retried %d, failed %d; %d dead letters\n",
		sent, st.Requests, st.Delivered, st.Retried, st.Failed, len(dead))
	return nil
}

// changeStock sets up two outlets and a register, activates the online
// store, reports stock, lists products, and connects then disconnects an
// outlet with a pickup method.
func changeStock(ctx context.Context, svc *onlinestock.Service) error {
	steps := []struct {
		what string
		do   func() error
	}{
		{"create outlet north", func() error { return svc.SaveOutlet(ctx, "north", "North Street") }},
		{"create outlet south", func() error { return svc.SaveOutlet(ctx, "south", "South Mall") }},
		{"create register till-1", func() error { return svc.SaveRegister(ctx, "till-1", "north", "Till 1") }},
		{"add pickup at south", func() error {
			return svc.SaveMethod(ctx, onlinestock.Method{ID: "pickup-south", Name: "Pick up at South Mall", Kind: onlinestock.Pickup, Outlet: "south"})
		}},
		{"activate with till-1", func() error { _, err := svc.Activate(ctx, "till-1"); return err }},
		{"report stock", func() error {
			_, err := svc.Apply(ctx, []onlinestock.Change{
				onlinestock.Set("tee-m", "north", 3),
				onlinestock.Set("tee-m", "south", 4),
				onlinestock.Set("mug", "south", 2),
			})
			return err
		}},
		{"list tee-m and mug", func() error { return svc.EnableOnline(ctx, "tee-m", "mug") }},
		{"connect south", func() error { _, err := svc.Connect(ctx, "south"); return err }},
		{"sell 3 tee-m at north", func() error {
			_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee-m", "north", -3).WithKey("sale-1001")})
			return err
		}},
		{"disconnect south", func() error { _, err := svc.Disconnect(ctx, "south"); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		fmt.Println("pos:", s.what)
	}
	return nil
}

// receiver keeps the events it verified, each once.
type receiver struct {
	mu     sync.Mutex
	seen   map[uint64]bool
	events []onlinestock.Event
}

func (rc *receiver) handle(ctx context.Context, events []onlinestock.Event) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, e := range events {
		if !rc.seen[e.Seq] {
			rc.seen[e.Seq] = true
			rc.events = append(rc.events, e)
		}
	}
	return nil
}

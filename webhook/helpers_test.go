package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/webhook"
)

// testSecret is 32 bytes, above webhook.MinSecretBytes.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// t0 is a fixed time for events and clocks.
var t0 = time.Date(2025, 3, 1, 9, 30, 0, 123456789, time.UTC)

var quiet = slog.New(slog.DiscardHandler)

// sampleEvents has one event of every kind, seqs 1 to 7.
func sampleEvents() []onlinestock.Event {
	return []onlinestock.Event{
		{Seq: 1, Kind: onlinestock.PrimaryChanged, Time: t0, Outlet: "north"},
		{Seq: 2, Kind: onlinestock.OutletConnected, Time: t0, Outlet: "north"},
		{Seq: 3, Kind: onlinestock.ProductEnabled, Time: t0, Product: "tee-m"},
		{Seq: 4, Kind: onlinestock.AvailabilityChanged, Time: t0, Product: "tee-m",
			Before: onlinestock.Unlisted, After: onlinestock.Availability{Quantity: 3, Label: onlinestock.InStock}},
		{Seq: 5, Kind: onlinestock.OutletDisconnected, Time: t0.Add(time.Second), Outlet: "south", Methods: []string{"pickup-south"}},
		{Seq: 6, Kind: onlinestock.PrimaryChanged, Time: t0.Add(time.Second), Outlet: "south", Previous: "north"},
		{Seq: 7, Kind: onlinestock.ProductDisabled, Time: t0.Add(2 * time.Second), Product: "tee-m"},
	}
}

func newNotifier(t *testing.T, cfg webhook.Config) *webhook.Notifier {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	n, err := webhook.New(cfg)
	if err != nil {
		t.Fatalf("webhook.New() error = %v", err)
	}
	return n
}

func newVerifier(t *testing.T, cfg webhook.VerifierConfig) *webhook.Verifier {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	v, err := webhook.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("webhook.NewVerifier() error = %v", err)
	}
	return v
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// request is one request as a server received it.
type request struct {
	Header http.Header
	Body   []byte
}

// recorder is a server that answers every request with a status (204 by
// default) and keeps what it received.
type recorder struct {
	mu       sync.Mutex
	requests []request
	status   func(n int) int // status of the nth request, from 0
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.requests)
	rec.requests = append(rec.requests, request{Header: r.Header.Clone(), Body: body})
	rec.mu.Unlock()
	code := http.StatusNoContent
	if rec.status != nil {
		code = rec.status(n)
	}
	w.WriteHeader(code)
}

func (rec *recorder) received() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.requests...)
}

// capture returns the request a Notifier sends for events, with the
// notifier's clock at now.
func capture(t *testing.T, events []onlinestock.Event, now time.Time) request {
	t.Helper()
	rec := &recorder{}
	srv := newServer(t, rec)
	n := newNotifier(t, webhook.Config{URL: srv.URL, Clock: func() time.Time { return now }, BatchSize: len(events)})
	if err := n.Notify(context.Background(), events); err != nil {
		t.Fatalf("Notify() error = %v", err)
	}
	got := rec.received()
	if len(got) != 1 {
		t.Fatalf("server got %d requests, want 1", len(got))
	}
	return got[0]
}

// shop is a Service over a memstore, activated, with two connected outlets
// and a pickup method at the second.
type shop struct {
	svc   *onlinestock.Service
	store *memstore.Store
}

func newShop(t *testing.T) shop {
	t.Helper()
	ctx := context.Background()
	store := memstore.New()
	svc, err := onlinestock.New(store, onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.SaveOutlet(ctx, "north", "North"))
	must(svc.SaveOutlet(ctx, "south", "South"))
	must(svc.SaveRegister(ctx, "till-1", "north", "Till 1"))
	must(svc.SaveMethod(ctx, onlinestock.Method{ID: "pickup-south", Name: "Pickup South", Kind: onlinestock.Pickup, Outlet: "south"}))
	_, err = svc.Activate(ctx, "till-1")
	must(err)
	_, err = svc.Connect(ctx, "south")
	must(err)
	return shop{svc: svc, store: store}
}

func (s shop) events(t *testing.T) []onlinestock.Event {
	t.Helper()
	events, err := s.store.EventsSince(context.Background(), 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func seqs(events []onlinestock.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func mustDecode(t *testing.T, body []byte) []onlinestock.Event {
	t.Helper()
	events, err := webhook.Decode(body)
	if err != nil {
		t.Fatalf("Decode(%s) error = %v", bytes.TrimSpace(body), err)
	}
	return events
}

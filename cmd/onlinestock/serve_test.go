package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/webhook"
)

// hookReceiver is a webhook receiver at /hooks/{tenant} that verifies
// each request and keeps, per tenant, the events it got.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	seqs map[string][]uint64
}

func newHookReceiver(t *testing.T, secret []byte) *hookReceiver {
	t.Helper()
	v, err := webhook.NewVerifier(webhook.VerifierConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{seqs: map[string][]uint64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/hooks/{tenant}", func(w http.ResponseWriter, r *http.Request) {
		tenant := r.PathValue("tenant")
		webhook.Handler(v, func(_ context.Context, events []onlinestock.Event) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, e := range events {
				h.seqs[tenant] = append(h.seqs[tenant], e.Seq)
			}
			return nil
		}).ServeHTTP(w, r)
	})
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) got(tenant string) []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seqs[tenant])
}

// TestServeRunsTheWorker checks that serve delivers every event to the
// webhook, for one tenant or every tenant, goes on delivering new ones,
// expires reservations, and stops when told.
func TestServeRunsTheWorker(t *testing.T) {
	db, tenant, svc := shop(t)
	ctx := context.Background()
	secret := []byte("a secret of at least 24 bytes, for the test")
	t.Setenv("ONLINESTOCK_WEBHOOK_SECRET", webhook.FormatSecret(secret))
	last := func() uint64 {
		t.Helper()
		events, err := svc.EventsSince(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return events[len(events)-1].Seq
	}
	waitDelivered := func(h *hookReceiver, tenant string) {
		t.Helper()
		want := last()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := h.got(tenant)
			if len(got) > 0 && got[len(got)-1] == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the webhook got %v, want every event up to %d", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	t.Run("one tenant", func(t *testing.T) {
		h := newHookReceiver(t, secret)
		_, stop := startServe(t, "--database-url", db, "--tenant", tenant, "--webhook-url", h.URL+"/hooks/"+tenant)
		waitDelivered(h, tenant)
		if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", 1)}); err != nil {
			t.Fatal(err)
		}
		waitDelivered(h, tenant)
		if out, err := stop(); err != nil || !strings.Contains(out, "shutting down") {
			t.Errorf("serve after a signal: %q, %v", out, err)
		}
	})

	t.Run("every tenant, the tenant in the URL", func(t *testing.T) {
		h := newHookReceiver(t, secret)
		_, stop := startServe(t, "--database-url", db, "--webhook-url", h.URL+"/hooks/{tenant}")
		// The consumer's cursor is where the first run left it.
		if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", 1)}); err != nil {
			t.Fatal(err)
		}
		waitDelivered(h, tenant)
		if got := h.got(tenant); got[0] != last() {
			t.Errorf("the webhook got %v, want only the event after the first run", got)
		}
		// Expiry runs too.
		if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-9", TTL: time.Millisecond,
			Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, err := svc.Reservation(ctx, "web-9")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status == onlinestock.Expired {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reservation %s, want expired", r.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
		waitDelivered(h, tenant)
		if _, err := stop(); err != nil {
			t.Errorf("serve after a signal: %v", err)
		}
	})

	for _, tt := range []struct {
		name   string
		secret string
		args   []string
	}{
		{"no secret", "", []string{"--tenant", tenant, "--webhook-url", "http://127.0.0.1:1/hooks"}},
		{"every tenant to one URL", webhook.FormatSecret(secret), []string{"--webhook-url", "http://127.0.0.1:1/hooks"}},
		{"a URL that is not http", webhook.FormatSecret(secret), []string{"--tenant", tenant, "--webhook-url", "ftp://127.0.0.1/hooks"}},
		{"a webhook without the worker", webhook.FormatSecret(secret), []string{"--tenant", tenant, "--worker=false", "--webhook-url", "http://127.0.0.1:1/hooks"}},
	} {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			t.Setenv("ONLINESTOCK_WEBHOOK_SECRET", tt.secret)
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database-url", db}, tt.args...)
			if _, _, err := cli(t, args...); !errors.As(err, new(*usageError)) {
				t.Errorf("onlinestock %q: error %v, want a usage error", args, err)
			}
		})
	}
}

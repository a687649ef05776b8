package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

// receiver is an online store's end of the webhook: it keeps the events it
// handled, dropping repeats two ways, and can be told to refuse some.
type receiver struct {
	mu        sync.Mutex
	calls     int                 // calls of the handler function
	received  int                 // events received, repeats included
	byID      map[string]bool     // webhook-ids handled
	viaID     []uint64            // seqs handled, repeats dropped by webhook-id
	bySeq     map[uint64]bool     // event ids handled
	firsts    []onlinestock.Event // events handled, repeats dropped by event id
	refuse    func(onlinestock.Event) bool
	refusedAt []uint64
}

func newReceiver() *receiver {
	return &receiver{byID: map[string]bool{}, bySeq: map[uint64]bool{}}
}

func (rc *receiver) handle(ctx context.Context, events []onlinestock.Event) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	for _, e := range events {
		if rc.refuse != nil && rc.refuse(e) {
			rc.refusedAt = append(rc.refusedAt, e.Seq)
			return onlinestock.Permanent(fmt.Errorf("event %d refused", e.Seq))
		}
	}
	rc.received += len(events)
	if id := webhook.WebhookID(ctx); !rc.byID[id] {
		rc.byID[id] = true
		rc.viaID = append(rc.viaID, seqs(events)...)
	}
	for _, e := range events {
		if !rc.bySeq[e.Seq] {
			rc.bySeq[e.Seq] = true
			rc.firsts = append(rc.firsts, e)
		}
	}
	return nil
}

func (rc *receiver) setRefuse(refuse func(onlinestock.Event) bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.refuse = refuse
}

// flaky fails about 30% of its first requests, in every way a network and
// a receiver can, then recovers. Some failures happen after the receiver
// handled the events (the answer is lost), so the sender repeats events the
// receiver already has. Its first requests meet every failure once, so each
// run sees all of them; the rest are drawn from a seeded generator.
type flaky struct {
	next     http.Handler
	slow     time.Duration // longer than the client's timeout
	flakyFor int           // requests before it recovers
	mu       sync.Mutex
	rng      *rand.Rand
	served   int
	fates    map[string]int
}

func (f *flaky) fate() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served++
	if f.served > f.flakyFor {
		return "ok"
	}
	fate := "ok"
	script := [...]string{"ok", "handled, then 503", "500", "handled, then drop", "slow", "drop", "429", "503"}
	switch x := f.rng.IntN(100); {
	case f.served <= len(script):
		fate = script[f.served-1]
	case x < 9:
		fate = "500"
	case x < 15:
		fate = "503"
	case x < 20:
		fate = "429"
	case x < 23:
		fate = "slow"
	case x < 26:
		fate = "drop"
	case x < 28:
		fate = "handled, then drop"
	case x < 30:
		fate = "handled, then 503"
	}
	f.fates[fate]++
	return fate
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch f.fate() {
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "503":
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case "429":
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case "slow":
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(f.slow):
		}
		http.Error(w, "too late", http.StatusInternalServerError)
	case "drop":
		hangUp(w)
	case "handled, then drop":
		f.next.ServeHTTP(httptest.NewRecorder(), r)
		hangUp(w)
	case "handled, then 503":
		f.next.ServeHTTP(httptest.NewRecorder(), r)
		http.Error(w, "lost the answer", http.StatusServiceUnavailable)
	default:
		f.next.ServeHTTP(w, r)
	}
}

func hangUp(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// makeEvents drives the Service with seeded random POS changes, selection
// changes and listings; it makes a few hundred events.
func makeEvents(t *testing.T, s shop, seed uint64, steps int) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed))
	outlets := []string{"north", "south"}
	products := []string{"tee-s", "tee-m", "tee-l", "cap", "mug"}
	if _, err := s.svc.Apply(ctx, []onlinestock.Change{
		onlinestock.Set("tee-s", "north", 1), onlinestock.Set("tee-m", "north", 1), onlinestock.Set("tee-l", "south", 1),
		onlinestock.Set("cap", "south", 1), onlinestock.Set("mug", "north", 1),
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.svc.EnableOnline(ctx, products...); err != nil {
		t.Fatal(err)
	}
	for range steps {
		var err error
		switch x := rng.IntN(20); {
		case x == 0:
			_, err = s.svc.Disconnect(ctx, "south")
		case x == 1:
			_, err = s.svc.Connect(ctx, "south")
		case x == 2:
			err = s.svc.DisableOnline(ctx, products[rng.IntN(len(products))])
		case x == 3:
			err = s.svc.EnableOnline(ctx, products[rng.IntN(len(products))])
		default:
			p, o := products[rng.IntN(len(products))], outlets[rng.IntN(len(outlets))]
			_, err = s.svc.Apply(ctx, []onlinestock.Change{onlinestock.Set(p, o, rng.Int64N(6))})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A Dispatcher driving a Notifier through a flaky receiver delivers every
// event at least once, first deliveries in sequence order, none skipped;
// once repeats are dropped, the receiver has each event exactly once.
func TestDispatcherDeliversEverythingThroughAFlakyReceiver(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{1, 5} {
		t.Run(fmt.Sprintf("with %d events per request", batch), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
			defer cancel()
			s := newShop(t)
			rc := newReceiver()
			f := &flaky{
				next:     webhook.Handler(newVerifier(t, webhook.VerifierConfig{}), rc.handle),
				slow:     2 * time.Second,
				flakyFor: 400 / batch,
				rng:      rand.New(rand.NewPCG(uint64(batch), 42)),
				fates:    map[string]int{},
			}
			srv := newServer(t, f)
			n := newNotifier(t, webhook.Config{URL: srv.URL, Timeout: 200 * time.Millisecond, BatchSize: batch})
			d, err := worker.NewDispatcher(s.store, n, worker.DispatcherConfig{
				BatchSize: 20, PollInterval: 2 * time.Millisecond,
				MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Logger: quiet,
			})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()

			makeEvents(t, s, uint64(batch), 500) // while the Dispatcher runs
			want := s.events(t)
			last := want[len(want)-1].Seq
			for {
				cursor, err := s.store.Cursor(ctx, "default")
				if err != nil {
					t.Fatalf("Cursor() error = %v (delivery did not finish in time)", err)
				}
				if cursor == last {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run() = %v, want context.Canceled", err)
			}

			rc.mu.Lock()
			defer rc.mu.Unlock()
			t.Logf("%d events; %d received with repeats in %d calls; fates %v; %+v", len(want), rc.received, rc.calls, f.fates, n.Stats())
			if len(want) < 250 {
				t.Errorf("made %d events, want a few hundred", len(want))
			}
			if diff := cmp.Diff(want, rc.firsts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events received, repeats dropped by event id, mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(seqs(want), rc.viaID); diff != "" {
				t.Errorf("events received, repeats dropped by webhook-id, mismatch (-want +got):\n%s", diff)
			}
			stats := n.Stats()
			if stats.Retried == 0 || rc.received <= len(want) {
				t.Errorf("Stats().Retried = %d, %d events received for %d: the receiver was not flaky", stats.Retried, rc.received, len(want))
			}
			if stats.Failed != 0 {
				t.Errorf("Stats().Failed = %d, want 0", stats.Failed)
			}
			if dead, err := d.DeadLetters(context.Background()); err != nil || len(dead) != 0 {
				t.Errorf("DeadLetters() = %v, %v; want none", dead, err)
			}
		})
	}
}

// A receiver that refuses some events gets the others, in order; the
// refused ones are dead-lettered, and redelivered once it is fixed.
func TestDispatcherDeadLettersRefusedEventsAndRedelivers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newShop(t)
	rc := newReceiver()
	isMug := func(e onlinestock.Event) bool { return e.Product == "mug" }
	rc.setRefuse(isMug)
	srv := newServer(t, webhook.Handler(newVerifier(t, webhook.VerifierConfig{}), rc.handle))
	n := newNotifier(t, webhook.Config{URL: srv.URL, BatchSize: 3})
	d, err := worker.NewDispatcher(s.store, n, worker.DispatcherConfig{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	makeEvents(t, s, 7, 40)
	if got, err := d.Flush(ctx); err != nil || got != len(s.events(t)) {
		t.Fatalf("Flush() = %d, %v; want every event handed on", got, err)
	}
	// Delivery goes on after a dead letter.
	if _, err := s.svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("cap", "north", 100)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(ctx); err != nil {
		t.Fatalf("Flush() error = %v", err)
	}
	all := s.events(t)
	var mugs, others []onlinestock.Event
	for _, e := range all {
		if isMug(e) {
			mugs = append(mugs, e)
		} else {
			others = append(others, e)
		}
	}
	if len(mugs) == 0 || len(others) == 0 {
		t.Fatalf("made %d mug events and %d others, want some of each", len(mugs), len(others))
	}
	dead, err := d.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadSeqs := make([]uint64, len(dead))
	for i, dl := range dead {
		deadSeqs[i] = dl.Seq
	}
	if diff := cmp.Diff(seqs(mugs), deadSeqs); diff != "" {
		t.Errorf("DeadLetters() mismatch (-want +got):\n%s", diff)
	}
	rc.mu.Lock()
	if diff := cmp.Diff(others, rc.firsts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("events received mismatch (-want +got):\n%s", diff)
	}
	rc.mu.Unlock()
	if got := n.Stats(); got.Failed < uint64(len(mugs)) || got.Delivered != uint64(len(others)) {
		t.Errorf("Stats() = %+v, want Failed >= %d and Delivered = %d", got, len(mugs), len(others))
	}

	// Still refused: Redeliver says so and keeps the dead letter.
	if err := d.Redeliver(ctx, mugs[0].Seq); !onlinestock.IsPermanent(err) {
		t.Errorf("Redeliver() to a broken receiver = %v, want a permanent error", err)
	}
	rc.setRefuse(nil)
	for _, e := range mugs {
		if err := d.Redeliver(ctx, e.Seq); err != nil {
			t.Errorf("Redeliver(%d) error = %v", e.Seq, err)
		}
	}
	if dead, err := d.DeadLetters(ctx); err != nil || len(dead) != 0 {
		t.Errorf("DeadLetters() after Redeliver = %v, %v; want none", dead, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	got := slices.Clone(rc.firsts)
	slices.SortFunc(got, func(a, b onlinestock.Event) int { return int(a.Seq) - int(b.Seq) })
	if diff := cmp.Diff(all, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("events received after Redeliver mismatch (-want +got):\n%s", diff)
	}
}

// A receiver with the wrong secret answers 401: every event is
// dead-lettered, and all of them go through once the secret is fixed.
func TestDispatcherRedeliversAfterTheSecretIsFixed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newShop(t)
	rc := newReceiver()
	var handler atomic.Pointer[http.Handler]
	wrong := webhook.Handler(newVerifier(t, webhook.VerifierConfig{Secret: []byte("another secret, 24 bytes or more")}), rc.handle)
	handler.Store(&wrong)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	n := newNotifier(t, webhook.Config{URL: srv.URL})
	d, err := worker.NewDispatcher(s.store, n, worker.DispatcherConfig{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	all := s.events(t)
	if got, err := d.Flush(ctx); err != nil || got != len(all) {
		t.Fatalf("Flush() = %d, %v; want %d, nil", got, err, len(all))
	}
	dead, err := d.DeadLetters(ctx)
	if err != nil || len(dead) != len(all) {
		t.Fatalf("DeadLetters() = %v, %v; want all %d events", dead, err, len(all))
	}
	right := webhook.Handler(newVerifier(t, webhook.VerifierConfig{}), rc.handle)
	handler.Store(&right)
	for _, dl := range dead {
		if err := d.Redeliver(ctx, dl.Seq); err != nil {
			t.Errorf("Redeliver(%d) error = %v", dl.Seq, err)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if diff := cmp.Diff(all, rc.firsts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("events received mismatch (-want +got):\n%s", diff)
	}
}

package onlinestock_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
)

// quiet drops the Dispatcher's logs of the failures these tests cause.
var quiet = slog.New(slog.DiscardHandler)

// TestDispatcherRunFollowsTheOutbox runs a Dispatcher in the background
// while stock changes, and checks that it delivers every event, in order,
// and stops when its context ends.
func TestDispatcherRunFollowsTheOutbox(t *testing.T) {
	t.Parallel()
	svc := newShop()
	ctx, cancel := context.WithCancel(t.Context())

	var mu sync.Mutex
	var got []uint64
	transient := 2 // the first calls fail, to exercise the retry
	notify := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if transient > 0 {
			transient--
			return errors.New("receiver busy")
		}
		for _, e := range events {
			got = append(got, e.Seq)
		}
		return nil
	})
	d, err := onlinestock.NewDispatcher(svc.Store(), notify, onlinestock.DispatcherConfig{
		PollInterval: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, BatchSize: 3, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	for i := range 20 {
		if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", int64(1+i%2))}); err != nil {
			t.Fatal(err)
		}
	}
	events, err := svc.EventsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1].Seq

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 && got[n-1] >= last || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, seq := range got {
		if seq != uint64(i)+1 {
			t.Fatalf("delivery %d is event #%d; want every event once, in order: %v", i, seq, got)
		}
	}
	if len(got) != int(last) {
		t.Fatalf("delivered %d events, want %d", len(got), last)
	}
}

func TestNewDispatcherRejectsBadConfig(t *testing.T) {
	t.Parallel()
	svc := newShop()
	notify := onlinestock.NotifierFunc(func(context.Context, []onlinestock.Event) error { return nil })
	tests := []struct {
		name     string
		store    onlinestock.Store
		notifier onlinestock.Notifier
		cfg      onlinestock.DispatcherConfig
	}{
		{"a nil store", nil, notify, onlinestock.DispatcherConfig{}},
		{"a nil notifier", svc.Store(), nil, onlinestock.DispatcherConfig{}},
		{"a consumer name with a control character", svc.Store(), notify, onlinestock.DispatcherConfig{Consumer: "a\nb"}},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			if _, err := onlinestock.NewDispatcher(tt.store, tt.notifier, tt.cfg); !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("NewDispatcher() error = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestDispatcherResumesAfterPartialDelivery: a Notifier that gets part of a
// batch through before failing is handed only the rest again.
func TestDispatcherResumesAfterPartialDelivery(t *testing.T) {
	t.Parallel()
	svc := newShop()
	ctx := t.Context()
	for i := range 6 {
		if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", int64(1+i))}); err != nil {
			t.Fatal(err)
		}
	}
	var handed [][]uint64
	calls := 0
	notify := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		var seqs []uint64
		for _, e := range events {
			seqs = append(seqs, e.Seq)
		}
		handed = append(handed, seqs)
		calls++
		switch calls {
		case 1:
			return onlinestock.Partial(2, errors.New("connection reset"))
		case 2:
			return onlinestock.Partial(1, onlinestock.Permanent(errors.New("422 refused")))
		}
		return nil
	})
	d, err := onlinestock.NewDispatcher(svc.Store(), notify, onlinestock.DispatcherConfig{MinBackoff: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events, _ := svc.EventsSince(ctx, 0, 0)
	if n != len(events) {
		t.Errorf("Flush() = %d, want %d", n, len(events))
	}
	all := make([]uint64, len(events))
	for i := range all {
		all[i] = uint64(i) + 1
	}
	// Call 1 hands everything and two get through; call 2 the rest, of which
	// one gets through before a refusal for good; then what is left goes one
	// by one, to find the refused event, and each is accepted alone, so
	// nothing is dead-lettered.
	if len(handed) < 3 || !slices.Equal(handed[0], all) || !slices.Equal(handed[1], all[2:]) {
		t.Fatalf("handed %v, want all, then all but the first two, then one by one", handed)
	}
	for i, seqs := range handed[2:] {
		if len(seqs) != 1 || seqs[0] != all[3+i] {
			t.Fatalf("after the refusal, call %d handed %v, want [%d]", i+3, seqs, all[3+i])
		}
	}
	dead, err := d.DeadLetters(ctx)
	if err != nil || len(dead) != 0 {
		t.Errorf("DeadLetters() = %v, %v; want none: every event was accepted on its own", dead, err)
	}
	if cur, _ := svc.Store().Cursor(ctx, "default"); cur != uint64(len(events)) {
		t.Errorf("cursor = %d, want %d", cur, len(events))
	}
}

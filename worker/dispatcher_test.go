package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/worker"
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
	d, err := worker.NewDispatcher(svc.Store(), notify, worker.DispatcherConfig{
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
		caughtUp := len(got) > 0 && got[len(got)-1] >= last
		mu.Unlock()
		if caughtUp || time.Now().After(deadline) {
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
		cfg      worker.DispatcherConfig
	}{
		{"a nil store", nil, notify, worker.DispatcherConfig{}},
		{"a nil notifier", svc.Store(), nil, worker.DispatcherConfig{}},
		{"a consumer name with a control character", svc.Store(), notify, worker.DispatcherConfig{Consumer: "a\nb"}},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			if _, err := worker.NewDispatcher(tt.store, tt.notifier, tt.cfg); !errors.Is(err, onlinestock.ErrInvalid) {
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
	d, err := worker.NewDispatcher(svc.Store(), notify, worker.DispatcherConfig{MinBackoff: time.Millisecond, Logger: quiet})
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

// pickyStore is a Store whose PutDeadLetter fails: with ErrInvalid for a
// reason that is not valid UTF-8 or holds NUL (as a text column would), or,
// when down is set, always, with a transient error.
type pickyStore struct {
	onlinestock.Store
	down bool
	puts atomic.Int64
}

var errStoreDown = errors.New("store unreachable")

func (s *pickyStore) PutDeadLetter(ctx context.Context, consumer string, d onlinestock.DeadLetter) error {
	s.puts.Add(1)
	if s.down {
		return errStoreDown
	}
	if !utf8.ValidString(d.Reason) || strings.ContainsRune(d.Reason, 0) {
		return fmt.Errorf("reason: not storable text: %w", onlinestock.ErrInvalid)
	}
	return s.Store.PutDeadLetter(ctx, consumer, d)
}

// logCounter counts the log records of each message.
type logCounter struct {
	mu       sync.Mutex
	messages map[string]int
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *logCounter) WithGroup(string) slog.Handler            { return c }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages[r.Message]++
	return nil
}

func (c *logCounter) count(message string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.messages[message]
}

const deadLettered = "onlinestock: event dead-lettered"

// refusingNotifier refuses event refused for good, with a message no text
// column can hold, and counts the calls that include it.
func refusingNotifier(refused uint64, calls *atomic.Int64) onlinestock.Notifier {
	return onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		if slices.ContainsFunc(events, func(e onlinestock.Event) bool { return e.Seq == refused }) {
			calls.Add(1)
			return onlinestock.Permanent(errors.New("receiver said \xff\xfe\x00"))
		}
		return nil
	})
}

// TestDispatcherDeadLettersAReasonTheStoreRejects: when a Store cannot keep
// the refusal's message, the Dispatcher keeps it escaped, once, and goes on.
func TestDispatcherDeadLettersAReasonTheStoreRejects(t *testing.T) {
	t.Parallel()
	svc := newShop()
	ctx := t.Context()
	store := &pickyStore{Store: svc.Store()}
	events, err := svc.EventsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	refused := events[0].Seq
	var calls atomic.Int64
	logs := &logCounter{messages: map[string]int{}}
	d, err := worker.NewDispatcher(store, refusingNotifier(refused, &calls), worker.DispatcherConfig{BatchSize: 1, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Flush(ctx)
	if err != nil {
		t.Fatalf("Flush() error = %v", err)
	}
	if n != len(events) || calls.Load() != 1 || logs.count(deadLettered) != 1 {
		t.Errorf("Flush() = %d, refused event sent %d times, dead-lettered logged %d times; want %d, 1, 1",
			n, calls.Load(), logs.count(deadLettered), len(events))
	}
	dead, err := d.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Quote("permanent: receiver said \xff\xfe\x00")
	if len(dead) != 1 || dead[0].Seq != refused || dead[0].Reason != want {
		t.Errorf("DeadLetters() = %+v, want seq %d with reason %s", dead, refused, want)
	}
}

// TestDispatcherBacksOffWhenDeadLetteringFails: a Store that cannot record
// a dead letter stops the pass with its error, the event is not reported
// dead-lettered, and Run waits longer and longer before the next try
// instead of sending the event again at every poll.
func TestDispatcherBacksOffWhenDeadLetteringFails(t *testing.T) {
	t.Parallel()
	svc := newShop()
	store := &pickyStore{Store: svc.Store(), down: true}
	var calls atomic.Int64
	logs := &logCounter{messages: map[string]int{}}
	d, err := worker.NewDispatcher(store, refusingNotifier(1, &calls), worker.DispatcherConfig{
		PollInterval: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Hour, Logger: slog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(t.Context()); !errors.Is(err, errStoreDown) {
		t.Fatalf("Flush() error = %v, want the Store's", err)
	}
	if logs.count(deadLettered) != 0 {
		t.Errorf("an event the Store could not dead-letter was logged as dead-lettered")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := d.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run() = %v, want context.DeadlineExceeded", err)
	}
	// Waits of at least 0.5, 1, 2, 4, … ms (half the doubling backoff, at
	// worst) add up past 300ms within 11 tries, however fast the machine.
	if got := store.puts.Load() - 1; got > 11 {
		t.Errorf("Run() tried to dead-letter %d times in 300ms; want the waits between tries to double", got)
	}
	if logs.count(deadLettered) != 0 {
		t.Errorf("Run() logged an event as dead-lettered that the Store never recorded")
	}
}

// TestDispatcherRefusesAClockNoStoreKeeps: a dead letter stamped outside
// the years 1678 to 2262 is ErrInvalid naming the clock, whatever the Store,
// and nothing is recorded.
func TestDispatcherRefusesAClockNoStoreKeeps(t *testing.T) {
	t.Parallel()
	svc := newShop()
	ctx := t.Context()
	var calls atomic.Int64
	for _, at := range []time.Time{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)} {
		d, err := worker.NewDispatcher(svc.Store(), refusingNotifier(1, &calls), worker.DispatcherConfig{
			Logger: quiet, Clock: func() time.Time { return at },
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Flush(ctx); !errors.Is(err, onlinestock.ErrInvalid) || !strings.Contains(err.Error(), "DispatcherConfig.Clock") {
			t.Errorf("Flush() with the clock at %v: error = %v, want ErrInvalid naming the clock", at, err)
		}
		if dead, err := d.DeadLetters(ctx); err != nil || len(dead) != 0 {
			t.Errorf("DeadLetters() = %v, %v; want none", dead, err)
		}
	}
}

// flakyStore is a Store whose outbox reads fail while down is set. It
// records when each failing read happened.
type flakyStore struct {
	onlinestock.Store
	down atomic.Bool

	mu       sync.Mutex
	failures []time.Time
}

var errOutboxDown = errors.New("outbox unreachable")

func (s *flakyStore) fail() error {
	if !s.down.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, time.Now())
	return errOutboxDown
}

func (s *flakyStore) failed() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.failures)
}

func (s *flakyStore) Cursor(ctx context.Context, consumer string) (uint64, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.Store.Cursor(ctx, consumer)
}

func (s *flakyStore) EventsSince(ctx context.Context, after uint64, limit int) ([]onlinestock.Event, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Store.EventsSince(ctx, after, limit)
}

// records is a slog handler that keeps the records it is given.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// count returns how many records there are at each level.
func (r *records) count() map[slog.Level]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[slog.Level]int{}
	for _, rec := range r.recs {
		n[rec.Level]++
	}
	return n
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDispatcherBacksOffWhileTheStoreFails checks that Run waits longer
// and longer between attempts on a failing Store (instead of polling at its
// poll interval), logs the failure once and the recovery once, and then
// delivers every event.
func TestDispatcherBacksOffWhileTheStoreFails(t *testing.T) {
	t.Parallel()
	svc := newShop()
	store := &flakyStore{Store: svc.Store()}
	store.down.Store(true)
	var delivered atomic.Uint64
	notify := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		delivered.Store(events[len(events)-1].Seq)
		return nil
	})
	logs := &records{}
	const minBackoff, maxBackoff = 8 * time.Millisecond, 32 * time.Millisecond
	d, err := worker.NewDispatcher(store, notify, worker.DispatcherConfig{
		PollInterval: time.Microsecond, MinBackoff: minBackoff, MaxBackoff: maxBackoff, Logger: slog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	const attempts = 7
	eventually(t, "failed attempts", func() bool { return len(store.failed()) >= attempts })
	failures := store.failed()
	for i := 1; i < attempts; i++ {
		// The wait before attempt i is drawn from [b/2, b], b doubling
		// from minBackoff up to maxBackoff.
		b := min(minBackoff<<(i-1), maxBackoff)
		if gap := failures[i].Sub(failures[i-1]); gap < b/2 {
			t.Errorf("attempt %d came %v after the one before, want at least %v", i, gap, b/2)
		}
	}
	store.down.Store(false)
	events, err := svc.EventsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1].Seq
	eventually(t, "delivery after recovery", func() bool { return delivered.Load() == last })
	// The recovery is logged when the pass that delivered returns.
	eventually(t, "the recovery to be logged", func() bool { return logs.count()[slog.LevelInfo] > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	want := map[slog.Level]int{slog.LevelError: 1, slog.LevelInfo: 1}
	if diff := cmp.Diff(want, logs.count()); diff != "" {
		t.Errorf("log records per level mismatch (-want +got):\n%s", diff)
	}
}

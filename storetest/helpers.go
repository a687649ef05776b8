package storetest

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/onlinestock/onlinestock"
)

// epoch is where every fake clock starts: whole seconds, so that a Store
// keeping microseconds (as PostgreSQL does) returns the times it was given.
var epoch = time.Date(2030, time.March, 1, 9, 0, 0, 0, time.UTC)

// fakeClock is a Config.Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// eventOpts compares events without their sequence number and time, and
// lists without telling nil from empty.
var eventOpts = cmp.Options{
	cmpopts.IgnoreFields(onlinestock.Event{}, "Seq", "Time"),
	cmpopts.EquateEmpty(),
}

var equateEmpty = cmpopts.EquateEmpty()

// movementOpts compares ledger movements without their sequence number and
// time, which are checked on their own.
var movementOpts = cmp.Options{cmpopts.IgnoreFields(onlinestock.Movement{}, "Seq", "Time"), cmpopts.EquateEmpty()}

// newService returns a Service over a fresh Store with a fake clock.
func newService(t testing.TB, newStore NewStore, cfg onlinestock.Config) (*onlinestock.Service, *fakeClock) {
	t.Helper()
	tt, ok := t.(*testing.T)
	if !ok {
		t.Fatalf("newService needs a *testing.T, got %T", t)
	}
	clock := newClock()
	if cfg.Clock == nil {
		cfg.Clock = clock.Now
	}
	svc, err := onlinestock.New(newStore(tt), cfg)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return svc, clock
}

// shop is the usual test setup: outlets "a", "b" and "c"; register "ra" in
// "a" is the order register (so "a" is the primary outlet), "rb" is in "b";
// "a" and "b" are connected, "c" is not.
type shop struct {
	svc   *onlinestock.Service
	clock *fakeClock
	store onlinestock.Store
}

func newShop(t *testing.T, newStore NewStore, cfg onlinestock.Config) *shop {
	t.Helper()
	svc, clock := newService(t, newStore, cfg)
	s := &shop{svc: svc, clock: clock, store: svc.Store()}
	for _, id := range []string{"a", "b", "c"} {
		s.must(t, svc.SaveOutlet(ctx(t), id, "Outlet "+id))
	}
	s.must(t, svc.SaveRegister(ctx(t), "ra", "a", "Till A"))
	s.must(t, svc.SaveRegister(ctx(t), "rb", "b", "Till B"))
	_, err := svc.Activate(ctx(t), "ra")
	s.must(t, err)
	_, err = svc.Connect(ctx(t), "b")
	s.must(t, err)
	return s
}

func (s *shop) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// stock sets on-hand counts, "product@outlet" → units, and enables the
// products.
func (s *shop) stock(t testing.TB, onHand map[string]int64) {
	t.Helper()
	var changes []onlinestock.Change
	var products []string
	for _, k := range sortedKeys(onHand) {
		p, o := splitLevel(k)
		changes = append(changes, onlinestock.Set(p, o, onHand[k]))
		products = append(products, p)
	}
	if _, err := s.svc.Apply(ctx(t), changes); err != nil {
		t.Fatalf("Apply() error = %v", err)
	}
	s.must(t, s.svc.EnableOnline(ctx(t), products...))
}

func (s *shop) availability(t testing.TB, products ...string) []onlinestock.Availability {
	t.Helper()
	got, err := s.svc.Availability(ctx(t), products...)
	if err != nil {
		t.Fatalf("Availability(%q) error = %v", products, err)
	}
	return got
}

func (s *shop) online(t testing.TB, product string) int64 {
	t.Helper()
	return s.availability(t, product)[0].Quantity
}

func (s *shop) level(t testing.TB, product, outlet string) onlinestock.Level {
	t.Helper()
	levels, err := s.svc.Levels(ctx(t), product)
	if err != nil {
		t.Fatalf("Levels(%q) error = %v", product, err)
	}
	for _, l := range levels {
		if l.Outlet == outlet {
			return l
		}
	}
	return onlinestock.Level{Product: product, Outlet: outlet}
}

// events returns every event after seq.
func (s *shop) events(t testing.TB, after uint64) []onlinestock.Event {
	t.Helper()
	return allEvents(t, s.svc, after)
}

func (s *shop) lastSeq(t testing.TB) uint64 {
	t.Helper()
	ev := s.events(t, 0)
	if len(ev) == 0 {
		return 0
	}
	return ev[len(ev)-1].Seq
}

func allEvents(t testing.TB, svc *onlinestock.Service, after uint64) []onlinestock.Event {
	t.Helper()
	var out []onlinestock.Event
	for {
		page, err := svc.EventsSince(ctx(t), after, 0)
		if err != nil {
			t.Fatalf("EventsSince(%d) error = %v", after, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// ctx returns a context that ends with the test.
func ctx(t testing.TB) context.Context {
	if tt, ok := t.(interface{ Context() context.Context }); ok {
		return tt.Context()
	}
	return context.Background()
}

func splitLevel(k string) (product, outlet string) {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '@' {
			return k[:i], k[i+1:]
		}
	}
	panic("level key without @: " + k)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dump is everything a caller can read back from a Service, for checking
// that a call changed nothing.
type dump struct {
	Setup        *onlinestock.Setup
	Methods      []onlinestock.Method
	Orphaned     []onlinestock.Method
	Levels       map[string][]onlinestock.Level
	Availability []onlinestock.Availability
	Reservations map[string]onlinestock.Reservation
	Events       []onlinestock.Event
}

func takeDump(t testing.TB, svc *onlinestock.Service, products, orders []string) dump {
	t.Helper()
	c := ctx(t)
	var d dump
	var err error
	if d.Setup, err = svc.Setup(c); err != nil {
		t.Fatalf("Setup() error = %v", err)
	}
	if d.Methods, err = svc.Methods(c); err != nil {
		t.Fatalf("Methods() error = %v", err)
	}
	if d.Orphaned, err = svc.OrphanedMethods(c); err != nil {
		t.Fatalf("OrphanedMethods() error = %v", err)
	}
	d.Levels = map[string][]onlinestock.Level{}
	for _, p := range products {
		levels, err := svc.Levels(c, p)
		if err != nil && !errors.Is(err, onlinestock.ErrNotFound) {
			t.Fatalf("Levels(%q) error = %v", p, err)
		}
		d.Levels[p] = levels
	}
	if d.Availability, err = svc.Availability(c, products...); err != nil {
		t.Fatalf("Availability() error = %v", err)
	}
	d.Reservations = map[string]onlinestock.Reservation{}
	for _, o := range orders {
		r, err := svc.Reservation(c, o)
		if err != nil && !errors.Is(err, onlinestock.ErrNotFound) {
			t.Fatalf("Reservation(%q) error = %v", o, err)
		}
		d.Reservations[o] = r
	}
	d.Events = allEvents(t, svc, 0)
	return d
}

// availabilityEvents keeps the availability events of one product.
func availabilityEvents(events []onlinestock.Event, product string) []onlinestock.Event {
	return slices.DeleteFunc(slices.Clone(events), func(e onlinestock.Event) bool {
		return e.Kind != onlinestock.AvailabilityChanged || e.Product != product
	})
}

// checkChains checks every product's availability events form a chain from
// Unlisted to its current availability, and that sequence numbers have no
// gaps.
func checkChains(t testing.TB, svc *onlinestock.Service, products []string) {
	t.Helper()
	events := allEvents(t, svc, 0)
	for i, e := range events {
		if e.Seq != uint64(i)+1 {
			t.Fatalf("event %d has Seq %d, want %d (gap or disorder)", i, e.Seq, i+1)
		}
	}
	now, err := svc.Availability(ctx(t), products...)
	if err != nil {
		t.Fatalf("Availability() error = %v", err)
	}
	for i, p := range products {
		prev := onlinestock.Unlisted
		for _, e := range availabilityEvents(events, p) {
			if e.Before != prev {
				t.Fatalf("event #%d of %q: Before = %+v, want the previous After %+v", e.Seq, p, e.Before, prev)
			}
			if e.Before == e.After {
				t.Fatalf("event #%d of %q changes nothing: %+v", e.Seq, p, e.After)
			}
			prev = e.After
		}
		if prev != now[i] {
			t.Fatalf("last event of %q ends at %+v, but its availability is %+v", p, prev, now[i])
		}
	}
}

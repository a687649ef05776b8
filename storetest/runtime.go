package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/onlinestock/onlinestock"
)

// testRuntime checks what the background runtime needs of a Store: leases
// that one holder at a time holds, and retention that deletes only what
// has aged out.
func testRuntime(t *testing.T, newStore NewStore) {
	t.Parallel()
	t.Run("Leases", func(t *testing.T) { testLeases(t, newStore) })
	t.Run("Retention model", func(t *testing.T) { testRetentionModel(t, newStore) })
	t.Run("Retention keeps undelivered events", func(t *testing.T) { testRetentionKeepsUndelivered(t, newStore) })
}

func testLeases(t *testing.T, newStore NewStore) {
	t.Parallel()
	const long = time.Hour

	try := func(t *testing.T, s onlinestock.Store, name, holder string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.TryLease(ctx(t), name, holder, ttl)
		if err != nil {
			t.Fatalf("TryLease(%q, %q, %v) error = %v", name, holder, ttl, err)
		}
		if got != want {
			t.Errorf("TryLease(%q, %q, %v) = %v, want %v", name, holder, ttl, got, want)
		}
	}

	t.Run("one holder at a time, renewed by its holder, released to another", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		try(t, s, "deliver", "a", long, true)
		try(t, s, "deliver", "b", long, false)
		try(t, s, "deliver", "a", long, true) // renewed
		try(t, s, "other", "b", long, true)   // another name is another lease
		if err := s.ReleaseLease(ctx(t), "deliver", "b"); err != nil {
			t.Fatal(err)
		}
		try(t, s, "deliver", "b", long, false) // b's release of a's lease changed nothing
		if err := s.ReleaseLease(ctx(t), "deliver", "a"); err != nil {
			t.Fatal(err)
		}
		try(t, s, "deliver", "b", long, true)
		try(t, s, "deliver", "a", long, false)
		if err := s.ReleaseLease(ctx(t), "never", "a"); err != nil {
			t.Errorf("ReleaseLease(a lease nobody holds) error = %v, want nil", err)
		}
	})

	t.Run("an expired lease passes to another holder", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		try(t, s, "deliver", "a", 50*time.Millisecond, true)
		time.Sleep(200 * time.Millisecond) // well past the ttl, by any clock
		try(t, s, "deliver", "b", long, true)
		try(t, s, "deliver", "a", long, false)
	})

	t.Run("bad input is ErrInvalid", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, c := range []struct {
			name, holder string
			ttl          time.Duration
		}{{"", "a", long}, {"deliver", "", long}, {"deliver", "a", 0}, {"deliver", "a", -time.Second}} {
			if _, err := s.TryLease(ctx(t), c.name, c.holder, c.ttl); !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("TryLease(%q, %q, %v) error = %v, want ErrInvalid", c.name, c.holder, c.ttl, err)
			}
		}
		if err := s.ReleaseLease(ctx(t), "", "a"); !errors.Is(err, onlinestock.ErrInvalid) {
			t.Errorf("ReleaseLease(\"\", a) error = %v, want ErrInvalid", err)
		}
		try(t, s, "deliver", "b", long, true) // nothing was taken
	})

	t.Run("of concurrent takers exactly one wins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for round := range 10 {
			name := fmt.Sprintf("lease-%d", round)
			var won atomic.Int64
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					held, err := s.TryLease(context.Background(), name, fmt.Sprintf("holder-%d", i), long)
					if err != nil {
						t.Error(err)
					}
					if held {
						won.Add(1)
					}
				})
			}
			wg.Wait()
			if got := won.Load(); got != 1 {
				t.Errorf("round %d: %d holders took the lease, want 1", round, got)
			}
		}
	})
}

// testRetentionKeepsUndelivered is the plain case: two consumers at
// different cursors, a dead letter, and a prune as generous as can be.
func testRetentionKeepsUndelivered(t *testing.T, newStore NewStore) {
	t.Parallel()
	s := newStore(t)
	at := epoch
	for i := range 10 {
		appendEvents(t, s, at.Add(time.Duration(i)*time.Minute), 1)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.EventsSince(ctx(t), 0, 0); err != nil { // as the consumers did
		t.Fatal(err)
	}
	must(s.SetCursor(ctx(t), "web", 8))
	must(s.SetCursor(ctx(t), "crm", 5))
	must(s.PutDeadLetter(ctx(t), "web", onlinestock.DeadLetter{Seq: 4, Reason: "refused", Time: at}))
	later := at.Add(24 * time.Hour)
	r := onlinestock.Retention{Consumers: []string{"web", "crm"}, EventsBefore: later}
	got, err := s.Prune(ctx(t), r)
	must(err)
	if got.Events != 3 {
		t.Errorf("Prune() deleted %d events, want 3 (those before the dead letter #4)", got.Events)
	}
	must(s.DeleteDeadLetter(ctx(t), "web", 4))
	got, err = s.Prune(ctx(t), r)
	must(err)
	if got.Events != 2 {
		t.Errorf("Prune() deleted %d events, want 2 (up to crm's cursor at 5)", got.Events)
	}
	r.Consumers = append(r.Consumers, "new")
	got, err = s.Prune(ctx(t), r)
	must(err)
	if got.Events != 0 {
		t.Errorf("Prune() deleted %d events, want 0: a consumer never seen has acknowledged nothing", got.Events)
	}
	events, err := s.EventsSince(ctx(t), 0, 0)
	must(err)
	if diff := gocmp.Diff([]uint64{6, 7, 8, 9, 10}, seqsOfEvents(events)); diff != "" {
		t.Errorf("EventsSince(0) mismatch (-want +got):\n%s", diff)
	}
	appendEvents(t, s, later, 1)
	events, err = s.EventsSince(ctx(t), 10, 0)
	must(err)
	if diff := gocmp.Diff([]uint64{11}, seqsOfEvents(events)); diff != "" {
		t.Errorf("numbering after a prune mismatch (-want +got):\n%s", diff)
	}
}

func appendEvents(t interface {
	Helper()
	Fatal(...any)
}, s onlinestock.Store, at time.Time, n int) {
	t.Helper()
	events := make([]onlinestock.Event, n)
	for i := range events {
		events[i] = onlinestock.Event{Kind: onlinestock.ProductEnabled, Time: at, Product: "p"}
	}
	c := context.Background()
	if err := s.Update(c, func(tx onlinestock.Tx) error { return tx.AppendEvents(c, events) }); err != nil {
		t.Fatal(err)
	}
}

// retentionModel is what the Store should keep, computed the obvious way.
type retentionModel struct {
	events       []retainedEvent // kept, in seq order
	last         uint64
	cursors      map[string]uint64
	dead         map[string]map[uint64]bool
	reservations map[string]onlinestock.Reservation
	keys         map[string]time.Time
	movements    []retainedEvent // ledger movements kept, in seq order
	lastMove     uint64
}

type retainedEvent struct {
	seq uint64
	at  time.Time
}

var (
	retentionConsumers = []string{"web", "crm", "erp"}
	retentionOrders    = []string{"o1", "o2", "o3", "o4", "o5", "o6"}
	retentionKeys      = []string{"k1", "k2", "k3", "k4", "k5", "k6"}
	// ancient is a notBefore that expires no key: the model alone decides.
	ancient = epoch.Add(-1000 * time.Hour)
)

// errRollback undoes a transaction that only looked.
var errRollback = errors.New("storetest: rollback")

// prune is Store.Prune on the model.
func (m *retentionModel) prune(r onlinestock.Retention) onlinestock.Pruned {
	var done onlinestock.Pruned
	limit := cmp.Or(max(r.Limit, 0), 1000)
	if len(r.Consumers) > 0 && !r.EventsBefore.IsZero() {
		bound := m.last
		for _, c := range r.Consumers {
			bound = min(bound, m.cursors[c])
		}
		for _, seqs := range m.dead {
			for seq := range seqs {
				bound = min(bound, seq-1)
			}
		}
		for len(m.events) > 0 && done.Events < limit && m.events[0].seq <= bound && m.events[0].at.Before(r.EventsBefore) {
			m.events = m.events[1:]
			done.Events++
		}
	}
	if !r.ReservationsBefore.IsZero() {
		var closed []onlinestock.Reservation
		for _, res := range m.reservations {
			if res.Status != onlinestock.Open && res.Created.Before(r.ReservationsBefore) {
				closed = append(closed, res)
			}
		}
		slices.SortFunc(closed, func(a, b onlinestock.Reservation) int {
			return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Order, b.Order))
		})
		for _, res := range closed[:min(len(closed), limit)] {
			delete(m.reservations, res.Order)
			done.Reservations++
		}
	}
	if !r.KeysBefore.IsZero() {
		var old []string
		for k, at := range m.keys {
			if at.Before(r.KeysBefore) {
				old = append(old, k)
			}
		}
		slices.SortFunc(old, func(a, b string) int { return cmp.Or(m.keys[a].Compare(m.keys[b]), cmp.Compare(a, b)) })
		for _, k := range old[:min(len(old), limit)] {
			delete(m.keys, k)
			done.Keys++
		}
	}
	if !r.MovementsBefore.IsZero() {
		for len(m.movements) > 0 && done.Movements < limit && m.movements[0].at.Before(r.MovementsBefore) {
			m.movements = m.movements[1:]
			done.Movements++
		}
	}
	return done
}

type retentionMachine struct {
	store onlinestock.Store
	ctx   context.Context
	now   time.Time
	m     retentionModel
}

// testRetentionModel runs random writes, acknowledgements, dead letters
// and prunes against the Store and a model, and compares what the Store
// keeps with the model after every step: retention never deletes an
// unacknowledged event, one at or after a dead letter, an open
// reservation, a key inside its window or a movement younger than its age,
// and deletes what it may, oldest
// first, a bounded batch at a time.
func testRetentionModel(t *testing.T, newStore NewStore) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		mc := &retentionMachine{
			store: newStore(t),
			ctx:   t.Context(),
			now:   epoch,
			m: retentionModel{
				cursors:      map[string]uint64{},
				dead:         map[string]map[uint64]bool{},
				reservations: map[string]onlinestock.Reservation{},
				keys:         map[string]time.Time{},
			},
		}
		rt.Repeat(rapid.StateMachineActions(mc))
	})
}

func (mc *retentionMachine) drawSeq(t *rapid.T) uint64 {
	return rapid.Uint64Range(0, mc.m.last+1).Draw(t, "seq")
}

func (mc *retentionMachine) Advance(t *rapid.T) {
	mc.now = mc.now.Add(time.Duration(rapid.IntRange(1, 10).Draw(t, "minutes")) * time.Minute)
}

func (mc *retentionMachine) AppendEvents(t *rapid.T) {
	n := rapid.IntRange(1, 3).Draw(t, "events")
	appendEvents(t, mc.store, mc.now, n)
	for range n {
		mc.m.last++
		mc.m.events = append(mc.m.events, retainedEvent{seq: mc.m.last, at: mc.now})
	}
}

func (mc *retentionMachine) AppendMovements(t *rapid.T) {
	n := rapid.IntRange(1, 3).Draw(t, "movements")
	moves := make([]onlinestock.Movement, n)
	for i := range moves {
		moves[i] = onlinestock.Movement{Time: mc.now, Product: "p", Outlet: "o", Kind: onlinestock.MovedByAdjust,
			OnHandDelta: 1, OnHand: int64(mc.m.lastMove) + int64(i) + 1, Version: int64(mc.m.lastMove) + int64(i) + 1}
	}
	if err := mc.store.Update(mc.ctx, func(tx onlinestock.Tx) error { return tx.AppendMovements(mc.ctx, moves) }); err != nil {
		t.Fatal(err)
	}
	for range n {
		mc.m.lastMove++
		mc.m.movements = append(mc.m.movements, retainedEvent{seq: mc.m.lastMove, at: mc.now})
	}
}

func (mc *retentionMachine) SetCursor(t *rapid.T) {
	c := rapid.SampledFrom(retentionConsumers).Draw(t, "consumer")
	seq := mc.drawSeq(t)
	if err := mc.store.SetCursor(mc.ctx, c, seq); err != nil {
		t.Fatal(err)
	}
	mc.m.cursors[c] = max(mc.m.cursors[c], seq)
}

func (mc *retentionMachine) PutDeadLetter(t *rapid.T) {
	c := rapid.SampledFrom(retentionConsumers).Draw(t, "consumer")
	seq := max(mc.drawSeq(t), 1)
	if err := mc.store.PutDeadLetter(mc.ctx, c, onlinestock.DeadLetter{Seq: seq, Reason: "refused", Time: mc.now}); err != nil {
		t.Fatal(err)
	}
	if mc.m.dead[c] == nil {
		mc.m.dead[c] = map[uint64]bool{}
	}
	mc.m.dead[c][seq] = true
}

func (mc *retentionMachine) DeleteDeadLetter(t *rapid.T) {
	c := rapid.SampledFrom(retentionConsumers).Draw(t, "consumer")
	seqs := slices.Sorted(maps.Keys(mc.m.dead[c]))
	if len(seqs) == 0 {
		t.Skip("no dead letter")
	}
	seq := rapid.SampledFrom(seqs).Draw(t, "seq")
	if err := mc.store.DeleteDeadLetter(mc.ctx, c, seq); err != nil {
		t.Fatal(err)
	}
	delete(mc.m.dead[c], seq)
}

func (mc *retentionMachine) PutReservation(t *rapid.T) {
	r := onlinestock.Reservation{
		Order:   rapid.SampledFrom(retentionOrders).Draw(t, "order"),
		Status:  rapid.SampledFrom([]onlinestock.ReservationStatus{onlinestock.Open, onlinestock.Released, onlinestock.Fulfilled, onlinestock.Expired}).Draw(t, "status"),
		Created: mc.now,
	}
	if err := mc.store.Update(mc.ctx, func(tx onlinestock.Tx) error { return tx.PutReservation(mc.ctx, r) }); err != nil {
		t.Fatal(err)
	}
	mc.m.reservations[r.Order] = r
}

func (mc *retentionMachine) ClaimKey(t *rapid.T) {
	k := rapid.SampledFrom(retentionKeys).Draw(t, "key")
	err := mc.store.Update(mc.ctx, func(tx onlinestock.Tx) error {
		_, err := tx.ClaimKeys(mc.ctx, []onlinestock.KeyClaim{{Key: k, Change: "change of " + k}}, mc.now, ancient)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mc.m.keys[k]; !ok {
		mc.m.keys[k] = mc.now
	}
}

func (mc *retentionMachine) Prune(t *rapid.T) {
	before := func(label string) time.Time {
		if rapid.IntRange(0, 4).Draw(t, label+"Zero") == 0 {
			return time.Time{}
		}
		return mc.now.Add(-time.Duration(rapid.IntRange(0, 30).Draw(t, label)) * time.Minute)
	}
	r := onlinestock.Retention{
		Consumers:          rapid.SliceOfNDistinct(rapid.SampledFrom(retentionConsumers), 0, 3, rapid.ID[string]).Draw(t, "consumers"),
		EventsBefore:       before("eventsBefore"),
		ReservationsBefore: before("reservationsBefore"),
		KeysBefore:         before("keysBefore"),
		MovementsBefore:    before("movementsBefore"),
		Limit:              rapid.IntRange(-1, 5).Draw(t, "limit"),
	}
	got, err := mc.store.Prune(mc.ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	want := mc.m.prune(r)
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Fatalf("Prune(%+v) mismatch (-want +got):\n%s", r, diff)
	}
}

func (mc *retentionMachine) Check(t *rapid.T) {
	moves, err := mc.store.Movements(mc.ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage})
	if err != nil {
		t.Fatal(err)
	}
	var wantMoves, gotMoves []uint64
	for _, m := range mc.m.movements {
		wantMoves = append(wantMoves, m.seq)
	}
	for _, m := range moves {
		gotMoves = append(gotMoves, m.Seq)
	}
	if diff := gocmp.Diff(wantMoves, gotMoves, equateEmpty); diff != "" {
		t.Fatalf("movements kept mismatch (-want +got):\n%s", diff)
	}

	events, err := mc.store.EventsSince(mc.ctx, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, e := range mc.m.events {
		want = append(want, e.seq)
	}
	if diff := gocmp.Diff(want, seqsOfEvents(events), equateEmpty); diff != "" {
		t.Fatalf("events kept mismatch (-want +got):\n%s", diff)
	}
	if len(mc.m.events) > 0 {
		// Reading from inside the deleted prefix starts at the first kept.
		page, err := mc.store.EventsSince(mc.ctx, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 || page[0].Seq != mc.m.events[0].seq {
			t.Fatalf("EventsSince(0, 1) = %v, want event %d", seqsOfEvents(page), mc.m.events[0].seq)
		}
	}

	var kept []string
	err = mc.store.View(mc.ctx, func(tx onlinestock.Tx) error {
		for _, order := range retentionOrders {
			r, ok, err := tx.Reservation(mc.ctx, order)
			if err != nil {
				return err
			}
			if ok {
				kept = append(kept, order+":"+string(r.Status))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wantKept []string
	for _, order := range retentionOrders {
		if r, ok := mc.m.reservations[order]; ok {
			wantKept = append(wantKept, order+":"+string(r.Status))
		}
	}
	if diff := gocmp.Diff(wantKept, kept, equateEmpty); diff != "" {
		t.Fatalf("reservations kept mismatch (-want +got):\n%s", diff)
	}

	// Claiming every key, in a transaction rolled back, tells which the
	// Store still has.
	var prior []string
	err = mc.store.Update(mc.ctx, func(tx onlinestock.Tx) error {
		claims := make([]onlinestock.KeyClaim, len(retentionKeys))
		for i, k := range retentionKeys {
			claims[i] = onlinestock.KeyClaim{Key: k, Change: "change of " + k}
		}
		var err error
		prior, err = tx.ClaimKeys(mc.ctx, claims, mc.now, ancient)
		if err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update(ClaimKeys) error = %v", err)
	}
	wantPrior := make([]string, len(retentionKeys))
	for i, k := range retentionKeys {
		if _, ok := mc.m.keys[k]; ok {
			wantPrior[i] = "change of " + k
		}
	}
	if diff := gocmp.Diff(wantPrior, prior); diff != "" {
		t.Fatalf("keys kept (ClaimKeys duplicates of %v) mismatch (-want +got):\n%s", retentionKeys, diff)
	}
}

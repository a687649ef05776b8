// Package memstore is the in-memory [onlinestock.Store]: the embedded
// default, for a single process, for tests and for examples. It is safe for
// concurrent use: updates run one at a time under a lock, reads run in
// parallel with each other. Nothing survives the process. It keeps every
// event and reservation until [Store.Prune] deletes them (an
// [worker.Worker] does so periodically); idempotency keys are also
// forgotten once past their retention. Leases ([Store.TryLease]) are held
// within the process, by the Store's clock.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/worker"
)

var (
	_ onlinestock.Store = (*Store)(nil)
	_ worker.Listener   = (*Store)(nil)
)

var errReadOnly = errors.New("memstore: write in a read-only transaction")

// Store keeps the state of one retailer in memory. The zero value is not
// usable; call [New].
type Store struct {
	mu sync.RWMutex

	setup        *onlinestock.Setup   // replaced, never modified, on change
	catalog      *onlinestock.Catalog // likewise
	methods      []onlinestock.Method
	products     map[string]*product
	keys         map[string]keyClaim
	keyLog       []claim // keys in claim order, to forget expired ones
	events       eventLog
	movements    movementLog
	reservations map[string]onlinestock.Reservation
	deadlines    map[string]time.Time // open reservations that expire
	cursors      map[string]uint64
	dead         map[string]map[uint64]onlinestock.DeadLetter
	leases       map[string]lease

	writer  tx        // the one read-write transaction, reused under mu
	readers sync.Pool // of *tx

	listeners []chan struct{} // under mu: each told of commits of events, see Listen
}

type product struct {
	enabled bool
	levels  []onlinestock.Level // sorted by outlet
}

type lease struct {
	holder string
	until  time.Time
}

type claim struct {
	key string
	at  time.Time
}

// keyClaim is when a key was last claimed, and for what change.
type keyClaim struct {
	at     time.Time
	change string
}

// New returns an empty Store.
func New() *Store {
	s := &Store{
		setup:        &onlinestock.Setup{},
		catalog:      onlinestock.NewCatalog(nil, nil),
		products:     map[string]*product{},
		keys:         map[string]keyClaim{},
		reservations: map[string]onlinestock.Reservation{},
		deadlines:    map[string]time.Time{},
		cursors:      map[string]uint64{},
		dead:         map[string]map[uint64]onlinestock.DeadLetter{},
		leases:       map[string]lease{},
	}
	s.writer.s = s
	s.readers.New = func() any { return &tx{s: s, readOnly: true} }
	return s
}

// Update implements [onlinestock.Store]. Updates run one at a time.
func (s *Store) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.writer
	t.reset()
	defer t.reset()
	if err := fn(t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.commit()
	if len(t.events) > 0 {
		for _, l := range s.listeners {
			select {
			case l <- struct{}{}:
			default: // already told
			}
		}
	}
	return nil
}

// Listen implements [worker.Listener]: it calls wake with "" (a memstore
// has no tenant) after each commit of events, until ctx ends, and never
// fails. Commits that follow each other before wake runs may wake it
// once. A Worker over a Service on this Store thus delivers at commit.
func (s *Store) Listen(ctx context.Context, listening func(), wake func(tenant string)) error {
	l := make(chan struct{}, 1)
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.listeners = slices.DeleteFunc(s.listeners, func(c chan struct{}) bool { return c == l })
		s.mu.Unlock()
	}()
	if listening != nil {
		listening()
	}
	for {
		select {
		case <-l:
			wake("")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// View implements [onlinestock.Store]. Views run in parallel with each
// other, not with an Update.
func (s *Store) View(ctx context.Context, fn func(onlinestock.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.readers.Get().(*tx)
	defer func() {
		t.reset()
		s.readers.Put(t)
	}()
	return fn(t)
}

// ReadPage implements [onlinestock.Store]: under the read lock, it hands fn
// the Store's own slices, copying nothing.
func (s *Store) ReadPage(ctx context.Context, ids []string, fn func(onlinestock.Page) error) error {
	return s.View(ctx, func(tx onlinestock.Tx) error {
		products, err := tx.Products(ctx, s.catalog.WithComponents(ids))
		if err != nil {
			return err
		}
		return fn(onlinestock.Page{Outlets: s.setup.Outlets, Primary: s.setup.Primary(), Catalog: s.catalog, Products: products})
	})
}

// EventsSince implements [onlinestock.Store].
func (s *Store) EventsSince(ctx context.Context, after uint64, limit int) ([]onlinestock.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := s.events.since(after, limit)
	for i := range out {
		out[i].Methods = slices.Clone(out[i].Methods)
		out[i].Lines = slices.Clone(out[i].Lines)
		out[i].Allocations = slices.Clone(out[i].Allocations)
	}
	return out, nil
}

// seqLog is a numbered log, the outbox or the stock ledger: entries in
// fixed-size chunks, so appending never copies what is already there, and
// pruning drops whole chunks. Entries are numbered 1, 2, 3, … with no gap.
type seqLog[T any] struct {
	chunks [][]T
	n      uint64 // the last sequence number
	base   uint64 // entries before chunks[0] were dropped: chunks[0][0] is base+1
	pruned uint64 // entries up to this one are deleted, though maybe still in chunks[0]
}

type (
	eventLog    = seqLog[onlinestock.Event]
	movementLog = seqLog[onlinestock.Movement]
)

const chunkSize = 4096

// append adds v, which must already carry the next number, n+1.
func (l *seqLog[T]) append(v T) {
	if l.n%chunkSize == 0 {
		l.chunks = append(l.chunks, make([]T, 0, chunkSize))
	}
	l.n++
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, v)
}

// at returns the stored entry seq, which must lie in (base, n].
func (l *seqLog[T]) at(seq uint64) *T {
	i := seq - 1 - l.base
	return &l.chunks[i/chunkSize][i%chunkSize]
}

// since copies up to limit entries after seq. Sequence numbers start at 1
// and have no gaps, so entry seq sits at position seq-1-base.
func (l *seqLog[T]) since(after uint64, limit int) []T {
	after = max(after, l.pruned)
	if after >= l.n {
		return []T{}
	}
	out := make([]T, 0, min(uint64(limit), l.n-after))
	for i := after - l.base; i < l.n-l.base && len(out) < limit; {
		chunk := l.chunks[i/chunkSize][i%chunkSize:]
		chunk = chunk[:min(len(chunk), limit-len(out))]
		out = append(out, chunk...)
		i += uint64(len(chunk))
	}
	return out
}

// prune deletes the entries up to seq, which must not exceed n.
func (l *seqLog[T]) prune(seq uint64) {
	// Clear what is deleted, so it keeps no memory alive (an event's
	// method slices) until its chunk is dropped.
	var zero T
	for s := l.pruned + 1; s <= seq; s++ {
		*l.at(s) = zero
	}
	l.pruned = max(l.pruned, seq)
	for l.pruned-l.base >= chunkSize {
		l.chunks[0] = nil
		l.chunks = l.chunks[1:]
		l.base += chunkSize
	}
}

// Movements implements [onlinestock.Store]. A filter by product, outlet
// or reference scans the ledger from f.After on.
func (s *Store) Movements(ctx context.Context, f onlinestock.MovementFilter) ([]onlinestock.Movement, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := &s.movements
	out := []onlinestock.Movement{}
	for seq := max(f.After, l.pruned) + 1; seq <= l.n && len(out) < limit; seq++ {
		if m := l.at(seq); f.Matches(*m) {
			out = append(out, *m)
		}
	}
	return out, nil
}

// Cursor implements [onlinestock.Store].
func (s *Store) Cursor(ctx context.Context, consumer string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cursors[consumer], nil
}

// SetCursor implements [onlinestock.Store].
func (s *Store) SetCursor(ctx context.Context, consumer string, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors[consumer] = max(s.cursors[consumer], seq)
	return nil
}

// PutDeadLetter implements [onlinestock.Store].
func (s *Store) PutDeadLetter(ctx context.Context, consumer string, d onlinestock.DeadLetter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead[consumer] == nil {
		s.dead[consumer] = map[uint64]onlinestock.DeadLetter{}
	}
	s.dead[consumer][d.Seq] = d
	return nil
}

// DeadLetters implements [onlinestock.Store].
func (s *Store) DeadLetters(ctx context.Context, consumer string) ([]onlinestock.DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.Collect(maps.Values(s.dead[consumer]))
	slices.SortFunc(out, func(a, b onlinestock.DeadLetter) int { return cmp.Compare(a.Seq, b.Seq) })
	if out == nil {
		out = []onlinestock.DeadLetter{}
	}
	return out, nil
}

// TryLease implements [onlinestock.Store], by the process's clock.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return false, fmt.Errorf("memstore: lease ttl %v: not positive: %w", ttl, onlinestock.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if l, ok := s.leases[name]; ok && l.holder != holder && now.Before(l.until) {
		return false, nil
	}
	s.leases[name] = lease{holder: holder, until: now.Add(ttl)}
	return true, nil
}

// ReleaseLease implements [onlinestock.Store].
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := checkLease(name, holder); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[name].holder == holder {
		delete(s.leases, name)
	}
	return nil
}

func checkLease(name, holder string) error {
	if name == "" {
		return fmt.Errorf("memstore: lease name: empty: %w", onlinestock.ErrInvalid)
	}
	if holder == "" {
		return fmt.Errorf("memstore: lease holder: empty: %w", onlinestock.ErrInvalid)
	}
	return nil
}

// Prune implements [onlinestock.Store]. It holds the write lock while it
// deletes one batch.
func (s *Store) Prune(ctx context.Context, r onlinestock.Retention) (onlinestock.Pruned, error) {
	var done onlinestock.Pruned
	if err := ctx.Err(); err != nil {
		return done, err
	}
	limit := r.Limit
	if limit <= 0 {
		limit = 1000
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	if len(r.Consumers) > 0 && !r.EventsBefore.IsZero() {
		bound := s.events.n
		for _, c := range r.Consumers {
			bound = min(bound, s.cursors[c])
		}
		for _, letters := range s.dead {
			for seq := range letters {
				bound = min(bound, seq-1)
			}
		}
		last := s.events.pruned
		for last < bound && done.Events < limit {
			if e := s.events.at(last + 1); e.Time.IsZero() || !e.Time.Before(r.EventsBefore) {
				break
			}
			last++
			done.Events++
		}
		s.events.prune(last)
	}

	// Oldest first, as pgstore deletes them.
	if !r.ReservationsBefore.IsZero() {
		var closed []onlinestock.Reservation
		for _, res := range s.reservations {
			if res.Status != onlinestock.Open && !res.Created.IsZero() && res.Created.Before(r.ReservationsBefore) {
				closed = append(closed, res)
			}
		}
		slices.SortFunc(closed, func(a, b onlinestock.Reservation) int {
			return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Order, b.Order))
		})
		for _, res := range closed[:min(len(closed), limit)] {
			delete(s.reservations, res.Order)
			done.Reservations++
		}
	}

	if !r.KeysBefore.IsZero() {
		var expired []claim
		for key, k := range s.keys {
			if k.at.Before(r.KeysBefore) {
				expired = append(expired, claim{key: key, at: k.at})
			}
		}
		slices.SortFunc(expired, func(a, b claim) int {
			return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.key, b.key))
		})
		for _, c := range expired[:min(len(expired), limit)] {
			delete(s.keys, c.key)
			done.Keys++
		}
		// The claim log forgets the deleted keys on its next sweep.
	}

	if !r.MovementsBefore.IsZero() {
		l := &s.movements
		last := l.pruned
		for last < l.n && done.Movements < limit && l.at(last+1).Time.Before(r.MovementsBefore) {
			last++
			done.Movements++
		}
		l.prune(last)
	}
	return done, nil
}

// DeleteDeadLetter implements [onlinestock.Store].
func (s *Store) DeleteDeadLetter(ctx context.Context, consumer string, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dead[consumer], seq)
	return nil
}

// Package memstore is the in-memory [onlinestock.Store]: the embedded
// default, for a single process, for tests and for examples. It is safe for
// concurrent use: updates run one at a time under a lock, reads run in
// parallel with each other. Nothing survives the process, and it keeps
// every event and reservation for as long as it lives (idempotency keys are
// forgotten once past their retention): for a long-running production
// process, use pgstore.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/onlinestock/onlinestock"
)

var _ onlinestock.Store = (*Store)(nil)

var errReadOnly = errors.New("memstore: write in a read-only transaction")

// Store keeps the state of one retailer in memory. The zero value is not
// usable; call [New].
type Store struct {
	mu sync.RWMutex

	setup        *onlinestock.Setup // replaced, never modified, on change
	methods      []onlinestock.Method
	products     map[string]*product
	keys         map[string]time.Time
	keyLog       []claim // keys in claim order, to forget expired ones
	events       eventLog
	reservations map[string]onlinestock.Reservation
	deadlines    map[string]time.Time // open reservations that expire
	cursors      map[string]uint64
	dead         map[string]map[uint64]onlinestock.DeadLetter

	writer  tx        // the one read-write transaction, reused under mu
	readers sync.Pool // of *tx
}

type product struct {
	enabled bool
	levels  []onlinestock.Level // sorted by outlet
}

type claim struct {
	key string
	at  time.Time
}

// New returns an empty Store.
func New() *Store {
	s := &Store{
		setup:        &onlinestock.Setup{},
		products:     map[string]*product{},
		keys:         map[string]time.Time{},
		reservations: map[string]onlinestock.Reservation{},
		deadlines:    map[string]time.Time{},
		cursors:      map[string]uint64{},
		dead:         map[string]map[uint64]onlinestock.DeadLetter{},
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
	return nil
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
func (s *Store) ReadPage(ctx context.Context, ids []string, fn func([]onlinestock.Outlet, []onlinestock.Product) error) error {
	return s.View(ctx, func(tx onlinestock.Tx) error {
		products, err := tx.Products(ctx, ids)
		if err != nil {
			return err
		}
		return fn(s.setup.Outlets, products)
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
	}
	return out, nil
}

// eventLog is the outbox: events in fixed-size chunks, so appending never
// copies what is already there.
type eventLog struct {
	chunks [][]onlinestock.Event
	n      uint64
}

const chunkSize = 4096

func (l *eventLog) append(e onlinestock.Event) {
	if l.n%chunkSize == 0 {
		l.chunks = append(l.chunks, make([]onlinestock.Event, 0, chunkSize))
	}
	l.n++
	e.Seq = l.n
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, e)
}

// since copies up to limit events after seq. Sequence numbers start at 1
// and have no gaps, so event seq sits at position seq-1.
func (l *eventLog) since(after uint64, limit int) []onlinestock.Event {
	if after >= l.n {
		return []onlinestock.Event{}
	}
	out := make([]onlinestock.Event, 0, min(uint64(limit), l.n-after))
	for i := after; i < l.n && len(out) < limit; {
		chunk := l.chunks[i/chunkSize][i%chunkSize:]
		chunk = chunk[:min(len(chunk), limit-len(out))]
		out = append(out, chunk...)
		i += uint64(len(chunk))
	}
	return out
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

package onlinestock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Config configures a [Service]. The zero value of every field is a usable
// default.
type Config struct {
	// LowStockThreshold labels an enabled product LowStock when its online
	// stock is between 1 and this many units. Zero turns the label off. Keep
	// it fixed for a store: changing it relabels products without events.
	LowStockThreshold int64

	// HideOrphanedMethods hides at checkout the methods whose outlet is not
	// connected. By default they are offered, flagged orphaned.
	HideOrphanedMethods bool

	// KeyRetention is how long an idempotency key is remembered.
	// Zero means 72 hours.
	KeyRetention time.Duration

	// Allocator decides which outlets fill an order. Nil means
	// [FewestShipments].
	Allocator Allocator

	// Clock returns the current time. Nil means [time.Now]. A call that
	// reads a time outside the years 1678 to 2262 (more exactly, outside
	// int64 nanoseconds since 1970, what a Store keeps) fails with
	// ErrInvalid and changes nothing.
	Clock func() time.Time
}

// DefaultKeyRetention is how long idempotency keys are remembered when
// [Config.KeyRetention] is zero.
const DefaultKeyRetention = 72 * time.Hour

func (c Config) withDefaults() Config {
	if c.KeyRetention == 0 {
		c.KeyRetention = DefaultKeyRetention
	}
	if c.Allocator == nil {
		c.Allocator = FewestShipments{}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

func (c Config) validate() error {
	if err := checkRange("Config.LowStockThreshold", c.LowStockThreshold, 0, MaxOnHand); err != nil {
		return err
	}
	if c.KeyRetention < 0 {
		return invalid("Config.KeyRetention", "negative duration %v", c.KeyRetention)
	}
	return nil
}

// Service applies the library's rules over a [Store]. Each method runs in one
// Store transaction and writes its events in that transaction. A Service is
// safe for concurrent use, and several Services (in several processes) may
// share one Store.
type Service struct {
	store Store
	cfg   Config
	apply sync.Pool // of *applyScratch, so the hot path allocates little
}

// New returns a Service over store.
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, invalid("store", "nil")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, cfg: cfg.withDefaults()}, nil
}

// Store returns the Store the Service runs on.
func (s *Service) Store() Store { return s.store }

// now reads the clock, and refuses a time no Store can keep.
func (s *Service) now() (time.Time, error) {
	now := s.cfg.Clock()
	if err := checkTime("Config.Clock", now); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// EventsSince returns up to limit committed events after seq, in order (limit
// <= 0 means 1000). Poll it with the last Seq seen to follow every change.
func (s *Service) EventsSince(ctx context.Context, seq uint64, limit int) ([]Event, error) {
	return s.store.EventsSince(ctx, seq, limit)
}

// requirePrimary returns the primary outlet, or ErrNotActive.
func requirePrimary(setup *Setup) (string, error) {
	p := setup.Primary()
	if p == "" {
		return "", ErrNotActive
	}
	return p, nil
}

func notFound(kind, id string) error {
	return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
}

package onlinestock

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
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

	// MeterProvider records the Service's metrics through OpenTelemetry:
	// the duration of each call that reaches the Store, by method
	// ([MetricCallDuration]; a call refused as invalid before it reads
	// anything is not timed), Apply
	// calls refused with ErrConflict ([MetricApplyConflicts]), changes
	// skipped as duplicates ([MetricApplyDuplicates]), and Store
	// transactions run again after a conflict in the Store
	// ([MetricStoreRetries]). Nil records nothing, and costs nothing.
	MeterProvider metric.MeterProvider
}

// DefaultKeyRetention is how long idempotency keys are remembered when
// [Config.KeyRetention] is zero.
const DefaultKeyRetention = 72 * time.Hour

// WithDefaults returns c with its zero values replaced by their defaults.
func (c Config) WithDefaults() Config {
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

// Validate returns an error matching [ErrInvalid] that names the field of
// c that is wrong, or nil. [New] refuses such a Config.
func (c Config) Validate() error {
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
	store   Store
	cfg     Config
	apply   sync.Pool       // of *applyScratch, so the hot path allocates little
	metrics *serviceMetrics // nil without a MeterProvider
}

// New returns a Service over store.
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, invalid("store", "nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{store: store, cfg: cfg.WithDefaults()}
	if cfg.MeterProvider != nil {
		s.metrics = newServiceMetrics(cfg.MeterProvider)
	}
	return s, nil
}

// Store returns the Store the Service runs on.
func (s *Service) Store() Store { return s.store }

// Config returns the Service's Config, its zero values replaced by their
// defaults.
func (s *Service) Config() Config { return s.cfg }

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
	var events []Event
	err := s.read(ctx, "EventsSince", func() (err error) {
		events, err = s.store.EventsSince(ctx, seq, limit)
		return err
	})
	return events, err
}

package onlinestock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
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
	// the duration of each call, by method ([MetricCallDuration]), Apply
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
	store   Store // what the calls go through: plain, or counting retries
	plain   Store // the Store given to New
	cfg     Config
	apply   sync.Pool // of *applyScratch, so the hot path allocates little
	metrics serviceMetrics
}

// New returns a Service over store.
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, invalid("store", "nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{store: store, plain: store, cfg: cfg.WithDefaults()}
	if cfg.MeterProvider != nil {
		s.metrics = newServiceMetrics(cfg.MeterProvider)
		s.store = retryCounter{Store: store, m: &s.metrics}
	}
	return s, nil
}

// Store returns the Store the Service runs on.
func (s *Service) Store() Store { return s.plain }

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
	defer s.metrics.done(ctx, callEventsSince, s.metrics.start())
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

// MeterName names the meter that records the library's metrics: the
// Service's and the background runtime's (package worker).
const MeterName = "github.com/onlinestock/onlinestock"

// Names of the Service's metrics; see [Config.MeterProvider]. They are
// recorded by the meter named [MeterName].
const (
	MetricCallDuration    = "onlinestock.call.duration"
	MetricApplyConflicts  = "onlinestock.apply.conflicts"
	MetricApplyDuplicates = "onlinestock.apply.duplicates"
	MetricStoreRetries    = "onlinestock.store.retries"
)

// A call names a Service method, for the method attribute of
// MetricCallDuration.
type call uint8

const (
	callActivate call = iota
	callAmend
	callApply
	callAvailability
	callBackorders
	callBundles
	callConnect
	callDeleteBackorder
	callDeleteBundle
	callDeleteMethod
	callDisableOnline
	callDisconnect
	callEnableOnline
	callEventsSince
	callExpireReservations
	callFulfill
	callFulfillPart
	callLevels
	callMethods
	callMovements
	callOrphanedMethods
	callPreviewSelection
	callQuote
	callRelease
	callReleasePart
	callReservation
	callReservations
	callReserve
	callSaveBundle
	callSaveMethod
	callSaveOutlet
	callSaveRegister
	callSaveSelection
	callSetBackorder
	callSetBuffer
	callSetRank
	callSetup
	numCalls
)

var callNames = [numCalls]string{
	"Activate", "Amend", "Apply", "Availability", "Backorders", "Bundles", "Connect",
	"DeleteBackorder", "DeleteBundle", "DeleteMethod", "DisableOnline", "Disconnect", "EnableOnline",
	"EventsSince", "ExpireReservations", "Fulfill", "FulfillPart", "Levels", "Methods", "Movements",
	"OrphanedMethods", "PreviewSelection", "Quote", "Release", "ReleasePart", "Reservation",
	"Reservations", "Reserve", "SaveBundle", "SaveMethod", "SaveOutlet", "SaveRegister",
	"SaveSelection", "SetBackorder", "SetBuffer", "SetRank", "Setup",
}

// serviceMetrics are the Service's instruments. The zero value, without a
// MeterProvider, records nothing: each method then pays two branches.
type serviceMetrics struct {
	on         bool
	duration   metric.Float64Histogram
	conflicts  metric.Int64Counter
	duplicates metric.Int64Counter
	retries    metric.Int64Counter
	methods    *[numCalls][]metric.RecordOption // the method attribute of each call, made once
}

func newServiceMetrics(mp metric.MeterProvider) serviceMetrics {
	meter := mp.Meter(MeterName)
	m := serviceMetrics{on: true}
	// Instrument constructors fail only on invalid names; ours are valid,
	// and they return a usable no-op instrument along with any error.
	m.duration, _ = meter.Float64Histogram(MetricCallDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of Service calls, by method."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	m.conflicts, _ = meter.Int64Counter(MetricApplyConflicts, metric.WithUnit("{call}"),
		metric.WithDescription("Apply calls refused with ErrConflict: a change expected a version its level was no longer at."))
	m.duplicates, _ = meter.Int64Counter(MetricApplyDuplicates, metric.WithUnit("{change}"),
		metric.WithDescription("Changes Apply skipped because their key had been applied."))
	m.retries, _ = meter.Int64Counter(MetricStoreRetries, metric.WithUnit("{transaction}"),
		metric.WithDescription("Store transactions run again, after a serialization failure or a deadlock in the Store."))
	m.methods = new([numCalls][]metric.RecordOption)
	for c, name := range callNames {
		m.methods[c] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("method", name)))}
	}
	return m
}

// start returns the start of a call, or the zero time when nothing is
// recorded. A method begins with
//
//	defer s.metrics.done(ctx, callX, s.metrics.start())
func (m *serviceMetrics) start() time.Time {
	if !m.on {
		return time.Time{}
	}
	return time.Now()
}

// done records the duration of call c since start.
func (m *serviceMetrics) done(ctx context.Context, c call, start time.Time) {
	if !m.on {
		return
	}
	m.duration.Record(ctx, time.Since(start).Seconds(), m.methods[c]...)
}

// applied records an Apply's conflict or duplicates.
func (m *serviceMetrics) applied(ctx context.Context, results []ChangeResult, err error) {
	if !m.on {
		return
	}
	if errors.Is(err, ErrConflict) {
		m.conflicts.Add(ctx, 1)
		return
	}
	n := 0
	for _, r := range results {
		if r.Status == Duplicate {
			n++
		}
	}
	if n > 0 {
		m.duplicates.Add(ctx, int64(n))
	}
}

// retryCounter is the Store of a Service that records metrics: it counts
// the transactions Update runs again, seen as calls of their function
// after the first.
type retryCounter struct {
	Store
	m *serviceMetrics
}

// countedRun wraps an Update's function to count its runs. They are
// pooled, with the method value bound once, so counting allocates nothing.
type countedRun struct {
	fn   func(Tx) error
	runs int
	run  func(Tx) error // c.call
}

func (c *countedRun) call(tx Tx) error {
	c.runs++
	return c.fn(tx)
}

var countedRuns = sync.Pool{New: func() any {
	c := &countedRun{}
	c.run = c.call
	return c
}}

func (s retryCounter) Update(ctx context.Context, fn func(Tx) error) error {
	c := countedRuns.Get().(*countedRun)
	c.fn, c.runs = fn, 0
	err := s.Store.Update(ctx, c.run)
	runs := c.runs
	c.fn = nil
	countedRuns.Put(c)
	if runs > 1 {
		s.m.retries.Add(ctx, int64(runs-1))
	}
	return err
}

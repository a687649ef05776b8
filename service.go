package onlinestock

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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

// serviceMetrics are the Service's instruments. Without a MeterProvider it
// is nil, and a call pays one branch.
type serviceMetrics struct {
	duration   metric.Float64Histogram
	conflicts  metric.Int64Counter
	duplicates metric.Int64Counter
	retries    metric.Int64Counter
	// methods holds the method attribute of each call, made once, by
	// name: every method of Service that takes a context.
	methods map[string][]metric.RecordOption
}

func newServiceMetrics(mp metric.MeterProvider) *serviceMetrics {
	meter := mp.Meter(MeterName)
	m := &serviceMetrics{methods: map[string][]metric.RecordOption{}}
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
	ctxType, svc := reflect.TypeFor[context.Context](), reflect.TypeFor[*Service]()
	for i := range svc.NumMethod() {
		method := svc.Method(i)
		if method.Type.NumIn() > 1 && method.Type.In(1) == ctxType {
			m.methods[method.Name] = m.method(method.Name)
		}
	}
	return m
}

func (m *serviceMetrics) method(name string) []metric.RecordOption {
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("method", name)))}
}

// The Service's calls reach the Store through update, view, readPage and
// read, which name the call: metrics are recorded there, and only there.

// update runs fn in a Store transaction for the call named call, and
// records the call's duration and the transaction's retries.
func (s *Service) update(ctx context.Context, call string, fn func(Tx) error) error {
	m := s.metrics
	if m == nil {
		return s.store.Update(ctx, fn)
	}
	start := time.Now()
	c := countedRuns.Get().(*countedRun)
	c.fn, c.runs = fn, 0
	err := s.store.Update(ctx, c.run)
	runs := c.runs
	c.fn = nil
	countedRuns.Put(c)
	if runs > 1 {
		m.retries.Add(ctx, int64(runs-1))
	}
	m.done(ctx, call, start)
	return err
}

// view runs fn in a read-only Store transaction for the call named call,
// and records the call's duration.
func (s *Service) view(ctx context.Context, call string, fn func(Tx) error) error {
	m := s.metrics
	if m == nil {
		return s.store.View(ctx, fn)
	}
	start := time.Now()
	err := s.store.View(ctx, fn)
	m.done(ctx, call, start)
	return err
}

// readPage reads a page of ids for the call named call, and records the
// call's duration.
func (s *Service) readPage(ctx context.Context, call string, ids []string, fn func(Page) error) error {
	m := s.metrics
	if m == nil {
		return s.store.ReadPage(ctx, ids, fn)
	}
	start := time.Now()
	err := s.store.ReadPage(ctx, ids, fn)
	m.done(ctx, call, start)
	return err
}

// read runs fn, a read of the Store outside a transaction, for the call
// named call, and records the call's duration.
func (s *Service) read(ctx context.Context, call string, fn func() error) error {
	m := s.metrics
	if m == nil {
		return fn()
	}
	start := time.Now()
	err := fn()
	m.done(ctx, call, start)
	return err
}

// done records the duration of call since start.
func (m *serviceMetrics) done(ctx context.Context, call string, start time.Time) {
	attrs, ok := m.methods[call]
	if !ok { // not a method of Service: a mistake, recorded all the same
		attrs = m.method(call)
	}
	m.duration.Record(ctx, time.Since(start).Seconds(), attrs...)
}

// applied records an Apply's conflict or duplicates.
func (m *serviceMetrics) applied(ctx context.Context, results []ChangeResult, err error) {
	if m == nil {
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

// countedRun wraps an Update's function to count its runs: the runs after
// the first are the Store's retries. They are pooled, with the method
// value bound once, so counting allocates nothing.
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

package onlinestock

// The Service's metrics are recorded at one boundary: every call reaches
// the Store through update, view, readPage or read, which name the call.

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

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

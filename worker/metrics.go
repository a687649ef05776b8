package worker

import (
	"context"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/onlinestock/onlinestock"
)

// Instrument names of the Worker's metrics, recorded by the meter named
// [onlinestock.MeterName].
const (
	MetricEventsDelivered     = "onlinestock.events.delivered"
	MetricDeliveryLag         = "onlinestock.delivery.lag"
	MetricEventsRetried       = "onlinestock.events.retried"
	MetricEventsDeadLettered  = "onlinestock.events.dead_lettered"
	MetricReservationsExpired = "onlinestock.reservations.expired"
	MetricRetentionDeleted    = "onlinestock.retention.deleted"
	MetricLeasesHeld          = "onlinestock.leases.held"
)

// workerMetrics are the Worker's instruments. Their names and units follow
// the OpenTelemetry conventions; over one Service, every one carries the
// tenant when the Store has one, and delivery ones the consumer.
type workerMetrics struct {
	tenant    metric.MeasurementOption
	tenantSet []attribute.KeyValue

	deliveredEvents metric.Int64Counter
	lag             metric.Float64Histogram
	retried         metric.Int64Counter
	dead            metric.Int64Counter
	expired         metric.Int64Counter
	deleted         metric.Int64Counter
	leases          metric.Int64UpDownCounter // a no-op over Tenants
}

func newWorkerMetrics(mp metric.MeterProvider, tenant []attribute.KeyValue, leases bool) workerMetrics {
	meter := mp.Meter(onlinestock.MeterName)
	m := workerMetrics{tenant: metric.WithAttributeSet(attribute.NewSet(tenant...)), tenantSet: tenant}
	// Instrument constructors fail only on invalid names; ours are valid,
	// and they return a usable no-op instrument along with any error.
	m.deliveredEvents, _ = meter.Int64Counter(MetricEventsDelivered, metric.WithUnit("{event}"),
		metric.WithDescription("Events acknowledged by a consumer's Notifier."))
	m.lag, _ = meter.Float64Histogram(MetricDeliveryLag, metric.WithUnit("s"),
		metric.WithDescription("Time from an event's commit to its acknowledgement by a consumer."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	m.retried, _ = meter.Int64Counter(MetricEventsRetried, metric.WithUnit("{event}"),
		metric.WithDescription("Events whose delivery failed transiently and will be retried."))
	m.dead, _ = meter.Int64Counter(MetricEventsDeadLettered, metric.WithUnit("{event}"),
		metric.WithDescription("Events a consumer's Notifier refused for good."))
	m.expired, _ = meter.Int64Counter(MetricReservationsExpired, metric.WithUnit("{reservation}"),
		metric.WithDescription("Reservations released because their deadline passed."))
	m.deleted, _ = meter.Int64Counter(MetricRetentionDeleted, metric.WithUnit("{row}"),
		metric.WithDescription("Rows deleted by retention, by kind: event, reservation, key."))
	m.leases = noop.Int64UpDownCounter{}
	if leases {
		m.leases, _ = meter.Int64UpDownCounter(MetricLeasesHeld, metric.WithUnit("{lease}"),
			metric.WithDescription("Consumers this process delivers for."))
	}
	return m
}

func (m *workerMetrics) delivered(attrs metric.MeasurementOption, events []onlinestock.Event, at time.Time) {
	ctx := context.Background()
	m.deliveredEvents.Add(ctx, int64(len(events)), attrs)
	for _, e := range events {
		if !e.Time.IsZero() {
			m.lag.Record(ctx, max(at.Sub(e.Time), 0).Seconds(), attrs)
		}
	}
}

func (m *workerMetrics) pruned(ctx context.Context, p onlinestock.Pruned) {
	for _, k := range [...]struct {
		kind string
		n    int
	}{{"event", p.Events}, {"reservation", p.Reservations}, {"key", p.Keys}, {"movement", p.Movements}} {
		if k.n > 0 {
			m.deleted.Add(ctx, int64(k.n), metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(m.tenantSet), attribute.String("kind", k.kind))...)))
		}
	}
}

package onlinestock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// backoff is a capped exponential backoff with jitter: each wait is drawn
// from [d/2, d], and d doubles from min up to max.
type backoff struct {
	min, max, d time.Duration
}

func newBackoff(min, max time.Duration) backoff {
	return backoff{min: min, max: max, d: min}
}

// next returns how long to wait before the next attempt.
func (b *backoff) next() time.Duration {
	wait := b.d/2 + rand.N(b.d/2+1)
	b.d = min(b.d*2, b.max)
	return wait
}

// reset starts the backoff over, after a success.
func (b *backoff) reset() { b.d = b.min }

// sleep waits for d, and returns early with ctx's error when ctx ends, or
// with errStopping when stop is closed. A nil stop never closes.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errStopping
	}
}

// stopped reports whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// failureLog logs a repeated operation's failures once per change of state:
// one Error record when it starts failing, one Info record when it works
// again, with how many attempts failed in between. A Store that is down for
// an hour is two lines, not one per poll.
type failureLog struct {
	logger *slog.Logger
	msg    string
	attrs  []any

	failures int
	since    time.Time
}

// failed records a failure, and logs it if the operation was working.
func (f *failureLog) failed(ctx context.Context, err error) {
	f.failures++
	if f.failures > 1 {
		return
	}
	f.since = time.Now()
	f.logger.ErrorContext(ctx, f.msg+": failing, backing off", append(f.attrs, "err", err)...)
}

// ok records a success, and logs the recovery if the operation was failing.
func (f *failureLog) ok(ctx context.Context) {
	if f.failures == 0 {
		return
	}
	f.logger.InfoContext(ctx, f.msg+": working again", append(f.attrs, "failures", f.failures, "after", time.Since(f.since).Round(time.Millisecond))...)
	f.failures = 0
}

// Consumer is one destination of a [Worker]'s event delivery: a Notifier
// and the name of its cursor in the Store.
type Consumer struct {
	// Name names the consumer's cursor and dead letters, as
	// [DispatcherConfig.Consumer] does. Required; unique within a Worker.
	Name     string
	Notifier Notifier
}

// WorkerConfig configures a [Worker]. Zero values are defaults.
type WorkerConfig struct {
	// Consumers receive every committed event, each at its own pace and
	// from its own cursor. Without consumers the Worker only expires
	// reservations and prunes (never events: an event is pruned only once
	// every consumer has acknowledged it).
	Consumers []Consumer

	// Holder names this process in the Store's leases; it must differ
	// between processes. Default: the host name, the process ID and a
	// random suffix.
	Holder string
	// LeaseTTL is how long a consumer's lease lasts unless renewed; it is
	// renewed every LeaseTTL/3. When the process delivering for a consumer
	// dies, another takes over within about LeaseTTL and a third. Default
	// 15s.
	LeaseTTL time.Duration

	// BatchSize, PollInterval, MinBackoff and MaxBackoff tune delivery as
	// in [DispatcherConfig]. MinBackoff and MaxBackoff also bound the
	// waits after a Store error.
	//
	// A Worker over [Tenants] hands a tenant's consumer at most BatchSize
	// events at a time before it turns to the next tenant with work, and
	// asks the Tenants which tenants have events every PollInterval. When
	// the Tenants is a [Listener], commits wake the Worker at once, and
	// PollInterval only bounds how long a lost notification (the listening
	// connection failed) delays delivery: seconds are then a fair setting.
	BatchSize              int
	PollInterval           time.Duration
	MinBackoff, MaxBackoff time.Duration

	// Concurrency is how many tenants a Worker over [Tenants] serves at
	// once, each with one Store call at a time. A Worker over one Service
	// ignores it. Default 4.
	Concurrency int

	// ExpireEvery is how often reservations past their deadline are
	// released ([Service.ExpireReservations]). Default 1s; negative turns
	// expiry off.
	ExpireEvery time.Duration

	// RetentionEvery is how often retention runs. Default 1 minute, and
	// for a Worker over [Tenants], which goes through every tenant in
	// turn, spread over the period, 1 hour. Negative turns retention off.
	RetentionEvery time.Duration
	// RetainEvents is how long events are kept after they are committed
	// (and, in any case, until every consumer has acknowledged them, and
	// while any consumer has a dead letter at or before them). Default 7
	// days; negative keeps events for ever.
	RetainEvents time.Duration
	// RetainReservations is how long closed reservations are kept after
	// they were made: Reserve, Release and Fulfill replayed within that
	// window find them and stay idempotent. Default the Service's
	// [Config.KeyRetention]; negative keeps them for ever. Idempotency
	// keys are deleted once past [Config.KeyRetention].
	RetainReservations time.Duration
	// RetainMovements is how long the stock ledger's movements are kept
	// after they are committed. Zero (the default) or negative keeps them
	// for ever: the ledger is a record the retailer may want to keep.
	RetainMovements time.Duration
	// RetentionBatch is the most rows of each kind deleted in one batch.
	// Default 1000.
	RetentionBatch int

	// Logger receives the Worker's records, with the tenant (when the
	// Store has one, and over [Tenants]) and the consumer as attributes.
	// Default slog.Default().
	Logger *slog.Logger
	// MeterProvider records the Worker's metrics. Default a no-op. Over
	// [Tenants], metrics carry the consumer but not the tenant, so that
	// thousands of tenants do not make thousands of series, and leases
	// held ([MetricLeasesHeld]) are not recorded: a lease is taken while
	// a tenant has events and lapses when it has none.
	MeterProvider metric.MeterProvider
}

// Defaults for the zero values of [WorkerConfig].
const (
	DefaultLeaseTTL              = 15 * time.Second
	DefaultExpireEvery           = time.Second
	DefaultRetentionEvery        = time.Minute
	DefaultTenantsRetentionEvery = time.Hour
	DefaultRetainEvents          = 7 * 24 * time.Hour
	DefaultRetentionBatch        = 1000
	DefaultConcurrency           = 4
)

func (c WorkerConfig) withDefaults(svc Config, tenants bool) WorkerConfig {
	if c.Holder == "" {
		host, _ := os.Hostname()
		c.Holder = fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	d := DispatcherConfig{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff}.withDefaults()
	c.BatchSize, c.PollInterval, c.MinBackoff, c.MaxBackoff = d.BatchSize, d.PollInterval, d.MinBackoff, d.MaxBackoff
	if c.ExpireEvery == 0 {
		c.ExpireEvery = DefaultExpireEvery
	}
	if c.RetentionEvery == 0 {
		c.RetentionEvery = DefaultRetentionEvery
		if tenants {
			c.RetentionEvery = DefaultTenantsRetentionEvery
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.RetainEvents == 0 {
		c.RetainEvents = DefaultRetainEvents
	}
	if c.RetainReservations == 0 {
		c.RetainReservations = svc.KeyRetention
	}
	if c.RetentionBatch <= 0 {
		c.RetentionBatch = DefaultRetentionBatch
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = noop.NewMeterProvider()
	}
	return c
}

func (c WorkerConfig) validate() error {
	seen := map[string]bool{}
	for i, cons := range c.Consumers {
		field := fmt.Sprintf("WorkerConfig.Consumers[%d].Name", i)
		if err := checkID(field, cons.Name); err != nil {
			return err
		}
		if seen[cons.Name] {
			return invalid(field, "%q appears twice", cons.Name)
		}
		seen[cons.Name] = true
		if cons.Notifier == nil {
			return invalid(fmt.Sprintf("WorkerConfig.Consumers[%d].Notifier", i), "nil")
		}
	}
	if c.LeaseTTL < 0 {
		return invalid("WorkerConfig.LeaseTTL", "negative duration %v", c.LeaseTTL)
	}
	if c.RetentionBatch < 0 {
		return invalid("WorkerConfig.RetentionBatch", "negative %d", c.RetentionBatch)
	}
	if c.Concurrency < 0 {
		return invalid("WorkerConfig.Concurrency", "negative %d", c.Concurrency)
	}
	return nil
}

// Worker is the background runtime of a [Service]: it delivers events to
// its consumers, releases reservations past their deadline, and prunes
// what has aged out of the Store, until it is stopped. Run one in every
// process that serves the Store: for each consumer, a lease in the Store
// makes one process at a time deliver, and another takes over when it
// dies. Expiry and retention are idempotent, and every process runs them.
//
// A Worker over a Store of many tenants serves them all: see
// [NewTenantsWorker].
//
// A Worker runs once: [Worker.Run] (or [Worker.Start]) then
// [Worker.Stop].
type Worker struct {
	svc     *Service // nil for a Worker over Tenants
	svcCfg  Config   // the Service's, or the tenants' Services'
	tenant  string   // the Store's tenant, if it has one
	tenants *tenantRunner
	cfg     WorkerConfig
	log     *slog.Logger
	metrics workerMetrics
	cons    []*workerConsumer

	mu      sync.Mutex
	started bool
	stop    chan struct{} // closed by Stop: finish what is in flight, start nothing
	done    chan struct{} // closed when Run returns
	abort   context.CancelFunc
}

type workerConsumer struct {
	name  string
	lease string
	d     *Dispatcher
	log   *slog.Logger
	attrs metric.MeasurementOption
}

// NewWorker returns a Worker for svc and its Store, or an error matching
// [ErrInvalid] that names the field of cfg that is wrong.
func NewWorker(svc *Service, cfg WorkerConfig) (*Worker, error) {
	if svc == nil {
		return nil, invalid("service", "nil")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(svc.cfg, false)
	log := cfg.Logger
	var tenant []attribute.KeyValue
	w := &Worker{svc: svc, svcCfg: svc.cfg, cfg: cfg}
	if s, ok := svc.plain.(interface{ Tenant() string }); ok {
		w.tenant = s.Tenant()
		log = log.With("tenant", w.tenant)
		tenant = append(tenant, attribute.String("tenant", w.tenant))
	}
	w.log = log
	w.metrics = newWorkerMetrics(cfg.MeterProvider, tenant)
	for _, c := range cfg.Consumers {
		d, err := NewDispatcher(svc.store, c.Notifier, DispatcherConfig{
			Consumer: c.Name, BatchSize: cfg.BatchSize, PollInterval: cfg.PollInterval,
			MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, Logger: log, Clock: svc.cfg.Clock,
		})
		if err != nil {
			return nil, err
		}
		wc := &workerConsumer{
			name: c.Name, lease: "deliver:" + c.Name, d: d, log: log.With("consumer", c.Name),
			attrs: metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(tenant), attribute.String("consumer", c.Name))...)),
		}
		d.onDelivered = func(events []Event, at time.Time) { w.metrics.delivered(wc.attrs, events, at) }
		d.onRetry = func(events []Event) { w.metrics.retried.Add(context.Background(), int64(len(events)), wc.attrs) }
		d.onDead = func(Event) { w.metrics.dead.Add(context.Background(), 1, wc.attrs) }
		w.cons = append(w.cons, wc)
	}
	return w, nil
}

// Start runs the Worker in the background, as Run would, and returns at
// once. Stop it with [Worker.Stop]; ctx ending stops it too, abruptly.
func (w *Worker) Start(ctx context.Context) error {
	run, err := w.begin(ctx)
	if err != nil {
		return err
	}
	go run()
	return nil
}

// Run runs the Worker until [Worker.Stop] is called, then returns nil, or
// until ctx ends, then returns ctx's error. Ending ctx cancels what is in
// flight (a Notify call, a Store transaction); Stop lets it finish.
func (w *Worker) Run(ctx context.Context) error {
	run, err := w.begin(ctx)
	if err != nil {
		return err
	}
	run()
	if err := ctx.Err(); err != nil && !stopped(w.stop) {
		return err
	}
	return nil
}

// Stop stops the Worker gracefully: it starts no new delivery, expiry or
// retention batch, waits for those in flight to finish (a Notify call is
// not cut off half-way), releases its leases so another process takes
// over at once, and returns nil. If ctx ends first, Stop cancels what is
// still in flight, waits for the Worker to return, and returns ctx's
// error. Stopping a Worker that never ran, or stopped, returns nil.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	if !w.started {
		w.started = true // it will not run after this
		w.mu.Unlock()
		return nil
	}
	if !stopped(w.stop) {
		close(w.stop)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.abort()
		<-w.done
		return ctx.Err()
	}
}

var errWorkerStarted = errors.New("onlinestock: Worker already started (a Worker runs once)")

// begin marks the Worker started and returns its body.
func (w *Worker) begin(ctx context.Context) (func(), error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return nil, errWorkerStarted
	}
	w.started = true
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	ctx, w.abort = context.WithCancel(ctx)
	if w.tenants != nil {
		return func() {
			defer close(w.done)
			defer w.abort()
			w.tenants.run(ctx)
		}, nil
	}
	return func() {
		defer close(w.done)
		defer w.abort()
		var wg sync.WaitGroup
		for _, c := range w.cons {
			wg.Go(func() { w.deliver(ctx, c) })
		}
		if w.cfg.ExpireEvery > 0 {
			wg.Go(func() { w.expire(ctx) })
		}
		if w.cfg.RetentionEvery > 0 {
			wg.Go(func() { w.retain(ctx) })
		}
		w.log.InfoContext(ctx, "onlinestock: worker started", "holder", w.cfg.Holder, "consumers", len(w.cons))
		wg.Wait()
		w.log.InfoContext(ctx, "onlinestock: worker stopped", "holder", w.cfg.Holder)
	}, nil
}

// errLeaseLost cancels a delivery whose lease another process took.
var errLeaseLost = errors.New("onlinestock: lease lost")

// deliver runs one consumer's delivery: it waits for the consumer's lease,
// delivers while it holds it, and releases it when stopped.
func (w *Worker) deliver(ctx context.Context, c *workerConsumer) {
	health := failureLog{logger: c.log, msg: "onlinestock: lease"}
	retry := newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff)
	standby := w.cfg.LeaseTTL / 3
	defer func() {
		// Hand over at once rather than after the TTL: with a context of
		// its own, since ctx may have ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = w.svc.store.ReleaseLease(rctx, c.lease, w.cfg.Holder)
	}()
	for !stopped(w.stop) && ctx.Err() == nil {
		start := time.Now()
		held, err := w.svc.store.TryLease(ctx, c.lease, w.cfg.Holder, w.cfg.LeaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				health.failed(ctx, err)
			}
			_ = sleep(ctx, w.stop, retry.next())
			continue
		}
		health.ok(ctx)
		retry.reset()
		if !held {
			_ = sleep(ctx, w.stop, standby)
			continue
		}
		c.log.InfoContext(ctx, "onlinestock: delivering", "holder", w.cfg.Holder)
		w.metrics.leases.Add(ctx, 1, c.attrs)
		err = w.holdAndDeliver(ctx, c, start)
		w.metrics.leases.Add(ctx, -1, c.attrs)
		if errors.Is(err, errLeaseLost) {
			c.log.WarnContext(ctx, "onlinestock: lease lost, another process delivers", "holder", w.cfg.Holder)
		}
	}
}

// holdAndDeliver delivers for c while the lease, taken by a TryLease that
// started at taken, is held, renewing it in the background. It returns
// errLeaseLost when the lease could not be renewed in time, and nil when
// stopped.
func (w *Worker) holdAndDeliver(ctx context.Context, c *workerConsumer, taken time.Time) error {
	if w.tenant != "" {
		ctx = withTenant(ctx, w.tenant)
	}
	lctx, release := w.guard(ctx, w.svc.store, c.lease, taken)
	defer release()

	health := failureLog{logger: c.log, msg: "onlinestock: delivery"}
	retry := newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff)
	for {
		n, err := c.d.flush(lctx, w.stop)
		switch {
		case errors.Is(err, errStopping) || stopped(w.stop):
			return nil
		case lctx.Err() != nil:
			return context.Cause(lctx)
		case err != nil:
			health.failed(lctx, err)
			// Woken early by a stop or a lost lease, the next flush
			// returns at once and the switch above says which.
			_ = sleep(lctx, w.stop, max(w.cfg.PollInterval, retry.next()))
			continue
		}
		health.ok(lctx)
		retry.reset()
		if n == 0 {
			_ = sleep(lctx, w.stop, w.cfg.PollInterval)
		}
	}
}

// guard keeps the named lease of store, taken or last renewed by a
// TryLease that started at renewed, while the caller works under the
// returned context: it renews the lease in the background every
// LeaseTTL/3, and cancels the context with errLeaseLost when the Store
// says another holder has it, or when renewals have failed for two thirds
// of the TTL (so it may lapse before the next try). release stops the
// renewals and returns when they have stopped, with the start of the last
// renewal that succeeded.
func (w *Worker) guard(ctx context.Context, store Store, lease string, renewed time.Time) (context.Context, func() time.Time) {
	lctx, lose := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		renewed = w.renew(lctx, store, lease, renewed, lose)
	}()
	return lctx, func() time.Time {
		lose(nil)
		<-done
		return renewed
	}
}

// renew is guard's background work. It returns the start of the last
// renewal that succeeded.
func (w *Worker) renew(ctx context.Context, store Store, lease string, renewed time.Time, lose context.CancelCauseFunc) time.Time {
	next := renewed.Add(w.cfg.LeaseTTL / 3)
	for sleep(ctx, nil, time.Until(next)) == nil {
		start := time.Now()
		next = start.Add(w.cfg.LeaseTTL / 3)
		held, err := store.TryLease(ctx, lease, w.cfg.Holder, w.cfg.LeaseTTL)
		switch {
		case ctx.Err() != nil:
			return renewed
		case err == nil && held:
			renewed = start
		case err == nil && !held:
			lose(errLeaseLost)
			return renewed
		case time.Since(renewed) > 2*w.cfg.LeaseTTL/3:
			lose(fmt.Errorf("%w: renewing failed: %w", errLeaseLost, err))
			return renewed
		}
	}
	return renewed
}

// expire releases reservations past their deadline, every ExpireEvery.
func (w *Worker) expire(ctx context.Context) {
	health := failureLog{logger: w.log, msg: "onlinestock: expiring reservations"}
	retry := newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff)
	wait := time.Duration(0)
	for sleep(ctx, w.stop, wait) == nil {
		expired, err := w.svc.ExpireReservations(ctx, w.svc.cfg.Clock())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			health.failed(ctx, err)
			wait = max(w.cfg.ExpireEvery, retry.next())
			continue
		}
		health.ok(ctx)
		retry.reset()
		if len(expired) > 0 {
			w.metrics.expired.Add(ctx, int64(len(expired)), w.metrics.tenant)
			w.log.DebugContext(ctx, "onlinestock: reservations expired", "orders", expired)
		}
		wait = w.cfg.ExpireEvery
	}
}

// retain prunes the Store every RetentionEvery, in batches until a batch
// finds less than a full one to delete.
func (w *Worker) retain(ctx context.Context) {
	health := failureLog{logger: w.log, msg: "onlinestock: retention"}
	retry := newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff)
	consumers := make([]string, len(w.cons))
	for i, c := range w.cons {
		consumers[i] = c.name
	}
	wait := time.Duration(0)
	for sleep(ctx, w.stop, wait) == nil {
		wait = w.cfg.RetentionEvery
		if err := w.prune(ctx, w.svc.store, consumers); err != nil {
			if ctx.Err() == nil {
				health.failed(ctx, err)
				wait = max(wait, retry.next())
			}
			continue
		}
		health.ok(ctx)
		retry.reset()
	}
}

// prune prunes store in batches until a batch deletes less than a full
// one, or the Worker stops.
func (w *Worker) prune(ctx context.Context, store Store, consumers []string) error {
	for !stopped(w.stop) {
		done, err := store.Prune(ctx, w.retention(consumers))
		if err != nil {
			return err
		}
		w.metrics.pruned(ctx, done)
		if max(done.Events, done.Reservations, done.Keys, done.Movements) < w.cfg.RetentionBatch {
			return nil
		}
	}
	return nil
}

// retention says what may be pruned now.
func (w *Worker) retention(consumers []string) Retention {
	now := w.svcCfg.Clock()
	r := Retention{Consumers: consumers, Limit: w.cfg.RetentionBatch, KeysBefore: now.Add(-w.svcCfg.KeyRetention)}
	if w.cfg.RetainEvents > 0 {
		r.EventsBefore = now.Add(-w.cfg.RetainEvents)
	}
	if w.cfg.RetainReservations > 0 {
		r.ReservationsBefore = now.Add(-w.cfg.RetainReservations)
	}
	if w.cfg.RetainMovements > 0 {
		r.MovementsBefore = now.Add(-w.cfg.RetainMovements)
	}
	return r
}

// workerMetrics are the Worker's instruments. Their names and units follow
// the OpenTelemetry conventions; every one carries the tenant when the
// Store has one, and delivery ones the consumer.
type workerMetrics struct {
	tenant    metric.MeasurementOption
	tenantSet []attribute.KeyValue

	deliveredEvents metric.Int64Counter
	lag             metric.Float64Histogram
	retried         metric.Int64Counter
	dead            metric.Int64Counter
	expired         metric.Int64Counter
	deleted         metric.Int64Counter
	leases          metric.Int64UpDownCounter
}

// Meter and instrument names of the Worker's metrics.
const (
	MeterName = "github.com/onlinestock/onlinestock"

	MetricEventsDelivered     = "onlinestock.events.delivered"
	MetricDeliveryLag         = "onlinestock.delivery.lag"
	MetricEventsRetried       = "onlinestock.events.retried"
	MetricEventsDeadLettered  = "onlinestock.events.dead_lettered"
	MetricReservationsExpired = "onlinestock.reservations.expired"
	MetricRetentionDeleted    = "onlinestock.retention.deleted"
	MetricLeasesHeld          = "onlinestock.leases.held"
)

func newWorkerMetrics(mp metric.MeterProvider, tenant []attribute.KeyValue) workerMetrics {
	meter := mp.Meter(MeterName)
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
	m.leases, _ = meter.Int64UpDownCounter(MetricLeasesHeld, metric.WithUnit("{lease}"),
		metric.WithDescription("Consumers this process delivers for."))
	return m
}

func (m *workerMetrics) delivered(attrs metric.MeasurementOption, events []Event, at time.Time) {
	ctx := context.Background()
	m.deliveredEvents.Add(ctx, int64(len(events)), attrs)
	for _, e := range events {
		if !e.Time.IsZero() {
			m.lag.Record(ctx, max(at.Sub(e.Time), 0).Seconds(), attrs)
		}
	}
}

func (m *workerMetrics) pruned(ctx context.Context, p Pruned) {
	for _, k := range [...]struct {
		kind string
		n    int
	}{{"event", p.Events}, {"reservation", p.Reservations}, {"key", p.Keys}, {"movement", p.Movements}} {
		if k.n > 0 {
			m.deleted.Add(ctx, int64(k.n), metric.WithAttributeSet(attribute.NewSet(append(slices.Clone(m.tenantSet), attribute.String("kind", k.kind))...)))
		}
	}
}

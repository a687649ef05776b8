package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/onlinestock/onlinestock"
)

// Worker is the background runtime of the library: it delivers events to
// its consumers, releases reservations past their deadline, and prunes
// what has aged out of the Store, until it is stopped. Run one in every
// process that serves the Store: for each consumer (and tenant), a lease
// in the Store makes one process at a time deliver, and another takes
// over when it dies. Expiry and retention are idempotent, and every
// process runs them.
//
// A Worker serves one Service ([New]) or every tenant of a [Tenants]
// ([NewTenants]) with one loop: a Service is one tenant, always pending.
//
// A Worker runs once: [Worker.Run] (or [Worker.Start]) then
// [Worker.Stop].
type Worker struct {
	cfg      Config
	svcCfg   onlinestock.Config // the Services' Clock and KeyRetention
	src      Tenants
	listener Listener // src, or the one Service's Store, if it is one
	// open returns the Service of a tenant: the one Service, or one made
	// over the tenant's Store.
	open    func(tenant string) (*onlinestock.Service, error)
	log     *slog.Logger
	metrics workerMetrics
	cons    []*consumer

	mu      sync.Mutex
	started bool
	stop    chan struct{} // closed by Stop: finish what is in flight, start nothing
	done    chan struct{} // closed when Run returns
	abort   context.CancelFunc
}

// consumer is one consumer of a Worker, the same for every tenant.
type consumer struct {
	name     string
	lease    string
	notifier onlinestock.Notifier
	log      *slog.Logger
	attrs    metric.MeasurementOption
}

// New returns a Worker for svc and its Store, or an error matching
// [onlinestock.ErrInvalid] that names the field of cfg that is wrong.
//
// The Worker delivers each consumer's events under a lease taken while it
// runs, looks for events every PollInterval, and is woken at commit when
// the Store is a [Listener] (package memstore's and pgstore's are).
func New(svc *onlinestock.Service, cfg Config) (*Worker, error) {
	if svc == nil {
		return nil, invalid("service", "nil")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	scfg := svc.Config()
	cfg = cfg.withDefaults(scfg.KeyRetention, false)
	src := newOneTenant(svc.Store())
	log := cfg.Logger
	var tenant []attribute.KeyValue
	if src.name != "" {
		log = log.With("tenant", src.name)
		tenant = append(tenant, attribute.String("tenant", src.name))
	}
	w := &Worker{
		cfg: cfg, svcCfg: scfg, src: src, log: log,
		open:    func(string) (*onlinestock.Service, error) { return svc, nil },
		metrics: newWorkerMetrics(cfg.MeterProvider, tenant, true),
	}
	w.listener, _ = svc.Store().(Listener)
	w.addConsumers(tenant)
	return w, nil
}

// NewTenants returns a Worker that serves every tenant of tenants: it
// delivers each tenant's events to every consumer (a Notifier tells the
// tenants apart with [TenantOf]), releases each tenant's reservations past
// their deadline, and prunes each tenant's Store, until it is stopped.
// Each tenant's calls run through an [onlinestock.Service] made with svc.
// It returns an error matching [onlinestock.ErrInvalid] that names the
// field of svc or cfg that is wrong.
//
// The Worker finds the tenants with work by asking tenants
// ([Tenants.Pending] every PollInterval, [Tenants.Due] every ExpireEvery),
// and is woken at once when tenants is a [Listener]; it never reads every
// tenant to find them. It serves tenants in turn, a batch of at most
// BatchSize events per consumer at a time, Concurrency at once, so that a
// busy tenant delays the others by a batch at most per turn. A failing
// receiver or Store call makes only that tenant (and consumer) back off.
//
// Several processes may run one over the same tenants: the lease of each
// tenant and consumer lets one process at a time deliver, taken when the
// tenant has events and held while it has, and while its delivery backs
// off (the processes thus split the busy tenants between them); another
// process takes over within LeaseTTL and a third when the holder dies.
// The processes must all list the same consumers.
func NewTenants(tenants Tenants, svc onlinestock.Config, cfg Config) (*Worker, error) {
	if tenants == nil {
		return nil, invalid("tenants", "nil")
	}
	if err := svc.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	svc = svc.WithDefaults()
	cfg = cfg.withDefaults(svc.KeyRetention, true)
	w := &Worker{
		cfg: cfg, svcCfg: svc, src: tenants, log: cfg.Logger,
		open: func(tenant string) (*onlinestock.Service, error) {
			store, err := tenants.Store(tenant)
			if err != nil {
				return nil, err
			}
			return onlinestock.New(store, svc)
		},
		metrics: newWorkerMetrics(cfg.MeterProvider, nil, false),
	}
	w.listener, _ = tenants.(Listener)
	w.addConsumers(nil)
	return w, nil
}

func (w *Worker) addConsumers(tenant []attribute.KeyValue) {
	for _, c := range w.cfg.Consumers {
		attrs := append(append([]attribute.KeyValue(nil), tenant...), attribute.String("consumer", c.Name))
		w.cons = append(w.cons, &consumer{
			name: c.Name, lease: "deliver:" + c.Name, notifier: c.Notifier,
			log: w.log.With("consumer", c.Name), attrs: metric.WithAttributeSet(attribute.NewSet(attrs...)),
		})
	}
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
	r := newRunner(w)
	return func() {
		defer close(w.done)
		defer w.abort()
		r.run(ctx)
	}, nil
}

package onlinestock

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Tenants is a Store of many tenants (retailers), which one [Worker]
// serves together: see [NewTenantsWorker]. Package pgstore implements it
// for every tenant of a PostgreSQL database.
//
// Implementations must be safe for concurrent use. Listing methods return
// tenant names in byte order, at most limit of them (limit <= 0 means
// 1000), all after the name after ("" for the first page), and an empty
// slice when there are none.
type Tenants interface {
	// Store returns the Store of one tenant. A name no Store can have is
	// ErrInvalid.
	Store(tenant string) (Store, error)

	// Pending lists the tenants that may have committed events some
	// consumer has not acknowledged: each tenant that has committed events
	// since [Tenants.Settle] last settled it. It may list a tenant with
	// nothing left to deliver, never leave out one with something.
	Pending(ctx context.Context, after string, limit int) ([]string, error)
	// Due lists the tenants with an open reservation whose deadline is set
	// and not after now.
	Due(ctx context.Context, now time.Time, after string, limit int) ([]string, error)
	// Settle takes tenant off the Pending list if each of consumers has
	// acknowledged every event the tenant has committed, and reports
	// whether the tenant is off the list (true also if it was not on it).
	// It is atomic with respect to transactions committing events: one
	// that commits concurrently is either seen (and Settle returns false)
	// or puts the tenant back on the list. Every Worker serving a Tenants
	// must list the same consumers, or one may settle a tenant another
	// still has events of.
	Settle(ctx context.Context, tenant string, consumers []string) (bool, error)
	// List lists every tenant with data. Retention goes through them.
	List(ctx context.Context, after string, limit int) ([]string, error)
}

// Listener is implemented by a [Tenants] that can tell a Worker at once
// when a tenant commits events, so that it need not wait for its next
// poll. A Worker over such a Tenants listens all along, and listens again,
// with backoff, whenever Listen returns.
type Listener interface {
	// Listen calls wake with the name of a tenant that committed events
	// while nothing was pending for it (Tenants.Pending did not list it),
	// until ctx ends or the means of listening fails; then it returns the
	// failure, or ctx's error. It calls listening once (on the goroutine
	// that called Listen), when every such commit from then on reaches
	// wake; commits before may have been missed.
	Listen(ctx context.Context, listening func(), wake func(tenant string)) error
}

type tenantKey struct{}

// TenantOf returns the tenant whose events a [Worker] hands to a
// Notifier's Notify through ctx: the tenant of the Store, for a Worker
// over a Store that has one (a method Tenant() string), or the tenant
// being served, for a Worker over [Tenants]. It returns "" otherwise. A
// Notifier shared by many tenants tells them apart by it.
func TenantOf(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

func withTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// NewTenantsWorker returns a Worker that serves every tenant of tenants:
// it delivers each tenant's events to every consumer (a Notifier tells the
// tenants apart with [TenantOf]), releases each tenant's reservations past
// their deadline, and prunes each tenant's Store, until it is stopped.
// Each tenant's calls run through a [Service] made with svc. It returns an
// error matching [ErrInvalid] that names the field of svc or cfg that is
// wrong.
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
// tenant has events and held while it has (the processes thus split the
// busy tenants between them), and another process takes over within
// about LeaseTTL and a third when the holder dies. The processes must all
// list the same consumers.
func NewTenantsWorker(tenants Tenants, svc Config, cfg WorkerConfig) (*Worker, error) {
	if tenants == nil {
		return nil, invalid("tenants", "nil")
	}
	if err := svc.validate(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	svc = svc.withDefaults()
	cfg = cfg.withDefaults(svc, true)
	w := &Worker{cfg: cfg, svcCfg: svc, log: cfg.Logger}
	w.metrics = newWorkerMetrics(cfg.MeterProvider, nil)
	r := &tenantRunner{
		w: w, src: tenants, svc: svc,
		states: map[string]*tenantState{},
		signal: make(chan struct{}, 1), polls: make(chan struct{}, 1),
	}
	r.listener, _ = tenants.(Listener)
	for _, c := range cfg.Consumers {
		r.names = append(r.names, c.Name)
		w.cons = append(w.cons, &workerConsumer{
			name: c.Name, lease: "deliver:" + c.Name, log: w.log.With("consumer", c.Name),
			attrs: metric.WithAttributeSet(attribute.NewSet(attribute.String("consumer", c.Name))),
		})
	}
	r.notifiers = make([]Notifier, len(cfg.Consumers))
	for i, c := range cfg.Consumers {
		r.notifiers[i] = c.Notifier
	}
	w.tenants = r
	return w, nil
}

// tenantRunner is the body of a Worker over Tenants: a round-robin queue
// of the tenants with work, served by Concurrency goroutines, and the
// goroutines that fill it (polling, listening) or go through every tenant
// (retention).
type tenantRunner struct {
	w         *Worker
	src       Tenants
	listener  Listener // src, if it is one
	svc       Config
	names     []string // the consumers' names
	notifiers []Notifier

	mu     sync.Mutex
	states map[string]*tenantState
	ready  []*tenantState // the round-robin queue, served from the front
	later  laterQueue     // tenants to serve again at a given time
	signal chan struct{}  // tells a waiting server that ready or later changed
	polls  chan struct{}  // asks for a poll now
}

// tenantState is what the Worker keeps of one tenant.
type tenantState struct {
	name string

	// Under tenantRunner.mu.
	queued  bool   // in ready
	running bool   // being served
	again   bool   // woken while running: serve again after
	due     bool   // run expiry when next served
	gen     uint64 // bumped whenever it is queued, so older entries of later are ignored

	// Only the goroutine serving the tenant reads and writes the rest.
	opened bool
	svc    *Service // nil when the tenant cannot be opened
	log    *slog.Logger
	cons   []*tenantConsumer
	expiry tenantRetry
}

// tenantConsumer is one consumer's delivery for one tenant.
type tenantConsumer struct {
	wc      *workerConsumer
	d       *Dispatcher
	renewed time.Time // the start of the TryLease that last took or renewed the lease; zero: not held
	// cursor is the consumer's cursor, when known: while the lease has
	// been held without a break since it was read, no other process can
	// have moved it.
	cursor      uint64
	cursorKnown bool
	tenantRetry
}

// tenantRetry is the backoff of one repeated operation for one tenant.
type tenantRetry struct {
	notBefore time.Time
	retry     backoff
	health    failureLog
}

// failed records a failure and when to try again.
func (r *tenantRetry) failed(ctx context.Context, err error) time.Time {
	r.health.failed(ctx, err)
	r.notBefore = time.Now().Add(r.retry.next())
	return r.notBefore
}

func (r *tenantRetry) ok(ctx context.Context) {
	r.health.ok(ctx)
	r.retry.reset()
}

// run runs the Worker until it is stopped or ctx ends, then releases the
// leases it holds.
func (r *tenantRunner) run(ctx context.Context) {
	w := r.w
	// Listening ends with the Worker, whether stopped or cancelled.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-lctx.Done():
		}
	}()
	var wg sync.WaitGroup
	for range w.cfg.Concurrency {
		wg.Go(func() { r.serve(ctx) })
	}
	if len(w.cons) > 0 {
		wg.Go(func() { r.pollPending(ctx) })
		if r.listener != nil {
			wg.Go(func() { r.listen(lctx) })
		}
	}
	if w.cfg.ExpireEvery > 0 {
		wg.Go(func() { r.pollDue(ctx) })
	}
	if w.cfg.RetentionEvery > 0 {
		wg.Go(func() { r.retain(ctx) })
	}
	w.log.InfoContext(ctx, "onlinestock: worker started", "holder", w.cfg.Holder, "consumers", len(w.cons),
		"tenants", "all", "concurrency", w.cfg.Concurrency)
	wg.Wait()
	r.releaseLeases(ctx)
	w.log.InfoContext(ctx, "onlinestock: worker stopped", "holder", w.cfg.Holder)
}

// wake queues the named tenant to be served, with expiry if due.
func (r *tenantRunner) wake(name string, due bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.states[name]
	if t == nil {
		t = &tenantState{name: name}
		r.states[name] = t
	}
	t.due = t.due || due
	r.queue(t)
}

// queue puts t at the back of the ready queue, unless it is there already;
// a tenant being served is served again after. Called with r.mu held.
func (r *tenantRunner) queue(t *tenantState) {
	switch {
	case t.running:
		t.again = true
	case !t.queued:
		t.queued = true
		t.gen++
		r.ready = append(r.ready, t)
		r.kick()
	}
}

// kick tells one waiting server that there may be work.
func (r *tenantRunner) kick() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// next waits for a tenant to serve and marks it running, or returns nil
// once the Worker stops or ctx ends. It also says whether to run expiry.
func (r *tenantRunner) next(ctx context.Context) (*tenantState, bool) {
	for {
		r.mu.Lock()
		now := time.Now()
		for len(r.later) > 0 && !r.later[0].at.After(now) {
			e := heap.Pop(&r.later).(laterEntry)
			if e.gen == e.t.gen && !e.t.queued && !e.t.running {
				r.queue(e.t)
			}
		}
		if len(r.ready) > 0 {
			t := r.ready[0]
			r.ready[0] = nil
			r.ready = r.ready[1:]
			t.queued, t.running = false, true
			due := t.due
			t.due = false
			if len(r.ready) > 0 {
				r.kick() // hand the rest to another server
			}
			r.mu.Unlock()
			return t, due
		}
		wait := time.Hour
		if len(r.later) > 0 {
			wait = time.Until(r.later[0].at)
		}
		r.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-r.signal:
		case <-timer.C:
		case <-ctx.Done():
		case <-r.w.stop:
		}
		timer.Stop()
		if ctx.Err() != nil || stopped(r.w.stop) {
			return nil, false
		}
	}
}

// served records the outcome of serving t: serve it again at once (more
// to do, or woken meanwhile), at a given time (a retry), or when woken.
func (r *tenantRunner) served(t *tenantState, res stepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t.running = false
	t.due = t.due || res.due
	switch {
	case res.again || t.again:
		t.again = false
		r.queue(t)
	case !res.at.IsZero():
		t.gen++
		heap.Push(&r.later, laterEntry{at: res.at, t: t, gen: t.gen})
		r.kick()
	}
}

// serve is one of the Concurrency goroutines that serve tenants in turn.
func (r *tenantRunner) serve(ctx context.Context) {
	for {
		t, due := r.next(ctx)
		if t == nil {
			return
		}
		r.served(t, r.step(ctx, t, due))
	}
}

// stepResult says when to serve a tenant again.
type stepResult struct {
	again bool      // at once, at the back of the queue
	at    time.Time // else at this time, if set
	due   bool      // with expiry
}

// retryAt asks for a retry at at, or sooner if another asked for sooner.
func (s *stepResult) retryAt(at time.Time) {
	if s.at.IsZero() || at.Before(s.at) {
		s.at = at
	}
}

// errNotHeld says another process holds a lease.
var errNotHeld = errors.New("onlinestock: lease held by another process")

// step serves one tenant once: a batch at most for each consumer, expiry
// if due, and, when every consumer has had every event it found (a batch
// that was not full), settles the tenant.
func (r *tenantRunner) step(ctx context.Context, t *tenantState, due bool) stepResult {
	var res stepResult
	if !r.open(t) {
		return res
	}
	ctx = withTenant(ctx, t.name)
	caughtUp := len(t.cons) > 0
	for _, c := range t.cons {
		if stopped(r.w.stop) || ctx.Err() != nil {
			return res
		}
		if now := time.Now(); now.Before(c.notBefore) {
			res.retryAt(c.notBefore)
			caughtUp = false
			continue
		}
		n, err := r.deliver(ctx, t, c)
		switch {
		case stopped(r.w.stop) || ctx.Err() != nil:
			return res
		case errors.Is(err, errNotHeld):
			// Another process delivers; try again when its lease may
			// have lapsed.
			c.notBefore = time.Now().Add(r.w.cfg.LeaseTTL / 3)
			res.retryAt(c.notBefore)
			caughtUp = false
		case err != nil:
			res.retryAt(c.failed(ctx, err))
			caughtUp = false
		default:
			c.ok(ctx)
			if n == r.w.cfg.BatchSize {
				res.again, caughtUp = true, false // there may be more
			}
		}
	}
	// Expiry when due, and until a failed one succeeds.
	if (due || !t.expiry.notBefore.IsZero()) && !stopped(r.w.stop) {
		if now := time.Now(); now.Before(t.expiry.notBefore) {
			res.retryAt(t.expiry.notBefore)
		} else if expired, err := t.svc.ExpireReservations(ctx, r.svc.Clock()); err != nil {
			if ctx.Err() != nil {
				return res
			}
			res.retryAt(t.expiry.failed(ctx, err))
		} else {
			t.expiry.ok(ctx)
			t.expiry.notBefore = time.Time{}
			if len(expired) > 0 {
				r.w.metrics.expired.Add(ctx, int64(len(expired)), r.w.metrics.tenant)
				t.log.DebugContext(ctx, "onlinestock: reservations expired", "orders", expired)
			}
		}
	}
	if caughtUp && !stopped(r.w.stop) {
		settled, err := r.src.Settle(ctx, t.name, r.names)
		switch {
		case err != nil:
			// The tenant stays pending: the next poll brings it back.
			if ctx.Err() == nil {
				t.log.DebugContext(ctx, "onlinestock: settling the tenant failed", "err", err)
			}
		case !settled:
			res.again = true // events committed since this step read them
		}
	}
	return res
}

// open makes t's Service and dispatchers on first use, and reports
// whether the tenant can be served.
func (r *tenantRunner) open(t *tenantState) bool {
	if t.opened {
		return t.svc != nil
	}
	t.opened = true
	w := r.w
	t.log = w.log.With("tenant", t.name)
	store, err := r.src.Store(t.name)
	if err == nil {
		t.svc, err = New(store, r.svc)
	}
	if err != nil {
		t.svc = nil
		t.log.Warn("onlinestock: tenant cannot be served", "err", err)
		return false
	}
	t.expiry = tenantRetry{retry: newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff),
		health: failureLog{logger: t.log, msg: "onlinestock: expiring reservations"}}
	for i, wc := range w.cons {
		log := t.log.With("consumer", wc.name)
		d, err := NewDispatcher(store, r.notifiers[i], DispatcherConfig{
			Consumer: wc.name, BatchSize: w.cfg.BatchSize, PollInterval: w.cfg.PollInterval,
			MinBackoff: w.cfg.MinBackoff, MaxBackoff: w.cfg.MaxBackoff, Logger: t.log, Clock: r.svc.Clock,
		})
		if err != nil { // the names were checked by NewTenantsWorker
			t.log.Error("onlinestock: tenant cannot be served", "err", err)
			t.svc = nil
			return false
		}
		d.onDelivered = func(events []Event, at time.Time) { w.metrics.delivered(wc.attrs, events, at) }
		d.onRetry = func(events []Event) { w.metrics.retried.Add(context.Background(), int64(len(events)), wc.attrs) }
		d.onDead = func(Event) { w.metrics.dead.Add(context.Background(), 1, wc.attrs) }
		t.cons = append(t.cons, &tenantConsumer{wc: wc, d: d, tenantRetry: tenantRetry{
			retry:  newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff),
			health: failureLog{logger: log, msg: "onlinestock: delivery"},
		}})
	}
	return true
}

// deliver delivers a batch at most to c, under c's lease: it takes the
// lease, or renews it if it was last renewed more than LeaseTTL/3 ago,
// and keeps it renewed while the batch is in flight. It returns
// errNotHeld when another process holds the lease, or lost it meanwhile.
func (r *tenantRunner) deliver(ctx context.Context, t *tenantState, c *tenantConsumer) (int, error) {
	w := r.w
	store := t.svc.store
	if c.renewed.IsZero() || time.Since(c.renewed) >= w.cfg.LeaseTTL/3 {
		start := time.Now()
		held, err := store.TryLease(ctx, c.wc.lease, w.cfg.Holder, w.cfg.LeaseTTL)
		if err != nil || !held {
			c.renewed, c.cursorKnown = time.Time{}, false
			if err == nil {
				err = errNotHeld
			}
			return 0, err
		}
		if c.renewed.IsZero() {
			c.wc.log.DebugContext(ctx, "onlinestock: delivering", "tenant", t.name, "holder", w.cfg.Holder)
		}
		if c.renewed.IsZero() || start.Sub(c.renewed) >= w.cfg.LeaseTTL {
			c.cursorKnown = false // the lease may have lapsed: another process may have delivered
		}
		c.renewed = start
	}
	lctx, release := w.guard(ctx, store, c.wc.lease, c.renewed)
	n, cursor, err := c.d.step(lctx, w.stop, c.cursorKnown, c.cursor)
	lost := errors.Is(context.Cause(lctx), errLeaseLost)
	c.renewed = release()
	c.cursor, c.cursorKnown = cursor, err == nil && !lost
	if lost {
		c.renewed = time.Time{}
		t.log.WarnContext(ctx, "onlinestock: lease lost, another process delivers", "consumer", c.wc.name, "holder", w.cfg.Holder)
		return n, errNotHeld
	}
	if errors.Is(err, errStopping) {
		return n, nil
	}
	return n, err
}

// releaseLeases releases the leases the Worker may still hold, so other
// processes take over at once rather than when they lapse.
func (r *tenantRunner) releaseLeases(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	r.mu.Lock()
	var held []func()
	for _, t := range r.states {
		if t.svc == nil {
			continue
		}
		for _, c := range t.cons {
			if !c.renewed.IsZero() && time.Since(c.renewed) < r.w.cfg.LeaseTTL {
				store, lease := t.svc.store, c.wc.lease
				held = append(held, func() { _ = store.ReleaseLease(rctx, lease, r.w.cfg.Holder) })
			}
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	work := make(chan func())
	for range min(r.w.cfg.Concurrency, len(held)) {
		wg.Go(func() {
			for release := range work {
				release()
			}
		})
	}
	for _, release := range held {
		work <- release
	}
	close(work)
	wg.Wait()
}

// page calls each with every name list returns, a page at a time.
func page(ctx context.Context, list func(ctx context.Context, after string, limit int) ([]string, error), each func(string)) error {
	const limit = 1000
	after := ""
	for {
		names, err := list(ctx, after, limit)
		if err != nil {
			return err
		}
		for _, name := range names {
			each(name)
		}
		if len(names) < limit {
			return nil
		}
		after = names[len(names)-1]
	}
}

// pollPending queues the tenants with pending events every PollInterval,
// and at once when asked (when the listener starts listening).
func (r *tenantRunner) pollPending(ctx context.Context) {
	r.poll(ctx, r.w.cfg.PollInterval, r.polls, "onlinestock: finding tenants with events", func(ctx context.Context) error {
		return page(ctx, r.src.Pending, func(name string) { r.wake(name, false) })
	})
}

// pollDue queues the tenants with reservations due every ExpireEvery.
func (r *tenantRunner) pollDue(ctx context.Context) {
	due := func(ctx context.Context, after string, limit int) ([]string, error) {
		return r.src.Due(ctx, r.svc.Clock(), after, limit)
	}
	r.poll(ctx, r.w.cfg.ExpireEvery, nil, "onlinestock: finding tenants with reservations due", func(ctx context.Context) error {
		return page(ctx, due, func(name string) { r.wake(name, true) })
	})
}

// poll runs find at once and then every interval, or sooner when now
// delivers, backing off while it fails, until the Worker stops.
func (r *tenantRunner) poll(ctx context.Context, interval time.Duration, now <-chan struct{}, msg string, find func(context.Context) error) {
	health := failureLog{logger: r.w.log, msg: msg}
	retry := newBackoff(r.w.cfg.MinBackoff, r.w.cfg.MaxBackoff)
	wait := time.Duration(0)
	for {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-now:
		case <-ctx.Done():
		case <-r.w.stop:
		}
		timer.Stop()
		if ctx.Err() != nil || stopped(r.w.stop) {
			return
		}
		if err := find(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			health.failed(ctx, err)
			wait = max(interval, retry.next())
			continue
		}
		health.ok(ctx)
		retry.reset()
		wait = interval
	}
}

// listen keeps listening for commits, with backoff between attempts, and
// polls at once each time it listens again, for what it missed meanwhile.
func (r *tenantRunner) listen(ctx context.Context) {
	health := failureLog{logger: r.w.log, msg: "onlinestock: listening for commits"}
	retry := newBackoff(r.w.cfg.MinBackoff, r.w.cfg.MaxBackoff)
	for ctx.Err() == nil {
		err := r.listener.Listen(ctx, func() {
			health.ok(ctx)
			retry.reset()
			r.w.log.DebugContext(ctx, "onlinestock: listening for commits")
			select {
			case r.polls <- struct{}{}:
			default:
			}
		}, func(tenant string) { r.wake(tenant, false) })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("listening ended")
		}
		health.failed(ctx, err)
		_ = sleep(ctx, nil, retry.next())
	}
}

// retain prunes every tenant once per RetentionEvery, the tenants spread
// over the period, each in batches until a batch finds less than a full
// one to delete.
func (r *tenantRunner) retain(ctx context.Context) {
	w := r.w
	health := failureLog{logger: w.log, msg: "onlinestock: retention"}
	retry := newBackoff(w.cfg.MinBackoff, w.cfg.MaxBackoff)
	wait := time.Duration(0)
	for sleep(ctx, w.stop, wait) == nil {
		start := time.Now()
		wait = w.cfg.RetentionEvery
		var names []string
		if err := page(ctx, r.src.List, func(name string) { names = append(names, name) }); err != nil {
			if ctx.Err() == nil {
				health.failed(ctx, err)
				wait = retry.next()
			}
			continue
		}
		gap := w.cfg.RetentionEvery / time.Duration(max(len(names), 1))
		failed := false
		for i, name := range names {
			if sleep(ctx, w.stop, time.Until(start.Add(time.Duration(i)*gap))) != nil {
				return
			}
			store, err := r.src.Store(name)
			if err != nil {
				continue
			}
			if err := w.prune(ctx, store, r.names); err != nil {
				if ctx.Err() != nil {
					return
				}
				health.failed(ctx, err)
				failed = true
				continue
			}
		}
		if !failed {
			health.ok(ctx)
			retry.reset()
		}
	}
}

// laterQueue is a heap of tenants to serve again, earliest first.
type laterQueue []laterEntry

type laterEntry struct {
	at  time.Time
	t   *tenantState
	gen uint64
}

func (q laterQueue) Len() int           { return len(q) }
func (q laterQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q laterQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *laterQueue) Push(x any)        { *q = append(*q, x.(laterEntry)) }
func (q *laterQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = slices.Delete(old, len(old)-1, len(old))
	return e
}

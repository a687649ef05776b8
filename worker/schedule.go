package worker

import (
	"container/heap"
	"context"
	"slices"
	"sync"
	"time"
)

// runner is the body of a running Worker: a round-robin queue of the
// tenants with work, served by Concurrency goroutines, and the goroutines
// that fill it (polling, listening) or go through every tenant
// (retention). A Worker over one Service runs the same, over one tenant.
type runner struct {
	w     *Worker
	names []string // the consumers' names

	mu     sync.Mutex
	states map[string]*tenant
	ready  []*tenant     // the round-robin queue, served from the front
	later  laterQueue    // tenants to serve again at a given time
	signal chan struct{} // tells a waiting server that ready or later changed
	polls  chan struct{} // asks for a poll now
}

func newRunner(w *Worker) *runner {
	r := &runner{w: w, states: map[string]*tenant{}, signal: make(chan struct{}, 1), polls: make(chan struct{}, 1)}
	for _, c := range w.cons {
		r.names = append(r.names, c.name)
	}
	return r
}

// run runs the Worker until it is stopped or ctx ends, then releases the
// leases it holds.
func (r *runner) run(ctx context.Context) {
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
		if w.listener != nil {
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
		"concurrency", w.cfg.Concurrency)
	wg.Wait()
	r.releaseLeases(ctx)
	w.log.InfoContext(ctx, "onlinestock: worker stopped", "holder", w.cfg.Holder)
}

// wake queues the named tenant to be served, with expiry if due.
func (r *runner) wake(name string, due bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.states[name]
	if t == nil {
		t = &tenant{name: name}
		r.states[name] = t
	}
	t.due = t.due || due
	r.queue(t)
}

// queue puts t at the back of the ready queue, unless it is there already;
// a tenant being served is served again after. Called with r.mu held.
func (r *runner) queue(t *tenant) {
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
func (r *runner) kick() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// next waits for a tenant to serve and marks it running, or returns nil
// once the Worker stops or ctx ends. It also says whether to run expiry.
func (r *runner) next(ctx context.Context) (*tenant, bool) {
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
func (r *runner) served(t *tenant, res stepResult) {
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
func (r *runner) serve(ctx context.Context) {
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

// laterQueue is a heap of tenants to serve again, earliest first.
type laterQueue []laterEntry

type laterEntry struct {
	at  time.Time
	t   *tenant
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

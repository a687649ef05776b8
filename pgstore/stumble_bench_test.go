package pgstore_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

var stumbleWindow = flag.Duration("stumble.window", 30*time.Second,
	"how long BenchmarkDeliveryStumbling commits events and counts deliveries")

// stumbleRate is the share of requests a stumbling receiver refuses.
const stumbleRate = 0.03

var errStumbled = errors.New("receiver stumbled")

// received keeps, per tenant, the sequence numbers a receiver acknowledged,
// in the order it first acknowledged them, and counts repeats.
type received struct {
	mu      sync.Mutex
	first   map[string][]uint64
	seen    map[string]map[uint64]bool
	repeats int
	late    int // first acknowledged after a higher one: out of order
}

func newReceived() *received {
	return &received{first: map[string][]uint64{}, seen: map[string]map[uint64]bool{}}
}

func (r *received) add(tenant string, events []onlinestock.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen[tenant]
	if seen == nil {
		seen = map[uint64]bool{}
		r.seen[tenant] = seen
	}
	for _, e := range events {
		if seen[e.Seq] {
			r.repeats++
			continue
		}
		seen[e.Seq] = true
		if f := r.first[tenant]; len(f) > 0 && f[len(f)-1] > e.Seq {
			r.late++
		}
		r.first[tenant] = append(r.first[tenant], e.Seq)
	}
}

// after counts the events of each tenant acknowledged with a sequence
// number above since[tenant].
func (r *received) after(since map[string]uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for tenant, seen := range r.seen {
		for seq := range seen {
			if seq > since[tenant] {
				n++
			}
		}
	}
	return n
}

// missing counts, per tenant, the events up to last[tenant] never
// acknowledged.
func (r *received) missing(last map[string]uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for tenant, l := range last {
		for seq := uint64(1); seq <= l; seq++ {
			if !r.seen[tenant][seq] {
				n++
			}
		}
	}
	return n
}

// funcReceiver acknowledges events one at a time, as a webhook does one
// request at a time, and refuses each with probability refuse, reporting
// what it took before.
func funcReceiver(r *received, refuse float64) onlinestock.Notifier {
	return onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		for i := range events {
			if rand.Float64() < refuse {
				r.add(worker.TenantOf(ctx), events[:i])
				return onlinestock.Partial(i, errStumbled)
			}
		}
		r.add(worker.TenantOf(ctx), events)
		return nil
	})
}

type tenantKey struct{}

// httpReceiver is a real local HTTP server that verifies the webhook
// requests of every tenant (its URL path names it) and answers 503 to a
// request with probability refuse, and a Notifier that sends each
// tenant's events through a webhook.Notifier of its own, one event per
// request.
func httpReceiver(b *testing.B, r *received, refuse float64) onlinestock.Notifier {
	secret := []byte("a secret of at least twenty-four bytes")
	v, err := webhook.NewVerifier(webhook.VerifierConfig{Secret: secret})
	if err != nil {
		b.Fatal(err)
	}
	verified := webhook.Handler(v, func(ctx context.Context, events []onlinestock.Event) error {
		r.add(ctx.Value(tenantKey{}).(string), events)
		return nil
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if rand.Float64() < refuse {
			http.Error(w, "stumbled", http.StatusServiceUnavailable)
			return
		}
		tenant := strings.TrimPrefix(req.URL.Path, "/")
		verified.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), tenantKey{}, tenant)))
	}))
	b.Cleanup(srv.Close)
	var mu sync.Mutex
	notifiers := map[string]*webhook.Notifier{}
	return onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		tenant := worker.TenantOf(ctx)
		mu.Lock()
		n := notifiers[tenant]
		if n == nil {
			n, err = webhook.New(webhook.Config{URL: srv.URL + "/" + tenant, Secret: secret, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				mu.Unlock()
				return err
			}
			notifiers[tenant] = n
		}
		mu.Unlock()
		return n.Notify(ctx, events)
	})
}

// BenchmarkDeliveryStumbling measures how much a receiver that refuses 3%
// of its requests at random (a transient failure) slows delivery down,
// beside a healthy receiver in the same run. For -stumble.window (30 s by
// default), four writers commit two POS batches a second between them, to
// tenants drawn at random, each setting 100 products: 200 events a
// second, in commits of 100, so that a consumer's batch is rarely all
// accepted. delivered-% is the share of those events the receiver
// acknowledged by the end of the window. Then the writers stop,
// the Worker delivers the rest, and the benchmark fails if an event is
// lost or a tenant's events were first acknowledged out of order. The
// Workers run with their defaults (a lease of 15 s, backoff from 50 ms to
// 30 s, polling every 200 ms), one op is one window: run with
// -benchtime=1x.
//
//   - one-tenant: a Worker over one Service (worker.New), woken at commit;
//   - 50-tenants: one Worker over 50 tenants (worker.NewTenants);
//   - func: the receiver is a NotifierFunc that takes events one at a
//     time, the pure delivery loop;
//   - http: the receiver is a local HTTP server, the events sent by
//     package webhook, one signed request per event.
func BenchmarkDeliveryStumbling(b *testing.B) {
	for _, kind := range []struct {
		name    string
		tenants int
	}{{"one-tenant", 1}, {"50-tenants", 50}} {
		for _, recv := range []string{"func", "http"} {
			for _, refuse := range []float64{0, stumbleRate} {
				name := fmt.Sprintf("%s/%s/healthy", kind.name, recv)
				if refuse > 0 {
					name = fmt.Sprintf("%s/%s/refuses=%g%%", kind.name, recv, refuse*100)
				}
				b.Run(name, func(b *testing.B) {
					for range b.N {
						stumble(b, kind.tenants, recv, refuse)
					}
				})
			}
		}
	}
}

func stumble(b *testing.B, tenants int, recv string, refuse float64) {
	const writers, perSecond, products = 4, 2, 100
	ctx := context.Background()
	b.StopTimer()
	pool := newPool(b, writers+8)
	reserveConns(b, 1) // the listening connection
	pg, services := newTenants(b, pool, tenants)
	ids := make([]string, products)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%03d", i)
	}
	batch := func(q int64) []onlinestock.Change {
		changes := make([]onlinestock.Change, len(ids))
		for i, id := range ids {
			changes[i] = onlinestock.Set(id, "a", q)
		}
		return changes
	}
	for _, svc := range services {
		if _, err := svc.Apply(ctx, batch(1)); err != nil {
			b.Fatal(err)
		}
		if err := svc.EnableOnline(ctx, ids...); err != nil {
			b.Fatal(err)
		}
	}
	r := newReceived()
	n := funcReceiver(r, refuse)
	if recv == "http" {
		n = httpReceiver(b, r, refuse)
	}
	cfg := worker.Config{
		Consumers:   []worker.Consumer{{Name: "shop", Notifier: n}},
		ExpireEvery: -1, RetentionEvery: -1,
		Logger: slog.New(slog.DiscardHandler),
	}
	var w *worker.Worker
	var err error
	if tenants == 1 {
		w, err = worker.New(services[0], cfg)
	} else {
		w, err = worker.NewTenants(pg, onlinestock.Config{}, cfg)
	}
	if err != nil {
		b.Fatal(err)
	}
	// Every tenant's set-up events, before the window.
	since := map[string]uint64{}
	for _, svc := range services {
		since[tenantOf(svc)] = uint64(len(allEvents(b, svc.Store())))
	}
	if err := w.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = w.Stop(ctx) }()

	var committed atomic.Int64
	var q atomic.Int64
	q.Store(10)
	ops := make(chan *onlinestock.Service, perSecond)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for svc := range ops {
				// A quantity never set before: an availability event per
				// product.
				if _, err := svc.Apply(ctx, batch(q.Add(1))); err != nil {
					b.Error(err)
					continue
				}
				committed.Add(products)
			}
		})
	}
	b.StartTimer()
	tick := time.NewTicker(time.Second / perSecond)
	end := time.After(*stumbleWindow)
	for done := false; !done; {
		select {
		case <-tick.C:
			select {
			case ops <- services[rand.N(len(services))]:
			default: // the writers are behind: the machine sets the pace
			}
		case <-end:
			done = true
		}
	}
	tick.Stop()
	delivered := r.after(since)
	b.StopTimer()
	close(ops)
	wg.Wait()
	inWindow := committed.Load()
	b.ReportMetric(float64(inWindow), "committed")
	b.ReportMetric(float64(delivered), "delivered")
	b.ReportMetric(100*float64(min(int64(delivered), inWindow))/float64(max(inWindow, 1)), "delivered-%")

	// The rest, then nothing lost and every tenant in order.
	last := map[string]uint64{}
	for _, svc := range services {
		last[tenantOf(svc)] = uint64(len(allEvents(b, svc.Store())))
	}
	drain := time.Now().Add(5 * time.Minute)
	for r.missing(last) > 0 && time.Now().Before(drain) {
		time.Sleep(20 * time.Millisecond)
	}
	if lost := r.missing(last); lost > 0 {
		b.Fatalf("%d events never delivered within 5 minutes after the window", lost)
	}
	if r.late > 0 {
		b.Fatalf("%d events first delivered after a later event of their tenant", r.late)
	}
	b.ReportMetric(float64(r.repeats), "repeats")
}

package worker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/worker"
)

// kinds are the two ways of making a Worker, each over one memstore
// Service: a Worker over the Service, and a Worker over a Tenants of that
// one tenant.
var kinds = []struct {
	name string
	make func(t *testing.T, svc *onlinestock.Service, cfg worker.Config) *worker.Worker
}{
	{"over one Service", newWorker},
	{"over Tenants", func(t *testing.T, svc *onlinestock.Service, cfg worker.Config) *worker.Worker {
		return newTenantsWorker(t, oneOf(svc), cfg)
	}},
}

// oneOf is the Tenants of svc's Store alone, named "t", always pending.
type oneOfTenants struct{ store onlinestock.Store }

func oneOf(svc *onlinestock.Service) worker.Tenants { return oneOfTenants{svc.Store()} }

func (o oneOfTenants) Store(string) (onlinestock.Store, error) { return o.store, nil }
func (o oneOfTenants) Pending(_ context.Context, after string, _ int) ([]string, error) {
	return o.list(after), nil
}
func (o oneOfTenants) Due(_ context.Context, _ time.Time, after string, _ int) ([]string, error) {
	return o.list(after), nil
}
func (o oneOfTenants) Settle(context.Context, string, []string) (bool, error) { return true, nil }
func (o oneOfTenants) List(_ context.Context, after string, _ int) ([]string, error) {
	return o.list(after), nil
}
func (o oneOfTenants) list(after string) []string {
	if after != "" {
		return []string{}
	}
	return []string{"t"}
}

var errStumbled = errors.New("receiver stumbled")

// TestWorkerKeepsProgressWithinAFailedBatch hands each kind of Worker a
// receiver that takes one event of every batch of several and then fails,
// with a backoff that would grow to an hour: the Worker must keep what
// each attempt acknowledged and start its backoff over, so every event
// arrives, in order and once, long before the backoff could have grown.
func TestWorkerKeepsProgressWithinAFailedBatch(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			svc, _ := clockedShop(t, memstore.New())
			for i := range 40 {
				_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", int64(i+6))})
				if err != nil {
					t.Fatal(err)
				}
			}
			last := lastSeq(t, svc.Store())
			got := &collector{}
			oneAtATime := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
				if err := got.Notify(ctx, events[:1]); err != nil {
					return err
				}
				if len(events) > 1 {
					return onlinestock.Partial(1, errStumbled)
				}
				return nil
			})
			w := kind.make(t, svc, worker.Config{
				Consumers:  []worker.Consumer{{Name: "web", Notifier: oneAtATime}},
				MinBackoff: time.Millisecond, MaxBackoff: time.Hour,
			})
			if err := w.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer stopWorker(t, w)
			eventually(t, "every event", func() bool { return len(got.got()) >= int(last) })
			if diff := cmp.Diff(upTo(1, last), got.got()); diff != "" {
				t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWorkerKeepsItsLeaseWhileBackingOff runs two replicas of each kind of
// Worker over one Store, with a lease that lasts less than the backoff,
// and a receiver that fails every call for a while. The replica that took
// the lease must keep it while it backs off: the other never delivers,
// and once the receiver recovers every event arrives, in order.
func TestWorkerKeepsItsLeaseWhileBackingOff(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			svc, _ := clockedShop(t, memstore.New())
			last := lastSeq(t, svc.Store())
			const ttl = 300 * time.Millisecond
			var failing atomic.Bool
			failing.Store(true)
			var mu sync.Mutex
			callers := map[string]int{} // Notify calls, by replica
			got := &collector{}
			receiver := func(replica string) onlinestock.Notifier {
				return onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
					mu.Lock()
					callers[replica]++
					mu.Unlock()
					if failing.Load() {
						return errStumbled
					}
					return got.Notify(ctx, events)
				})
			}
			for _, replica := range []string{"a", "b"} {
				w := kind.make(t, svc, worker.Config{
					Consumers: []worker.Consumer{{Name: "web", Notifier: receiver(replica)}},
					Holder:    replica, LeaseTTL: ttl,
					MinBackoff: 2 * ttl, MaxBackoff: 2 * ttl, // each wait from one to two TTLs
				})
				if err := w.Start(ctx); err != nil {
					t.Fatal(err)
				}
				defer stopWorker(t, w)
			}
			eventually(t, "three failed calls", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return callers["a"]+callers["b"] >= 3
			})
			failing.Store(false)
			eventually(t, "every event", func() bool { return len(got.got()) >= int(last) })
			mu.Lock()
			if len(callers) != 1 {
				t.Errorf("Notify calls by replica: %v, want one replica only: the lease moved while its holder backed off", callers)
			}
			mu.Unlock()
			if diff := cmp.Diff(upTo(1, last), got.got()); diff != "" {
				t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWorkerWakesOnCommit runs a Worker over a memstore Service that polls
// once an hour, and checks that commits reach its consumer all the same:
// the Store wakes it.
func TestWorkerWakesOnCommit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc, _ := clockedShop(t, memstore.New())
	got := &collector{}
	w := newWorker(t, svc, worker.Config{
		Consumers:    []worker.Consumer{{Name: "web", Notifier: got}},
		PollInterval: time.Hour,
		ExpireEvery:  -1, // nothing else wakes the Worker
	})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWorker(t, w)
	for round := range 3 {
		_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", int64(round+6))})
		if err != nil {
			t.Fatal(err)
		}
		last := lastSeq(t, svc.Store())
		eventually(t, "the event", func() bool { return len(got.got()) >= int(last) })
	}
	if diff := cmp.Diff(upTo(1, lastSeq(t, svc.Store())), got.got()); diff != "" {
		t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
	}
}

package worker

import (
	"context"
	"time"

	"github.com/onlinestock/onlinestock"
)

// Tenants is a Store of many tenants (retailers), which one [Worker]
// serves together: see [NewTenants]. Package pgstore implements it for
// every tenant of a PostgreSQL database.
//
// Implementations must be safe for concurrent use. Listing methods return
// tenant names in byte order, at most limit of them (limit <= 0 means
// 1000), all after the name after ("" for the first page), and an empty
// slice when there are none.
type Tenants interface {
	// Store returns the Store of one tenant. A name no Store can have is
	// ErrInvalid.
	Store(tenant string) (onlinestock.Store, error)

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

// Listener is implemented by a [Tenants], or a Store, that can tell a
// Worker at once when a tenant commits events, so that it need not wait
// for its next poll. A Worker over such a Tenants or Store listens all
// along, and listens again, with backoff, whenever Listen returns.
type Listener interface {
	// Listen calls wake with the name of a tenant that committed events
	// (a Store of one tenant names its own, or ""), at least whenever one
	// commits while nothing was pending for it (Tenants.Pending did not
	// list it, or the Store's Settle had settled it), until ctx ends or
	// the means of listening fails; then it returns the failure, or ctx's
	// error. It calls listening once (on the goroutine that called
	// Listen), when every such commit from then on reaches wake; commits
	// before may have been missed.
	Listen(ctx context.Context, listening func(), wake func(tenant string)) error
}

// Settler is implemented by a Store that keeps, as a [Tenants] does for
// each of its tenants, a mark of pending events that its [Listener] wakes
// on: a Worker over one Service settles the Store, as it settles a tenant,
// once its consumers have every event, so that the next commit notifies
// it again.
type Settler interface {
	// Settle is [Tenants.Settle] for the Store's one tenant.
	Settle(ctx context.Context, consumers []string) (bool, error)
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
	if tenant == "" {
		return ctx
	}
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// oneTenant is the Tenants of a Worker over one Service: its one tenant is
// always pending and always due, so that the Worker polls it every
// PollInterval and expires every ExpireEvery, and it is settled when its
// Store can be.
type oneTenant struct {
	name    string
	store   onlinestock.Store
	settler Settler // the store, if it is one
}

func newOneTenant(store onlinestock.Store) *oneTenant {
	t := &oneTenant{store: store}
	if s, ok := store.(interface{ Tenant() string }); ok {
		t.name = s.Tenant()
	}
	t.settler, _ = store.(Settler)
	return t
}

func (t *oneTenant) Store(string) (onlinestock.Store, error) { return t.store, nil }

func (t *oneTenant) Pending(_ context.Context, after string, _ int) ([]string, error) {
	return t.one(after), nil
}

func (t *oneTenant) Due(_ context.Context, _ time.Time, after string, _ int) ([]string, error) {
	return t.one(after), nil
}

func (t *oneTenant) List(_ context.Context, after string, _ int) ([]string, error) {
	return t.one(after), nil
}

func (t *oneTenant) Settle(ctx context.Context, _ string, consumers []string) (bool, error) {
	if t.settler == nil {
		return true, nil
	}
	return t.settler.Settle(ctx, consumers)
}

// one lists the tenant, on the first page (the only one).
func (t *oneTenant) one(after string) []string {
	if after != "" {
		return []string{}
	}
	return []string{t.name}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/onlinestock/onlinestock"
)

// ErrLockOrder is the error of a Tx call that [CheckLockOrder] found out
// of the order the [onlinestock.Tx] contract states.
var ErrLockOrder = errors.New("storetest: Tx call out of lock order")

// CheckLockOrder returns store with every Update's Tx checked against the
// lock order the [onlinestock.Tx] contract states: the setup first
// (LockSetup, if the transaction changes it, never after Setup), then
// idempotency keys, then reservations in order ID order, then products in
// ID order; under the exclusive setup lock, anything after it in any
// order. A call out of order
// fails with an error matching ErrLockOrder, and violated is told of it,
// so that a test sees it even when the caller hides the error. Views are
// not checked: they take no locks.
//
// The conformance suite runs its model-based test over a checked Store,
// so every sequence of Service calls it tries keeps the order.
func CheckLockOrder(store onlinestock.Store, violated func(error)) onlinestock.Store {
	return &lockOrderStore{Store: store, violated: violated}
}

type lockOrderStore struct {
	onlinestock.Store
	violated func(error)
}

func (s *lockOrderStore) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	return s.Store.Update(ctx, func(tx onlinestock.Tx) error {
		return fn(&lockOrderTx{Tx: tx, s: s})
	})
}

// Phases of a transaction, in the order its locks must be taken.
const (
	phaseNone = iota
	phaseSetup
	phaseKeys
	phaseReservations
	phaseProducts
)

var phaseNames = [...]string{"nothing", "the setup", "idempotency keys", "reservations", "products"}

// lockOrderTx checks the calls of one run of an Update's function.
type lockOrderTx struct {
	onlinestock.Tx
	s *lockOrderStore

	mu        sync.Mutex
	phase     int
	shared    bool   // the setup is locked shared
	exclusive bool   // the setup is locked exclusively
	order     string // the last reservation locked
	product   string // the greatest product locked
	products  map[string]bool
}

// enter moves the transaction to phase for what, or reports that it
// cannot go back to it. Under the exclusive setup lock any order goes:
// every Update takes a setup lock first, so no other holds anything.
func (t *lockOrderTx) enter(phase int, what string) error {
	if phase != phaseSetup && t.phase == phaseNone {
		return t.fail("%s before the setup", what)
	}
	if t.exclusive {
		return nil
	}
	if phase < t.phase {
		return t.fail("%s after %s", what, phaseNames[t.phase])
	}
	t.phase = phase
	return nil
}

func (t *lockOrderTx) fail(format string, args ...any) error {
	err := fmt.Errorf("%w: %s", ErrLockOrder, fmt.Sprintf(format, args...))
	if t.s.violated != nil {
		t.s.violated(err)
	}
	return err
}

func (t *lockOrderTx) Setup(ctx context.Context) (*onlinestock.Setup, error) {
	t.mu.Lock()
	var err error
	if !t.shared && !t.exclusive { // else it is locked already
		err = t.enter(phaseSetup, "Setup")
		t.shared = err == nil
	}
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return t.Tx.Setup(ctx)
}

func (t *lockOrderTx) LockSetup(ctx context.Context) (*onlinestock.Setup, error) {
	t.mu.Lock()
	var err error
	switch {
	case t.exclusive: // locked already
	case t.shared:
		err = t.fail("LockSetup after Setup: a shared lock upgraded")
	default:
		err = t.enter(phaseSetup, "LockSetup")
		t.exclusive = err == nil
	}
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return t.Tx.LockSetup(ctx)
}

func (t *lockOrderTx) ClaimKeys(ctx context.Context, claims []onlinestock.KeyClaim, now, notBefore time.Time) ([]string, error) {
	t.mu.Lock()
	err := t.enter(phaseKeys, "ClaimKeys")
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return t.Tx.ClaimKeys(ctx, claims, now, notBefore)
}

func (t *lockOrderTx) Reservation(ctx context.Context, order string) (onlinestock.Reservation, bool, error) {
	t.mu.Lock()
	err := t.enter(phaseReservations, fmt.Sprintf("Reservation(%q)", order))
	if err == nil && order < t.order && !t.exclusive {
		err = t.fail("Reservation(%q) after Reservation(%q): not in order ID order", order, t.order)
	}
	if err == nil {
		t.order = order
	}
	t.mu.Unlock()
	if err != nil {
		return onlinestock.Reservation{}, false, err
	}
	return t.Tx.Reservation(ctx, order)
}

func (t *lockOrderTx) Products(ctx context.Context, ids []string) ([]onlinestock.Product, error) {
	if err := t.lockProducts(fmt.Sprintf("Products(%q)", ids), ids); err != nil {
		return nil, err
	}
	return t.Tx.Products(ctx, ids)
}

func (t *lockOrderTx) ProductsAt(ctx context.Context, outlets []string) ([]onlinestock.Product, error) {
	t.mu.Lock()
	err := t.enter(phaseProducts, fmt.Sprintf("ProductsAt(%q)", outlets))
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	products, err := t.Tx.ProductsAt(ctx, outlets)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(products))
	for i, p := range products {
		ids[i] = p.ID
	}
	return products, t.lockProducts(fmt.Sprintf("ProductsAt(%q)", outlets), ids)
}

// lockProducts checks that the products among ids not locked yet come
// after every product locked before, and records them as locked.
func (t *lockOrderTx) lockProducts(what string, ids []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.enter(phaseProducts, what); err != nil {
		return err
	}
	if !slices.IsSorted(ids) {
		return t.fail("%s: IDs not sorted", what)
	}
	if t.products == nil {
		t.products = map[string]bool{}
	}
	for _, id := range ids {
		if t.products[id] {
			continue
		}
		if id < t.product && !t.exclusive {
			return t.fail("%s locks %q after %q: not in ID order", what, id, t.product)
		}
		t.products[id], t.product = true, id
	}
	return nil
}

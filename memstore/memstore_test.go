package memstore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) onlinestock.Store { return memstore.New() })
}

// mutants are Stores with one plausible bug each. The conformance suite
// must reject every one of them: a suite that passes a broken Store proves
// nothing.
var mutants = map[string]func() onlinestock.Store{
	"an Update that keeps the writes of a failed fn": func() onlinestock.Store {
		return &leakyStore{Store: memstore.New()}
	},
	"idempotency keys that are never duplicates": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.keysAlwaysNew = true })
	},
	"idempotency keys that never expire": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.keysNeverExpire = true })
	},
	"ProductsAt that misses products": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.productsAtFirstOutletOnly = true })
	},
	"PutLevels that drops all but the first level": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.firstLevelOnly = true })
	},
	"AppendEvents that drops every third call": func() onlinestock.Store {
		calls := new(atomic.Int64)
		return mutate(func(tx *mutantTx) { tx.dropEvents = calls })
	},
	"DueReservations that expires early": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.expireEarly = true })
	},
	"SetEnabled that cannot disable": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.neverDisable = true })
	},
	"PutBundle that keeps only the first component": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.firstComponentOnly = true })
	},
	"PutBackorder that forgets the designated outlet": func() onlinestock.Store {
		return mutate(func(tx *mutantTx) { tx.forgetDesignated = true })
	},
}

const mutantEnv = "ONLINESTOCK_STORETEST_MUTANT"

// TestMutantsAreRejected runs the suite against each mutant in a child
// process and expects it to fail.
func TestMutantsAreRejected(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("running as a mutant child")
	}
	if testing.Short() {
		t.Skip("runs the suite once per mutant")
	}
	for name := range mutants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMutant$", "-test.count=1", "-test.failfast", "-rapid.nofailfile", "-rapid.checks=100", "-rapid.shrinktime=200ms")
			cmd.Env = append(os.Environ(), mutantEnv+"="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a Store with %s (err %v):\n%s", name, err, tail(out))
			}
			if !strings.Contains(string(out), "--- FAIL: TestMutant") {
				t.Fatalf("the child failed for another reason:\n%s", tail(out))
			}
		})
	}
}

// TestMutant runs the suite against the mutant named in the environment.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("run by TestMutantsAreRejected")
	}
	newMutant, ok := mutants[name]
	if !ok {
		t.Fatalf("no mutant %q", name)
	}
	storetest.Run(t, func(t *testing.T) onlinestock.Store { return newMutant() }, storetest.Rounds(20))
}

func tail(out []byte) string {
	const n = 3000
	if len(out) > n {
		return "…" + string(out[len(out)-n:])
	}
	return string(out)
}

// leakyStore commits what fn wrote even when fn fails.
type leakyStore struct{ onlinestock.Store }

func (s *leakyStore) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	var fnErr error
	if err := s.Store.Update(ctx, func(tx onlinestock.Tx) error { fnErr = fn(tx); return nil }); err != nil {
		return err
	}
	return fnErr
}

// mutantStore hands out transactions with a bug.
type mutantStore struct {
	onlinestock.Store
	configure func(*mutantTx)
}

func mutate(configure func(*mutantTx)) onlinestock.Store {
	return &mutantStore{Store: memstore.New(), configure: configure}
}

func (s *mutantStore) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	return s.Store.Update(ctx, func(tx onlinestock.Tx) error { return fn(s.wrap(tx)) })
}

func (s *mutantStore) View(ctx context.Context, fn func(onlinestock.Tx) error) error {
	return s.Store.View(ctx, func(tx onlinestock.Tx) error { return fn(s.wrap(tx)) })
}

func (s *mutantStore) wrap(tx onlinestock.Tx) onlinestock.Tx {
	m := &mutantTx{Tx: tx}
	s.configure(m)
	return m
}

type mutantTx struct {
	onlinestock.Tx
	keysAlwaysNew             bool
	keysNeverExpire           bool
	productsAtFirstOutletOnly bool
	firstLevelOnly            bool
	dropEvents                *atomic.Int64
	expireEarly               bool
	neverDisable              bool
	firstComponentOnly        bool
	forgetDesignated          bool
}

func (t *mutantTx) ClaimKeys(ctx context.Context, claims []onlinestock.KeyClaim, now, notBefore time.Time) ([]string, error) {
	if t.keysNeverExpire {
		notBefore = time.Time{}
	}
	prior, err := t.Tx.ClaimKeys(ctx, claims, now, notBefore)
	if t.keysAlwaysNew {
		clear(prior)
	}
	return prior, err
}

func (t *mutantTx) ProductsAt(ctx context.Context, outlets []string) ([]onlinestock.Product, error) {
	if t.productsAtFirstOutletOnly && len(outlets) > 1 {
		outlets = outlets[:1]
	}
	return t.Tx.ProductsAt(ctx, outlets)
}

func (t *mutantTx) PutLevels(ctx context.Context, levels []onlinestock.Level) error {
	if t.firstLevelOnly && len(levels) > 1 {
		levels = levels[:1]
	}
	return t.Tx.PutLevels(ctx, levels)
}

func (t *mutantTx) AppendEvents(ctx context.Context, events []onlinestock.Event) error {
	if t.dropEvents != nil && t.dropEvents.Add(1)%3 == 0 {
		return nil
	}
	return t.Tx.AppendEvents(ctx, events)
}

func (t *mutantTx) DueReservations(ctx context.Context, now time.Time) ([]string, error) {
	if t.expireEarly {
		now = now.Add(time.Hour)
	}
	return t.Tx.DueReservations(ctx, now)
}

func (t *mutantTx) SetEnabled(ctx context.Context, ids []string, enabled bool) error {
	if t.neverDisable && !enabled {
		return nil
	}
	return t.Tx.SetEnabled(ctx, ids, enabled)
}

func (t *mutantTx) PutBundle(ctx context.Context, b onlinestock.Bundle) error {
	if t.firstComponentOnly {
		b.Components = b.Components[:1]
	}
	return t.Tx.PutBundle(ctx, b)
}

func (t *mutantTx) PutBackorder(ctx context.Context, b onlinestock.Backorder) error {
	if t.forgetDesignated {
		b.Outlet = ""
	}
	return t.Tx.PutBackorder(ctx, b)
}

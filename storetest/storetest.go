// Package storetest is the conformance suite every [onlinestock.Store] must
// pass. A Store's tests call [Run] with a function that returns a new, empty
// Store for each test:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) onlinestock.Store { return memstore.New() })
//	}
//
// Every test drives an [onlinestock.Service] over the Store under test, so
// the suite checks the Store through the behaviour the library promises
// in its documentation, not through its own internals: a model-based property test
// with a plain Go model beside the real Service, table tests of bad input,
// focused tests of each rule, orders, events and delivery, and concurrency
// tests. A Store that passes agrees with every other Store that passes.
package storetest

import (
	"flag"
	"strconv"
	"testing"

	"github.com/onlinestock/onlinestock"
)

// NewStore returns a new, empty Store for one test; it registers its own
// cleanup with t.Cleanup.
type NewStore func(t *testing.T) onlinestock.Store

// Option tunes [Run] for a Store that is slower than memory.
type Option func(*options)

type options struct {
	checks     int // model-based test cases; 0 keeps rapid's setting
	rounds     int // rounds of the concurrent reservation test
	goroutines int // goroutines per round
}

// Checks sets how many random call sequences the model-based test runs,
// unless -rapid.checks is given on the command line, which always wins. The
// default is rapid's (100, a fifth of it with -short). It changes a
// process-wide setting for the duration of Run, so do not run two Runs with
// different Checks in parallel.
func Checks(n int) Option { return func(o *options) { o.checks = n } }

// Rounds sets how many rounds the concurrent reservation test runs
// (default 200, 40 with -short).
func Rounds(n int) Option { return func(o *options) { o.rounds = n } }

// Goroutines sets how many goroutines race in each round of the concurrent
// reservation test (default 32).
func Goroutines(n int) Option { return func(o *options) { o.goroutines = n } }

// Run runs the whole conformance suite against the Stores newStore makes.
// Subtests run in parallel with each other, each on its own Store.
func Run(t *testing.T, newStore NewStore, opts ...Option) {
	t.Helper()
	o := options{rounds: 200, goroutines: 32}
	if testing.Short() {
		o.rounds = 40
	}
	for _, opt := range opts {
		opt(&o)
	}
	setRapidChecks(t, o.checks)

	t.Run("Model", func(t *testing.T) { testModel(t, newStore) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, newStore) })
	t.Run("Stock", func(t *testing.T) { testStock(t, newStore) })
	t.Run("Outlets", func(t *testing.T) { testOutlets(t, newStore) })
	t.Run("Events", func(t *testing.T) { testEvents(t, newStore) })
	t.Run("Orders", func(t *testing.T) { testOrders(t, newStore) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newStore) })
	t.Run("Ledger", func(t *testing.T) { testLedger(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore, o) })
	t.Run("Catalog", func(t *testing.T) { testCatalog(t, newStore, o) })
	t.Run("Backorders", func(t *testing.T) { testBackorders(t, newStore, o) })
	t.Run("Runtime", func(t *testing.T) { testRuntime(t, newStore) })
	t.Run("Tx", func(t *testing.T) { testTxWrites(t, newStore) })
}

// setRapidChecks makes rapid run n checks unless the command line chose.
func setRapidChecks(t *testing.T, n int) {
	t.Helper()
	if n <= 0 {
		return
	}
	f := flag.Lookup("rapid.checks")
	if f == nil {
		return
	}
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if explicit {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatalf("setting rapid.checks: %v", err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

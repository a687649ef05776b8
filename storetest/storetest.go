// Package storetest is the conformance suite every [onlinestock.Store] must
// pass. A Store's tests call [Run] with a function that returns a new, empty
// Store for each test.
package storetest

import (
	"testing"

	"github.com/onlinestock/onlinestock"
)

// NewStore returns a new, empty Store for one test; it registers its own
// cleanup with t.Cleanup.
type NewStore func(t *testing.T) onlinestock.Store

// Run runs the whole conformance suite against the Stores newStore makes.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	t.Run("Smoke", func(t *testing.T) { testSmoke(t, newStore) })
}

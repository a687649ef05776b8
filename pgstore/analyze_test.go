package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
)

// TestBulkApplyRefreshesStatistics: after a transaction creates enough
// products to change what the planner should do, the Store analyzes the tables
// itself, so the next big read is not planned on statistics that describe
// a near-empty tenant.
func TestBulkApplyRefreshesStatistics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := sharedPool(t)
	svc := newService(t, newStore(t, pool), onlinestock.Config{})
	setUpOutlets(t, svc)

	lastAnalyze := func() time.Time {
		t.Helper()
		var at *time.Time
		if err := pool.QueryRow(ctx, `SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'onlinestock_levels'`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		if at == nil {
			return time.Time{}
		}
		return *at
	}
	var start time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&start); err != nil {
		t.Fatal(err)
	}

	small := []onlinestock.Change{onlinestock.Set("few", "a", 1)}
	if _, err := svc.Apply(ctx, small); err != nil {
		t.Fatal(err)
	}
	var bulk []onlinestock.Change
	for _, p := range productIDs(5_000) {
		bulk = append(bulk, onlinestock.Set(p, "a", 1), onlinestock.Set(p, "b", 2))
	}
	if _, err := svc.Apply(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	// Statistics views are updated asynchronously; wait for the record.
	deadline := time.Now().Add(30 * time.Second)
	for lastAnalyze().Before(start) {
		if time.Now().After(deadline) {
			t.Fatalf("no ANALYZE of onlinestock_levels recorded after a %d-level Apply", len(bulk))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

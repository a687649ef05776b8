package memstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// keyedShop is a Service over a fresh memstore with one outlet, "a".
func keyedShop(tb testing.TB) *onlinestock.Service {
	tb.Helper()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := svc.SaveOutlet(context.Background(), "a", "A"); err != nil {
		tb.Fatal(err)
	}
	return svc
}

// keyedAdjusts returns n adjusts of one unit over 1,000 products, each with
// its own idempotency key, and, when keyed is false, the same without keys.
func keyedAdjusts(n int, keyed bool) []onlinestock.Change {
	changes := make([]onlinestock.Change, n)
	for i := range changes {
		changes[i] = onlinestock.Adjust(fmt.Sprintf("p%03d", i%1000), "a", 1)
		if keyed {
			changes[i] = changes[i].WithKey(fmt.Sprintf("k%07d", i))
		}
	}
	return changes
}

// TestApplyMaxBatchOfKeyedAdjusts applies the largest batch the Service
// accepts, every change keyed, in one transaction: claiming keys is linear
// in the batch, so this takes seconds, not the minutes a quadratic claim
// took. A replay of part of it is all duplicates.
func TestApplyMaxBatchOfKeyedAdjusts(t *testing.T) {
	if testing.Short() {
		t.Skip("a million-change batch; skipped with -short")
	}
	ctx := context.Background()
	svc := keyedShop(t)
	changes := keyedAdjusts(onlinestock.MaxBatch, true)
	for round, batch := range [][]onlinestock.Change{changes, changes[:5000]} {
		want := onlinestock.Applied
		if round > 0 {
			want = onlinestock.Duplicate
		}
		res, err := svc.Apply(ctx, batch)
		if err != nil {
			t.Fatalf("Apply() round %d: %v", round, err)
		}
		for i, r := range res {
			if r.Status != want {
				t.Fatalf("Apply() round %d: change %d is %v, want %v", round, i, r.Status, want)
			}
		}
	}
	levels, err := svc.Levels(ctx, "p000")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(onlinestock.MaxBatch / 1000); levels[0].OnHand != want {
		t.Errorf("p000 OnHand = %d after the batch and a replay, want %d", levels[0].OnHand, want)
	}
}

// BenchmarkApplyKeyedBatch applies one batch of keyed adjusts per
// iteration, at two sizes: ns/change stays flat from 10,000 to 100,000 when
// claiming keys is linear. BenchmarkBaselineApplyUnkeyedBatch is the same
// batch without keys.
func BenchmarkApplyKeyedBatch(b *testing.B) {
	benchBatch(b, true)
}

func BenchmarkBaselineApplyUnkeyedBatch(b *testing.B) {
	benchBatch(b, false)
}

func benchBatch(b *testing.B, keyed bool) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("changes=%d", n), func(b *testing.B) {
			ctx := context.Background()
			changes := keyedAdjusts(n, keyed)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				svc := keyedShop(b) // fresh keys every iteration
				b.StartTimer()
				if _, err := svc.Apply(ctx, changes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/change")
		})
	}
}

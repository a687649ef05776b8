package onlinestock_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// retryingStore runs the function of each of its next Updates twice, as a
// database Store does after a serialization failure: the first run is
// rolled back, the second commits.
type retryingStore struct {
	onlinestock.Store
	retries atomic.Int64 // Updates left to run twice
}

var errTryAgain = errors.New("serialization failure")

func (s *retryingStore) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	if s.retries.Add(-1) >= 0 {
		err := s.Store.Update(ctx, func(tx onlinestock.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errTryAgain
		})
		if !errors.Is(err, errTryAgain) {
			return err
		}
	}
	return s.Store.Update(ctx, fn)
}

// TestServiceMetrics runs a scripted sequence of calls on a Service with a
// manual metric reader and checks what its instruments recorded.
func TestServiceMetrics(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := &retryingStore{Store: memstore.New()}
	reader := sdkmetric.NewManualReader()
	svc, err := onlinestock.New(store, onlinestock.Config{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.SaveOutlet(ctx, "north", "North"))
	must(svc.SaveRegister(ctx, "till", "north", ""))
	_, err = svc.Activate(ctx, "till")
	must(err)
	sale := onlinestock.Adjust("tee", "north", -1).WithKey("sale-1")
	// Two Applies run again by the Store.
	store.retries.Store(2)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 5)})
	must(err)
	_, err = svc.Apply(ctx, []onlinestock.Change{sale})
	must(err)
	// Replays: one duplicate, then two in a batch with a new change.
	_, err = svc.Apply(ctx, []onlinestock.Change{sale})
	must(err)
	_, err = svc.Apply(ctx, []onlinestock.Change{sale, onlinestock.Adjust("tee", "north", 1), sale})
	must(err)
	// A version that is no longer the level's: a conflict, twice.
	for range 2 {
		_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 9).WithVersion(1)})
		if !errors.Is(err, onlinestock.ErrConflict) {
			t.Fatalf("Apply with a stale version: %v, want ErrConflict", err)
		}
	}
	must(svc.EnableOnline(ctx, "tee"))
	_, err = svc.Availability(ctx, "tee")
	must(err)
	_, err = svc.Availability(ctx, "tee\x00") // invalid: timed as well
	if !errors.Is(err, onlinestock.ErrInvalid) {
		t.Fatalf("Availability of a bad ID: %v, want ErrInvalid", err)
	}
	_, err = svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}})
	must(err)

	var rm metricdata.ResourceMetrics
	must(reader.Collect(ctx, &rm))
	none := attribute.NewSet()
	got := map[string]int64{
		"conflicts":  sumOf(t, rm, onlinestock.MetricApplyConflicts, none),
		"duplicates": sumOf(t, rm, onlinestock.MetricApplyDuplicates, none),
		"retries":    sumOf(t, rm, onlinestock.MetricStoreRetries, none),
	}
	for _, method := range []string{"SaveOutlet", "SaveRegister", "Activate", "Apply", "Availability", "Reserve", "Release"} {
		count, sum := histogramOf(t, rm, onlinestock.MetricCallDuration, attribute.NewSet(attribute.String("method", method)))
		got[method+" calls"] = int64(count)
		if (count > 0) != (sum > 0) {
			t.Errorf("%s: %d calls lasting %vs in all", method, count, sum)
		}
	}
	want := map[string]int64{
		"conflicts": 2, "duplicates": 3, "retries": 2,
		"SaveOutlet calls": 1, "SaveRegister calls": 1, "Activate calls": 1, "Apply calls": 6,
		"Availability calls": 2, "Reserve calls": 1, "Release calls": 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	if a, err := svc.Availability(ctx, "tee"); err != nil || a[0].Quantity != 4 {
		t.Errorf("Availability(tee) = %+v, %v; want 4 (the retried Applies applied once)", a, err)
	}
}

// TestEveryServiceCallIsTimed reads the package's source and checks that
// every exported Service method that takes a context starts by timing
// itself under its own name, so that a method added later is not left
// out of MetricCallDuration.
func TestEveryServiceCallIsTimed(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	methods := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || len(fn.Type.Params.List) == 0 {
				continue
			}
			recv, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok || types.ExprString(recv.X) != "Service" || types.ExprString(fn.Type.Params.List[0].Type) != "context.Context" {
				continue
			}
			methods++
			want := "defer s.metrics.done(ctx, call" + fn.Name.Name + ", s.metrics.start())"
			var got string
			if len(fn.Body.List) > 0 {
				if d, ok := fn.Body.List[0].(*ast.DeferStmt); ok {
					got = "defer " + types.ExprString(d.Call)
				}
			}
			if got != want {
				t.Errorf("%s: Service.%s starts with %q, want %q", fset.Position(fn.Pos()), fn.Name.Name, got, want)
			}
		}
	}
	if methods < 30 {
		t.Errorf("found %d Service methods, want every one", methods)
	}
}

func sumOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs attribute.Set) int64 {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is a %T, want a Sum[int64]", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if dp.Attributes.Equals(&attrs) {
					return dp.Value
				}
			}
		}
	}
	return 0
}

func histogramOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs attribute.Set) (uint64, float64) {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("%s is a %T, want a Histogram[float64]", name, m.Data)
			}
			for _, dp := range h.DataPoints {
				if dp.Attributes.Equals(&attrs) {
					return dp.Count, dp.Sum
				}
			}
		}
	}
	return 0, 0
}

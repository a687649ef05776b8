package onlinestock_test

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

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
	_, err = svc.Availability(ctx, "tee\x00") // refused before the Store: not timed
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
		"Availability calls": 1, "Reserve calls": 1, "Release calls": 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics mismatch (-want +got):\n%s", diff)
	}
	if a, err := svc.Availability(ctx, "tee"); err != nil || a[0].Quantity != 4 {
		t.Errorf("Availability(tee) = %+v, %v; want 4 (the retried Applies applied once)", a, err)
	}
}

// TestEveryServiceCallIsTimed makes one call of every exported Service
// method that takes a context, found by reflection, and checks that each
// recorded its duration under its own name, and nothing else did. A
// method added later without a call here, or without going through the
// Service's one boundary to the Store, fails it.
func TestEveryServiceCallIsTimed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reader := sdkmetric.NewManualReader()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	order := onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}}
	part := func(id string) onlinestock.Part {
		return onlinestock.Part{ID: id, Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}}
	}
	ignore := func(_ any, err error) error { return err }
	// calls, in an order in which each succeeds.
	calls := []struct {
		method string
		call   func() error
	}{
		{"SaveOutlet", func() error { return svc.SaveOutlet(ctx, "north", "North") }},
		{"SaveRegister", func() error { return svc.SaveRegister(ctx, "till", "north", "") }},
		{"Activate", func() error { return ignore(svc.Activate(ctx, "till")) }},
		{"Setup", func() error { return ignore(svc.Setup(ctx)) }},
		{"PreviewSelection", func() error { return ignore(svc.PreviewSelection(ctx, []string{"north"})) }},
		{"SaveSelection", func() error { return ignore(svc.SaveSelection(ctx, []string{"north"})) }},
		{"Connect", func() error { return ignore(svc.Connect(ctx, "north")) }},
		{"SetBuffer", func() error { return ignore(svc.SetBuffer(ctx, "north", 0)) }},
		{"SetRank", func() error { return svc.SetRank(ctx, "north", 1) }},
		{"Apply", func() error {
			return ignore(svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 9), onlinestock.Set("cap", "north", 9)}))
		}},
		{"EnableOnline", func() error { return svc.EnableOnline(ctx, "tee", "cap") }},
		{"DisableOnline", func() error { return svc.DisableOnline(ctx, "cap") }},
		{"Availability", func() error { return ignore(svc.Availability(ctx, "tee")) }},
		{"Levels", func() error { return ignore(svc.Levels(ctx, "tee")) }},
		{"SaveMethod", func() error {
			return svc.SaveMethod(ctx, onlinestock.Method{ID: "post", Name: "Post", Kind: onlinestock.Shipping})
		}},
		{"Methods", func() error { return ignore(svc.Methods(ctx)) }},
		{"OrphanedMethods", func() error { return ignore(svc.OrphanedMethods(ctx)) }},
		{"Quote", func() error { return ignore(svc.Quote(ctx, onlinestock.Cart{Lines: order.Lines})) }},
		{"DeleteMethod", func() error { return svc.DeleteMethod(ctx, "post") }},
		{"SaveBundle", func() error {
			return svc.SaveBundle(ctx, onlinestock.Bundle{ID: "kit", Components: []onlinestock.Component{{Product: "cap", Quantity: 1}}})
		}},
		{"Bundles", func() error { return ignore(svc.Bundles(ctx)) }},
		{"DeleteBundle", func() error { return svc.DeleteBundle(ctx, "kit") }},
		{"SetBackorder", func() error { return svc.SetBackorder(ctx, onlinestock.Backorder{Product: "cap", Limit: 1}) }},
		{"Backorders", func() error { return ignore(svc.Backorders(ctx)) }},
		{"DeleteBackorder", func() error { return svc.DeleteBackorder(ctx, "cap") }},
		{"Reserve", func() error { return ignore(svc.Reserve(ctx, order)) }},
		{"Reservation", func() error { return ignore(svc.Reservation(ctx, order.ID)) }},
		{"Reservations", func() error { return ignore(svc.Reservations(ctx, onlinestock.ReservationFilter{})) }},
		{"Amend", func() error {
			return ignore(svc.Amend(ctx, order.ID, []onlinestock.Line{{Product: "tee", Quantity: 4}}))
		}},
		{"FulfillPart", func() error { return ignore(svc.FulfillPart(ctx, order.ID, part("ship-1"))) }},
		{"ReleasePart", func() error { return ignore(svc.ReleasePart(ctx, order.ID, part("cancel-1"))) }},
		{"Fulfill", func() error { return ignore(svc.Fulfill(ctx, order.ID)) }},
		{"Release", func() error { return ignore(svc.Release(ctx, order.ID)) }},
		{"ExpireReservations", func() error { return ignore(svc.ExpireReservations(ctx, time.Now())) }},
		{"Disconnect", func() error { return ignore(svc.Disconnect(ctx, "south")) }},
		{"EventsSince", func() error { return ignore(svc.EventsSince(ctx, 0, 0)) }},
		{"Movements", func() error { return ignore(svc.Movements(ctx, onlinestock.MovementFilter{})) }},
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.SaveOutlet(ctx, "south", "South")) // for Disconnect; not timed by itself below
	made := map[string]int{}
	for _, c := range calls {
		err := c.call()
		if errors.Is(err, onlinestock.ErrNotFound) && c.method == "Release" {
			err = nil // fulfilled: Release finds it closed
		}
		if err != nil && !errors.Is(err, onlinestock.ErrConflict) {
			t.Errorf("%s: %v", c.method, err)
		}
		made[c.method]++
	}
	made["SaveOutlet"]++

	var rm metricdata.ResourceMetrics
	must(reader.Collect(ctx, &rm))
	got := map[string]int{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != onlinestock.MetricCallDuration {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				method, _ := dp.Attributes.Value("method")
				got[method.AsString()] += int(dp.Count)
			}
		}
	}
	ctxType := reflect.TypeFor[context.Context]()
	svcType := reflect.TypeFor[*onlinestock.Service]()
	want := map[string]int{}
	for i := range svcType.NumMethod() {
		m := svcType.Method(i)
		if m.Type.NumIn() < 2 || m.Type.In(1) != ctxType {
			continue
		}
		if made[m.Name] == 0 {
			t.Errorf("Service.%s: no call in this test; add one", m.Name)
		}
		want[m.Name] = made[m.Name]
	}
	if len(want) < 30 {
		t.Errorf("found %d Service methods that take a context, want every one", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls timed, by method (-want +got):\n%s", diff)
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

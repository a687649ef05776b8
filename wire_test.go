package onlinestock_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/wire")

// wireValues is one value of every type that crosses a boundary, with
// every field set, plus the zero-heavy shapes whose optional fields are
// left out.
func wireValues() map[string]any {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	level := onlinestock.Level{Product: "tee", Outlet: "downtown", OnHand: 5, Reserved: 2, Version: 7}
	method := onlinestock.Method{ID: "pickup-downtown", Name: "Pick up downtown", Kind: onlinestock.Pickup, Outlet: "downtown", Rule: onlinestock.Restrict}
	short := onlinestock.Shortfall{Product: "mug", Requested: 2, Available: 1, Status: onlinestock.LineShort}
	return map[string]any{
		"availability": onlinestock.Availability{Quantity: 3, Label: onlinestock.LowStock},
		"level":        level,
		"product":      onlinestock.Product{ID: "tee", Enabled: true, Levels: []onlinestock.Level{level}},
		"changes": []onlinestock.Change{
			onlinestock.Set("tee", "downtown", 5).WithVersion(6),
			onlinestock.Adjust("tee", "harbour", -1).WithKey("sale-1001"),
		},
		"change_results": []onlinestock.ChangeResult{
			{Status: onlinestock.Applied, Level: level},
			{Status: onlinestock.Duplicate, Level: level},
		},
		"setup": onlinestock.Setup{
			OrderRegister: "till-1",
			Outlets:       []onlinestock.Outlet{{ID: "downtown", Name: "Downtown", Connected: true, Buffer: 1, Rank: 1}},
			Registers:     []onlinestock.Register{{ID: "till-1", Outlet: "downtown", Name: "Till 1"}},
		},
		"method": method,
		"cart":   onlinestock.Cart{Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}},
		"quote": onlinestock.Quote{
			Purchasable: false,
			Products:    []onlinestock.ProductQuote{{Product: "mug", Requested: 2, Available: 1, Status: onlinestock.LineShort}},
			Methods: []onlinestock.MethodQuote{{
				Method: method, Offered: false, Orphaned: true,
				Reason: onlinestock.ReasonOutletShort, Shortfalls: []onlinestock.Shortfall{short},
			}},
		},
		"order": onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}, Method: "courier", TTL: 15 * time.Minute},
		"reservation": onlinestock.Reservation{
			Order: "web-1", Method: "courier",
			Lines:       []onlinestock.Line{{Product: "tee", Quantity: 2}},
			Allocations: []onlinestock.Allocation{{Product: "tee", Outlet: "downtown", Quantity: 2, Fulfilled: 1}},
			Sources:     []onlinestock.Source{{Outlet: "downtown", Stage: onlinestock.StageOneOutlet, Rank: 1}},
			Status:      onlinestock.Open, Created: at, Deadline: at.Add(15 * time.Minute),
			Parts: []onlinestock.PartRecord{{
				Part: onlinestock.Part{ID: "shipment-1", Outlet: "downtown", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}},
				Kind: onlinestock.Fulfilled, Moved: []onlinestock.Allocation{{Product: "tee", Outlet: "downtown", Quantity: 1}}, Time: at,
			}},
		},
		"movement": onlinestock.Movement{Seq: 7, Time: at, Product: "tee", Outlet: "downtown", Kind: onlinestock.MovedByAdjust,
			Reason: onlinestock.StockSale, Ref: "web-1", OnHandDelta: -2, ReservedDelta: -2, OnHand: 3, Reserved: 0, Version: 4},
		"web_sale_change":              onlinestock.Adjust("tee", "downtown", -2).ForOrder("web-1").WithKey("receipt-88/1").WithReason(onlinestock.StockSale),
		"part":                         onlinestock.Part{ID: "shipment-1", Outlet: "downtown", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}},
		"reservation_without_deadline": onlinestock.Reservation{Order: "web-2", Status: onlinestock.Fulfilled, Created: at},
		"events": []onlinestock.Event{
			{Seq: 1, Kind: onlinestock.AvailabilityChanged, Time: at, Product: "tee",
				Before: onlinestock.Availability{Quantity: 1, Label: onlinestock.LowStock},
				After:  onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut}},
			{Seq: 2, Kind: onlinestock.OutletDisconnected, Time: at, Outlet: "harbour", Methods: []string{"harbour-bikes"}},
			{Seq: 3, Kind: onlinestock.PrimaryChanged, Time: at, Outlet: "harbour", Previous: "downtown"},
			{Seq: 4, Kind: onlinestock.OrderPartiallyFulfilled, Time: at, Order: "web-1", Part: "shipment-1",
				Lines:       []onlinestock.Line{{Product: "tee", Quantity: 1}},
				Allocations: []onlinestock.Allocation{{Product: "tee", Outlet: "downtown", Quantity: 1}}},
		},
		"selection_result": onlinestock.SelectionResult{
			Connected: []string{"harbour"}, Restored: []onlinestock.Method{method},
			Changes: []onlinestock.AvailabilityChange{{Product: "tee",
				Before: onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut},
				After:  onlinestock.Availability{Quantity: 4, Label: onlinestock.InStock}}},
		},
		"dead_letter":              onlinestock.DeadLetter{Seq: 9, Reason: "permanent: 410 Gone", Time: at},
		"insufficient_stock_error": onlinestock.InsufficientStockError{Outlet: "downtown", Shortfalls: []onlinestock.Shortfall{short}},
	}
}

// TestWireFormat pins the JSON of every public type that crosses a
// boundary to testdata/wire/NAME.json: a renamed field fails here. Run
// with -update to rewrite the files after a deliberate addition.
func TestWireFormat(t *testing.T) {
	for name, v := range wireValues() {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "wire", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestWireFormat -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("JSON of %s mismatch (-want +got):\n%s", name, diff)
			}
		})
	}
}

// TestWireRoundTrip checks that decoding the JSON gives the value back.
func TestWireRoundTrip(t *testing.T) {
	roundTrip := func(t *testing.T, v, into any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
	vals := wireValues()
	var changes []onlinestock.Change
	roundTrip(t, vals["changes"], &changes)
	if diff := cmp.Diff(vals["changes"], changes); diff != "" {
		t.Errorf("changes round trip mismatch (-want +got):\n%s", diff)
	}
	var results []onlinestock.ChangeResult
	roundTrip(t, vals["change_results"], &results)
	if diff := cmp.Diff(vals["change_results"], results); diff != "" {
		t.Errorf("change results round trip mismatch (-want +got):\n%s", diff)
	}
	var events []onlinestock.Event
	roundTrip(t, vals["events"], &events)
	if diff := cmp.Diff(vals["events"], events); diff != "" {
		t.Errorf("events round trip mismatch (-want +got):\n%s", diff)
	}
	var r onlinestock.Reservation
	roundTrip(t, vals["reservation"], &r)
	if diff := cmp.Diff(vals["reservation"], r); diff != "" {
		t.Errorf("reservation round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestWireRejectsUnknownKinds(t *testing.T) {
	var c onlinestock.Change
	if err := json.Unmarshal([]byte(`{"kind":"delete","product":"tee","outlet":"x","quantity":1}`), &c); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("Unmarshal of kind delete: error %v, want ErrInvalid", err)
	}
	if _, err := json.Marshal(onlinestock.Change{}); err == nil {
		t.Error("Marshal of a Change without a kind succeeded")
	}
	var s onlinestock.ChangeStatus
	if err := json.Unmarshal([]byte(`"maybe"`), &s); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("Unmarshal of status maybe: error %v, want ErrInvalid", err)
	}
}

package webhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/webhook"
)

// testdata/sample.json is the schema by example: one event of every kind.
func TestEncodeMatchesTheDocumentedSchema(t *testing.T) {
	t.Parallel()
	golden, err := os.ReadFile("testdata/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, golden); err != nil {
		t.Fatal(err)
	}
	got, err := webhook.Encode(sampleEvents())
	if err != nil {
		t.Fatalf("Encode() error = %v", err)
	}
	if diff := cmp.Diff(want.String(), string(got)); diff != "" {
		t.Errorf("Encode() mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeReturnsWhatEncodeWrote(t *testing.T) {
	t.Parallel()
	want := sampleEvents()
	want = append(want, onlinestock.Event{Seq: 9, Kind: "restocked_soon", Time: time.Date(2025, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600)), Product: "tee-l", Outlet: "north"})
	body, err := webhook.Encode(want)
	if err != nil {
		t.Fatalf("Encode() error = %v", err)
	}
	got := mustDecode(t, body)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode(Encode()) mismatch (-want +got):\n%s", diff)
	}
	if loc := got[len(got)-1].Time.Location(); loc != time.UTC {
		t.Errorf("Decode() time location = %v, want UTC", loc)
	}
}

func TestDecodeIgnoresFieldsItDoesNotKnow(t *testing.T) {
	t.Parallel()
	body := `{"version":1,"shop":"x","events":[{"id":"evt_4","seq":4,"kind":"product_enabled","time":"2025-03-01T10:00:00+01:00",` +
		`"product":"tee-m","outlet":"unused by this kind","colour":"red"}]}`
	want := []onlinestock.Event{{Seq: 4, Kind: onlinestock.ProductEnabled, Time: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), Product: "tee-m"}}
	if diff := cmp.Diff(want, mustDecode(t, []byte(body))); diff != "" {
		t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeRejectsMalformedBodies(t *testing.T) {
	t.Parallel()
	const ev = `{"id":"evt_1","seq":1,"kind":"product_enabled","time":"2025-03-01T09:30:00Z","product":"p"}`
	avail := func(before string) string {
		return `{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"availability_changed","time":"2025-03-01T09:30:00Z","product":"p",` +
			`"before":` + before + `,"after":{"quantity":1,"label":"in_stock"}}]}`
	}
	tests := []struct {
		name, body, reason string
	}{
		{"empty body", ``, "unexpected end"},
		{"not JSON", `hello`, "invalid character"},
		{"trailing data", `{"version":1,"events":[` + ev + `]} {}`, "invalid character"},
		{"a JSON array", `[` + ev + `]`, "cannot unmarshal"},
		{"no version", `{"events":[` + ev + `]}`, "version 0"},
		{"a newer version", `{"version":2,"events":[` + ev + `]}`, "version 2"},
		{"no events", `{"version":1,"events":[]}`, "no events"},
		{"seq zero", `{"version":1,"events":[{"id":"evt_0","seq":0,"kind":"product_enabled","time":"2025-03-01T09:30:00Z","product":"p"}]}`, "seq is 0"},
		{"id not matching seq", `{"version":1,"events":[{"id":"evt_2","seq":1,"kind":"product_enabled","time":"2025-03-01T09:30:00Z","product":"p"}]}`, "does not match"},
		{"negative seq", `{"version":1,"events":[{"id":"evt_1","seq":-1,"kind":"product_enabled","time":"2025-03-01T09:30:00Z","product":"p"}]}`, "cannot unmarshal"},
		{"events out of order", `{"version":1,"events":[` + strings.ReplaceAll(strings.ReplaceAll(ev, "evt_1", "evt_2"), `"seq":1`, `"seq":2`) + `,` + ev + `]}`, "does not follow"},
		{"repeated event", `{"version":1,"events":[` + ev + `,` + ev + `]}`, "does not follow"},
		{"empty kind", `{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"","time":"2025-03-01T09:30:00Z"}]}`, "empty kind"},
		{"no time", `{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"product_enabled","product":"p"}]}`, "time"},
		{"time not RFC 3339", `{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"product_enabled","time":"1 March 2025","product":"p"}]}`, "time"},
		{"product kind without product", `{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"product_enabled","time":"2025-03-01T09:30:00Z"}]}`, "without a product"},
		{"outlet kind without outlet", `{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"outlet_connected","time":"2025-03-01T09:30:00Z","methods":[]}]}`, "without an outlet"},
		{"availability without before", avail(`null`), "before: empty label"},
		{"availability with negative quantity", avail(`{"quantity":-1,"label":"in_stock"}`), "negative quantity"},
		{"quantity not an integer", avail(`{"quantity":1.5,"label":"in_stock"}`), "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := webhook.Decode([]byte(tt.body))
			if !errors.Is(err, webhook.ErrPayload) {
				t.Fatalf("Decode() = %v, %v; want an error wrapping ErrPayload", got, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Decode() error = %q, want it to mention %q", err, tt.reason)
			}
		})
	}
}

func TestEncodeRejectsEventsItCannotSend(t *testing.T) {
	t.Parallel()
	ok := onlinestock.Event{Seq: 1, Kind: onlinestock.ProductEnabled, Time: t0, Product: "p"}
	with := func(edit func(*onlinestock.Event)) []onlinestock.Event {
		e := ok
		edit(&e)
		return []onlinestock.Event{e}
	}
	tests := []struct {
		name   string
		events []onlinestock.Event
	}{
		{"no events", nil},
		{"seq zero", with(func(e *onlinestock.Event) { e.Seq = 0 })},
		{"seqs not increasing", []onlinestock.Event{ok, ok}},
		{"empty kind", with(func(e *onlinestock.Event) { e.Kind = "" })},
		{"time after year 9999", with(func(e *onlinestock.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"product kind without product", with(func(e *onlinestock.Event) { e.Product = "" })},
		{"availability without labels", with(func(e *onlinestock.Event) { e.Kind = onlinestock.AvailabilityChanged })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if body, err := webhook.Encode(tt.events); err == nil {
				t.Errorf("Encode() = %s, want an error", body)
			}
		})
	}
}

func TestBatchIDNamesTheFirstAndLastEvent(t *testing.T) {
	t.Parallel()
	events := sampleEvents()
	tests := []struct {
		events []onlinestock.Event
		want   string
	}{
		{nil, ""},
		{events[:1], "evt_1"},
		{events[2:5], "evt_3-5"},
	}
	for _, tt := range tests {
		if got := webhook.BatchID(tt.events); got != tt.want {
			t.Errorf("BatchID(%v) = %q, want %q", seqs(tt.events), got, tt.want)
		}
	}
}

// genEvents draws a valid payload: increasing seqs, every kind (and one
// this package does not know), each with the fields its kind uses.
func genEvents(t *rapid.T) []onlinestock.Event {
	kinds := []onlinestock.EventKind{
		onlinestock.AvailabilityChanged, onlinestock.OutletConnected, onlinestock.OutletDisconnected,
		onlinestock.PrimaryChanged, onlinestock.ProductEnabled, onlinestock.ProductDisabled, "future_kind",
		onlinestock.OrderReserved, onlinestock.OrderAmended, onlinestock.OrderPartiallyFulfilled, onlinestock.OrderFulfilled,
		onlinestock.OrderPartiallyReleased, onlinestock.OrderReleased, onlinestock.OrderExpired,
	}
	labels := []onlinestock.Label{onlinestock.NotForSale, onlinestock.SoldOut, onlinestock.LowStock, onlinestock.InStock, "preorder"}
	id := rapid.StringN(1, 20, 128)
	availability := rapid.Custom(func(t *rapid.T) onlinestock.Availability {
		return onlinestock.Availability{Quantity: rapid.Int64Range(0, onlinestock.MaxOnHand).Draw(t, "quantity"), Label: rapid.SampledFrom(labels).Draw(t, "label")}
	})
	methods := func(t *rapid.T) []string {
		if m := rapid.SliceOfN(id, 0, 3).Draw(t, "methods"); len(m) > 0 {
			return m
		}
		return nil
	}
	n := rapid.IntRange(1, 8).Draw(t, "events")
	seq := rapid.Uint64Range(0, 1<<40).Draw(t, "seq")
	events := make([]onlinestock.Event, n)
	for i := range events {
		seq += rapid.Uint64Range(1, 3).Draw(t, "gap")
		e := onlinestock.Event{
			Seq:  seq,
			Kind: rapid.SampledFrom(kinds).Draw(t, "kind"),
			Time: time.Unix(0, rapid.Int64Range(-62135596800, 253402300799).Draw(t, "unix")*1e9+rapid.Int64Range(0, 999999999).Draw(t, "nanos")).UTC(),
		}
		switch e.Kind {
		case onlinestock.AvailabilityChanged:
			e.Product, e.Before, e.After = id.Draw(t, "product"), availability.Draw(t, "before"), availability.Draw(t, "after")
		case onlinestock.ProductEnabled, onlinestock.ProductDisabled:
			e.Product = id.Draw(t, "product")
		case onlinestock.OutletConnected, onlinestock.OutletDisconnected:
			e.Outlet, e.Methods = id.Draw(t, "outlet"), methods(t)
		case onlinestock.PrimaryChanged:
			e.Outlet, e.Previous = id.Draw(t, "outlet"), rapid.StringN(0, 20, 128).Draw(t, "previous")
		case onlinestock.OrderReserved, onlinestock.OrderAmended, onlinestock.OrderPartiallyFulfilled, onlinestock.OrderFulfilled,
			onlinestock.OrderPartiallyReleased, onlinestock.OrderReleased, onlinestock.OrderExpired:
			e.Order = id.Draw(t, "order")
			partial := e.Kind == onlinestock.OrderPartiallyFulfilled || e.Kind == onlinestock.OrderPartiallyReleased
			closing := e.Kind == onlinestock.OrderFulfilled || e.Kind == onlinestock.OrderReleased
			if partial || (closing && rapid.Bool().Draw(t, "byPart")) {
				e.Part = id.Draw(t, "part")
			}
			for range rapid.IntRange(1, 3).Draw(t, "allocations") {
				a := onlinestock.Allocation{Product: id.Draw(t, "product"), Outlet: id.Draw(t, "outlet"), Quantity: rapid.Int64Range(1, onlinestock.MaxLineQuantity).Draw(t, "quantity")}
				e.Allocations = append(e.Allocations, a)
				e.Lines = append(e.Lines, onlinestock.Line{Product: a.Product, Quantity: a.Quantity})
			}
		default:
			e.Product, e.Outlet, e.Methods = rapid.StringN(0, 20, 128).Draw(t, "product"), rapid.StringN(0, 20, 128).Draw(t, "outlet"), methods(t)
		}
		events[i] = e
	}
	return events
}

func TestEncodeDecodeRoundTripsAnyValidPayload(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		want := genEvents(t)
		body, err := webhook.Encode(want)
		if err != nil {
			t.Fatalf("Encode() error = %v", err)
		}
		got, err := webhook.Decode(body)
		if err != nil {
			t.Fatalf("Decode(%s) error = %v", body, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Decode(Encode()) mismatch (-want +got):\n%s", diff)
		}
	})
}

// Order events, as the package documentation describes them.
func TestEncodeOrderEvents(t *testing.T) {
	t.Parallel()
	events := []onlinestock.Event{
		{Seq: 8, Kind: onlinestock.OrderReserved, Time: t0, Order: "web-1",
			Lines:       []onlinestock.Line{{Product: "tee-m", Quantity: 5}},
			Allocations: []onlinestock.Allocation{{Product: "tee-m", Outlet: "north", Quantity: 2}, {Product: "tee-m", Outlet: "south", Quantity: 3}}},
		{Seq: 9, Kind: onlinestock.OrderPartiallyFulfilled, Time: t0, Order: "web-1", Part: "shipment-1",
			Lines:       []onlinestock.Line{{Product: "tee-m", Quantity: 3}},
			Allocations: []onlinestock.Allocation{{Product: "tee-m", Outlet: "south", Quantity: 3}}},
		{Seq: 10, Kind: onlinestock.OrderReleased, Time: t0, Order: "web-1",
			Lines:       []onlinestock.Line{{Product: "tee-m", Quantity: 2}},
			Allocations: []onlinestock.Allocation{{Product: "tee-m", Outlet: "north", Quantity: 2}}},
	}
	want := `{"version":1,"events":[` +
		`{"id":"evt_8","seq":8,"kind":"order_reserved","time":"2025-03-01T09:30:00.123456789Z","order":"web-1",` +
		`"lines":[{"product":"tee-m","quantity":5}],` +
		`"allocations":[{"product":"tee-m","outlet":"north","quantity":2},{"product":"tee-m","outlet":"south","quantity":3}]},` +
		`{"id":"evt_9","seq":9,"kind":"order_partially_fulfilled","time":"2025-03-01T09:30:00.123456789Z","order":"web-1",` +
		`"part":"shipment-1","lines":[{"product":"tee-m","quantity":3}],"allocations":[{"product":"tee-m","outlet":"south","quantity":3}]},` +
		`{"id":"evt_10","seq":10,"kind":"order_released","time":"2025-03-01T09:30:00.123456789Z","order":"web-1",` +
		`"lines":[{"product":"tee-m","quantity":2}],"allocations":[{"product":"tee-m","outlet":"north","quantity":2}]}]}`
	got, err := webhook.Encode(events)
	if err != nil {
		t.Fatalf("Encode() error = %v", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Encode() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(events, mustDecode(t, got)); diff != "" {
		t.Errorf("Decode(Encode()) mismatch (-want +got):\n%s", diff)
	}
	bad := events[1]
	bad.Part = ""
	if _, err := webhook.Encode([]onlinestock.Event{bad}); err == nil {
		t.Errorf("Encode() of a partial fulfilment without its part: no error")
	}
}

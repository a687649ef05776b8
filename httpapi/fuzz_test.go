package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

// bodyRoute is an operation that reads a body, and what it means: apply
// reads the body with encoding/json and calls the Service as the
// operation would.
type bodyRoute struct {
	method, path string
	apply        func(svc *onlinestock.Service, body []byte) error
}

// bodyRoutes are the operations that read a body, by index for the fuzzer.
var bodyRoutes = []bodyRoute{
	{"POST", "/v1/changes", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Changes](body)
		if err == nil {
			_, err = svc.Apply(context.Background(), v.Changes)
		}
		return err
	}},
	{"POST", "/v1/quote", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[onlinestock.Cart](body)
		if err == nil {
			_, err = svc.Quote(context.Background(), v)
		}
		return err
	}},
	{"POST", "/v1/reservations", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Order](body)
		if err == nil {
			_, err = svc.Reserve(context.Background(), onlinestock.Order{ID: v.ID, Lines: v.Lines, Method: v.Method, TTL: time.Duration(v.TTLSeconds) * time.Second})
		}
		return err
	}},
	{"POST", "/v1/products/enable", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Products](body)
		if err == nil {
			err = svc.EnableOnline(context.Background(), v.Products...)
		}
		return err
	}},
	{"PUT", "/v1/outlets/east", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Name](body)
		if err == nil {
			err = svc.SaveOutlet(context.Background(), "east", v.Name)
		}
		return err
	}},
	{"PUT", "/v1/registers/till-2", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[RegisterBody](body)
		if err == nil {
			err = svc.SaveRegister(context.Background(), "till-2", v.Outlet, v.Name)
		}
		return err
	}},
	{"POST", "/v1/activate", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Activation](body)
		if err == nil {
			_, err = svc.Activate(context.Background(), v.Register)
		}
		return err
	}},
	{"PUT", "/v1/outlets/north/buffer", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Buffer](body)
		if err == nil {
			_, err = svc.SetBuffer(context.Background(), "north", v.Units)
		}
		return err
	}},
	{"PUT", "/v1/selection", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Selection](body)
		if err == nil {
			_, err = svc.SaveSelection(context.Background(), v.Outlets)
		}
		return err
	}},
	{"PUT", "/v1/methods/courier", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[onlinestock.Method](body)
		if err == nil {
			v.ID = "courier"
			err = svc.SaveMethod(context.Background(), v)
		}
		return err
	}},
	{"POST", "/v1/reservations/web-1/fulfill-part", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[onlinestock.Part](body)
		if err == nil {
			_, err = svc.FulfillPart(context.Background(), "web-1", v)
		}
		return err
	}},
	{"POST", "/v1/reservations/web-1/release-part", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[onlinestock.Part](body)
		if err == nil {
			_, err = svc.ReleasePart(context.Background(), "web-1", v)
		}
		return err
	}},
	{"POST", "/v1/reservations/web-1/amend", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[Amendment](body)
		if err == nil {
			_, err = svc.Amend(context.Background(), "web-1", v.Lines)
		}
		return err
	}},
	{"PUT", "/v1/bundles/gift", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[onlinestock.Bundle](body)
		if err == nil {
			v.ID = "gift"
			err = svc.SaveBundle(context.Background(), v)
		}
		return err
	}},
	{"PUT", "/v1/products/tee/backorder", func(svc *onlinestock.Service, body []byte) error {
		v, err := lenient[onlinestock.Backorder](body)
		if err == nil {
			v.Product = "tee"
			err = svc.SetBackorder(context.Background(), v)
		}
		return err
	}},
}

// FuzzRequestBody sends any body to each operation that reads one: the
// answer is never a 500, always one JSON value, and an error is a problem
// with a code. A refused request changes nothing (the state, the events
// and the ledger are compared before and after); an accepted one means
// what a second, independent reading of the body means (encoding/json,
// which is lenient, applied to a twin shop by calling the Service): a
// body the strict reader accepts has one meaning only.
func FuzzRequestBody(f *testing.F) {
	seeds := []string{
		`{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 5}]}`,
		`{"changes": [{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -1, "key": "k"}]}`,
		`{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 1, "if_version": 1, "check_version": true}]}`,
		`{"changes": [{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": 5, "quantity": -100}]}`,
		`{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "QUANTITY": 5}]}`,
		`{"changes": [{"kind": "set", "product": "q", "outlet": "north"}]}`,
		"{\"changes\": [{\"kind\": \"set\", \"product\": \"sku-\xe4\", \"outlet\": \"north\", \"quantity\": 1}]}",
		`{"changes": [{"kind": "set", "product": "sku-\ud800", "outlet": "north", "quantity": 1}]}`,
		`{"changes": [{"kind": "set", "product": "sku-\u00e4", "outlet": "north", "quantity": 1}]}`,
		`{"lines": [{"product": "tee", "quantity": 2}]}`,
		`{"id": "web-1", "lines": [{"product": "tee", "quantity": 1}], "method": "courier", "ttl_seconds": 1}`,
		`{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}], "ttl_seconds": 60}`,
		`{"products": ["tee"]}`, `{"name": "East"}`, `{"outlet": "north", "name": "Till 2"}`,
		`{"register": "till"}`, `{"units": 3}`, `{"outlets": ["north"]}`, `{}`, `{"outlets": null}`,
		`{"name": "Courier", "kind": "shipping", "rule": "allow_all"}`,
		`{"id": "ship-1", "lines": [{"product": "tee", "quantity": 1}]}`,
		`{"id": "cancel-1", "outlet": "north", "lines": [{"product": "tee", "quantity": 2}]}`,
		`{"id": "ship-2", "outlet": "south", "lines": [{"product": "tee", "quantity": 1}, {"product": "tee", "quantity": 1}]}`,
		`{"components": [{"product": "tee", "quantity": 2}]}`, `{"id": "gift", "components": [{"product": "tee", "quantity": 1}, {"product": "tee", "quantity": 1}]}`,
		`{"limit": 5, "expected": "2026-12-24T09:00:00Z", "outlet": "north"}`, `{"product": "tee", "limit": 0}`, `{"limit": 1, "expected": "2026-02-30T00:00:00Z"}`,
		``, `null`, `[]`, `{"changes": null}`, `{"lines": [{"quantity": 1e400}]}`, "\"\\ud800\"", `{"a":`,
	}
	for i := range bodyRoutes {
		for _, s := range seeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := bodyRoutes[int(route)%len(bodyRoutes)]
		h, svc := fuzzShop(t)
		_, twin := fuzzShop(t)
		before := fuzzState(t, svc)
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		request := rt.method + " " + rt.path + " " + strconv.Quote(string(body))
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, body %s", request, rec.Code, rec.Body)
		}
		checkAnswer(t, rec, request)
		after := fuzzState(t, svc)
		if rec.Code >= 300 {
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("%s: refused with %d, yet the shop changed (-before +after):\n%s", request, rec.Code, diff)
			}
			return
		}
		if err := rt.apply(twin, body); err != nil {
			t.Fatalf("%s: accepted with %d, but read by encoding/json and applied to the Service: %v", request, rec.Code, err)
		}
		if diff := cmp.Diff(fuzzState(t, twin), after); diff != "" {
			t.Fatalf("%s: accepted, and means another thing than encoding/json reads (-encoding/json +httpapi):\n%s", request, diff)
		}
	})
}

// lenient decodes body as encoding/json does, into a new T.
func lenient[T any](body []byte) (T, error) {
	var v T
	err := json.Unmarshal(body, &v)
	return v, err
}

// fuzzClock is the time of the fuzzed shops.
func fuzzClock() time.Time { return time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC) }

// shopState is what a fuzzed shop holds that a request could change.
type shopState struct {
	Setup        *onlinestock.Setup
	Levels       [][]onlinestock.Level
	Events       []onlinestock.Event
	Movements    []onlinestock.Movement
	Reservations []onlinestock.Reservation
	Methods      []onlinestock.Method
	Bundles      []onlinestock.Bundle
	Backorders   []onlinestock.Backorder
}

func fuzzState(t *testing.T, svc *onlinestock.Service) shopState {
	t.Helper()
	ctx := context.Background()
	var s shopState
	var err error
	check := func() {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Setup, err = svc.Setup(ctx)
	check()
	s.Movements, err = svc.Movements(ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage})
	check()
	seen := map[string]bool{}
	for _, m := range s.Movements {
		if !seen[m.Product] {
			seen[m.Product] = true
			levels, err := svc.Levels(ctx, m.Product)
			if err != nil {
				t.Fatal(err)
			}
			s.Levels = append(s.Levels, levels)
		}
	}
	s.Events, err = svc.EventsSince(ctx, 0, 0)
	check()
	for _, status := range []onlinestock.ReservationStatus{onlinestock.Open, onlinestock.Released, onlinestock.Fulfilled, onlinestock.Expired} {
		rs, err := svc.Reservations(ctx, onlinestock.ReservationFilter{Status: status, Limit: onlinestock.MaxReservationsPage})
		if err != nil {
			t.Fatal(err)
		}
		s.Reservations = append(s.Reservations, rs...)
	}
	s.Methods, err = svc.Methods(ctx)
	check()
	s.Bundles, err = svc.Bundles(ctx)
	check()
	s.Backorders, err = svc.Backorders(ctx)
	check()
	return s
}

// FuzzReservationsQuery sends any query string to listReservations: the
// answer is never a 500, and an error is a problem with a code.
func FuzzReservationsQuery(f *testing.F) {
	for _, q := range []string{
		"", "status=open", "status=released&product=tee", "outlet=north&limit=1", "after=web-1&limit=1000",
		"due_before=2026-03-01T09:30:00Z", "due_before=2026-03-01T09:30:00%2B02:00", "due_before=0000-01-01T00:00:00Z",
		"due_before=9999-12-31T23:59:59.999999999Z", "limit=0", "limit=-1", "limit=18446744073709551616",
		"status=shipped", "status=open&status=open", "product=", "product=t%00", "x=1", "%zz", "a;b", "product=%ff",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		h, _ := fuzzShop(t)
		req := httptest.NewRequest("GET", "/v1/reservations", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, rec, "GET /v1/reservations?"+query)
		if rec.Code == http.StatusOK {
			var page Reservations
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Reservations == nil {
				t.Fatalf("GET /v1/reservations?%s: answer %s is not a page (%v)", query, rec.Body, err)
			}
		}
	})
}

// FuzzMovementsQuery sends any query string to listMovements: the answer
// is never a 500, an error is a problem with a code, and a page holds only
// movements the filter selects, after the seq asked, in order, at most the
// limit.
func FuzzMovementsQuery(f *testing.F) {
	for _, q := range []string{
		"", "product=tee", "outlet=north&limit=1", "ref=web-1", "ref=receipt-1%2F1", "product=tee&outlet=north&ref=web-1",
		"after=1", "after=2&limit=1", "after=9223372036854775807", "after=9223372036854775808", "after=18446744073709551616",
		"limit=0", "limit=10000", "limit=10001", "limit=-1", "limit=1e3", "after=+1", "after=0x1",
		"product=tee&product=tee", "ref=", "kind=set", "product=t%00", "%zz", "a;b", "ref=%ff", "&&", "=1",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		h, _ := fuzzShop(t)
		req := httptest.NewRequest("GET", "/v1/movements", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		request := "GET /v1/movements?" + query
		checkAnswer(t, rec, request)
		if rec.Code != http.StatusOK {
			return
		}
		var page Movements
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Movements == nil {
			t.Fatalf("%s: answer %s is not a page (%v)", request, rec.Body, err)
		}
		// A query answered 200 is one the decoder read as it stands.
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("%s: answered 200, but the query is malformed: %v", request, err)
		}
		filter := onlinestock.MovementFilter{Product: q.Get("product"), Outlet: q.Get("outlet"), Ref: q.Get("ref")}
		after, limit := uint64(0), 100
		if s := q.Get("after"); s != "" {
			if after, err = strconv.ParseUint(s, 10, 64); err != nil {
				t.Fatalf("%s: answered 200 for after %q", request, s)
			}
		}
		if s := q.Get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > onlinestock.MaxMovementPage {
				t.Fatalf("%s: answered 200 for limit %q", request, s)
			}
		}
		if len(page.Movements) > limit {
			t.Fatalf("%s: %d movements, more than the limit %d", request, len(page.Movements), limit)
		}
		for i, m := range page.Movements {
			if !filter.Matches(m) || m.Seq <= after || (i > 0 && m.Seq <= page.Movements[i-1].Seq) {
				t.Fatalf("%s: movement %d, %v, is not one the query selects, in order", request, i, m)
			}
		}
	})
}

// checkAnswer checks a recorded answer: never a 500, one JSON object when
// not a 204, and a problem with a code when an error.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, request string) {
	t.Helper()
	if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("%s: status %d, body %s", request, rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent {
		return
	}
	d := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	var v map[string]any
	if err := d.Decode(&v); err != nil || d.More() {
		t.Fatalf("%s: answer %q is not one JSON object: %v", request, rec.Body, err)
	}
	if rec.Code >= 400 && (rec.Header().Get("Content-Type") != "application/problem+json" || v["code"] == "") {
		t.Fatalf("%s: error answer %v is not a problem with a code", request, v)
	}
}

// fuzzShop returns a Handler over a small, active shop with an open
// order, web-1.
func fuzzShop(t *testing.T) (*Handler, *onlinestock.Service) {
	t.Helper()
	ctx := context.Background()
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{Clock: fuzzClock})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		svc.SaveOutlet(ctx, "north", "North"),
		svc.SaveRegister(ctx, "till", "north", "Till"),
		svc.SaveMethod(ctx, onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Activate(ctx, "till"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{
		onlinestock.Set("tee", "north", 4).WithReason(onlinestock.StockCount),
		onlinestock.Adjust("tee", "north", 1).WithReason(onlinestock.StockReturn).WithRef("receipt-1/1"),
	}); err != nil {
		t.Fatal(err)
	}
	// An open order to ship, cancel and amend.
	if err := svc.EnableOnline(ctx, "tee"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 2}}, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	h, err := New(svc, Config{MaxBodyBytes: 1 << 16, Clock: fuzzClock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return h, svc
}

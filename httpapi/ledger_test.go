package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
)

// ledgerShop is the shop of setUpShop after a POS batch with reasons,
// refs and keys, an order web-1 whose sale the POS reported, and an order
// web-2 released: a ledger with every kind of POS change and of order
// movement but expiry.
func ledgerShop(t *testing.T, c *client) {
	t.Helper()
	setUpShop(c)
	var results httpapi.ChangeResults
	c.must(200, "POST", "/v1/changes", `{"changes": [
		{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": 4, "reason": "receipt", "ref": "delivery-7", "key": "delivery-7/1"},
		{"kind": "adjust", "product": "cap", "outlet": "north", "quantity": 6, "reason": "receipt", "ref": "delivery-7", "key": "delivery-7/2"},
		{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -1, "reason": "sale", "key": "receipt-42/1"},
		{"kind": "set", "product": "cap", "outlet": "south", "quantity": 2, "reason": "count"},
		{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -1, "reason": "display-sample"}]}`).into(t, &results)
	for i, r := range results.Results {
		if r.Status != onlinestock.Applied {
			t.Fatalf("change %d: %s, want applied", i, r.Status)
		}
	}
	var r onlinestock.Reservation
	c.must(200, "POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 3}]}`).into(t, &r)
	if len(r.Allocations) != 1 || r.Allocations[0].Outlet != "north" {
		t.Fatalf("web-1 %+v: want all of it from north", r)
	}
	c.must(200, "POST", "/v1/changes", `{"changes": [
		{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -3, "order": "web-1", "key": "receipt-43/1"}]}`).into(t, &results)
	if results.Results[0].Status != onlinestock.Applied {
		t.Fatalf("the web sale's report: %s, want applied", results.Results[0].Status)
	}
	c.must(200, "POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}]}`)
	c.must(200, "POST", "/v1/reservations/web-2/release", nil)
}

// TestMovements reads the stock ledger over HTTP, filtered and a page at a
// time, and checks each page against the Service's own.
func TestMovements(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		ledgerShop(t, c)
		all, err := svc.Movements(ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage})
		if err != nil {
			t.Fatal(err)
		}

		for _, f := range []onlinestock.MovementFilter{
			{},
			{Product: "tee"},
			{Product: "cap"},
			{Product: "mug"},
			{Outlet: "south"},
			{Product: "tee", Outlet: "north"},
			{Ref: "delivery-7"},
			{Ref: "web-1"},
			{Ref: "receipt-42/1"},
			{Ref: "nope"},
			{After: 3},
			{After: all[len(all)-1].Seq},
			{After: math.MaxInt64},
			{Limit: 2},
			{Product: "tee", After: 5, Limit: 2},
			{Limit: httpapi.DefaultMaxPage},
		} {
			var page httpapi.Movements
			c.must(200, "GET", "/v1/movements"+movementsQuery(f), nil).into(t, &page)
			want, err := svc.Movements(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = []onlinestock.Movement{}
			}
			if diff := cmp.Diff(want, page.Movements); diff != "" {
				t.Errorf("GET /v1/movements%s mismatch (-want +got):\n%s", movementsQuery(f), diff)
			}
		}

		// What the ledger says of the POS batch and of the orders.
		var byRef httpapi.Movements
		c.must(200, "GET", "/v1/movements?ref=web-1", nil).into(t, &byRef)
		type entry struct {
			Kind                       onlinestock.MovementKind
			Reason                     onlinestock.StockReason
			Outlet                     string
			OnHandDelta, ReservedDelta int64
			OnHand, Reserved           int64
		}
		var got []entry
		for _, m := range byRef.Movements {
			got = append(got, entry{m.Kind, m.Reason, m.Outlet, m.OnHandDelta, m.ReservedDelta, m.OnHand, m.Reserved})
		}
		want := []entry{
			{onlinestock.MovedByReserve, "", "north", 0, 3, 6, 3},
			{onlinestock.MovedByAdjust, onlinestock.StockSale, "north", -3, -3, 3, 0},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("web-1's movements mismatch (-want +got):\n%s", diff)
		}
		var custom httpapi.Movements
		c.must(200, "GET", "/v1/movements?product=tee&outlet=south", nil).into(t, &custom)
		if n := len(custom.Movements); n < 2 || custom.Movements[n-1].Reason != "display-sample" || custom.Movements[n-1].Ref != "" ||
			custom.Movements[n-2].Ref != "receipt-42/1" {
			t.Errorf("tee at south: %v; want the sale under its key, then the merchant's own reason without a ref", custom.Movements)
		}
		var web1 onlinestock.Reservation
		c.must(200, "GET", "/v1/reservations/web-1", nil).into(t, &web1)
		if web1.Status != onlinestock.Fulfilled || !web1.Allocations[0].Reported {
			t.Errorf("web-1 after the POS reported its sale: %+v; want fulfilled, reported", web1)
		}

		// Page by page, of every size, the pages join into the whole ledger.
		for _, f := range []onlinestock.MovementFilter{{}, {Product: "tee"}, {Outlet: "north"}, {Ref: "delivery-7"}} {
			whole, err := svc.Movements(ctx, onlinestock.MovementFilter{Product: f.Product, Outlet: f.Outlet, Ref: f.Ref, Limit: onlinestock.MaxMovementPage})
			if err != nil {
				t.Fatal(err)
			}
			for limit := 1; limit <= 4; limit++ {
				var joined []onlinestock.Movement
				for after, pages := uint64(0), 0; ; pages++ {
					if pages > len(whole)+1 {
						t.Fatalf("%+v by %d: paging does not end", f, limit)
					}
					page := f
					page.After, page.Limit = after, limit
					var got httpapi.Movements
					c.must(200, "GET", "/v1/movements"+movementsQuery(page), nil).into(t, &got)
					if len(got.Movements) > limit {
						t.Fatalf("GET /v1/movements%s: %d movements, more than the limit", movementsQuery(page), len(got.Movements))
					}
					if len(got.Movements) == 0 {
						break
					}
					joined = append(joined, got.Movements...)
					after = got.Movements[len(got.Movements)-1].Seq
				}
				if diff := cmp.Diff(whole, joined); diff != "" {
					t.Errorf("%+v, %d at a time, mismatch with one page (-want +got):\n%s", f, limit, diff)
				}
			}
		}
	})
}

// movementsQuery is the query string of listMovements for f.
func movementsQuery(f onlinestock.MovementFilter) string {
	q := url.Values{}
	for name, v := range map[string]string{"product": f.Product, "outlet": f.Outlet, "ref": f.Ref} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if f.After != 0 {
		q.Set("after", fmt.Sprint(f.After))
	}
	if f.Limit != 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// TestLedgerErrors checks that each bad listing of the ledger and each
// bad POS change is answered with its status and code, and changes
// nothing.
func TestLedgerErrors(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		ledgerShop(t, c)

		type state struct {
			Events       []onlinestock.Event
			Movements    []onlinestock.Movement
			Levels       [][]onlinestock.Level
			Reservations []onlinestock.Reservation
		}
		snapshot := func() state {
			t.Helper()
			var s state
			var err error
			if s.Events, err = svc.EventsSince(ctx, 0, 0); err != nil {
				t.Fatal(err)
			}
			if s.Movements, err = svc.Movements(ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage}); err != nil {
				t.Fatal(err)
			}
			for _, product := range []string{"tee", "cap"} {
				levels, err := svc.Levels(ctx, product)
				if err != nil {
					t.Fatal(err)
				}
				s.Levels = append(s.Levels, levels)
			}
			for _, order := range []string{"web-1", "web-2"} {
				r, err := svc.Reservation(ctx, order)
				if err != nil {
					t.Fatal(err)
				}
				s.Reservations = append(s.Reservations, r)
			}
			return s
		}
		before := snapshot()

		long := strings.Repeat("r", onlinestock.MaxIDBytes+1)
		change := func(fields string) string {
			return `{"changes": [{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -1, ` + fields + `}]}`
		}
		tests := []refusal{
			{"a misspelt parameter", "GET", "/v1/movements?prodcut=tee", ``, 400, httpapi.CodeInvalid, "prodcut", "unknown query parameter"},
			{"a filter by kind, which there is not", "GET", "/v1/movements?kind=set", ``, 400, httpapi.CodeInvalid, "kind", "known are after, limit, outlet, product, ref"},
			{"a product given twice", "GET", "/v1/movements?product=tee&product=cap", ``, 400, httpapi.CodeInvalid, "product", "2 times"},
			{"an empty ref", "GET", "/v1/movements?ref=", ``, 400, httpapi.CodeInvalid, "ref", "empty"},
			{"an empty after", "GET", "/v1/movements?after=&limit=5", ``, 400, httpapi.CodeInvalid, "after", "empty"},
			{"a control character in an outlet", "GET", "/v1/movements?outlet=n%01", ``, 400, httpapi.CodeInvalid, "", "outlet: control character"},
			{"a ref too long", "GET", "/v1/movements?ref=" + long, ``, 400, httpapi.CodeInvalid, "", "ref: 129 bytes"},
			{"an after that is not a number", "GET", "/v1/movements?after=web-1", ``, 400, httpapi.CodeInvalid, "after", "non-negative integer"},
			{"a negative after", "GET", "/v1/movements?after=-1", ``, 400, httpapi.CodeInvalid, "after", "non-negative integer"},
			{"an after past the largest seq", "GET", "/v1/movements?after=9223372036854775808", ``, 400, httpapi.CodeInvalid, "", "after: 9223372036854775808 is beyond"},
			{"an after past 64 bits", "GET", "/v1/movements?after=18446744073709551616", ``, 400, httpapi.CodeInvalid, "after", "non-negative integer"},
			{"a limit of zero", "GET", "/v1/movements?limit=0", ``, 400, httpapi.CodeInvalid, "limit", "from 1 to 1000"},
			{"a limit too large", "GET", "/v1/movements?limit=10001", ``, 400, httpapi.CodeOverLimit, "limit", "more than the 1000 one page may hold"},
			{"a limit that is not a number", "GET", "/v1/movements?limit=all", ``, 400, httpapi.CodeInvalid, "limit", "non-negative integer"},
			{"a malformed escape", "GET", "/v1/movements?ref=%zz", ``, 400, httpapi.CodeInvalid, "", "malformed query"},
			{"a semicolon", "GET", "/v1/movements?product=tee;outlet=north", ``, 400, httpapi.CodeInvalid, "", "malformed query"},
			{"writing the ledger", "POST", "/v1/movements", `{}`, 405, httpapi.CodeMethodNotAllowed, "", "POST"},

			{"a key used before for another change", "POST", "/v1/changes", change(`"key": "receipt-42/1"`), 409, httpapi.CodeConflict, "", `key "receipt-42/1"`},
			{"a key used twice in a batch for two changes", "POST", "/v1/changes", `{"changes": [
				{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -1, "key": "receipt-44/1"},
				{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -2, "key": "receipt-44/1"}]}`, 409, httpapi.CodeConflict, "", `key "receipt-44/1"`},
			{"a web sale's key used for another order", "POST", "/v1/changes", change(`"key": "receipt-43/1", "order": "web-2"`), 409, httpapi.CodeConflict, "", `key "receipt-43/1"`},
			{"a web sale reported at an outlet the order took nothing from", "POST", "/v1/changes",
				`{"changes": [{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -3, "order": "web-1"}]}`, 409, httpapi.CodeConflict, "", `order "web-1"`},
			{"a web sale reported for another quantity", "POST", "/v1/changes", change(`"order": "web-1"`), 409, httpapi.CodeConflict, "", `order "web-1"`},
			{"a web sale of an unknown order", "POST", "/v1/changes", change(`"order": "web-9"`), 404, httpapi.CodeNotFound, "", "web-9"},
			{"a web sale that raises on-hand", "POST", "/v1/changes",
				`{"changes": [{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": 3, "order": "web-1"}]}`, 400, httpapi.CodeInvalid, "", "delta"},
			{"a reason too long", "POST", "/v1/changes", change(`"reason": "` + strings.Repeat("x", onlinestock.MaxReasonBytes+1) + `"`), 400, httpapi.CodeInvalid, "", "reason: 65 bytes"},
			{"a reason with a control character", "POST", "/v1/changes", change(`"reason": "sale\u0007"`), 400, httpapi.CodeInvalid, "", "reason: control character"},
			{"a reason that is a number", "POST", "/v1/changes", change(`"reason": 7`), 400, httpapi.CodeInvalid, "changes[0].reason", "an integer, not a string"},
			{"a change's ref too long", "POST", "/v1/changes", change(`"ref": "` + long + `"`), 400, httpapi.CodeInvalid, "", "ref: 129 bytes"},
			{"an order that is an object", "POST", "/v1/changes", change(`"order": {"id": "web-1"}`), 400, httpapi.CodeInvalid, "changes[0].order", "an object, not a string"},
			{"a misspelt reason", "POST", "/v1/changes", change(`"reasons": "sale"`), 400, httpapi.CodeInvalid, "changes[0].reasons", "unknown field"},
			{"a good change beside a stale count", "POST", "/v1/changes", `{"changes": [
				{"kind": "adjust", "product": "cap", "outlet": "north", "quantity": 1, "reason": "return", "ref": "receipt-45"},
				{"kind": "set", "product": "tee", "outlet": "south", "quantity": 9, "if_version": 1, "check_version": true, "reason": "count"}]}`, 409, httpapi.CodeConflict, "", "not 1"},
		}
		checkRefusals(t, c, tests, func(t *testing.T, tt refusal, _ response, p httpapi.Error) {
			// A key conflict names its key in a member of its own.
			want := ""
			if strings.HasPrefix(tt.detail, `key "`) {
				want = strings.TrimSuffix(strings.TrimPrefix(tt.detail, `key "`), `"`)
			}
			if p.Key != want {
				t.Errorf("problem's key %q, want %q", p.Key, want)
			}
		})
		if diff := cmp.Diff(before, snapshot()); diff != "" {
			t.Errorf("state after rejected requests mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestChangesCarryTheLedgerFields applies each field of a change that the
// ledger keeps over HTTP, and reads it back from the Service: the body
// decodes into the library's Change as it is.
func TestChangesCarryTheLedgerFields(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, svc := newAPI(t, ns, httpapi.Config{})
		ctx := context.Background()
		setUpShop(c)
		c.must(200, "POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 1}]}`)
		c.must(200, "POST", "/v1/reservations/web-1/fulfill", nil)
		last, err := svc.Movements(ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage})
		if err != nil {
			t.Fatal(err)
		}
		after := last[len(last)-1].Seq

		changes := []onlinestock.Change{
			onlinestock.Adjust("tee", "south", 5).WithReason(onlinestock.StockReceipt).WithRef("delivery-1").WithKey("delivery-1/1"),
			onlinestock.Set("tee", "south", 7).WithReason(onlinestock.StockCount).WithVersion(2),
			onlinestock.Adjust("tee", "north", -1).ForOrder("web-1").WithKey("receipt-9/1"),
			onlinestock.Adjust("tee", "south", -1).WithReason("staff-use"),
		}
		var results httpapi.ChangeResults
		c.must(200, "POST", "/v1/changes", httpapi.Changes{Changes: changes}).into(t, &results)
		var statuses []onlinestock.ChangeStatus
		for _, r := range results.Results {
			statuses = append(statuses, r.Status)
		}
		// web-1 was fulfilled before the POS reported its sale: the report
		// is already counted.
		if diff := cmp.Diff([]onlinestock.ChangeStatus{onlinestock.Applied, onlinestock.Applied, onlinestock.Duplicate, onlinestock.Applied}, statuses); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
		moved, err := svc.Movements(ctx, onlinestock.MovementFilter{After: after})
		if err != nil {
			t.Fatal(err)
		}
		type entry struct {
			Kind   onlinestock.MovementKind
			Reason onlinestock.StockReason
			Ref    string
			OnHand int64
		}
		var got []entry
		for _, m := range moved {
			got = append(got, entry{m.Kind, m.Reason, m.Ref, m.OnHand})
		}
		want := []entry{
			{onlinestock.MovedByAdjust, onlinestock.StockReceipt, "delivery-1", 8},
			{onlinestock.MovedBySet, onlinestock.StockCount, "", 7},
			{onlinestock.MovedByAdjust, "staff-use", "", 6},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("movements of the batch mismatch (-want +got):\n%s", diff)
		}
		r, err := svc.Reservation(ctx, "web-1")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allocations[0].Reported {
			t.Errorf("web-1 %+v: the POS's report is not recorded", r)
		}
	})
}

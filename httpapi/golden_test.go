package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
	"github.com/onlinestock/onlinestock/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGoldenOrderLifecycle pins the requests and answers of an order's
// life over HTTP, as a transcript in testdata/order-lifecycle.golden: a
// renamed field, a changed status or a reworded problem fails here. Run
// with -update to rewrite it after a deliberate change, and read the diff.
func TestGoldenOrderLifecycle(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc, httpapi.Config{Clock: clock})
	setUpShop(c)
	events, err := svc.EventsSince(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1].Seq

	got := transcript(t, c, []exchange{
		{"POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 4}], "method": "courier", "ttl_seconds": 900}`},
		{"POST", "/v1/reservations/web-1/fulfill-part", `{"id": "ship-1", "lines": [{"product": "tee", "quantity": 1}]}`},
		{"POST", "/v1/reservations/web-1/release-part", `{"id": "cancel-1", "outlet": "south", "lines": [{"product": "tee", "quantity": 1}]}`},
		{"POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "tee", "quantity": 3}]}`},
		{"POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "tee", "quantity": 9}]}`},
		{"POST", "/v1/reservations/web-1/release-part", `{"id": "ship-1", "lines": [{"product": "tee", "quantity": 1}]}`},
		{"GET", "/v1/reservations?product=tee&limit=10", ""},
		{"GET", "/v1/reservations?status=shipped", ""},
		{"POST", "/v1/reservations/web-1/fulfill-part", `{"id": "ship-2", "lines": [{"product": "tee", "quantity": 2}]}`},
		{"GET", "/v1/reservations?status=fulfilled&due_before=2026-03-01T10:00:00Z", ""},
		{"GET", fmt.Sprintf("/v1/events?after=%d", last), ""},
	})
	checkGolden(t, "order-lifecycle.golden", got)
}

// TestGoldenPOSLedger pins, as testdata/pos-ledger.golden, a POS batch
// with reasons, refs and keys, its retry, a key reused for another
// change, web sales the POS reports under their orders (before and after
// they were fulfilled) and the stock ledger they leave.
func TestGoldenPOSLedger(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	svc, err := onlinestock.New(memstore.New(), onlinestock.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc, httpapi.Config{Clock: clock})
	setUpShop(c)
	ms, err := svc.Movements(context.Background(), onlinestock.MovementFilter{})
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1].Seq

	got := transcript(t, c, []exchange{
		{"POST", "/v1/changes", `{"changes": [
			{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": 4, "reason": "receipt", "ref": "delivery-7", "key": "delivery-7/1"},
			{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -1, "reason": "sale", "key": "receipt-42/1"},
			{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -1, "reason": "display-sample", "ref": "memo-3"},
			{"kind": "set", "product": "cap", "outlet": "north", "quantity": 5, "reason": "count", "if_version": 0, "check_version": true}]}`},
		{"POST", "/v1/changes", `{"changes": [
			{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -1, "reason": "sale", "key": "receipt-42/1"}]}`},
		{"POST", "/v1/changes", `{"changes": [
			{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -2, "reason": "sale", "key": "receipt-42/1"}]}`},
		{"POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 3}], "method": "courier"}`},
		{"POST", "/v1/changes", `{"changes": [
			{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -3, "order": "web-1", "key": "receipt-43/1"}]}`},
		{"POST", "/v1/changes", `{"changes": [
			{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -3, "order": "web-1", "key": "receipt-43/1"}]}`},
		{"POST", "/v1/changes", `{"changes": [
			{"kind": "adjust", "product": "tee", "outlet": "south", "quantity": -3, "order": "web-1"}]}`},
		{"POST", "/v1/reservations", `{"id": "web-2", "lines": [{"product": "tee", "quantity": 1}], "method": "courier"}`},
		{"POST", "/v1/reservations/web-2/fulfill", ""},
		{"POST", "/v1/changes", `{"changes": [
			{"kind": "adjust", "product": "tee", "outlet": "north", "quantity": -1, "order": "web-2", "key": "receipt-44/1"}]}`},
		{"GET", "/v1/reservations/web-1", ""},
		{"GET", fmt.Sprintf("/v1/movements?after=%d", last), ""},
		{"GET", "/v1/movements?ref=web-1", ""},
		{"GET", "/v1/movements?product=tee&outlet=south&limit=2", ""},
		{"GET", "/v1/movements?product=tee&limit=0", ""},
	})
	checkGolden(t, "pos-ledger.golden", got)
}

// exchange is a request of a transcript: a body of "" is none.
type exchange struct{ method, path, body string }

// transcript sends each request and writes it down with its answer, JSON
// indented.
func transcript(t *testing.T, c *client, exchanges []exchange) string {
	t.Helper()
	var got strings.Builder
	for _, ex := range exchanges {
		var r response
		if ex.body == "" {
			r = c.do(ex.method, ex.path, nil)
		} else {
			r = c.do(ex.method, ex.path, ex.body)
		}
		fmt.Fprintf(&got, "%s %s\n", ex.method, ex.path)
		if ex.body != "" {
			got.WriteString(indentJSON(t, ex.body))
		}
		fmt.Fprintf(&got, "=> %d %s\n%s\n", r.status, r.header.Get("Content-Type"), indentJSON(t, string(r.body)))
	}
	return got.String()
}

// checkGolden compares got with the golden file testdata/name, which
// -update rewrites.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s transcript mismatch (-want +got):\n%s", name, diff)
	}
}

func indentJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

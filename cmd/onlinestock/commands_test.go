package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

// shop migrates a new empty schema and sets up a tenant in it: outlets
// north and south, connected, the order register in north, a courier, and
// a tee stocked 2 + 3, enabled. It returns the database URL, the tenant and
// its Service.
func shop(t *testing.T) (string, string, *onlinestock.Service) {
	t.Helper()
	db := emptyDatabaseURL(t)
	if _, _, err := cli(t, "migrate", "--database-url", db); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli(t, "tenants", "create", "acme", "--database-url", db); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store, err := pgstore.New(pool, pgstore.Config{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := onlinestock.New(store, onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(svc.SaveOutlet(ctx, "north", "North"))
	check(svc.SaveOutlet(ctx, "south", "South"))
	check(svc.SaveRegister(ctx, "till", "north", "Till"))
	_, err = svc.Activate(ctx, "till")
	check(err)
	_, err = svc.Connect(ctx, "south")
	check(err)
	check(svc.SaveMethod(ctx, onlinestock.Method{ID: "courier", Name: "Courier", Kind: onlinestock.Shipping}))
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "north", 2), onlinestock.Set("tee", "south", 3)})
	check(err)
	check(svc.EnableOnline(ctx, "tee"))
	return db, "acme", svc
}

func TestInspect(t *testing.T) {
	db, tenant, svc := shop(t)
	ctx := context.Background()
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 4}}}); err != nil {
		t.Fatal(err)
	}
	// A catalog: a bundle of two caps and a tee, and records on pre-order.
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("cap", "north", 4), onlinestock.Set("record", "north", 0)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SaveBundle(ctx, onlinestock.Bundle{ID: "gift", Components: []onlinestock.Component{{Product: "tee", Quantity: 1}, {Product: "cap", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	expected := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	if err := svc.SetBackorder(ctx, onlinestock.Backorder{Product: "record", Limit: 50, Expected: expected}); err != nil {
		t.Fatal(err)
	}
	inspect := func(args ...string) string {
		t.Helper()
		out, _, err := cli(t, append(append([]string{"inspect"}, args...), "--database-url", db, "--tenant", tenant)...)
		if err != nil {
			t.Fatalf("inspect %v: %v", args, err)
		}
		return out
	}
	tables := []struct {
		args []string
		want []string // lines, as regular expressions
	}{
		{[]string{"setup"}, []string{`^outlet +name +connected +buffer +rank +primary$`, `^north +North +yes +0 +0 +yes$`, `^south +South +yes +0 +0 *$`, `^till +north +Till +yes$`}},
		{[]string{"methods"}, []string{`^courier +Courier +shipping +allow_all *$`}},
		{[]string{"levels", "tee"}, []string{`^outlet +on hand +reserved +version$`, `^north +2 +2 +1$`, `^south +3 +2 +1$`}},
		{[]string{"availability", "tee", "mug"}, []string{`^tee +1 +in_stock$`, `^mug +0 +not_for_sale$`}},
		{[]string{"events", "--after", "5"}, []string{`^6 +\S+ +availability_changed +tee +5 in_stock -> 1 in_stock$`}},
		{[]string{"reservation", "web-1"}, []string{`^web-1 +open +\S+ +tee +north +2$`, `^web-1 +open +\S+ +tee +south +2$`}},
		{[]string{"events", "--after", "6"}, []string{`^7 +\S+ +order_reserved +web-1 +2 tee at north, 2 tee at south$`}},
		{[]string{"reservations"}, []string{`^order +status +method +created +deadline +product +outlet +quantity$`, `^web-1 +open +\S+ +tee +north +2$`, `^web-1 +open +\S+ +tee +south +2$`}},
		{[]string{"reservations", "--product", "tee", "--outlet", "south"}, []string{`^web-1 +open +\S+ +tee +south +2$`}},
		{[]string{"dead-letters"}, []string{`^seq +time +reason$`}},
		{[]string{"bundles"}, []string{`^bundle +component +units$`, `^gift +cap +2$`, `^gift +tee +1$`}},
		{[]string{"backorders"}, []string{`^product +limit +expected +outlet$`, `^record +50 +2026-12-24T09:00:00Z +\(primary\)$`}},
	}
	for _, tt := range tables {
		out := inspect(tt.args...)
		for _, w := range tt.want {
			if !regexp.MustCompile("(?m)" + w).MatchString(out) {
				t.Errorf("inspect %v printed:\n%s\nwant a line matching %s", tt.args, out, w)
			}
		}
	}

	var levels []onlinestock.Level
	if err := json.Unmarshal([]byte(inspect("levels", "--json", "tee")), &levels); err != nil {
		t.Fatal(err)
	}
	want, err := svc.Levels(ctx, "tee")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, levels); diff != "" {
		t.Errorf("inspect levels --json mismatch (-want +got):\n%s", diff)
	}
	var bundles []onlinestock.Bundle
	if err := json.Unmarshal([]byte(inspect("bundles", "--json")), &bundles); err != nil {
		t.Fatal(err)
	}
	if want, err := svc.Bundles(ctx); err != nil || !cmp.Equal(want, bundles) {
		t.Errorf("inspect bundles --json: %+v, want %+v (%v)", bundles, want, err)
	}
	var policies []onlinestock.Backorder
	if err := json.Unmarshal([]byte(inspect("backorders", "--json")), &policies); err != nil {
		t.Fatal(err)
	}
	if want := []onlinestock.Backorder{{Product: "record", Limit: 50, Expected: expected}}; !cmp.Equal(want, policies) {
		t.Errorf("inspect backorders --json: %+v, want %+v", policies, want)
	}
	var events []onlinestock.Event
	if err := json.Unmarshal([]byte(inspect("events", "--json", "--after", "100")), &events); err != nil || events == nil || len(events) != 0 {
		t.Errorf("inspect events --json past the end: %v, %v; want []", events, err)
	}

	// Reservations, a page at a time, as the Service lists them.
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-2", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Release(ctx, "web-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-3", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args   []string
		filter onlinestock.ReservationFilter
		more   string // the hint on standard error, if the page is full
	}{
		{nil, onlinestock.ReservationFilter{}, ""},
		{[]string{"--status", "released"}, onlinestock.ReservationFilter{Status: onlinestock.Released}, ""},
		{[]string{"--limit", "1"}, onlinestock.ReservationFilter{Limit: 1}, "--after web-1"},
		{[]string{"--limit", "1", "--after", "web-1"}, onlinestock.ReservationFilter{Limit: 1, After: "web-1"}, "--after web-3"},
		{[]string{"--due-before", "2h"}, onlinestock.ReservationFilter{DueBefore: time.Now().Add(2 * time.Hour)}, ""},
		{[]string{"--due-before", time.Now().Format(time.RFC3339)}, onlinestock.ReservationFilter{DueBefore: time.Now()}, ""},
	} {
		args := append(append([]string{"inspect", "reservations", "--json"}, tt.args...), "--database-url", db, "--tenant", tenant)
		out, stderr, err := cli(t, args...)
		if err != nil {
			t.Fatalf("inspect reservations %v: %v", tt.args, err)
		}
		var got []onlinestock.Reservation
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		want, err := svc.Reservations(ctx, tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("inspect reservations %v --json mismatch (-want +got):\n%s", tt.args, diff)
		}
		if !strings.Contains(stderr, tt.more) || (tt.more == "" && stderr != "") {
			t.Errorf("inspect reservations %v: standard error %q, want %q", tt.args, stderr, tt.more)
		}
	}

	// Long flags with one dash, as the standard flag package reads them.
	out, _, err := cli(t, "-database-url="+db, "inspect", "-json", "levels", "tee", "-tenant", tenant)
	if err != nil || !strings.Contains(out, `"outlet": "north"`) {
		t.Errorf("inspect with one-dash flags: %q, %v", out, err)
	}

	for _, args := range [][]string{
		{"inspect"}, {"inspect", "nothing"}, {"inspect", "levels"}, {"inspect", "setup", "extra"}, {"inspect", "setup", "--database-url", db},
		{"inspect", "reservations", "--status", "shipped", "--database-url", db, "--tenant", tenant},
		{"inspect", "reservations", "--limit", "0", "--database-url", db, "--tenant", tenant},
		{"inspect", "reservations", "--limit", "1001", "--database-url", db, "--tenant", tenant},
		{"inspect", "reservations", "--due-before", "tomorrow", "--database-url", db, "--tenant", tenant},
		{"inspect", "reservations", "web-1", "--database-url", db, "--tenant", tenant},
		{"inspect", "setup", "--limit", "5", "--database-url", db, "--tenant", tenant},
	} {
		if _, _, err := cli(t, args...); !errors.As(err, new(*usageError)) {
			t.Errorf("onlinestock %q: error %v, want a usage error", args, err)
		}
	}
	if _, _, err := cli(t, "inspect", "levels", "nope", "--database-url", db, "--tenant", tenant); !errors.Is(err, onlinestock.ErrNotFound) {
		t.Errorf("inspect levels of an unknown product: error %v, want ErrNotFound", err)
	}
	if _, _, err := cli(t, "inspect", "reservations", "--product", "t\x01", "--database-url", db, "--tenant", tenant); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("inspect reservations of a product with a control character: error %v, want ErrInvalid", err)
	}
}

func TestInspectMovements(t *testing.T) {
	db, tenant, svc := shop(t)
	ctx := context.Background()
	// A delivery, a sale at the counter and the merchant's own reason,
	// then a web order whose sale the POS reports.
	_, err := svc.Apply(ctx, []onlinestock.Change{
		onlinestock.Adjust("tee", "north", 4).WithReason(onlinestock.StockReceipt).WithRef("delivery-7").WithKey("delivery-7/1"),
		onlinestock.Adjust("tee", "south", -1).WithReason(onlinestock.StockSale).WithKey("receipt-42/1"),
		onlinestock.Set("cap", "south", 2).WithReason("display-sample"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 3}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "north", -3).ForOrder("web-1").WithKey("receipt-43/1")}); err != nil {
		t.Fatal(err)
	}
	all, err := svc.Movements(ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage})
	if err != nil {
		t.Fatal(err)
	}
	flags := []string{"--database-url", db, "--tenant", tenant}

	out, stderr, err := cli(t, append([]string{"inspect", "movements", "--product", "tee"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`^seq +time +product +outlet +kind +reason +ref +delta on hand +delta reserved +on hand +reserved +version$`,
		`^1 +\S+ +tee +north +set +\+2 +0 +2 +0 +1$`,
		`^\d+ +\S+ +tee +north +adjust +receipt +delivery-7 +\+4 +0 +6 +0 +2$`,
		`^\d+ +\S+ +tee +south +adjust +sale +receipt-42/1 +-1 +0 +2 +0 +2$`,
		`^\d+ +\S+ +tee +north +reserve +web-1 +0 +\+3 +6 +3 +2$`,
		`^\d+ +\S+ +tee +north +adjust +sale +web-1 +-3 +-3 +3 +0 +3$`,
	} {
		if !regexp.MustCompile("(?m)" + w).MatchString(out) {
			t.Errorf("inspect movements --product tee printed:\n%s\nwant a line matching %s", out, w)
		}
	}
	if strings.Contains(out, "cap") || stderr != "" {
		t.Errorf("inspect movements --product tee printed:\n%s\nstandard error %q; want tee alone, and no hint", out, stderr)
	}

	// As JSON, page by page, as the Service reads the ledger.
	for _, tt := range []struct {
		args   []string
		filter onlinestock.MovementFilter
		more   string // the hint on standard error, if the page is full
	}{
		{nil, onlinestock.MovementFilter{}, ""},
		{[]string{"--outlet", "south"}, onlinestock.MovementFilter{Outlet: "south"}, ""},
		{[]string{"--product", "tee", "--outlet", "north"}, onlinestock.MovementFilter{Product: "tee", Outlet: "north"}, ""},
		{[]string{"--ref", "web-1"}, onlinestock.MovementFilter{Ref: "web-1"}, ""},
		{[]string{"--ref", "receipt-42/1"}, onlinestock.MovementFilter{Ref: "receipt-42/1"}, ""},
		{[]string{"--product", "mug"}, onlinestock.MovementFilter{Product: "mug"}, ""},
		{[]string{"--limit", "2"}, onlinestock.MovementFilter{Limit: 2}, "more may follow: add --after 2\n"},
		{[]string{"--limit", "2", "--after", "2"}, onlinestock.MovementFilter{Limit: 2, After: 2}, "more may follow: add --after 4\n"},
		{[]string{"--after", fmt.Sprint(all[len(all)-1].Seq)}, onlinestock.MovementFilter{After: all[len(all)-1].Seq}, ""},
		{[]string{"--limit", fmt.Sprint(len(all))}, onlinestock.MovementFilter{Limit: len(all)}, fmt.Sprintf("--after %d\n", all[len(all)-1].Seq)},
	} {
		args := append(append([]string{"inspect", "movements", "--json"}, tt.args...), flags...)
		out, stderr, err := cli(t, args...)
		if err != nil {
			t.Fatalf("inspect movements %v: %v", tt.args, err)
		}
		var got []onlinestock.Movement
		if err := json.Unmarshal([]byte(out), &got); err != nil || got == nil {
			t.Fatalf("inspect movements %v --json printed %q: %v; want a list", tt.args, out, err)
		}
		want, err := svc.Movements(ctx, tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = []onlinestock.Movement{}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("inspect movements %v --json mismatch (-want +got):\n%s", tt.args, diff)
		}
		if !strings.HasSuffix(stderr, tt.more) || (tt.more == "" && stderr != "") {
			t.Errorf("inspect movements %v: standard error %q, want %q", tt.args, stderr, tt.more)
		}
	}

	for _, args := range [][]string{
		{"--limit", "0"}, {"--limit", "10001"}, {"--limit", "-1"}, {"--after", "-1"}, {"--after", "x"}, {"web-1"}, {"--status", "open"},
	} {
		if _, _, err := cli(t, append(append([]string{"inspect", "movements"}, args...), flags...)...); !errors.As(err, new(*usageError)) {
			t.Errorf("inspect movements %q: error %v, want a usage error", args, err)
		}
	}
	for _, args := range [][]string{{"--ref", "r\x01"}, {"--product", strings.Repeat("p", onlinestock.MaxIDBytes+1)}, {"--after", "9223372036854775808"}} {
		if _, _, err := cli(t, append(append([]string{"inspect", "movements"}, args...), flags...)...); !errors.Is(err, onlinestock.ErrInvalid) {
			t.Errorf("inspect movements %q: error %v, want ErrInvalid", args, err)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImport(t *testing.T) {
	db, tenant, svc := shop(t)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("product,outlet,on_hand\n")
	const products = 250
	for i := range products {
		fmt.Fprintf(&b, "p%03d,north,%d\np%03d,south,%d\n", i, i, i, i+1)
	}
	b.WriteString("tee,north,7\n")
	file := writeFile(t, "stock.csv", b.String())
	rows := 2*products + 1

	out, progress, err := cli(t, "import", file, "--database-url", db, "--tenant", tenant, "--batch", "100")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, fmt.Sprintf("%d rows", rows)) || !strings.Contains(out, fmt.Sprintf("%d applied, 0 already applied", rows)) {
		t.Errorf("first import printed %q", out)
	}
	if !strings.Contains(progress, fmt.Sprintf("(%d/%d, ", rows, rows)) || !strings.Contains(progress, "rows/s") {
		t.Errorf("first import's progress: %q", progress)
	}
	levels, err := svc.Levels(ctx, "p249")
	if err != nil {
		t.Fatal(err)
	}
	if len(levels) != 2 || levels[0].OnHand != 249 || levels[1].OnHand != 250 {
		t.Errorf("levels of p249 after import: %+v", levels)
	}
	// The ledger has a movement per row, a count under the import's ref,
	// which the summary names.
	_, ref, found := strings.Cut(strings.TrimSpace(out), "ledger ref ")
	if !found || !strings.HasPrefix(ref, "import:") {
		t.Fatalf("first import printed %q: no ledger ref", out)
	}
	moved, err := svc.Movements(ctx, onlinestock.MovementFilter{Ref: ref, Limit: onlinestock.MaxMovementPage})
	if err != nil {
		t.Fatal(err)
	}
	if len(moved) != rows {
		t.Errorf("%d movements under ref %q, want %d", len(moved), ref, rows)
	}
	for _, m := range moved {
		if m.Kind != onlinestock.MovedBySet || m.Reason != onlinestock.StockCount {
			t.Fatalf("movement %+v: want a set, reason count", m)
		}
	}

	// Again: every row is already applied, and nothing changes.
	before, err := svc.EventsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = cli(t, "import", "--quiet", file, "--database-url", db, "--tenant", tenant)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, fmt.Sprintf("0 applied, %d already applied", rows)) {
		t.Errorf("second import printed %q", out)
	}
	after, err := svc.EventsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("second import wrote %d events", len(after)-len(before))
	}

	// A bad row anywhere stops the import before anything is applied.
	for name, tt := range map[string]struct {
		csv, want string
	}{
		"an unknown outlet":      {"q1,north,1\nq2,west,1\n", `line 2: outlet "west"`},
		"a count not a number":   {"q1,north,1\nq2,north,lots\n", `line 2: on_hand "lots"`},
		"a missing column":       {"q1,north,1\nq2,north\n", `record on line 2: wrong number of fields`},
		"an empty product":       {"q1,north,1\n,north,1\n", `line 2: product: empty`},
		"a count out of range":   {"q1,north,1\nq2,north,1000000000001\n", `line 2: on_hand 1000000000001 is outside`},
		"a control character":    {"q1,north,1\n\"q\x01\",north,1\n", `line 2: product "q\x01": control character`},
		"a header in the middle": {"q1,north,1\nproduct,outlet,on_hand\n", `line 2: on_hand "on_hand"`},
	} {
		_, _, err := cli(t, "import", writeFile(t, "bad.csv", tt.csv), "--database-url", db, "--tenant", tenant)
		if err == nil || !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want nothing applied and %q", name, err, tt.want)
		}
		if _, err := svc.Levels(ctx, "q1"); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("%s: q1 was imported (%v)", name, err)
		}
	}
	if _, _, err := cli(t, "import", "--database-url", db, "--tenant", tenant); !errors.As(err, new(*usageError)) {
		t.Errorf("import without a file: error %v, want a usage error", err)
	}

	// A reason and a ref of one's own; a bad one applies nothing.
	out, _, err = cli(t, "import", "--quiet", writeFile(t, "receipt.csv", "r1,north,4\n"), "--database-url", db, "--tenant", tenant,
		"--reason", "receipt", "--ref", "delivery-9")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "ledger ref delivery-9") {
		t.Fatalf("import with --reason and --ref: %q, %v", out, err)
	}
	moved, err = svc.Movements(ctx, onlinestock.MovementFilter{Ref: "delivery-9", Limit: 10})
	if err != nil || len(moved) != 1 || moved[0].Reason != onlinestock.StockReceipt || moved[0].Product != "r1" {
		t.Errorf("movements under delivery-9: %+v, %v", moved, err)
	}
	for name, flags := range map[string][]string{
		"an empty reason":        {"--reason", ""},
		"a reason too long":      {"--reason", strings.Repeat("r", onlinestock.MaxReasonBytes+1)},
		"a control character":    {"--reason", "count\x07"},
		"a ref too long":         {"--ref", strings.Repeat("r", onlinestock.MaxIDBytes+1)},
		"a ref of invalid UTF-8": {"--ref", "\xff"},
	} {
		args := append([]string{"import", writeFile(t, "flags.csv", "q1,north,1\n"), "--database-url", db, "--tenant", tenant}, flags...)
		if _, _, err := cli(t, args...); !errors.As(err, new(*usageError)) {
			t.Errorf("%s: error %v, want a usage error", name, err)
		}
		if _, err := svc.Levels(ctx, "q1"); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("%s: q1 was imported (%v)", name, err)
		}
	}
}

// syncBuffer is a Buffer safe for one writer and one reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs "onlinestock serve args" until the returned stop is
// called, and returns the API's base URL.
func startServe(t *testing.T, args ...string) (string, func() (string, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), &stdout, &stderr)
	}()
	addr := regexp.MustCompile(`(https?)://(127\.0\.0\.1:\d+)/v1/`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			stop := func() (string, error) {
				cancel()
				err := <-done
				return stdout.String(), err
			}
			return m[1] + "://" + m[2], stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve ended: %v; stderr %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start; stderr %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedeliver(t *testing.T) {
	db, tenant, svc := shop(t)
	ctx := context.Background()
	// A consumer that refused every event for good: they are dead letters.
	refuse := onlinestock.NotifierFunc(func(context.Context, []onlinestock.Event) error {
		return onlinestock.Permanent(errors.New("410 Gone"))
	})
	d, err := worker.NewDispatcher(svc.Store(), refuse, worker.DispatcherConfig{Consumer: "shop", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dead, err := d.DeadLetters(ctx)
	if err != nil || len(dead) < 2 {
		t.Fatalf("dead letters %v, %v; want at least 2", dead, err)
	}

	secret := []byte("a secret of at least 24 bytes, for the test")
	v, err := webhook.NewVerifier(webhook.VerifierConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []uint64
	receiver := httptest.NewServer(webhook.Handler(v, func(_ context.Context, events []onlinestock.Event) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			got = append(got, e.Seq)
		}
		return nil
	}))
	t.Cleanup(receiver.Close)
	t.Setenv("ONLINESTOCK_WEBHOOK_SECRET", webhook.FormatSecret(secret))

	base := []string{"redeliver", "--database-url", db, "--tenant", tenant, "--consumer", "shop", "--webhook-url", receiver.URL}
	out, _, err := cli(t, append(base, fmt.Sprint(dead[0].Seq))...)
	if err != nil || out != fmt.Sprintf("redelivered %d\n", dead[0].Seq) {
		t.Fatalf("redeliver %d: %q, %v", dead[0].Seq, out, err)
	}
	if _, _, err := cli(t, append(base, fmt.Sprint(dead[0].Seq))...); !errors.Is(err, onlinestock.ErrNotFound) {
		t.Errorf("redelivering it again: error %v, want ErrNotFound", err)
	}
	if _, _, err := cli(t, append(base, "--all")...); err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for _, l := range dead {
		want = append(want, l.Seq)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events the webhook received mismatch (-want +got):\n%s", diff)
	}
	if left, err := d.DeadLetters(ctx); err != nil || len(left) != 0 {
		t.Errorf("dead letters left: %v, %v", left, err)
	}
	for _, args := range [][]string{base, append(base, "--all", "1"), append(base, "x")} {
		if _, _, err := cli(t, args...); !errors.As(err, new(*usageError)) {
			t.Errorf("onlinestock %q: error %v, want a usage error", args, err)
		}
	}
}

package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// testStock checks POS batches, idempotency, compare-and-set,
// buffers and the combinator.
func testStock(t *testing.T, newStore NewStore) {
	t.Parallel()
	batch := []onlinestock.Change{
		onlinestock.Adjust("p", "a", 5).WithKey("sale-1"),
		onlinestock.Adjust("p", "b", -2).WithKey("sale-2"),
		onlinestock.Adjust("q", "a", 3).WithKey("sale-3"),
	}
	wantLevels := func(t *testing.T, s *shop, pa, pb, qa int64) {
		t.Helper()
		got := []int64{s.level(t, "p", "a").OnHand, s.level(t, "p", "b").OnHand, s.level(t, "q", "a").OnHand}
		if diff := cmp.Diff([]int64{pa, pb, qa}, got); diff != "" {
			t.Fatalf("on-hand of p@a, p@b, q@a mismatch (-want +got):\n%s", diff)
		}
	}

	t.Run("a batch replayed ten times changes stock once", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 10, "p@b": 10, "q@a": 10})
		for i := range 10 {
			res, err := s.svc.Apply(ctx(t), batch)
			s.must(t, err)
			want := onlinestock.Applied
			if i > 0 {
				want = onlinestock.Duplicate
			}
			for j, r := range res {
				if r.Status != want {
					t.Fatalf("replay %d, change %d: status %v, want %v", i, j, r.Status, want)
				}
			}
		}
		wantLevels(t, s, 15, 8, 13)
		checkChains(t, s.svc, []string{"p", "q"})
	})

	t.Run("a batch replayed from ten goroutines at once changes stock once", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 10, "p@b": 10, "q@a": 10})
		var wg sync.WaitGroup
		applied := make([]int, 10)
		for g := range 10 {
			wg.Go(func() {
				res, err := s.svc.Apply(ctx(t), batch)
				if err != nil {
					t.Errorf("Apply() error = %v", err)
					return
				}
				for _, r := range res {
					if r.Status == onlinestock.Applied {
						applied[g]++
					}
				}
			})
		}
		wg.Wait()
		total := 0
		for _, n := range applied {
			if n != 0 && n != len(batch) {
				t.Errorf("one replay applied %d of %d changes: a batch is all or nothing", n, len(batch))
			}
			total += n
		}
		if total != len(batch) {
			t.Errorf("%d changes applied over all replays, want %d", total, len(batch))
		}
		wantLevels(t, s, 15, 8, 13)
		checkChains(t, s.svc, []string{"p", "q"})
	})

	t.Run("a key repeated within a batch is a duplicate", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		res, err := s.svc.Apply(ctx(t), []onlinestock.Change{
			onlinestock.Adjust("p", "a", 4).WithKey("k"),
			onlinestock.Adjust("p", "a", 4).WithKey("k"),
			onlinestock.Adjust("p", "a", 1),
		})
		s.must(t, err)
		want := []onlinestock.ChangeResult{
			{Status: onlinestock.Applied, Level: onlinestock.Level{Product: "p", Outlet: "a", OnHand: 4, Version: 1}},
			{Status: onlinestock.Duplicate, Level: onlinestock.Level{Product: "p", Outlet: "a", OnHand: 4, Version: 1}},
			{Status: onlinestock.Applied, Level: onlinestock.Level{Product: "p", Outlet: "a", OnHand: 5, Version: 2}},
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("Apply() mismatch (-want +got):\n%s", diff)
		}
	})

	for _, tt := range []struct {
		name      string
		retention time.Duration // passed in Config; 0 means the default
		want      time.Duration // the retention that must hold
	}{
		{"keys expire after the configured key retention", time.Hour, time.Hour},
		{"keys expire after 72 hours by default", 0, 72 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, newStore, onlinestock.Config{KeyRetention: tt.retention})
			replay := func() onlinestock.ChangeStatus {
				t.Helper()
				res, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1).WithKey("k")})
				s.must(t, err)
				return res[0].Status
			}
			r := tt.want
			steps := []struct {
				advance time.Duration
				want    onlinestock.ChangeStatus
				onHand  int64
			}{
				{0, onlinestock.Applied, 1},
				{r - time.Minute, onlinestock.Duplicate, 1},
				{2 * time.Minute, onlinestock.Applied, 2}, // a minute past the retention
				{r / 2, onlinestock.Duplicate, 2},
				{r/2 + time.Minute, onlinestock.Applied, 3},
			}
			for i, st := range steps {
				s.clock.Advance(st.advance)
				if got := replay(); got != st.want {
					t.Fatalf("step %d: status %v, want %v", i, got, st.want)
				}
				if got := s.level(t, "p", "a").OnHand; got != st.onHand {
					t.Fatalf("step %d: on-hand %d, want %d", i, got, st.onHand)
				}
			}
		})
	}

	t.Run("a stale version is ErrConflict naming the level, and a fresh one applies", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"sku-cas@b": 4})
		read := s.level(t, "sku-cas", "b") // the POS reads version 1
		if read.Version != 1 {
			t.Fatalf("version after one set = %d, want 1", read.Version)
		}
		// A web order reserves between the POS read and its write: on-hand
		// did not move, so the count still holds.
		_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "web", Lines: []onlinestock.Line{{Product: "sku-cas", Quantity: 1}}})
		s.must(t, err)
		if diff := cmp.Diff(onlinestock.Level{Product: "sku-cas", Outlet: "b", OnHand: 4, Reserved: 1, Version: 1}, s.level(t, "sku-cas", "b")); diff != "" {
			t.Fatalf("level after a reservation mismatch (-want +got):\n%s", diff)
		}
		res, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("sku-cas", "b", 5).WithVersion(read.Version)})
		s.must(t, err)
		if diff := cmp.Diff(onlinestock.Level{Product: "sku-cas", Outlet: "b", OnHand: 5, Reserved: 1, Version: 2}, res[0].Level); diff != "" {
			t.Fatalf("Apply() after a reservation mismatch (-want +got):\n%s", diff)
		}
		read = res[0].Level
		// The order is fulfilled between the next read and write: on-hand
		// moved, so a count based on the read is stale.
		_, err = s.svc.Fulfill(ctx(t), "web")
		s.must(t, err)
		_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("sku-cas", "b", 9).WithVersion(read.Version)})
		if !errors.Is(err, onlinestock.ErrConflict) {
			t.Fatalf("Apply() with a version read before a fulfilment: error = %v, want ErrConflict", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "sku-cas") || !strings.Contains(msg, `"b"`) {
			t.Errorf("conflict error %q does not name the level sku-cas at outlet b", msg)
		}
		now := s.level(t, "sku-cas", "b")
		if diff := cmp.Diff(onlinestock.Level{Product: "sku-cas", Outlet: "b", OnHand: 4, Reserved: 0, Version: 3}, now); diff != "" {
			t.Fatalf("level after the conflict mismatch (-want +got):\n%s", diff)
		}
		// A sale at the counter moves on-hand too.
		_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("sku-cas", "b", -1)})
		s.must(t, err)
		if _, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("sku-cas", "b", 9).WithVersion(now.Version)}); !errors.Is(err, onlinestock.ErrConflict) {
			t.Fatalf("Apply() with a version read before a sale: error = %v, want ErrConflict", err)
		}
		now = s.level(t, "sku-cas", "b")
		res, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("sku-cas", "b", 9).WithVersion(now.Version)})
		s.must(t, err)
		if diff := cmp.Diff(onlinestock.Level{Product: "sku-cas", Outlet: "b", OnHand: 9, Reserved: 0, Version: 5}, res[0].Level); diff != "" {
			t.Errorf("Apply() result mismatch (-want +got):\n%s", diff)
		}
		if _, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("sku-cas", "c", 1).WithVersion(0)}); err != nil {
			t.Errorf("a level never reported is at version 0: error = %v", err)
		}
	})

	t.Run("products are created by their first report, not enabled", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("new", "a", 7)})
		s.must(t, err)
		if diff := cmp.Diff([]onlinestock.Availability{onlinestock.Unlisted}, s.availability(t, "new")); diff != "" {
			t.Errorf("Availability() mismatch (-want +got):\n%s", diff)
		}
		if n := len(s.events(t, 0)); n != len(newShopEvents) {
			t.Errorf("a product not enabled emitted events: %d events, want %d", n, len(newShopEvents))
		}
		s.must(t, s.svc.EnableOnline(ctx(t), "new"))
		if got := s.online(t, "new"); got != 7 {
			t.Errorf("online stock = %d, want 7", got)
		}
	})

	tests := []struct {
		name    string
		onHand  map[string]int64
		buffers map[string]int64
		want    onlinestock.Availability
	}{
		{"a negative outlet never cancels another's stock", map[string]int64{"p@a": -5, "p@b": 4}, nil, onlinestock.Availability{Quantity: 4, Label: onlinestock.InStock}},
		{"a disconnected outlet adds nothing", map[string]int64{"p@a": 2, "p@c": 50}, nil, onlinestock.Availability{Quantity: 2, Label: onlinestock.LowStock}},
		{"buffers are never sold", map[string]int64{"p@a": 5, "p@b": 2}, map[string]int64{"a": 2, "b": 3}, onlinestock.Availability{Quantity: 3, Label: onlinestock.LowStock}},
		{"a buffer above the stock leaves nothing, not less", map[string]int64{"p@a": 1, "p@b": 6}, map[string]int64{"a": 4}, onlinestock.Availability{Quantity: 6, Label: onlinestock.InStock}},
		{"nothing online is sold out", map[string]int64{"p@a": 0, "p@b": -1}, nil, onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut}},
		{"at the threshold is low stock", map[string]int64{"p@a": 1, "p@b": 2}, nil, onlinestock.Availability{Quantity: 3, Label: onlinestock.LowStock}},
		{"above the threshold is in stock", map[string]int64{"p@a": 4}, nil, onlinestock.Availability{Quantity: 4, Label: onlinestock.InStock}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t, newStore, onlinestock.Config{LowStockThreshold: 3})
			for _, o := range sortedKeys(tc.buffers) {
				_, err := s.svc.SetBuffer(ctx(t), o, tc.buffers[o])
				s.must(t, err)
			}
			s.stock(t, tc.onHand)
			if diff := cmp.Diff([]onlinestock.Availability{tc.want}, s.availability(t, "p")); diff != "" {
				t.Errorf("Availability() mismatch (-want +got):\n%s", diff)
			}
			checkChains(t, s.svc, []string{"p"})
		})
	}

	t.Run("a buffered unit cannot be reserved", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		_, err := s.svc.SetBuffer(ctx(t), "a", 2)
		s.must(t, err)
		s.stock(t, map[string]int64{"p@a": 5})
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{{Product: "p", Quantity: 4}}})
		if !errors.Is(err, onlinestock.ErrInsufficientStock) {
			t.Fatalf("Reserve() into the buffer: error = %v, want ErrInsufficientStock", err)
		}
		_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: []onlinestock.Line{{Product: "p", Quantity: 3}}})
		s.must(t, err)
		if diff := cmp.Diff(onlinestock.Availability{Quantity: 0, Label: onlinestock.SoldOut}, s.availability(t, "p")[0]); diff != "" {
			t.Errorf("Availability() mismatch (-want +got):\n%s", diff)
		}
		if l := s.level(t, "p", "a"); l.OnHand-l.Reserved != 2 {
			t.Errorf("level %+v: the buffer of 2 is not kept", l)
		}
	})

	t.Run("a change absorbed by a buffer or at a disconnected outlet emits no availability event", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		_, err := s.svc.SetBuffer(ctx(t), "b", 5)
		s.must(t, err)
		s.stock(t, map[string]int64{"p@a": 5, "p@b": 1})
		seq := s.lastSeq(t)
		_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("p", "b", 4), onlinestock.Set("p", "c", 40), onlinestock.Adjust("p", "a", 0)})
		s.must(t, err)
		if ev := s.events(t, seq); len(ev) != 0 {
			t.Errorf("events after invisible changes: %v, want none", ev)
		}
	})
}

// newShopEvents are the events newShop writes: the primary changing and
// two outlets connecting.
var newShopEvents = []onlinestock.EventKind{onlinestock.PrimaryChanged, onlinestock.OutletConnected, onlinestock.OutletConnected}

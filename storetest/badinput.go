package storetest

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// badInputShop is a store with something of everything, so that a rejected
// call has something to damage: three outlets (one disconnected, one with a
// buffer), stock, enabled products, methods (one orphaned) and an open
// reservation.
func badInputShop(t *testing.T, newStore NewStore) *shop {
	t.Helper()
	s := newShop(t, newStore, onlinestock.Config{LowStockThreshold: 2})
	s.stock(t, map[string]int64{"p@a": 5, "p@b": 3, "p@c": 4, "q@a": -2, "q@b": 6})
	_, err := s.svc.SetBuffer(ctx(t), "b", 1)
	s.must(t, err)
	s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "local", Name: "Local", Kind: onlinestock.Pickup, Outlet: "b", Rule: onlinestock.Restrict}))
	s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "far", Name: "Far", Kind: onlinestock.Delivery, Outlet: "c"}))
	s.must(t, s.svc.SaveMethod(ctx(t), onlinestock.Method{ID: "post", Name: "Post", Kind: onlinestock.Shipping}))
	_, err = s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{{Product: "p", Quantity: 2}}, TTL: time.Hour})
	s.must(t, err)
	_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1).WithKey("k1")})
	s.must(t, err)
	return s
}

var (
	dumpProducts = []string{"p", "q", "new"}
	dumpOrders   = []string{"o1", "o2"}
)

// badIDCases are identifiers the library rejects.
var badIDCases = []struct{ name, id string }{
	{"empty", ""},
	{"129 bytes long", strings.Repeat("é", 64) + "x"},
	{"with a control character", "a\tb"},
	{"with a C1 control character", "a\u009fb"},
	{"with DEL", "a\x7fb"},
	{"not valid UTF-8", "a\xc3"},
}

// call is one Service call that must be rejected.
type call struct {
	name string
	do   func(ctx context.Context, svc *onlinestock.Service) error
}

// optionalIDs are the calls of idCalls whose ID may be empty, meaning none.
var optionalIDs = map[string]bool{"Apply's key": true, "SaveMethod's outlet": true, "Reserve's method": true}

func idCalls(id string) []call {
	line := func(p string) []onlinestock.Line { return []onlinestock.Line{{Product: p, Quantity: 1}} }
	sel := func(r onlinestock.SelectionResult, err error) error { return err }
	res := func(r onlinestock.Reservation, err error) error { return err }
	chg := func(r []onlinestock.ChangeResult, err error) error { return err }
	return []call{
		{"SaveOutlet", func(c context.Context, s *onlinestock.Service) error { return s.SaveOutlet(c, id, "x") }},
		{"SaveRegister's register", func(c context.Context, s *onlinestock.Service) error { return s.SaveRegister(c, id, "a", "") }},
		{"SaveRegister's outlet", func(c context.Context, s *onlinestock.Service) error { return s.SaveRegister(c, "r9", id, "") }},
		{"Activate", func(c context.Context, s *onlinestock.Service) error { return sel(s.Activate(c, id)) }},
		{"Connect", func(c context.Context, s *onlinestock.Service) error { return sel(s.Connect(c, id)) }},
		{"Disconnect", func(c context.Context, s *onlinestock.Service) error { return sel(s.Disconnect(c, id)) }},
		{"SaveSelection", func(c context.Context, s *onlinestock.Service) error {
			return sel(s.SaveSelection(c, []string{"a", id}))
		}},
		{"PreviewSelection", func(c context.Context, s *onlinestock.Service) error { return sel(s.PreviewSelection(c, []string{id})) }},
		{"SetBuffer", func(c context.Context, s *onlinestock.Service) error { return sel(s.SetBuffer(c, id, 1)) }},
		{"SetRank", func(c context.Context, s *onlinestock.Service) error { return s.SetRank(c, id, 1) }},
		{"EnableOnline", func(c context.Context, s *onlinestock.Service) error { return s.EnableOnline(c, "p", id) }},
		{"DisableOnline", func(c context.Context, s *onlinestock.Service) error { return s.DisableOnline(c, "p", id) }},
		{"Availability", func(c context.Context, s *onlinestock.Service) error {
			_, err := s.Availability(c, "p", id)
			return err
		}},
		{"Levels", func(c context.Context, s *onlinestock.Service) error { _, err := s.Levels(c, id); return err }},
		{"Apply's product", func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 9), onlinestock.Set(id, "a", 1)}))
		}},
		{"Apply's outlet", func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 9), onlinestock.Set("p", id, 1)}))
		}},
		{"Apply's key", func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 9), onlinestock.Adjust("p", "a", 1).WithKey(id)}))
		}},
		{"SaveMethod's ID", func(c context.Context, s *onlinestock.Service) error {
			return s.SaveMethod(c, onlinestock.Method{ID: id, Name: "x", Kind: onlinestock.Shipping})
		}},
		{"SaveMethod's outlet", func(c context.Context, s *onlinestock.Service) error {
			return s.SaveMethod(c, onlinestock.Method{ID: "post", Name: "x", Kind: onlinestock.Shipping, Outlet: id})
		}},
		{"DeleteMethod", func(c context.Context, s *onlinestock.Service) error { return s.DeleteMethod(c, id) }},
		{"Quote", func(c context.Context, s *onlinestock.Service) error {
			_, err := s.Quote(c, onlinestock.Cart{Lines: append(line("p"), line(id)...)})
			return err
		}},
		{"Reserve's order", func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: id, Lines: line("p")}))
		}},
		{"Reserve's product", func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: append(line("p"), line(id)...)}))
		}},
		{"Reserve's method", func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: line("p"), Method: id}))
		}},
		{"Reservation", func(c context.Context, s *onlinestock.Service) error { _, err := s.Reservation(c, id); return err }},
		{"Release", func(c context.Context, s *onlinestock.Service) error { return res(s.Release(c, id)) }},
		{"Fulfill", func(c context.Context, s *onlinestock.Service) error { return res(s.Fulfill(c, id)) }},
	}
}

// testBadInput checks that bad input is rejected with the right
// sentinel, and a rejected call leaves the store exactly as it was and
// emits no event, batches included.
func testBadInput(t *testing.T, newStore NewStore) {
	t.Parallel()
	t.Run("malformed IDs are ErrInvalid and change nothing", func(t *testing.T) {
		t.Parallel()
		s := badInputShop(t, newStore)
		want := takeDump(t, s.svc, dumpProducts, dumpOrders)
		for _, bad := range badIDCases {
			for _, c := range idCalls(bad.id) {
				if optionalIDs[c.name] && bad.id == "" {
					continue // empty means none
				}
				err := c.do(ctx(t), s.svc)
				if !errLike(err, onlinestock.ErrInvalid) {
					t.Errorf("%s with an ID %s: error = %v, want ErrInvalid", c.name, bad.name, err)
				}
			}
		}
		if diff := cmp.Diff(want, takeDump(t, s.svc, dumpProducts, dumpOrders)); diff != "" {
			t.Errorf("store after rejected calls mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("an ID of exactly 128 bytes is accepted", func(t *testing.T) {
		t.Parallel()
		s := badInputShop(t, newStore)
		id := strings.Repeat("é", 64)
		s.must(t, s.svc.SaveOutlet(ctx(t), id, ""))
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set(id, id, 1).WithKey(id)})
		s.must(t, err)
	})

	sel := func(r onlinestock.SelectionResult, err error) error { return err }
	res := func(r onlinestock.Reservation, err error) error { return err }
	chg := func(r []onlinestock.ChangeResult, err error) error { return err }
	lines := func(qs ...int64) []onlinestock.Line {
		var out []onlinestock.Line
		for _, q := range qs {
			out = append(out, onlinestock.Line{Product: "p", Quantity: q})
		}
		return out
	}
	tests := []struct {
		name string
		want error
		do   func(context.Context, *onlinestock.Service) error
	}{
		{"on-hand above 1e12 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), onlinestock.Set("q", "a", onlinestock.MaxOnHand+1)}))
		}},
		{"on-hand below -1e12 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), onlinestock.Set("q", "a", -onlinestock.MaxOnHand-1)}))
		}},
		{"a delta above 1e12 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), onlinestock.Adjust("q", "a", onlinestock.MaxOnHand+1)}))
		}},
		{"a delta below -1e12 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), onlinestock.Adjust("q", "a", -onlinestock.MaxOnHand-1)}))
		}},
		{"a later change taking on-hand past 1e12 rejects the whole batch", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), onlinestock.Set("q", "b", onlinestock.MaxOnHand), onlinestock.Adjust("q", "b", 1)}))
		}},
		{"a later change taking on-hand below -1e12 rejects the whole batch", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Adjust("p", "a", 1).WithKey("k2"), onlinestock.Adjust("q", "a", -onlinestock.MaxOnHand)}))
		}},
		{"an unknown outlet after valid changes rejects the whole batch", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), onlinestock.Set("new", "b", 3).WithKey("k3"), onlinestock.Set("p", "nowhere", 1)}))
		}},
		{"a stale version after valid changes rejects the whole batch", onlinestock.ErrConflict, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("new", "a", 1).WithKey("k4"), onlinestock.Set("p", "a", 1).WithVersion(0)}))
		}},
		{"an unknown change kind is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1), {Kind: 9, Product: "p", Outlet: "a"}}))
		}},
		{"a negative expected version is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return chg(s.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 1).WithVersion(-1)}))
		}},
		{"a buffer of -1 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error { return sel(s.SetBuffer(c, "a", -1)) }},
		{"a buffer above 1e12 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return sel(s.SetBuffer(c, "a", onlinestock.MaxOnHand+1))
		}},
		{"a negative rank is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error { return s.SetRank(c, "a", -1) }},
		{"a cart line of 0 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			_, err := s.Quote(c, onlinestock.Cart{Lines: lines(1, 0)})
			return err
		}},
		{"a cart line above 1e9 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			_, err := s.Quote(c, onlinestock.Cart{Lines: lines(onlinestock.MaxLineQuantity + 1)})
			return err
		}},
		{"an empty cart is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			_, err := s.Quote(c, onlinestock.Cart{})
			return err
		}},
		{"an order line of 0 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: lines(1, 0)}))
		}},
		{"an order line above 1e9 is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: lines(onlinestock.MaxLineQuantity + 1)}))
		}},
		{"a negative TTL is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: lines(1), TTL: -time.Second}))
		}},
		{"a Restrict method without an outlet is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return s.SaveMethod(c, onlinestock.Method{ID: "post", Name: "Post", Kind: onlinestock.Shipping, Rule: onlinestock.Restrict})
		}},
		{"a method without a name is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return s.SaveMethod(c, onlinestock.Method{ID: "post", Kind: onlinestock.Shipping})
		}},
		{"a method of an unknown kind is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return s.SaveMethod(c, onlinestock.Method{ID: "post", Name: "Post", Kind: "teleport"})
		}},
		{"a method with an unknown rule is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return s.SaveMethod(c, onlinestock.Method{ID: "post", Name: "Post", Kind: onlinestock.Shipping, Outlet: "a", Rule: "sometimes"})
		}},
		{"a name of 257 bytes is ErrInvalid", onlinestock.ErrInvalid, func(c context.Context, s *onlinestock.Service) error {
			return s.SaveOutlet(c, "a", strings.Repeat("n", 257))
		}},
		{"a method linked to an unknown outlet is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return s.SaveMethod(c, onlinestock.Method{ID: "post", Name: "Post", Kind: onlinestock.Shipping, Outlet: "nowhere"})
		}},
		{"connecting an unknown outlet is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return sel(s.Connect(c, "nowhere")) }},
		{"disconnecting an unknown outlet is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return sel(s.Disconnect(c, "nowhere")) }},
		{"a selection with an unknown outlet is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return sel(s.SaveSelection(c, []string{"c", "nowhere"}))
		}},
		{"a buffer at an unknown outlet is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return sel(s.SetBuffer(c, "nowhere", 1)) }},
		{"a register in an unknown outlet is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return s.SaveRegister(c, "r9", "nowhere", "") }},
		{"moving a register to another outlet is ErrConflict", onlinestock.ErrConflict, func(c context.Context, s *onlinestock.Service) error { return s.SaveRegister(c, "rb", "c", "") }},
		{"activating an unknown register is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return sel(s.Activate(c, "r9")) }},
		{"enabling an unknown product among known ones is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return s.EnableOnline(c, "q", "unknown", "p")
		}},
		{"disabling an unknown product among known ones is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return s.DisableOnline(c, "p", "unknown")
		}},
		{"deleting an unknown method is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return s.DeleteMethod(c, "nope") }},
		{"reserving with an unknown method is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: lines(1), Method: "nope"}))
		}},
		{"releasing an unknown order is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return res(s.Release(c, "o2")) }},
		{"fulfilling an unknown order is ErrNotFound", onlinestock.ErrNotFound, func(c context.Context, s *onlinestock.Service) error { return res(s.Fulfill(c, "o2")) }},
		{"reserving a used order ID for other lines is ErrConflict", onlinestock.ErrConflict, func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o1", Lines: lines(1)}))
		}},
		{"reserving more than online stock is ErrInsufficientStock", onlinestock.ErrInsufficientStock, func(c context.Context, s *onlinestock.Service) error {
			return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: append(lines(1), onlinestock.Line{Product: "q", Quantity: 6})}))
		}},
		{"disconnecting the primary outlet is ErrPrimaryOutlet", onlinestock.ErrPrimaryOutlet, func(c context.Context, s *onlinestock.Service) error { return sel(s.Disconnect(c, "a")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name+" and changes nothing", func(t *testing.T) {
			t.Parallel()
			s := badInputShop(t, newStore)
			want := takeDump(t, s.svc, dumpProducts, dumpOrders)
			err := tc.do(ctx(t), s.svc)
			if !errLike(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(want, takeDump(t, s.svc, dumpProducts, dumpOrders)); diff != "" {
				t.Errorf("store after the rejected call mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// Stores keep times as int64 nanoseconds since 1970 at most: the years
	// 1678 to 2262. The Service checks its times against that range, so
	// every Store gives the same answer.
	latest, earliest := time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64)

	t.Run("a TTL whose deadline is past 2262 is ErrInvalid naming TTL and changes nothing", func(t *testing.T) {
		t.Parallel()
		s := badInputShop(t, newStore)
		want := takeDump(t, s.svc, dumpProducts, dumpOrders)
		for _, ttl := range []time.Duration{latest.Sub(epoch) + time.Nanosecond, latest.Sub(epoch) + time.Hour, time.Duration(math.MaxInt64)} {
			_, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: lines(1), TTL: ttl})
			if !errors.Is(err, onlinestock.ErrInvalid) || !strings.Contains(err.Error(), "TTL") {
				t.Errorf("Reserve(TTL %v) error = %v, want ErrInvalid naming TTL", ttl, err)
			}
		}
		if diff := cmp.Diff(want, takeDump(t, s.svc, dumpProducts, dumpOrders)); diff != "" {
			t.Errorf("store after the rejected calls mismatch (-want +got):\n%s", diff)
		}
		// The last time a Store can keep is a deadline like any other.
		r, err := s.svc.Reserve(ctx(t), onlinestock.Order{ID: "o2", Lines: lines(1), TTL: latest.Sub(epoch)})
		s.must(t, err)
		if got, err := s.svc.Reservation(ctx(t), "o2"); err != nil || !got.Deadline.Equal(latest) || !r.Deadline.Equal(latest) {
			t.Errorf("Reserve(TTL to the last storable time): deadline %v, read back %v, %v; want %v", r.Deadline, got.Deadline, err, latest)
		}
	})

	t.Run("a clock outside the years 1678 to 2262 is ErrInvalid naming the clock and changes nothing", func(t *testing.T) {
		t.Parallel()
		chg := func(r []onlinestock.ChangeResult, err error) error { return err }
		sel := func(r onlinestock.SelectionResult, err error) error { return err }
		res := func(r onlinestock.Reservation, err error) error { return err }
		calls := []call{
			{"Apply", func(c context.Context, s *onlinestock.Service) error {
				return chg(s.Apply(c, []onlinestock.Change{onlinestock.Adjust("p", "a", 1)}))
			}},
			{"a keyed Apply", func(c context.Context, s *onlinestock.Service) error {
				return chg(s.Apply(c, []onlinestock.Change{onlinestock.Adjust("p", "a", 1).WithKey("k-clock")}))
			}},
			{"EnableOnline", func(c context.Context, s *onlinestock.Service) error { return s.DisableOnline(c, "q") }},
			{"Connect", func(c context.Context, s *onlinestock.Service) error { return sel(s.Connect(c, "c")) }},
			{"SetBuffer", func(c context.Context, s *onlinestock.Service) error { return sel(s.SetBuffer(c, "a", 2)) }},
			{"Activate", func(c context.Context, s *onlinestock.Service) error { return sel(s.Activate(c, "rb")) }},
			{"Reserve", func(c context.Context, s *onlinestock.Service) error {
				return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: lines(1)}))
			}},
			{"Release", func(c context.Context, s *onlinestock.Service) error { return res(s.Release(c, "o1")) }},
			{"Fulfill", func(c context.Context, s *onlinestock.Service) error { return res(s.Fulfill(c, "o1")) }},
		}
		for _, at := range []time.Time{latest.Add(time.Nanosecond), earliest.Add(-time.Nanosecond), {}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
			s := badInputShop(t, newStore)
			want := takeDump(t, s.svc, dumpProducts, dumpOrders)
			s.clock.Set(at)
			for _, c := range calls {
				if err := c.do(ctx(t), s.svc); !errors.Is(err, onlinestock.ErrInvalid) || !strings.Contains(err.Error(), "Clock") {
					t.Errorf("%s at %v: error = %v, want ErrInvalid naming the clock", c.name, at, err)
				}
			}
			if diff := cmp.Diff(want, takeDump(t, s.svc, dumpProducts, dumpOrders)); diff != "" {
				t.Errorf("store after calls at %v mismatch (-want +got):\n%s", at, diff)
			}
			// The rejected keyed Apply claimed nothing.
			s.clock.Set(epoch)
			got, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 1).WithKey("k-clock")})
			s.must(t, err)
			if got[0].Status != onlinestock.Applied {
				t.Errorf("Apply() of the key a rejected call used: %v, want applied", got[0].Status)
			}
		}
		// The edges of the range are times like any other.
		for _, at := range []time.Time{latest, earliest} {
			s := badInputShop(t, newStore)
			s.clock.Set(at)
			for _, c := range calls[:3] {
				s.must(t, c.do(ctx(t), s.svc))
			}
		}
	})

	t.Run("calls that need an order register are ErrNotActive before activation and change nothing", func(t *testing.T) {
		t.Parallel()
		svc, _ := newService(t, newStore, onlinestock.Config{})
		c := ctx(t)
		for _, id := range []string{"a", "b"} {
			if err := svc.SaveOutlet(c, id, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := svc.SaveRegister(c, "ra", "a", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 3)}); err != nil {
			t.Fatal(err)
		}
		if err := svc.EnableOnline(c, "p"); err != nil {
			t.Fatal(err)
		}
		want := takeDump(t, svc, dumpProducts, dumpOrders)
		calls := []call{
			{"Connect", func(c context.Context, s *onlinestock.Service) error { return sel(s.Connect(c, "a")) }},
			{"Disconnect", func(c context.Context, s *onlinestock.Service) error { return sel(s.Disconnect(c, "b")) }},
			{"SaveSelection", func(c context.Context, s *onlinestock.Service) error {
				return sel(s.SaveSelection(c, []string{"a", "b"}))
			}},
			{"PreviewSelection", func(c context.Context, s *onlinestock.Service) error {
				return sel(s.PreviewSelection(c, []string{"a"}))
			}},
			{"Quote", func(c context.Context, s *onlinestock.Service) error {
				_, err := s.Quote(c, onlinestock.Cart{Lines: lines(1)})
				return err
			}},
			{"Reserve", func(c context.Context, s *onlinestock.Service) error {
				return res(s.Reserve(c, onlinestock.Order{ID: "o2", Lines: lines(1)}))
			}},
		}
		for _, call := range calls {
			if err := call.do(c, svc); !errLike(err, onlinestock.ErrNotActive) {
				t.Errorf("%s before activation: error = %v, want ErrNotActive", call.name, err)
			}
		}
		if diff := cmp.Diff(want, takeDump(t, svc, dumpProducts, dumpOrders)); diff != "" {
			t.Errorf("store after rejected calls mismatch (-want +got):\n%s", diff)
		}
		got, err := svc.Availability(c, "p")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]onlinestock.Availability{{Quantity: 0, Label: onlinestock.SoldOut}}, got); diff != "" {
			t.Errorf("Availability() before activation, no outlet connected, mismatch (-want +got):\n%s", diff)
		}
	})
}

// errLike reports whether err matches want, and, for ErrInsufficientStock,
// carries the shortfalls.
func errLike(err, want error) bool {
	if want == onlinestock.ErrInsufficientStock {
		var short *onlinestock.InsufficientStockError
		return errors.As(err, &short) && len(short.Shortfalls) > 0
	}
	return err != nil && errors.Is(err, want)
}

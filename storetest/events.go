package storetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/worker"
)

// testEvents checks the outbox, its paging, consumer cursors and
// dead letters, and delivery by a Dispatcher; and the one read per
// page of availability.
func testEvents(t *testing.T, newStore NewStore) {
	t.Parallel()

	// churn writes n availability events, one per call, and returns them.
	churn := func(t *testing.T, s *shop, n int) {
		t.Helper()
		s.stock(t, map[string]int64{"p@a": 1})
		for i := range n {
			_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Set("p", "a", int64(i%5+2))})
			s.must(t, err)
		}
	}

	t.Run("EventsSince pages through every event in order", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		churn(t, s, 25)
		all, err := s.svc.EventsSince(ctx(t), 0, 0)
		s.must(t, err)
		for i, e := range all {
			if e.Seq != uint64(i)+1 {
				t.Fatalf("event %d has Seq %d, want %d", i, e.Seq, i+1)
			}
		}
		for _, limit := range []int{1, 7, len(all), 1000} {
			var paged []onlinestock.Event
			var after uint64
			for {
				page, err := s.svc.EventsSince(ctx(t), after, limit)
				s.must(t, err)
				if len(page) > limit {
					t.Fatalf("EventsSince(%d, %d) returned %d events", after, limit, len(page))
				}
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
				after = page[len(page)-1].Seq
			}
			if diff := cmp.Diff(all, paged); diff != "" {
				t.Errorf("pages of %d mismatch (-all +paged):\n%s", limit, diff)
			}
		}
		page, err := s.svc.EventsSince(ctx(t), all[9].Seq, 3)
		s.must(t, err)
		if diff := cmp.Diff(all[10:13], page); diff != "" {
			t.Errorf("EventsSince(10, 3) mismatch (-want +got):\n%s", diff)
		}
		for _, after := range []uint64{uint64(len(all)), uint64(len(all)) + 100} {
			page, err := s.svc.EventsSince(ctx(t), after, 0)
			if err != nil || len(page) != 0 {
				t.Errorf("EventsSince(%d) past the end = %v, %v; want no events, no error", after, page, err)
			}
		}
		checkChains(t, s.svc, []string{"p"})
	})

	t.Run("a consumer cursor starts at zero and never moves back", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		c := ctx(t)
		steps := []struct {
			set  uint64
			want uint64
		}{{5, 5}, {3, 5}, {9, 9}, {9, 9}}
		if got, err := store.Cursor(c, "x"); err != nil || got != 0 {
			t.Fatalf("Cursor(new) = %d, %v; want 0", got, err)
		}
		for _, st := range steps {
			if err := store.SetCursor(c, "x", st.set); err != nil {
				t.Fatal(err)
			}
			if got, err := store.Cursor(c, "x"); err != nil || got != st.want {
				t.Fatalf("Cursor after SetCursor(%d) = %d, %v; want %d", st.set, got, err, st.want)
			}
		}
		if got, err := store.Cursor(c, "y"); err != nil || got != 0 {
			t.Errorf("Cursor of another consumer = %d, %v; want 0", got, err)
		}
	})

	t.Run("dead letters are kept per consumer, replaced by seq and deleted", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		c := ctx(t)
		at := epoch
		put := func(consumer string, d onlinestock.DeadLetter) {
			t.Helper()
			if err := store.PutDeadLetter(c, consumer, d); err != nil {
				t.Fatal(err)
			}
		}
		list := func(consumer string) []onlinestock.DeadLetter {
			t.Helper()
			got, err := store.DeadLetters(c, consumer)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := list("x"); len(got) != 0 {
			t.Fatalf("DeadLetters(new) = %v, want none", got)
		}
		put("x", onlinestock.DeadLetter{Seq: 7, Reason: "first", Time: at})
		put("x", onlinestock.DeadLetter{Seq: 3, Reason: "other", Time: at})
		put("x", onlinestock.DeadLetter{Seq: 7, Reason: "second", Time: at})
		put("y", onlinestock.DeadLetter{Seq: 1, Reason: "y's", Time: at})
		want := []onlinestock.DeadLetter{{Seq: 3, Reason: "other", Time: at}, {Seq: 7, Reason: "second", Time: at}}
		if diff := cmp.Diff(want, list("x")); diff != "" {
			t.Errorf("DeadLetters() mismatch (-want +got):\n%s", diff)
		}
		for _, seq := range []uint64{3, 3, 42} {
			if err := store.DeleteDeadLetter(c, "x", seq); err != nil {
				t.Errorf("DeleteDeadLetter(%d) error = %v", seq, err)
			}
		}
		if diff := cmp.Diff(want[1:], list("x")); diff != "" {
			t.Errorf("DeadLetters() after delete mismatch (-want +got):\n%s", diff)
		}
		if got := list("y"); len(got) != 1 {
			t.Errorf("DeadLetters(y) = %v, want its one letter", got)
		}
	})

	t.Run("a dead letter keeps any reason, byte for byte", func(t *testing.T) {
		t.Parallel()
		store := newStore(t)
		c := ctx(t)
		reasons := []string{
			"\xff\xfe\x00",
			"",
			"nul \x00 inside",
			"cut UTF-8 \xc3",
			"\x00\x00\x00",
			"ünïcødé ✓ and \t\r\n controls \x7f\u009f",
			strings.Repeat("\xff", 10_000),
		}
		var want []onlinestock.DeadLetter
		for i, r := range reasons {
			d := onlinestock.DeadLetter{Seq: uint64(i + 1), Reason: r, Time: epoch}
			if err := store.PutDeadLetter(c, "x", d); err != nil {
				t.Fatalf("PutDeadLetter(reason %q) error = %v", r, err)
			}
			want = append(want, d)
		}
		got, err := store.DeadLetters(c, "x")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DeadLetters() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("the Dispatcher dead-letters a refusal whatever its message and goes on", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		churn(t, s, 3)
		all := s.events(t, 0)
		refused := all[1].Seq
		var calls []uint64
		notifier := onlinestock.NotifierFunc(func(_ context.Context, events []onlinestock.Event) error {
			for _, e := range events {
				calls = append(calls, e.Seq)
				if e.Seq == refused {
					return onlinestock.Permanent(errors.New("receiver said \xff\xfe\x00"))
				}
			}
			return nil
		})
		d, err := worker.NewDispatcher(s.store, notifier, worker.DispatcherConfig{
			Consumer: "hook", BatchSize: 1, Logger: slog.New(slog.DiscardHandler), Clock: func() time.Time { return epoch },
		})
		s.must(t, err)
		n, err := d.Flush(ctx(t))
		s.must(t, err)
		if n != len(all) || !slices.Equal(calls, seqsOfEvents(all)) {
			t.Errorf("Flush() handed on %d events in calls %v, want all %d, each once", n, calls, len(all))
		}
		dead, err := d.DeadLetters(ctx(t))
		s.must(t, err)
		want := []onlinestock.DeadLetter{{Seq: refused, Reason: "permanent: receiver said \xff\xfe\x00", Time: epoch}}
		if diff := cmp.Diff(want, dead); diff != "" {
			t.Errorf("DeadLetters() mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("a rolled back Update writes nothing", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		before := takeDump(t, s.svc, []string{"p"}, nil)
		boom := errors.New("boom")
		err := s.store.Update(ctx(t), func(tx onlinestock.Tx) error {
			if err := tx.PutLevels(ctx(t), []onlinestock.Level{{Product: "p", Outlet: "a", OnHand: 3, Version: 1}}); err != nil {
				return err
			}
			if err := tx.AppendEvents(ctx(t), []onlinestock.Event{{Kind: onlinestock.ProductEnabled, Product: "p"}}); err != nil {
				return err
			}
			if err := tx.PutOutlet(ctx(t), onlinestock.Outlet{ID: "z"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update() error = %v, want fn's error", err)
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p"}, nil)); diff != "" {
			t.Errorf("store after a rolled back Update mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("a call with a cancelled context fails and changes nothing", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 3})
		before := takeDump(t, s.svc, []string{"p"}, []string{"o1"})
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		if _, err := s.svc.Apply(c, []onlinestock.Change{onlinestock.Set("p", "a", 9)}); !errors.Is(err, context.Canceled) {
			t.Errorf("Apply() error = %v, want context.Canceled", err)
		}
		if _, err := s.svc.Reserve(c, onlinestock.Order{ID: "o1", Lines: []onlinestock.Line{{Product: "p", Quantity: 1}}}); !errors.Is(err, context.Canceled) {
			t.Errorf("Reserve() error = %v, want context.Canceled", err)
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p"}, []string{"o1"})); diff != "" {
			t.Errorf("store after cancelled calls mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("a View cannot write", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		before := takeDump(t, s.svc, []string{"p"}, nil)
		err := s.store.View(ctx(t), func(tx onlinestock.Tx) error {
			return tx.PutLevels(ctx(t), []onlinestock.Level{{Product: "p", Outlet: "a", OnHand: 3, Version: 1}})
		})
		if err == nil {
			t.Errorf("PutLevels in a View: no error")
		}
		if diff := cmp.Diff(before, takeDump(t, s.svc, []string{"p"}, nil)); diff != "" {
			t.Errorf("store after a write in a View mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("the Dispatcher delivers every event in order, dead-letters a refused one and resumes from its cursor", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		churn(t, s, 12)
		all := s.events(t, 0)
		refused := all[6].Seq

		var mu sync.Mutex
		var delivered []uint64 // seqs of accepted calls, in call order
		transient := 3         // the first calls fail and are retried
		accept := false        // whether the refused event is accepted now
		notifier := onlinestock.NotifierFunc(func(_ context.Context, events []onlinestock.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if transient > 0 {
				transient--
				return errors.New("receiver busy")
			}
			if !accept && slices.ContainsFunc(events, func(e onlinestock.Event) bool { return e.Seq == refused }) {
				return onlinestock.Permanent(fmt.Errorf("event %d refused", refused))
			}
			for _, e := range events {
				delivered = append(delivered, e.Seq)
			}
			return nil
		})
		cfg := worker.DispatcherConfig{
			Consumer: "hook", BatchSize: 4, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler),
		}
		d, err := worker.NewDispatcher(s.store, notifier, cfg)
		s.must(t, err)
		n, err := d.Flush(ctx(t))
		s.must(t, err)
		if n != len(all) {
			t.Errorf("Flush() handed on %d events, want %d", n, len(all))
		}
		var want []uint64
		for _, e := range all {
			if e.Seq != refused {
				want = append(want, e.Seq)
			}
		}
		mu.Lock()
		got := slices.Clone(delivered)
		mu.Unlock()
		if !slices.IsSorted(got) {
			t.Errorf("deliveries out of order: %v", got)
		}
		if diff := cmp.Diff(want, slices.Compact(got)); diff != "" {
			t.Errorf("delivered events mismatch (-want +got):\n%s", diff)
		}
		dead, err := d.DeadLetters(ctx(t))
		s.must(t, err)
		if diff := cmp.Diff([]uint64{refused}, seqsOf(dead)); diff != "" {
			t.Errorf("DeadLetters() mismatch (-want +got):\n%s", diff)
		}
		if cursor, err := s.store.Cursor(ctx(t), "hook"); err != nil || cursor != all[len(all)-1].Seq {
			t.Errorf("cursor after Flush() = %d, %v; want %d", cursor, err, all[len(all)-1].Seq)
		}
		if err := d.Redeliver(ctx(t), refused+1000); !errors.Is(err, onlinestock.ErrNotFound) {
			t.Errorf("Redeliver(not dead) error = %v, want ErrNotFound", err)
		}
		if err := d.Redeliver(ctx(t), refused); err == nil {
			t.Errorf("Redeliver() while still refused: no error")
		}
		mu.Lock()
		accept = true
		mu.Unlock()
		s.must(t, d.Redeliver(ctx(t), refused))
		dead, err = d.DeadLetters(ctx(t))
		s.must(t, err)
		if len(dead) != 0 {
			t.Errorf("DeadLetters() after Redeliver = %v, want none", dead)
		}

		// A new Dispatcher, as after a restart, goes on from the cursor.
		churn(t, s, 3)
		fresh := s.events(t, all[len(all)-1].Seq)
		mu.Lock()
		delivered = nil
		mu.Unlock()
		d2, err := worker.NewDispatcher(s.store, notifier, cfg)
		s.must(t, err)
		n, err = d2.Flush(ctx(t))
		s.must(t, err)
		if n != len(fresh) {
			t.Errorf("Flush() after restart handed on %d events, want %d", n, len(fresh))
		}
		mu.Lock()
		got = slices.Clone(delivered)
		mu.Unlock()
		if diff := cmp.Diff(seqsOfEvents(fresh), got); diff != "" {
			t.Errorf("delivered after restart mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Availability of a page of products reads the Store once", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		onHand := map[string]int64{}
		var page []string
		for i := range 40 {
			p := fmt.Sprintf("sku-%02d", i)
			page = append(page, p)
			onHand[p+"@"+[]string{"a", "b", "c"}[i%3]] = int64(i)
		}
		s.stock(t, onHand)
		counting := &countingStore{Store: s.store}
		svc, err := onlinestock.New(counting, onlinestock.Config{})
		s.must(t, err)
		got, err := svc.Availability(ctx(t), append(page, "unknown", page[0])...)
		s.must(t, err)
		if len(got) != len(page)+2 {
			t.Fatalf("Availability() returned %d answers for %d products", len(got), len(page)+2)
		}
		if n := counting.pages.Load(); n != 1 {
			t.Errorf("Availability() of %d products called ReadPage %d times, want 1", len(page), n)
		}
		if n := counting.transactions.Load(); n != 0 {
			t.Errorf("Availability() ran %d transactions besides ReadPage, want 0", n)
		}
		if diff := cmp.Diff(got[0], got[len(got)-1]); diff != "" {
			t.Errorf("a product asked twice got two answers (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(onlinestock.Unlisted, got[len(page)]); diff != "" {
			t.Errorf("an unknown product mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("events carry what changed and read as sold out or back in stock", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, newStore, onlinestock.Config{})
		s.stock(t, map[string]int64{"p@a": 1})
		seq := s.lastSeq(t)
		_, err := s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", -1)})
		s.must(t, err)
		_, err = s.svc.Apply(ctx(t), []onlinestock.Change{onlinestock.Adjust("p", "a", 4)})
		s.must(t, err)
		s.must(t, s.svc.DisableOnline(ctx(t), "p"))
		got := s.events(t, seq)
		inStock := func(n int64) onlinestock.Availability {
			return onlinestock.Availability{Quantity: n, Label: onlinestock.InStock}
		}
		soldOut := onlinestock.Availability{Label: onlinestock.SoldOut}
		want := []onlinestock.Event{
			{Kind: onlinestock.AvailabilityChanged, Product: "p", Before: inStock(1), After: soldOut},
			{Kind: onlinestock.AvailabilityChanged, Product: "p", Before: soldOut, After: inStock(4)},
			{Kind: onlinestock.ProductDisabled, Product: "p"},
			{Kind: onlinestock.AvailabilityChanged, Product: "p", Before: inStock(4), After: onlinestock.Unlisted},
		}
		if diff := cmp.Diff(want, got, eventOpts, cmpopts.SortSlices(func(a, b onlinestock.Event) bool { return a.Seq < b.Seq })); diff != "" {
			t.Fatalf("events mismatch (-want +got):\n%s", diff)
		}
		if !got[0].SoldOut() || got[0].BackInStock() || !got[1].BackInStock() || got[1].SoldOut() || got[3].SoldOut() {
			t.Errorf("SoldOut/BackInStock helpers disagree with %v", got)
		}
		for _, e := range got {
			if !e.Time.Equal(epoch) {
				t.Errorf("event %v has time %v, want the service clock's %v", e, e.Time, epoch)
			}
		}
	})
}

func seqsOf(dead []onlinestock.DeadLetter) []uint64 {
	var out []uint64
	for _, d := range dead {
		out = append(out, d.Seq)
	}
	return out
}

func seqsOfEvents(events []onlinestock.Event) []uint64 {
	var out []uint64
	for _, e := range events {
		out = append(out, e.Seq)
	}
	return out
}

// countingStore counts transactions, product reads and page reads of the
// Store it wraps.
type countingStore struct {
	onlinestock.Store
	transactions atomic.Int64
	products     atomic.Int64
	pages        atomic.Int64
}

func (s *countingStore) ReadPage(ctx context.Context, ids []string, fn func(onlinestock.Page) error) error {
	s.pages.Add(1)
	return s.Store.ReadPage(ctx, ids, fn)
}

func (s *countingStore) Update(ctx context.Context, fn func(onlinestock.Tx) error) error {
	s.transactions.Add(1)
	return s.Store.Update(ctx, func(tx onlinestock.Tx) error { return fn(countingTx{tx, s}) })
}

func (s *countingStore) View(ctx context.Context, fn func(onlinestock.Tx) error) error {
	s.transactions.Add(1)
	return s.Store.View(ctx, func(tx onlinestock.Tx) error { return fn(countingTx{tx, s}) })
}

type countingTx struct {
	onlinestock.Tx
	s *countingStore
}

func (t countingTx) Products(ctx context.Context, ids []string) ([]onlinestock.Product, error) {
	t.s.products.Add(1)
	return t.Tx.Products(ctx, ids)
}

func (t countingTx) ProductsAt(ctx context.Context, outlets []string) ([]onlinestock.Product, error) {
	t.s.products.Add(1)
	return t.Tx.ProductsAt(ctx, outlets)
}

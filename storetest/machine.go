package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/onlinestock/onlinestock"
)

// A small ID space, so that calls collide often.
var (
	outletIDs   = []string{"north", "south", "east", "west"}
	registerIDs = []string{"till-1", "till-2", "till-3", "till-4", "till-5"}
	productIDs  = []string{"sku-1", "sku-2", "sku-3", "sku-4", "sku-5"}
	methodIDs   = []string{"courier", "express", "pickup"}
	orderIDs    = []string{"order-1", "order-2", "order-3", "order-4", "order-5", "order-6"}
	keyIDs      = []string{"key-1", "key-2", "key-3", "key-4", "key-5", "key-6"}
	badIDs      = []string{"", strings.Repeat("x", 129), "bad\x01id", "bad\xffid", "bad\u0085id"}
)

const keyRetention = time.Hour

// testModel is the model-based property test: random sequences of Service
// calls run against a fresh Store and against a plain-Go model side by
// side, and after every call everything the Service can tell must agree
// with the model.
func testModel(t *testing.T, newStore NewStore) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		mc := newMachine(t, rt, newStore)
		rt.Repeat(rapid.StateMachineActions(mc))
	})
}

// machine drives a Service and the model in step.
type machine struct {
	ctx    context.Context
	svc    *onlinestock.Service
	clock  *fakeClock
	m      *model
	alloc  string // "fewest" or "most"
	seq    uint64 // the last event seen
	shown  map[string]onlinestock.Availability
	probes int
	orders int // orders given a new ID

	mseq     uint64                         // the last ledger movement seen
	replayed map[levelKey]onlinestock.Level // every level, replayed from the ledger

	lockOrder *firstError // a Tx call out of lock order, see CheckLockOrder
}

// firstError keeps the first error it is given.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func newMachine(t *testing.T, rt *rapid.T, newStore NewStore) *machine {
	lowStock := rapid.Int64Range(1, 3).Draw(rt, "lowStock")
	hide := rapid.Bool().Draw(rt, "hideOrphaned")
	alloc := rapid.SampledFrom([]string{"fewest", "most"}).Draw(rt, "allocator")
	cfg := onlinestock.Config{LowStockThreshold: lowStock, HideOrphanedMethods: hide, KeyRetention: keyRetention}
	if alloc == "most" {
		cfg.Allocator = onlinestock.MostStockFirst{}
	}
	lockOrder := &firstError{}
	checked := func(t *testing.T) onlinestock.Store { return CheckLockOrder(newStore(t), lockOrder.set) }
	svc, clock := newService(t, checked, cfg)
	mc := &machine{
		lockOrder: lockOrder,
		ctx:       t.Context(),
		svc:       svc,
		clock:     clock,
		m:         newModel(lowStock, hide, keyRetention),
		alloc:     alloc,
		shown:     map[string]onlinestock.Availability{},
		replayed:  map[levelKey]onlinestock.Level{},
	}
	mc.m.alloc = alloc
	// Start from a store with some outlets and registers, usually active,
	// so that short runs still reach the interesting states.
	for _, id := range outletIDs[:rapid.IntRange(1, len(outletIDs)).Draw(rt, "initialOutlets")] {
		mc.saveOutlet(rt, id, "")
	}
	for i, r := range registerIDs[:3] {
		mc.saveRegister(rt, r, outletIDs[i%len(mc.m.outlets)], "")
	}
	if rapid.IntRange(0, 9).Draw(rt, "activate") > 0 {
		mc.activate(rt, registerIDs[0])
		if rapid.Bool().Draw(rt, "selectAll") {
			set := slices.Clone(outletIDs)
			mc.changeSelection(rt, "SaveSelection", set, func(string, bool) bool { return true }, true,
				func() (onlinestock.SelectionResult, error) { return mc.svc.SaveSelection(mc.ctx, set) })
		}
	}
	var changes []onlinestock.Change
	for _, p := range productIDs {
		for _, o := range outletIDs[:len(mc.m.outlets)] {
			if n := rapid.Int64Range(-1, 6).Draw(rt, "initialOnHand"); n >= 0 {
				changes = append(changes, onlinestock.Set(p, o, n))
			}
		}
	}
	mc.apply(rt, changes)
	mc.setEnabled(rt, true)
	// Usually every product reported so far is for sale, so that orders
	// have stock to reserve.
	if rapid.IntRange(0, 3).Draw(rt, "enableAll") > 0 {
		mc.setEnabledIDs(rt, sortedKeys(mc.m.products), true)
	}
	for range rapid.IntRange(0, 3).Draw(rt, "initialMethods") {
		mc.SaveMethod(rt)
	}
	mc.initCatalog(rt)
	return mc
}

// Draws.

func drawID(t *rapid.T, pool []string, label string) string {
	if rapid.IntRange(0, 29).Draw(t, label+"Bad") == 0 {
		return rapid.SampledFrom(badIDs).Draw(t, label)
	}
	return rapid.SampledFrom(pool).Draw(t, label)
}

func drawSubset(t *rapid.T, pool []string, label string) []string {
	return rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 0, len(pool), rapid.ID[string]).Draw(t, label)
}

func drawLines(t *rapid.T) []onlinestock.Line {
	n := rapid.IntRange(1, 3).Draw(t, "lines")
	lines := make([]onlinestock.Line, n)
	for i := range lines {
		lines[i] = onlinestock.Line{
			Product:  drawLineProduct(t),
			Quantity: rapid.Int64Range(1, 4).Draw(t, "lineQuantity"),
		}
	}
	return lines
}

// Checking helpers.

// expect fails unless err is what the model says (nil, or any of want).
func (mc *machine) expect(t *rapid.T, call string, err error, want ...error) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("%s error = %v, want none", call, err)
		}
		return
	}
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	t.Fatalf("%s error = %v, want one of %v", call, err, want)
}

// expectEvents checks the events the last call appended: exactly extra plus
// one availability event per product whose availability moved from before
// to what the model says now, forming each product's chain.
func (mc *machine) expectEvents(t *rapid.T, call string, before map[string]onlinestock.Availability, extra ...onlinestock.Event) {
	t.Helper()
	want := append(slices.Clone(extra), mc.m.announced...)
	mc.m.announced = nil
	for _, p := range allProductIDs {
		if after := mc.m.availability(p); after != before[p] {
			want = append(want, onlinestock.Event{Kind: onlinestock.AvailabilityChanged, Product: p, Before: before[p], After: after})
		}
	}
	got, err := mc.svc.EventsSince(mc.ctx, mc.seq, 0)
	if err != nil {
		t.Fatalf("EventsSince(%d) error = %v", mc.seq, err)
	}
	for i, e := range got {
		if e.Seq != mc.seq+uint64(i)+1 {
			t.Fatalf("after %s: event %d has Seq %d, want %d: sequence numbers must increase with no gaps", call, i, e.Seq, mc.seq+uint64(i)+1)
		}
	}
	byKey := func(a, b onlinestock.Event) int {
		return strings.Compare(string(a.Kind)+"\x00"+a.Product+"\x00"+a.Outlet+"\x00"+a.Order, string(b.Kind)+"\x00"+b.Product+"\x00"+b.Outlet+"\x00"+b.Order)
	}
	sortedGot := slices.Clone(got)
	slices.SortStableFunc(want, byKey)
	slices.SortStableFunc(sortedGot, byKey)
	if diff := cmp.Diff(want, sortedGot, eventOpts); diff != "" {
		t.Fatalf("events of %s mismatch (-want +got):\n%s", call, diff)
	}
	for _, e := range got {
		if e.Kind != onlinestock.AvailabilityChanged {
			continue
		}
		if prev, ok := mc.shown[e.Product]; (ok && e.Before != prev) || (!ok && e.Before != onlinestock.Unlisted) {
			t.Fatalf("after %s: event #%d of %q starts at %+v, not where the chain ended", call, e.Seq, e.Product, e.Before)
		}
		mc.shown[e.Product] = e.After
	}
	if len(got) > 0 {
		mc.seq = got[len(got)-1].Seq
	}
	mc.expectMovements(t, call)
}

// expectMovements checks the ledger movements the last call appended:
// numbered on from the last one seen with no gap, and, level by level in
// order, the movements the model made. It replays them onto mc.replayed.
func (mc *machine) expectMovements(t *rapid.T, call string) {
	t.Helper()
	want := mc.m.moved
	mc.m.moved = nil
	got, err := mc.svc.Movements(mc.ctx, onlinestock.MovementFilter{After: mc.mseq, Limit: onlinestock.MaxMovementPage})
	if err != nil {
		t.Fatalf("Movements(after %d) error = %v", mc.mseq, err)
	}
	for i, mv := range got {
		if mv.Seq != mc.mseq+uint64(i)+1 {
			t.Fatalf("after %s: movement %d has Seq %d, want %d: sequence numbers must increase with no gaps", call, i, mv.Seq, mc.mseq+uint64(i)+1)
		}
		if !mv.Time.Equal(mc.clock.Now()) {
			t.Fatalf("after %s: movement %v stamped %v, want the Service's clock, %v", call, mv, mv.Time, mc.clock.Now())
		}
	}
	byLevel := func(a, b onlinestock.Movement) int {
		return strings.Compare(a.Product+"\x00"+a.Outlet, b.Product+"\x00"+b.Outlet)
	}
	sortedGot := slices.Clone(got)
	slices.SortStableFunc(want, byLevel)
	slices.SortStableFunc(sortedGot, byLevel)
	if diff := cmp.Diff(want, sortedGot, movementOpts); diff != "" {
		t.Fatalf("ledger movements of %s mismatch (-want +got):\n%s", call, diff)
	}
	for _, mv := range got {
		k := levelKey{mv.Product, mv.Outlet}
		l := mc.replayed[k]
		l.Product, l.Outlet = mv.Product, mv.Outlet
		l.OnHand += mv.OnHandDelta
		l.Reserved += mv.ReservedDelta
		if mv.Kind.MovesOnHand() {
			l.Version++
		}
		if l.OnHand != mv.OnHand || l.Reserved != mv.Reserved || l.Version != mv.Version {
			t.Fatalf("after %s: replaying the ledger of %q@%q gives %+v, but movement %v says the level became %d/%d/v%d",
				call, mv.Product, mv.Outlet, l, mv, mv.OnHand, mv.Reserved, mv.Version)
		}
		mc.replayed[k] = l
	}
	if len(got) > 0 {
		mc.mseq = got[len(got)-1].Seq
	}
}

func (mc *machine) before() map[string]onlinestock.Availability {
	return mc.m.availabilities(allProductIDs)
}

var resultOpts = cmpopts.EquateEmpty()

func (mc *machine) expectResult(t *rapid.T, call string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got, resultOpts); diff != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", call, diff)
	}
}

// Check runs after every action: the Store's view must equal the model's.
func (mc *machine) Check(t *rapid.T) {
	if err := mc.lockOrder.get(); err != nil {
		t.Fatal(err)
	}
	m := mc.m
	got, err := mc.svc.Availability(mc.ctx, allProductIDs...)
	if err != nil {
		t.Fatalf("Availability() error = %v", err)
	}
	want := make([]onlinestock.Availability, len(allProductIDs))
	for i, p := range allProductIDs {
		want[i] = m.availability(p)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Availability() mismatch (-want +got):\n%s", diff)
	}
	for _, p := range allProductIDs {
		if shown, ok := mc.shown[p]; (ok && shown != m.availability(p)) || (!ok && m.availability(p) != onlinestock.Unlisted) {
			t.Fatalf("the event chain of %q ends at %+v, but its availability is %+v", p, shown, m.availability(p))
		}
	}

	for k, l := range m.levels {
		if r := mc.replayed[k]; r != *l {
			t.Fatalf("level %q@%q is %+v, but replaying its ledger movements gives %+v", k.product, k.outlet, *l, r)
		}
	}
	if len(mc.replayed) != len(m.levels) {
		t.Fatalf("the ledger has movements of %d levels, the model %d levels", len(mc.replayed), len(m.levels))
	}

	reserved := m.reservedByOrders()
	for _, p := range allProductIDs {
		levels, err := mc.svc.Levels(mc.ctx, p)
		if _, exists := m.products[p]; !exists {
			if !errors.Is(err, onlinestock.ErrNotFound) {
				t.Fatalf("Levels(%q) of a product never reported: error = %v, want ErrNotFound", p, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Levels(%q) error = %v", p, err)
		}
		if diff := cmp.Diff(m.productLevels(p), levels, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Levels(%q) mismatch (-want +got):\n%s", p, diff)
		}
		for _, l := range levels {
			if r := reserved[levelKey{l.Product, l.Outlet}]; l.Reserved != r {
				t.Fatalf("level %q@%q has Reserved %d, but its open reservations hold %d", l.Product, l.Outlet, l.Reserved, r)
			}
		}
	}

	setup, err := mc.svc.Setup(mc.ctx)
	if err != nil {
		t.Fatalf("Setup() error = %v", err)
	}
	if diff := cmp.Diff(m.setup(), setup, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("Setup() mismatch (-want +got):\n%s", diff)
	}
	if p := setup.Primary(); p != "" {
		if o, _ := setup.Outlet(p); !o.Connected {
			t.Fatalf("primary outlet %q is not connected", p)
		}
	}

	methods, err := mc.svc.Methods(mc.ctx)
	if err != nil {
		t.Fatalf("Methods() error = %v", err)
	}
	all := func(onlinestock.Method) bool { return true }
	mc.expectResult(t, "Methods()", m.sortedMethods(all), methods)
	orphaned, err := mc.svc.OrphanedMethods(mc.ctx)
	if err != nil {
		t.Fatalf("OrphanedMethods() error = %v", err)
	}
	mc.expectResult(t, "OrphanedMethods()", m.sortedMethods(m.orphaned), orphaned)
}

// Actions: each calls the Service, works out in the model what the call
// must do, and checks the result, the error and the events.

func (mc *machine) SaveOutlet(t *rapid.T) {
	mc.saveOutlet(t, drawID(t, outletIDs, "outlet"), rapid.SampledFrom([]string{"", "Harbour", "Mall"}).Draw(t, "name"))
}

func (mc *machine) saveOutlet(t *rapid.T, id, name string) {
	before := mc.before()
	err := mc.svc.SaveOutlet(mc.ctx, id, name)
	if !validID(id) {
		mc.expect(t, "SaveOutlet", err, onlinestock.ErrInvalid)
	} else {
		mc.expect(t, "SaveOutlet", err)
		if o := mc.m.outlets[id]; o != nil {
			o.name = name
		} else {
			mc.m.outlets[id] = &modelOutlet{name: name}
		}
	}
	mc.expectEvents(t, "SaveOutlet", before)
}

func (mc *machine) SaveRegister(t *rapid.T) {
	mc.saveRegister(t, drawID(t, registerIDs, "register"), drawID(t, outletIDs, "outlet"), "")
}

func (mc *machine) saveRegister(t *rapid.T, id, outlet, name string) {
	before := mc.before()
	err := mc.svc.SaveRegister(mc.ctx, id, outlet, name)
	owner, exists := mc.m.registers[id]
	switch {
	case !validID(id) || !validID(outlet):
		mc.expect(t, "SaveRegister", err, onlinestock.ErrInvalid)
	case mc.m.outlets[outlet] == nil:
		mc.expect(t, "SaveRegister", err, onlinestock.ErrNotFound)
	case exists && owner != outlet:
		mc.expect(t, "SaveRegister", err, onlinestock.ErrConflict)
	default:
		mc.expect(t, "SaveRegister", err)
		mc.m.registers[id] = outlet
	}
	mc.expectEvents(t, "SaveRegister", before)
}

func (mc *machine) Activate(t *rapid.T) {
	mc.activate(t, drawID(t, registerIDs, "register"))
}

func (mc *machine) activate(t *rapid.T, register string) {
	m := mc.m
	before := mc.before()
	res, err := mc.svc.Activate(mc.ctx, register)
	outlet, exists := m.registers[register]
	var extra []onlinestock.Event
	var want onlinestock.SelectionResult
	switch {
	case !validID(register):
		mc.expect(t, "Activate", err, onlinestock.ErrInvalid)
	case !exists:
		mc.expect(t, "Activate", err, onlinestock.ErrNotFound)
	default:
		mc.expect(t, "Activate", err)
		previous := m.primary()
		if outlet != previous {
			next := m.connectedSet()
			next[outlet] = true
			want = m.selection(next, allProductIDs, register)
			m.setConnected(next)
		}
		m.orderRegister = register
		if outlet != previous {
			extra = append([]onlinestock.Event{{Kind: onlinestock.PrimaryChanged, Outlet: outlet, Previous: previous}}, outletEvents(want)...)
		}
	}
	mc.expectResult(t, "Activate() result", want, res)
	mc.expectEvents(t, "Activate", before, extra...)
}

// changeSelection checks a call that moves the connected set: errors in
// the documented order, then the result and events the model predicts.
func (mc *machine) changeSelection(t *rapid.T, call string, named []string, connect func(id string, was bool) bool, commit bool,
	do func() (onlinestock.SelectionResult, error)) {
	m := mc.m
	before := mc.before()
	res, err := do()
	var want onlinestock.SelectionResult
	var extra []onlinestock.Event
	next := map[string]bool{}
	for id, o := range m.outlets {
		next[id] = connect(id, o.connected) || id == m.primary()
	}
	switch {
	case slices.ContainsFunc(named, func(id string) bool { return !validID(id) }):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case m.primary() == "":
		mc.expect(t, call, err, onlinestock.ErrNotActive)
	case slices.ContainsFunc(named, func(id string) bool { return m.outlets[id] == nil }):
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	case !connect(m.primary(), true):
		mc.expect(t, call, err, onlinestock.ErrPrimaryOutlet)
	default:
		mc.expect(t, call, err)
		want = m.selection(next, allProductIDs, "")
		if commit {
			m.setConnected(next)
			extra = outletEvents(want)
		}
	}
	mc.expectResult(t, call+" result", want, res)
	mc.expectEvents(t, call, before, extra...)
}

func (mc *machine) Connect(t *rapid.T) {
	id := drawID(t, outletIDs, "outlet")
	mc.changeSelection(t, "Connect", []string{id}, func(o string, was bool) bool { return was || o == id }, true,
		func() (onlinestock.SelectionResult, error) { return mc.svc.Connect(mc.ctx, id) })
}

func (mc *machine) Disconnect(t *rapid.T) {
	id := drawID(t, outletIDs, "outlet")
	if p := mc.m.primary(); p != "" && rapid.IntRange(0, 3).Draw(t, "primary") == 0 {
		id = p
	}
	mc.changeSelection(t, "Disconnect", []string{id}, func(o string, was bool) bool { return was && o != id }, true,
		func() (onlinestock.SelectionResult, error) { return mc.svc.Disconnect(mc.ctx, id) })
}

func (mc *machine) SaveSelection(t *rapid.T) {
	set := drawSubset(t, append(slices.Clone(outletIDs), "nowhere"), "set")
	mc.changeSelection(t, "SaveSelection", set, func(o string, _ bool) bool { return slices.Contains(set, o) || o == mc.m.primary() }, true,
		func() (onlinestock.SelectionResult, error) { return mc.svc.SaveSelection(mc.ctx, set) })
}

func (mc *machine) PreviewSelection(t *rapid.T) {
	set := drawSubset(t, outletIDs, "set")
	mc.changeSelection(t, "PreviewSelection", set, func(o string, _ bool) bool { return slices.Contains(set, o) || o == mc.m.primary() }, false,
		func() (onlinestock.SelectionResult, error) { return mc.svc.PreviewSelection(mc.ctx, set) })
}

func (mc *machine) SetBuffer(t *rapid.T) {
	m := mc.m
	id := drawID(t, outletIDs, "outlet")
	units := rapid.SampledFrom([]int64{0, 0, 1, 2, 3, -1, onlinestock.MaxOnHand + 1}).Draw(t, "buffer")
	before := mc.before()
	res, err := mc.svc.SetBuffer(mc.ctx, id, units)
	var want onlinestock.SelectionResult
	switch {
	case !validID(id) || units < 0 || units > onlinestock.MaxOnHand:
		mc.expect(t, "SetBuffer", err, onlinestock.ErrInvalid)
	case m.outlets[id] == nil:
		mc.expect(t, "SetBuffer", err, onlinestock.ErrNotFound)
	default:
		mc.expect(t, "SetBuffer", err)
		m.outlets[id].buffer = units
		for _, p := range allProductIDs {
			if after := m.availability(p); after != before[p] {
				want.Changes = append(want.Changes, onlinestock.AvailabilityChange{Product: p, Before: before[p], After: after})
			}
		}
	}
	mc.expectResult(t, "SetBuffer() result", want, res)
	mc.expectEvents(t, "SetBuffer", before)
}

func (mc *machine) SetRank(t *rapid.T) {
	id := drawID(t, outletIDs, "outlet")
	rank := rapid.IntRange(0, 3).Draw(t, "rank")
	before := mc.before()
	err := mc.svc.SetRank(mc.ctx, id, rank)
	switch {
	case !validID(id):
		mc.expect(t, "SetRank", err, onlinestock.ErrInvalid)
	case mc.m.outlets[id] == nil:
		mc.expect(t, "SetRank", err, onlinestock.ErrNotFound)
	default:
		mc.expect(t, "SetRank", err)
		mc.m.outlets[id].rank = rank
	}
	mc.expectEvents(t, "SetRank", before)
}

func (mc *machine) EnableOnline(t *rapid.T)  { mc.setEnabled(t, true) }
func (mc *machine) DisableOnline(t *rapid.T) { mc.setEnabled(t, false) }

func (mc *machine) setEnabled(t *rapid.T, enabled bool) {
	ids := drawSubset(t, allProductIDs, "products")
	if rapid.IntRange(0, 19).Draw(t, "badProduct") == 0 {
		ids = append(ids, rapid.SampledFrom(badIDs).Draw(t, "bad"))
	}
	mc.setEnabledIDs(t, ids, enabled)
}

func (mc *machine) setEnabledIDs(t *rapid.T, ids []string, enabled bool) {
	m := mc.m
	call, kind := "DisableOnline", onlinestock.ProductDisabled
	do := mc.svc.DisableOnline
	if enabled {
		call, kind, do = "EnableOnline", onlinestock.ProductEnabled, mc.svc.EnableOnline
	}
	before := mc.before()
	err := do(mc.ctx, ids...)
	var extra []onlinestock.Event
	switch {
	case slices.ContainsFunc(ids, func(id string) bool { return !validID(id) }):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case slices.ContainsFunc(ids, func(id string) bool { _, ok := m.products[id]; return !ok }):
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	default:
		mc.expect(t, call, err)
		for _, id := range ids {
			if m.products[id] != enabled {
				m.products[id] = enabled
				extra = append(extra, onlinestock.Event{Kind: kind, Product: id})
			}
		}
	}
	mc.expectEvents(t, call, before, extra...)
}

// Apply sends a batch that mixes sets and adjustments, correct and stale
// versions, new and repeated keys, and now and then a change that makes
// the whole batch fail.
func (mc *machine) Apply(t *rapid.T) {
	m := mc.m
	n := rapid.IntRange(1, 5).Draw(t, "changes")
	changes := make([]onlinestock.Change, n)
	for i := range changes {
		product := drawStockProduct(t)
		outlet := rapid.SampledFrom(outletIDs).Draw(t, "outlet")
		var c onlinestock.Change
		if rapid.Bool().Draw(t, "set") {
			c = onlinestock.Set(product, outlet, rapid.Int64Range(-2, 12).Draw(t, "onHand"))
		} else {
			c = onlinestock.Adjust(product, outlet, rapid.Int64Range(-4, 6).Draw(t, "delta"))
		}
		switch rapid.IntRange(0, 29).Draw(t, "extreme") {
		case 0: // at the limit: a later adjustment may leave the range
			c.Quantity = onlinestock.MaxOnHand
		case 1: // out of range by itself
			c.Quantity = -onlinestock.MaxOnHand - 1
		case 2:
			c.Product = rapid.SampledFrom(badIDs).Draw(t, "badProduct")
		}
		switch rapid.IntRange(0, 3).Draw(t, "version") {
		case 1:
			c = c.WithVersion(m.level(product, outlet).Version)
		case 2:
			c = c.WithVersion(max(0, m.level(product, outlet).Version+rapid.SampledFrom([]int64{-1, 1}).Draw(t, "stale")))
		}
		if rapid.IntRange(0, 2).Draw(t, "keyed") == 0 {
			c = c.WithKey(rapid.SampledFrom(keyIDs).Draw(t, "key"))
		}
		c = drawNote(t, c)
		changes[i] = c
	}
	mc.apply(t, changes)
}

// drawNote now and then gives a change a reason or a reference for the
// ledger, standard or the merchant's own, and rarely one too long.
func drawNote(t *rapid.T, c onlinestock.Change) onlinestock.Change {
	switch rapid.IntRange(0, 9).Draw(t, "note") {
	case 0:
		c = c.WithReason(rapid.SampledFrom([]onlinestock.StockReason{
			onlinestock.StockSale, onlinestock.StockReceipt, onlinestock.StockCount, "shrink-7"}).Draw(t, "reason"))
	case 1:
		c = c.WithRef(rapid.SampledFrom([]string{"receipt-1", "transfer-9"}).Draw(t, "ref"))
	case 2:
		c = c.WithReason(onlinestock.StockReason(strings.Repeat("r", 65)))
	case 3:
		c = c.WithRef(strings.Repeat("x", 129))
	}
	return c
}

// WebSale is the POS reporting the sale of a web order it recorded on the
// order register: the units the order took at an outlet, as a delta or as
// a count made after the sale, now and then contradicting the order (other
// units, another outlet, an unknown order), sometimes beside another
// change.
func (mc *machine) WebSale(t *rapid.T) {
	m := mc.m
	ids := sortedKeys(m.reservations)
	if len(ids) == 0 {
		t.Skip("no order")
	}
	r := m.reservations[rapid.SampledFrom(ids).Draw(t, "order")]
	if len(r.Allocations) == 0 {
		t.Skip("the order took nothing")
	}
	a := rapid.SampledFrom(r.Allocations).Draw(t, "allocation")
	order := r.Order
	var c onlinestock.Change
	switch rapid.IntRange(0, 9).Draw(t, "report") {
	case 0: // a count made after the POS recorded the sale
		c = onlinestock.Set(a.Product, a.Outlet, max(0, m.level(a.Product, a.Outlet).OnHand-(a.Quantity-a.Fulfilled)))
	case 1: // other units
		c = onlinestock.Adjust(a.Product, a.Outlet, -a.Quantity-rapid.SampledFrom([]int64{-1, 1}).Draw(t, "off"))
		if c.Quantity >= 0 {
			c.Quantity = -a.Quantity - 1
		}
	case 2: // another outlet
		c = onlinestock.Adjust(a.Product, rapid.SampledFrom(outletIDs).Draw(t, "outlet"), -a.Quantity)
	case 3: // an order the library does not know
		c = onlinestock.Adjust(a.Product, a.Outlet, -a.Quantity)
		order = "pos-only-order"
	default:
		c = onlinestock.Adjust(a.Product, a.Outlet, -a.Quantity)
	}
	c = c.ForOrder(order)
	if rapid.IntRange(0, 3).Draw(t, "keyed") == 0 {
		c = c.WithKey(rapid.SampledFrom(keyIDs).Draw(t, "key"))
	}
	changes := []onlinestock.Change{drawNote(t, c)}
	if rapid.IntRange(0, 3).Draw(t, "beside") == 0 {
		other := onlinestock.Adjust(rapid.SampledFrom(productIDs).Draw(t, "product"), rapid.SampledFrom(outletIDs[:len(m.outlets)]).Draw(t, "otherOutlet"), 1)
		changes = append(changes, other)
	}
	mc.apply(t, changes)
}

// Restock sets counts that are valid, at outlets that exist.
func (mc *machine) Restock(t *rapid.T) {
	var changes []onlinestock.Change
	for _, p := range drawSubset(t, productIDs, "products") {
		changes = append(changes, onlinestock.Set(p, rapid.SampledFrom(outletIDs[:len(mc.m.outlets)]).Draw(t, "outlet"), rapid.Int64Range(0, 8).Draw(t, "onHand")))
	}
	mc.apply(t, changes)
}

func (mc *machine) apply(t *rapid.T, changes []onlinestock.Change) {
	m := mc.m
	before := mc.before()
	got, err := mc.svc.Apply(mc.ctx, changes)
	want, errs := m.applyBatch(changes, mc.clock.Now())
	mc.expect(t, "Apply", err, errs...)
	if err == nil {
		mc.expectResult(t, "Apply() results", want, got)
	}
	mc.expectEvents(t, "Apply", before)
}

func (mc *machine) AdvanceClock(t *rapid.T) {
	mc.clock.Advance(time.Duration(rapid.IntRange(1, 90).Draw(t, "minutes")) * time.Minute)
}

func (mc *machine) SaveMethod(t *rapid.T) {
	m := mc.m
	meth := onlinestock.Method{
		ID:   drawID(t, methodIDs, "method"),
		Name: "Method",
		Kind: rapid.SampledFrom([]onlinestock.MethodKind{onlinestock.Shipping, onlinestock.Delivery, onlinestock.Pickup}).Draw(t, "kind"),
		Rule: rapid.SampledFrom([]onlinestock.Rule{"", onlinestock.AllowAll, onlinestock.Restrict}).Draw(t, "rule"),
	}
	if rapid.IntRange(0, 4).Draw(t, "linked") > 0 {
		meth.Outlet = rapid.SampledFrom(outletIDs).Draw(t, "outlet")
	}
	before := mc.before()
	err := mc.svc.SaveMethod(mc.ctx, meth)
	switch {
	case !validID(meth.ID), meth.Rule == onlinestock.Restrict && meth.Outlet == "":
		mc.expect(t, "SaveMethod", err, onlinestock.ErrInvalid)
	case meth.Outlet != "" && m.outlets[meth.Outlet] == nil:
		mc.expect(t, "SaveMethod", err, onlinestock.ErrNotFound)
	default:
		mc.expect(t, "SaveMethod", err)
		if meth.Rule == "" {
			meth.Rule = onlinestock.AllowAll
		}
		m.methods[meth.ID] = meth
	}
	mc.expectEvents(t, "SaveMethod", before)
}

func (mc *machine) DeleteMethod(t *rapid.T) {
	id := drawID(t, methodIDs, "method")
	before := mc.before()
	err := mc.svc.DeleteMethod(mc.ctx, id)
	_, exists := mc.m.methods[id]
	switch {
	case !validID(id):
		mc.expect(t, "DeleteMethod", err, onlinestock.ErrInvalid)
	case !exists:
		mc.expect(t, "DeleteMethod", err, onlinestock.ErrNotFound)
	default:
		mc.expect(t, "DeleteMethod", err)
		delete(mc.m.methods, id)
	}
	mc.expectEvents(t, "DeleteMethod", before)
}

func (mc *machine) Reserve(t *rapid.T) {
	o := onlinestock.Order{ID: rapid.SampledFrom(orderIDs).Draw(t, "order"), Lines: drawLines(t)}
	// Often an order that online stock can fill, so that open reservations
	// are common and later calls have something to work on.
	if lines := mc.drawFillable(t); lines != nil && rapid.Bool().Draw(t, "fillable") {
		o.Lines = lines
		if rapid.Bool().Draw(t, "newOrder") {
			o.ID = mc.newOrderID()
		}
	}
	if rapid.Bool().Draw(t, "withMethod") {
		o.Method = rapid.SampledFrom(methodIDs).Draw(t, "method")
	}
	if rapid.Bool().Draw(t, "withTTL") {
		o.TTL = time.Duration(rapid.IntRange(10, 60).Draw(t, "ttlMinutes")) * time.Minute
	}
	mc.reserve(t, o)
}

// drawFillable draws lines that online stock can fill, or nil when nothing
// is in stock.
func (mc *machine) drawFillable(t *rapid.T) []onlinestock.Line {
	var inStock []string
	for _, p := range allProductIDs {
		if mc.m.products[p] && mc.m.online(p) > 0 {
			inStock = append(inStock, p)
		}
	}
	if len(inStock) == 0 {
		return nil
	}
	var lines []onlinestock.Line
	for _, p := range drawSubset(t, inStock, "fillableProducts") {
		lines = append(lines, onlinestock.Line{Product: p, Quantity: rapid.Int64Range(1, min(mc.m.online(p), 5)).Draw(t, "fillableQuantity")})
	}
	if len(lines) == 0 {
		lines = []onlinestock.Line{{Product: inStock[0], Quantity: 1}}
	}
	return lines
}

func (mc *machine) newOrderID() string {
	mc.orders++
	return fmt.Sprintf("new-order-%d", mc.orders)
}

// reserve reserves o and checks the outcome against the model: it succeeds
// exactly when the model's quote offers the method (or, with none, when the
// cart is purchasable), and then its allocation must follow the allocation rules.
func (mc *machine) reserve(t *rapid.T, o onlinestock.Order) bool {
	before := mc.before()
	got, err := mc.svc.Reserve(mc.ctx, o)
	call := fmt.Sprintf("Reserve(%s, %v, method %q)", o.ID, o.Lines, o.Method)
	ok := mc.reserved(t, call, o, got, err)
	mc.expectEvents(t, call, before)
	return ok
}

// reserved checks the outcome of Reserve(o) and applies it to the model.
func (mc *machine) reserved(t *rapid.T, call string, o onlinestock.Order, got onlinestock.Reservation, err error) bool {
	m := mc.m
	lines := sumLines(o.Lines)
	if existing := m.reservations[o.ID]; existing != nil {
		if existing.Method != o.Method || !slices.Equal(existing.Lines, lines) {
			mc.expect(t, call, err, onlinestock.ErrConflict)
			return false
		}
		if st := m.statusAt(existing, mc.clock.Now()); st != onlinestock.Open {
			mc.expect(t, call, err, onlinestock.ErrConflict)
			if !strings.Contains(err.Error(), string(st)) {
				t.Fatalf("%s error = %v, want it to name the status %q", call, err, st)
			}
			return false
		}
		mc.expect(t, call, err)
		mc.expectResult(t, call+" of a reserved order", *existing, got)
		return false
	}
	if m.primary() == "" {
		mc.expect(t, call, err, onlinestock.ErrNotActive)
		return false
	}
	if mc.refused(t, call, lines, o.Method, err) {
		return false
	}
	mc.expect(t, call, err)
	mc.checkAllocation(t, call, lines, got.Allocations)
	allocs, sources := m.route(mc.alloc, lines, o.Method)
	want := onlinestock.Reservation{
		Order: o.ID, Method: o.Method, Lines: lines, Allocations: allocs, Sources: sources,
		Status: onlinestock.Open, Created: mc.clock.Now(),
	}
	if o.TTL > 0 {
		want.Deadline = want.Created.Add(o.TTL)
	}
	mc.expectResult(t, call+" result", want, got)
	m.moveStock(got.Allocations, +1, 0, onlinestock.MovedByReserve, o.ID)
	m.announce(onlinestock.OrderReserved, o.ID, "", allocs)
	m.reservations[o.ID] = &want
	mc.checkReservation(t, o.ID)
	return true
}

// refused checks the outcome of routing lines with method, in the model's
// present state: when the model says it must fail, it checks the error and
// returns true. An unknown or hidden method is the caller's error, whatever
// the stock; then the stock decides.
func (mc *machine) refused(t *rapid.T, call string, lines []onlinestock.Line, method string, err error) bool {
	t.Helper()
	m := mc.m
	q := m.quote(lines)
	var short *onlinestock.InsufficientStockError
	if method != "" {
		// An unknown or hidden method is the caller's error, whatever the stock.
		k := slices.IndexFunc(q.Methods, func(mq onlinestock.MethodQuote) bool { return mq.Method.ID == method })
		if k < 0 || q.Methods[k].Reason == onlinestock.ReasonHidden {
			mc.expect(t, call, err, onlinestock.ErrNotFound)
			return true
		}
	}
	if !q.Purchasable {
		want := &onlinestock.InsufficientStockError{Shortfalls: quoteShortfalls(q)}
		mc.expect(t, call, err, onlinestock.ErrInsufficientStock)
		if !errors.As(err, &short) {
			t.Fatalf("%s error = %v (%T), want an *InsufficientStockError", call, err, err)
		}
		mc.expectResult(t, call+" shortfalls", want, short)
		return true
	}
	if method != "" {
		k := slices.IndexFunc(q.Methods, func(mq onlinestock.MethodQuote) bool { return mq.Method.ID == method })
		switch {
		case k < 0 || q.Methods[k].Reason == onlinestock.ReasonHidden:
			mc.expect(t, call, err, onlinestock.ErrNotFound)
			return true
		case q.Methods[k].Reason == onlinestock.ReasonOutletShort:
			mc.expect(t, call, err, onlinestock.ErrInsufficientStock)
			if !errors.As(err, &short) {
				t.Fatalf("%s error = %v (%T), want an *InsufficientStockError", call, err, err)
			}
			want := &onlinestock.InsufficientStockError{Outlet: q.Methods[k].Method.Outlet, Shortfalls: q.Methods[k].Shortfalls}
			mc.expectResult(t, call+" shortfalls", want, short)
			return true
		case !q.Methods[k].Offered:
			t.Fatalf("model: method %q neither offered nor refused: %+v", method, q.Methods[k])
		}
	}
	return false
}

// checkReservation checks the Store kept an order's reservation as the
// model has it.
func (mc *machine) checkReservation(t *rapid.T, order string) {
	t.Helper()
	got, err := mc.svc.Reservation(mc.ctx, order)
	if err != nil {
		t.Fatalf("Reservation(%q) error = %v", order, err)
	}
	mc.expectResult(t, fmt.Sprintf("Reservation(%q)", order), *mc.m.reservations[order], got)
}

// checkAllocation checks an allocation is sound before it is applied to
// the model: sorted, from connected outlets that can give it, exactly the
// lines. Which outlets give is checked against the model's reference
// routing with the rest of the reservation.
func (mc *machine) checkAllocation(t *rapid.T, call string, lines []onlinestock.Line, allocs []onlinestock.Allocation) {
	t.Helper()
	m := mc.m
	sorted := slices.IsSortedFunc(allocs, func(a, b onlinestock.Allocation) int {
		return strings.Compare(a.Product+"\x00"+a.Outlet, b.Product+"\x00"+b.Outlet)
	})
	if !sorted {
		t.Fatalf("%s: allocations not sorted by product, then outlet: %+v", call, allocs)
	}
	sums := map[string]int64{}
	seen := map[levelKey]bool{}
	outlets := map[string]bool{}
	for _, a := range allocs {
		k := levelKey{a.Product, a.Outlet}
		_, bundle := m.bundles[a.Product]
		switch {
		case a.Quantity <= 0:
			t.Fatalf("%s: allocation %+v is not positive", call, a)
		case seen[k]:
			t.Fatalf("%s: two allocations of %q at %q", call, a.Product, a.Outlet)
		case !m.connected(a.Outlet):
			t.Fatalf("%s: allocation %+v from an outlet that is not connected", call, a)
		case bundle:
			mc.checkBundleAllocation(t, call, a)
		case a.Backordered > 0:
			mc.checkBackordered(t, call, a)
		case a.Quantity > m.contribution(a.Product, a.Outlet):
			t.Fatalf("%s: allocation %+v exceeds what the outlet offers, %d", call, a, m.contribution(a.Product, a.Outlet))
		}
		seen[k] = true
		sums[a.Product] += a.Quantity
		outlets[a.Outlet] = true
	}
	if want := len(lines); len(sums) != want {
		t.Fatalf("%s: allocations cover %d products, want %d: %+v", call, len(sums), want, allocs)
	}
	for _, l := range lines {
		if sums[l.Product] != l.Quantity {
			t.Fatalf("%s: %d units of %q allocated, %d ordered: %+v", call, sums[l.Product], l.Product, l.Quantity, allocs)
		}
	}

}

func (mc *machine) Release(t *rapid.T) {
	mc.close(t, drawID(t, orderIDs, "order"), onlinestock.Released)
}

func (mc *machine) Fulfill(t *rapid.T) {
	mc.close(t, drawID(t, orderIDs, "order"), onlinestock.Fulfilled)
}

func (mc *machine) close(t *rapid.T, order string, to onlinestock.ReservationStatus) {
	m := mc.m
	before := mc.before()
	var got onlinestock.Reservation
	var err error
	if to == onlinestock.Released {
		got, err = mc.svc.Release(mc.ctx, order)
	} else {
		got, err = mc.svc.Fulfill(mc.ctx, order)
	}
	call := fmt.Sprintf("%s(%q)", map[onlinestock.ReservationStatus]string{onlinestock.Released: "Release", onlinestock.Fulfilled: "Fulfill"}[to], order)
	r := m.reservations[order]
	switch {
	case !validID(order):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case r == nil:
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	case r.Status == to, to == onlinestock.Released && r.Status == onlinestock.Expired:
		mc.expect(t, call, err)
		mc.expectResult(t, call+" result", *r, got)
	case r.Status != onlinestock.Open:
		mc.expect(t, call, err, onlinestock.ErrConflict)
	case to == onlinestock.Fulfilled && m.statusAt(r, mc.clock.Now()) == onlinestock.Expired:
		mc.expect(t, call, err, onlinestock.ErrConflict)
	default:
		mc.expect(t, call, err)
		if to == onlinestock.Released {
			m.announce(onlinestock.OrderReleased, order, "", m.held(r))
			m.moveStock(m.held(r), -1, 0, onlinestock.MovedByRelease, order)
		} else {
			m.announce(onlinestock.OrderFulfilled, order, "", m.held(r))
			m.moveStock(m.held(r), -1, -1, onlinestock.MovedByFulfil, order)
		}
		m.settle(r, to)
		mc.expectResult(t, call+" result", *r, got)
		mc.checkReservation(t, order)
	}
	mc.expectEvents(t, call, before)
}

func (mc *machine) ExpireReservations(t *rapid.T) {
	m := mc.m
	now := mc.clock.Now()
	before := mc.before()
	got, err := mc.svc.ExpireReservations(mc.ctx, now)
	mc.expect(t, "ExpireReservations", err)
	var want []string
	for _, id := range sortedKeys(m.reservations) {
		r := m.reservations[id]
		if r.Status == onlinestock.Open && !r.Deadline.IsZero() && !r.Deadline.After(now) {
			m.announce(onlinestock.OrderExpired, id, "", m.held(r))
			m.moveStock(m.held(r), -1, 0, onlinestock.MovedByExpiry, id)
			m.settle(r, onlinestock.Expired)
			want = append(want, id)
		}
	}
	mc.expectResult(t, "ExpireReservations() result", want, got)
	for _, id := range want {
		mc.checkReservation(t, id)
	}
	mc.expectEvents(t, "ExpireReservations", before)
}

// Quote checks a random cart against the reference evaluator, then the
// issue rule: a method is offered exactly when Reserve with it succeeds.
// Each probe reservation is released at once.
func (mc *machine) Quote(t *rapid.T) {
	m := mc.m
	lines := drawLines(t)
	before := mc.before()
	got, err := mc.svc.Quote(mc.ctx, onlinestock.Cart{Lines: lines})
	if m.primary() == "" {
		mc.expect(t, "Quote", err, onlinestock.ErrNotActive)
		mc.expectEvents(t, "Quote", before)
		return
	}
	mc.expect(t, "Quote", err)
	want := m.quote(lines)
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("Quote(%v) mismatch (-want +got):\n%s", lines, diff)
	}
	mc.expectEvents(t, "Quote", before)

	probe := func(method string, offered bool) {
		mc.probes++
		id := fmt.Sprintf("probe-%d", mc.probes)
		ok := mc.reserve(t, onlinestock.Order{ID: id, Lines: lines, Method: method})
		if ok != offered {
			t.Fatalf("Quote(%v) offers method %q: %v, but Reserve with it succeeded: %v", lines, method, offered, ok)
		}
		if ok {
			mc.close(t, id, onlinestock.Released)
		}
	}
	probe("", got.Purchasable)
	for _, mq := range got.Methods {
		probe(mq.Method.ID, mq.Offered)
	}
}

var partIDs = []string{"part-1", "part-2", "part-3"}

func (mc *machine) FulfillPart(t *rapid.T) { mc.part(t, onlinestock.Fulfilled) }

func (mc *machine) ReleasePart(t *rapid.T) { mc.part(t, onlinestock.Released) }

// part fulfils or releases some units of an order: usually of products the
// order holds, now and then from one outlet, under a part ID drawn from a
// small pool so that retries and reused IDs come up.
func (mc *machine) part(t *rapid.T, kind onlinestock.ReservationStatus) {
	m := mc.m
	order := drawID(t, orderIDs, "order")
	openOrders := func() []string {
		var open []string
		for _, id := range sortedKeys(m.reservations) {
			if m.reservations[id].Status == onlinestock.Open {
				open = append(open, id)
			}
		}
		return open
	}
	open := openOrders()
	if lines := mc.drawFillable(t); len(open) == 0 && lines != nil && rapid.IntRange(0, 3).Draw(t, "reserveFirst") > 0 {
		mc.reserve(t, onlinestock.Order{ID: mc.newOrderID(), Lines: lines})
		open = openOrders()
	}
	if len(open) > 0 && rapid.IntRange(0, 3).Draw(t, "openOrder") > 0 {
		order = rapid.SampledFrom(open).Draw(t, "order")
	}
	p := onlinestock.Part{ID: drawID(t, partIDs, "part")}
	r := m.reservations[order]
	if r != nil && len(r.Allocations) > 0 && rapid.IntRange(0, 3).Draw(t, "fromOrder") > 0 {
		for range rapid.IntRange(1, 2).Draw(t, "partLines") {
			a := rapid.SampledFrom(r.Allocations).Draw(t, "partAllocation")
			held := a.Quantity - a.Fulfilled - a.Released
			p.Lines = append(p.Lines, onlinestock.Line{Product: a.Product, Quantity: rapid.Int64Range(1, max(1, held)).Draw(t, "partQuantity")})
			if rapid.IntRange(0, 3).Draw(t, "atOutlet") == 0 {
				p.Outlet = a.Outlet
			}
		}
	} else {
		p.Lines = drawLines(t)
	}
	if rapid.IntRange(0, 9).Draw(t, "otherOutlet") == 0 {
		p.Outlet = drawID(t, outletIDs, "partOutlet")
	}
	before := mc.before()
	var got onlinestock.Reservation
	var err error
	name := "FulfillPart"
	if kind == onlinestock.Fulfilled {
		got, err = mc.svc.FulfillPart(mc.ctx, order, p)
	} else {
		name = "ReleasePart"
		got, err = mc.svc.ReleasePart(mc.ctx, order, p)
	}
	call := fmt.Sprintf("%s(%q, %+v)", name, order, p)
	lines := sumLines(p.Lines)
	switch {
	case !validID(order), !validID(p.ID), p.Outlet != "" && !validID(p.Outlet):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
	case r == nil:
		mc.expect(t, call, err, onlinestock.ErrNotFound)
	default:
		if want, errs := m.part(r, p.ID, p.Outlet, lines, kind, mc.clock.Now()); errs != nil {
			mc.expect(t, call, err, errs...)
		} else {
			mc.expect(t, call, err)
			mc.expectResult(t, call+" result", want, got)
			mc.checkReservation(t, order)
		}
	}
	mc.expectEvents(t, call, before)
}

// openOrders lists the orders the model holds open, sorted.
func (mc *machine) openOrders() []string {
	var open []string
	for _, id := range sortedKeys(mc.m.reservations) {
		if mc.m.reservations[id].Status == onlinestock.Open {
			open = append(open, id)
		}
	}
	return open
}

// Amend changes the lines of an order, usually an open one: a little more
// or less of what it has, a line added or dropped, or other lines
// altogether.
func (mc *machine) Amend(t *rapid.T) {
	m := mc.m
	order := drawID(t, orderIDs, "order")
	if open := mc.openOrders(); len(open) > 0 && rapid.IntRange(0, 3).Draw(t, "openOrder") > 0 {
		order = rapid.SampledFrom(open).Draw(t, "order")
	}
	r := m.reservations[order]
	var lines []onlinestock.Line
	switch rapid.IntRange(0, 3).Draw(t, "amendment") {
	case 0:
		lines = drawLines(t)
	case 1:
		lines = mc.drawFillable(t)
	}
	if lines == nil && r != nil {
		for _, l := range r.Lines {
			switch rapid.IntRange(0, 4).Draw(t, "lineChange") {
			case 0: // dropped
			case 1:
				l.Quantity += rapid.Int64Range(1, 3).Draw(t, "more")
				lines = append(lines, l)
			case 2:
				l.Quantity = max(1, l.Quantity-rapid.Int64Range(1, 3).Draw(t, "less"))
				lines = append(lines, l)
			default:
				lines = append(lines, l)
			}
		}
		if rapid.Bool().Draw(t, "addLine") {
			lines = append(lines, onlinestock.Line{Product: drawLineProduct(t), Quantity: rapid.Int64Range(1, 3).Draw(t, "quantity")})
		}
	}
	if lines == nil || rapid.IntRange(0, 29).Draw(t, "badLine") == 0 {
		lines = append(lines, onlinestock.Line{Product: "sku-1", Quantity: 0})
	}
	before := mc.before()
	got, err := mc.svc.Amend(mc.ctx, order, lines)
	call := fmt.Sprintf("Amend(%q, %v)", order, lines)
	mc.amended(t, call, order, lines, got, err)
	mc.expectEvents(t, call, before)
}

// amended checks the outcome of Amend against the model, and applies it.
func (mc *machine) amended(t *rapid.T, call, order string, lines []onlinestock.Line, got onlinestock.Reservation, err error) {
	m := mc.m
	r := m.reservations[order]
	switch {
	case !validID(order), slices.ContainsFunc(lines, func(l onlinestock.Line) bool { return l.Quantity < 1 }):
		mc.expect(t, call, err, onlinestock.ErrInvalid)
		return
	case r == nil:
		mc.expect(t, call, err, onlinestock.ErrNotFound)
		return
	case m.statusAt(r, mc.clock.Now()) != onlinestock.Open:
		mc.expect(t, call, err, onlinestock.ErrConflict)
		return
	}
	summed := sumLines(lines)
	if slices.Equal(summed, r.Lines) {
		mc.expect(t, call, err)
		mc.expectResult(t, call+" result", *r, got)
		return
	}
	fulfilled := map[string]int64{}
	for _, a := range r.Allocations {
		fulfilled[a.Product] += a.Fulfilled
	}
	var target []onlinestock.Line
	for _, l := range summed {
		if l.Quantity < fulfilled[l.Product] {
			mc.expect(t, call, err, onlinestock.ErrInvalid)
			return
		}
		if n := l.Quantity - fulfilled[l.Product]; n > 0 {
			target = append(target, onlinestock.Line{Product: l.Product, Quantity: n})
		}
	}
	for p, n := range fulfilled {
		if n > 0 && !slices.ContainsFunc(summed, func(l onlinestock.Line) bool { return l.Product == p }) {
			mc.expect(t, call, err, onlinestock.ErrInvalid)
			return
		}
	}
	if m.primary() == "" {
		mc.expect(t, call, err, onlinestock.ErrNotActive)
		return
	}
	// Route as if the order held nothing.
	held := m.held(r)
	m.credit(held, -1)
	var allocs []onlinestock.Allocation
	var sources []onlinestock.Source
	refused := false
	if len(target) > 0 {
		if refused = mc.refused(t, call, target, r.Method, err); !refused {
			allocs, sources = m.route(mc.alloc, target, r.Method)
		}
	}
	m.credit(held, +1)
	if refused {
		return
	}
	mc.expect(t, call, err)
	next := map[levelKey]int64{}
	for _, a := range allocs {
		next[levelKey{a.Product, a.Outlet}] += a.Quantity
	}
	was := map[levelKey]int64{}
	for _, a := range held {
		was[levelKey{a.Product, a.Outlet}] += a.Quantity
	}
	byKey := map[levelKey]onlinestock.Allocation{}
	for _, a := range r.Allocations {
		byKey[levelKey{a.Product, a.Outlet}] = a
	}
	var moves []onlinestock.Allocation
	for k := range mergeKeys(next, was) {
		d := next[k] - was[k]
		if d == 0 {
			continue
		}
		moves = append(moves, onlinestock.Allocation{Product: k.product, Outlet: k.outlet, Quantity: d, Components: m.bundles[k.product]})
		a := byKey[k]
		a.Product, a.Outlet, a.Components = k.product, k.outlet, m.bundles[k.product]
		if d > 0 {
			a.Quantity += d
		} else {
			a.Released -= d
		}
		byKey[k] = a
	}
	// Moved in the order of the allocations, as the library does.
	slices.SortFunc(moves, func(a, b onlinestock.Allocation) int {
		return strings.Compare(a.Product+"\x00"+a.Outlet, b.Product+"\x00"+b.Outlet)
	})
	m.moveStock(moves, +1, 0, "", order)
	want := *r
	want.Lines, want.Sources, want.Allocations = summed, sources, nil
	for _, a := range byKey {
		a.Backordered = 0 // as the new allocation says
		if i := slices.IndexFunc(allocs, func(n onlinestock.Allocation) bool { return n.Product == a.Product && n.Outlet == a.Outlet }); i >= 0 {
			a.Backordered = allocs[i].Backordered
		}
		want.Allocations = append(want.Allocations, a)
	}
	slices.SortFunc(want.Allocations, func(a, b onlinestock.Allocation) int {
		return strings.Compare(a.Product+"\x00"+a.Outlet, b.Product+"\x00"+b.Outlet)
	})
	if len(allocs) == 0 {
		want.Status = onlinestock.Fulfilled
	}
	m.announce(onlinestock.OrderAmended, order, "", allocs)
	mc.expectResult(t, call+" result", want, got)
	*r = want
	mc.checkReservation(t, order)
}

func mergeKeys(a, b map[levelKey]int64) map[levelKey]bool {
	out := map[levelKey]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// ListReservations lists reservations with a random filter and compares
// the page with the model's.
func (mc *machine) ListReservations(t *rapid.T) {
	m := mc.m
	f := onlinestock.ReservationFilter{
		Status: rapid.SampledFrom([]onlinestock.ReservationStatus{"", "", onlinestock.Open, onlinestock.Released, onlinestock.Fulfilled, onlinestock.Expired}).Draw(t, "status"),
		Limit:  rapid.IntRange(0, 3).Draw(t, "limit"),
	}
	if rapid.Bool().Draw(t, "byProduct") {
		f.Product = rapid.SampledFrom(allProductIDs).Draw(t, "product")
	}
	if rapid.Bool().Draw(t, "byOutlet") {
		f.Outlet = rapid.SampledFrom(outletIDs).Draw(t, "outlet")
	}
	if rapid.Bool().Draw(t, "byDue") {
		f.DueBefore = mc.clock.Now().Add(time.Duration(rapid.IntRange(-30, 90).Draw(t, "dueMinutes")) * time.Minute)
	}
	if ids := sortedKeys(m.reservations); len(ids) > 0 && rapid.Bool().Draw(t, "paged") {
		f.After = rapid.SampledFrom(ids).Draw(t, "after")
	}
	bad := false
	switch rapid.IntRange(0, 19).Draw(t, "badFilter") {
	case 0:
		f.Status, bad = "shipped", true
	case 1:
		f.Limit, bad = rapid.SampledFrom([]int{-1, onlinestock.MaxReservationsPage + 1}).Draw(t, "badLimit"), true
	case 2:
		f.Outlet, bad = rapid.SampledFrom(badIDs[1:]).Draw(t, "badOutlet"), true
	}
	got, err := mc.svc.Reservations(mc.ctx, f)
	call := fmt.Sprintf("Reservations(%+v)", f)
	if bad {
		mc.expect(t, call, err, onlinestock.ErrInvalid)
		return
	}
	mc.expect(t, call, err)
	status, limit := f.Status, f.Limit
	if status == "" {
		status = onlinestock.Open
	}
	if limit == 0 {
		limit = 100
	}
	want := []onlinestock.Reservation{}
	for _, id := range sortedKeys(m.reservations) {
		r := m.reservations[id]
		switch {
		case id <= f.After, r.Status != status, len(want) == limit:
			continue
		case !f.DueBefore.IsZero() && (r.Deadline.IsZero() || !r.Deadline.Before(f.DueBefore)):
			continue
		case !slices.ContainsFunc(r.Allocations, func(a onlinestock.Allocation) bool {
			return (f.Product == "" || a.Product == f.Product) && (f.Outlet == "" || a.Outlet == f.Outlet)
		}) && (f.Product != "" || f.Outlet != ""):
			continue
		}
		want = append(want, *r)
	}
	mc.expectResult(t, call, want, got)
}

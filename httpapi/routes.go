package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/onlinestock/onlinestock"
)

// routes is every operation of the API, with the roles but admin that may
// call it. To add one: a line here, a handler below, and its entry in
// openapi.json (a test checks that the two agree, roles included).
var routes = []route{
	// Storefront
	{"GET", "/v1/availability", "getAvailability", shopAndPOS, getAvailability},
	{"POST", "/v1/quote", "quote", shop, quote},

	// Orders
	{"POST", "/v1/reservations", "reserve", shop, reserve},
	{"GET", "/v1/reservations/{order}", "getReservation", shopAndPOS, getReservation},
	{"POST", "/v1/reservations/{order}/release", "release", shopAndPOS, release},
	{"POST", "/v1/reservations/{order}/fulfill", "fulfill", pos, fulfill},
	{"POST", "/v1/reservations/{order}/fulfill-part", "fulfillPart", pos, fulfillPart},
	{"POST", "/v1/reservations/{order}/release-part", "releasePart", pos, releasePart},
	{"POST", "/v1/reservations/{order}/amend", "amend", shop, amend},
	{"GET", "/v1/reservations", "listReservations", pos, listReservations},
	{"POST", "/v1/reservations/expire", "expireReservations", pos, expireReservations},

	// POS sync
	{"POST", "/v1/changes", "applyChanges", pos, applyChanges},
	{"GET", "/v1/products/{product}/levels", "getLevels", pos, getLevels},
	{"POST", "/v1/products/enable", "enableOnline", pos, enableOnline},
	{"POST", "/v1/products/disable", "disableOnline", pos, disableOnline},
	{"GET", "/v1/movements", "listMovements", pos, listMovements},

	// Events
	{"GET", "/v1/events", "getEvents", pos, getEvents},

	// Setup
	{"GET", "/v1/setup", "getSetup", pos, getSetup},
	{"PUT", "/v1/outlets/{outlet}", "saveOutlet", pos, saveOutlet},
	{"PUT", "/v1/registers/{register}", "saveRegister", pos, saveRegister},
	{"POST", "/v1/activate", "activate", pos, activate},
	{"POST", "/v1/outlets/{outlet}/connect", "connect", pos, connect},
	{"POST", "/v1/outlets/{outlet}/disconnect", "disconnect", pos, disconnect},
	{"PUT", "/v1/outlets/{outlet}/buffer", "setBuffer", pos, setBuffer},
	{"PUT", "/v1/outlets/{outlet}/rank", "setRank", pos, setRank},
	{"PUT", "/v1/selection", "saveSelection", pos, saveSelection},
	{"POST", "/v1/selection/preview", "previewSelection", pos, previewSelection},
	{"GET", "/v1/methods", "getMethods", shopAndPOS, getMethods},
	{"PUT", "/v1/methods/{method}", "saveMethod", pos, saveMethod},
	{"DELETE", "/v1/methods/{method}", "deleteMethod", pos, deleteMethod},

	// Catalog
	{"GET", "/v1/bundles", "listBundles", shopAndPOS, listBundles},
	{"PUT", "/v1/bundles/{bundle}", "saveBundle", pos, saveBundle},
	{"DELETE", "/v1/bundles/{bundle}", "deleteBundle", pos, deleteBundle},
	{"GET", "/v1/backorders", "listBackorders", shopAndPOS, listBackorders},
	{"PUT", "/v1/products/{product}/backorder", "setBackorder", pos, setBackorder},
	{"DELETE", "/v1/products/{product}/backorder", "deleteBackorder", pos, deleteBackorder},
}

// The roles of the operations; admin may call every one.
var (
	shop       = []Role{RoleStorefront}
	pos        = []Role{RolePOS}
	shopAndPOS = []Role{RoleStorefront, RolePOS}
)

// ProductAvailability is a product's availability, as getAvailability
// answers it.
type ProductAvailability struct {
	Product string `json:"product"`
	onlinestock.Availability
}

// AvailabilityPage is the answer of getAvailability, in the order asked.
type AvailabilityPage struct {
	Products []ProductAvailability `json:"products"`
}

func getAvailability(c *call) error {
	ids := c.q["product"]
	if len(ids) > c.h.cfg.MaxPage {
		return overLimit("product", int64(c.h.cfg.MaxPage), "product: %d products, more than the %d of one page", len(ids), c.h.cfg.MaxPage)
	}
	avail, err := c.svc.Availability(c.ctx, ids...)
	if err != nil {
		return err
	}
	page := AvailabilityPage{Products: make([]ProductAvailability, len(ids))}
	for i, id := range ids {
		page.Products[i] = ProductAvailability{Product: id, Availability: avail[i]}
	}
	return c.ok(page)
}

func quote(c *call) error {
	var cart onlinestock.Cart
	if err := c.decode(&cart); err != nil {
		return err
	}
	if err := c.checkLines("lines", cart.Lines); err != nil {
		return err
	}
	q, err := c.svc.Quote(c.ctx, cart)
	if err != nil {
		return err
	}
	return c.ok(q)
}

// Order is the body of reserve: an [onlinestock.Order] whose TTL is in
// whole seconds.
type Order struct {
	ID     string             `json:"id"`
	Lines  []onlinestock.Line `json:"lines"`
	Method string             `json:"method,omitempty"`
	// TTLSeconds, when positive, makes the reservation expire that many
	// seconds after it is made.
	TTLSeconds int64 `json:"ttl_seconds,omitempty"`
}

// MaxTTLSeconds is the longest TTL of an [Order], about 292 years: the
// most a time.Duration holds.
const MaxTTLSeconds = int64(math.MaxInt64 / int64(time.Second))

func reserve(c *call) error {
	var body Order
	if err := c.decode(&body); err != nil {
		return err
	}
	if body.TTLSeconds < 0 || body.TTLSeconds > MaxTTLSeconds {
		return invalid("ttl_seconds", "ttl_seconds: %d is not from 0 to %d", body.TTLSeconds, MaxTTLSeconds)
	}
	if err := c.checkLines("lines", body.Lines); err != nil {
		return err
	}
	o := onlinestock.Order{ID: body.ID, Lines: body.Lines, Method: body.Method, TTL: time.Duration(body.TTLSeconds) * time.Second}
	r, err := c.svc.Reserve(c.ctx, o)
	if err != nil {
		return err
	}
	return c.ok(r)
}

func getReservation(c *call) error {
	r, err := c.svc.Reservation(c.ctx, c.r.PathValue("order"))
	if err != nil {
		return err
	}
	return c.ok(r)
}

func release(c *call) error {
	r, err := c.svc.Release(c.ctx, c.r.PathValue("order"))
	if err != nil {
		return err
	}
	return c.ok(r)
}

func fulfill(c *call) error {
	r, err := c.svc.Fulfill(c.ctx, c.r.PathValue("order"))
	if err != nil {
		return err
	}
	return c.ok(r)
}

func fulfillPart(c *call) error { return part(c, c.svc.FulfillPart) }
func releasePart(c *call) error { return part(c, c.svc.ReleasePart) }

// part fulfils or releases the units of the body, an [onlinestock.Part],
// under its ID.
func part(c *call, do func(context.Context, string, onlinestock.Part) (onlinestock.Reservation, error)) error {
	var p onlinestock.Part
	if err := c.decode(&p); err != nil {
		return err
	}
	if len(p.Lines) > c.h.cfg.MaxLines {
		return overLimit("lines", int64(c.h.cfg.MaxLines), "lines: %d lines, more than the %d of one request", len(p.Lines), c.h.cfg.MaxLines)
	}
	r, err := do(c.ctx, c.r.PathValue("order"), p)
	if err != nil {
		return err
	}
	return c.ok(r)
}

// Amendment is the body of amend: the order's lines as they now stand,
// units already fulfilled included.
type Amendment struct {
	Lines []onlinestock.Line `json:"lines"`
}

func amend(c *call) error {
	var body Amendment
	if err := c.decode(&body); err != nil {
		return err
	}
	if err := c.checkLines("lines", body.Lines); err != nil {
		return err
	}
	r, err := c.svc.Amend(c.ctx, c.r.PathValue("order"), body.Lines)
	if err != nil {
		return err
	}
	return c.ok(r)
}

// Reservations is the answer of listReservations: a page of reservations,
// sorted by order ID. Ask for the next page with after set to the last
// one's order; a page shorter than the limit is the last.
type Reservations struct {
	Reservations []onlinestock.Reservation `json:"reservations"`
}

func listReservations(c *call) error {
	q := url.Values(c.q)
	f := onlinestock.ReservationFilter{
		Status:  onlinestock.ReservationStatus(q.Get("status")),
		Product: q.Get("product"),
		Outlet:  q.Get("outlet"),
		After:   q.Get("after"),
	}
	switch f.Status {
	case "", onlinestock.Open, onlinestock.Released, onlinestock.Fulfilled, onlinestock.Expired:
	default:
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: "status",
			Detail: fmt.Sprintf("status: %q is not open, released, fulfilled or expired", f.Status)}
	}
	var err error
	if f.DueBefore, err = c.queryTime(q, "due_before"); err != nil {
		return err
	}
	if f.Limit, err = c.pageLimit(q, defaultPage, onlinestock.MaxReservationsPage); err != nil {
		return err
	}
	rs, err := c.svc.Reservations(c.ctx, f)
	if err != nil {
		return err
	}
	return c.ok(Reservations{Reservations: rs})
}

// Orders lists orders, as expireReservations answers them.
type Orders struct {
	Orders []string `json:"orders"`
}

func expireReservations(c *call) error {
	orders, err := c.svc.ExpireReservations(c.ctx, c.h.cfg.Clock())
	if err != nil {
		return err
	}
	if orders == nil {
		orders = []string{}
	}
	return c.ok(Orders{Orders: orders})
}

// Changes is the body of applyChanges: a POS batch, applied all or
// nothing.
type Changes struct {
	Changes []onlinestock.Change `json:"changes"`
}

// ChangeResults is the answer of applyChanges, one result per change.
type ChangeResults struct {
	Results []onlinestock.ChangeResult `json:"results"`
}

func applyChanges(c *call) error {
	var body Changes
	if err := c.decode(&body); err != nil {
		return err
	}
	if len(body.Changes) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: "changes", Detail: "changes: empty"}
	}
	results, err := c.svc.Apply(c.ctx, body.Changes)
	if err != nil {
		return err
	}
	return c.ok(ChangeResults{Results: results})
}

// Levels is the answer of getLevels: a product's level at each outlet that
// reported it, by outlet.
type Levels struct {
	Levels []onlinestock.Level `json:"levels"`
}

func getLevels(c *call) error {
	levels, err := c.svc.Levels(c.ctx, c.r.PathValue("product"))
	if err != nil {
		return err
	}
	return c.ok(Levels{Levels: levels})
}

// Movements is the answer of listMovements: a page of the stock ledger,
// in sequence order. Ask for the next page with after set to the last
// one's seq; an empty page means there are no more.
type Movements struct {
	Movements []onlinestock.Movement `json:"movements"`
}

func listMovements(c *call) error {
	q := url.Values(c.q)
	f := onlinestock.MovementFilter{Product: q.Get("product"), Outlet: q.Get("outlet"), Ref: q.Get("ref")}
	var err error
	if f.After, err = c.queryInt(q, "after", 0); err != nil {
		return err
	}
	if f.Limit, err = c.pageLimit(q, defaultPage, onlinestock.MaxMovementPage); err != nil {
		return err
	}
	ms, err := c.svc.Movements(c.ctx, f)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []onlinestock.Movement{}
	}
	return c.ok(Movements{Movements: ms})
}

// Products names products, in the body of enableOnline and disableOnline.
type Products struct {
	Products []string `json:"products"`
}

func enableOnline(c *call) error  { return setOnline(c, c.svc.EnableOnline) }
func disableOnline(c *call) error { return setOnline(c, c.svc.DisableOnline) }

func setOnline(c *call, set func(ctx context.Context, products ...string) error) error {
	var body Products
	if err := c.decode(&body); err != nil {
		return err
	}
	if err := set(c.ctx, body.Products...); err != nil {
		return err
	}
	return c.done()
}

// MaxEventsPage is the most events one page of getEvents holds.
const MaxEventsPage = 1000

// defaultPage is the size of a listing's page when no limit is asked.
const defaultPage = 100

// Events is the answer of getEvents: the events after the sequence number
// asked, in order. Ask again with after set to the last one's seq.
type Events struct {
	Events []onlinestock.Event `json:"events"`
}

func getEvents(c *call) error {
	q := url.Values(c.q)
	after, err := c.queryInt(q, "after", 0)
	if err != nil {
		return err
	}
	limit, err := c.pageLimit(q, defaultPage, MaxEventsPage)
	if err != nil {
		return err
	}
	events, err := c.svc.EventsSince(c.ctx, after, limit)
	if err != nil {
		return err
	}
	if events == nil {
		events = []onlinestock.Event{}
	}
	return c.ok(Events{Events: events})
}

func getSetup(c *call) error {
	setup, err := c.svc.Setup(c.ctx)
	if err != nil {
		return err
	}
	return c.ok(setup)
}

// Name is the body of saveOutlet.
type Name struct {
	Name string `json:"name"`
}

func saveOutlet(c *call) error {
	var body Name
	if err := c.decode(&body); err != nil {
		return err
	}
	if err := c.svc.SaveOutlet(c.ctx, c.r.PathValue("outlet"), body.Name); err != nil {
		return err
	}
	return c.done()
}

// RegisterBody is the body of saveRegister.
type RegisterBody struct {
	Outlet string `json:"outlet"`
	Name   string `json:"name"`
}

func saveRegister(c *call) error {
	var body RegisterBody
	if err := c.decode(&body); err != nil {
		return err
	}
	if err := c.svc.SaveRegister(c.ctx, c.r.PathValue("register"), body.Outlet, body.Name); err != nil {
		return err
	}
	return c.done()
}

// Activation is the body of activate: the order register to choose.
type Activation struct {
	Register string `json:"register"`
}

func activate(c *call) error {
	var body Activation
	if err := c.decode(&body); err != nil {
		return err
	}
	res, err := c.svc.Activate(c.ctx, body.Register)
	if err != nil {
		return err
	}
	return c.ok(res)
}

func connect(c *call) error {
	res, err := c.svc.Connect(c.ctx, c.r.PathValue("outlet"))
	if err != nil {
		return err
	}
	return c.ok(res)
}

func disconnect(c *call) error {
	res, err := c.svc.Disconnect(c.ctx, c.r.PathValue("outlet"))
	if err != nil {
		return err
	}
	return c.ok(res)
}

// Buffer is the body of setBuffer.
type Buffer struct {
	Units int64 `json:"units"`
}

func setBuffer(c *call) error {
	var body Buffer
	if err := c.decode(&body); err != nil {
		return err
	}
	res, err := c.svc.SetBuffer(c.ctx, c.r.PathValue("outlet"), body.Units)
	if err != nil {
		return err
	}
	return c.ok(res)
}

// Rank is the body of setRank.
type Rank struct {
	Rank int `json:"rank"`
}

func setRank(c *call) error {
	var body Rank
	if err := c.decode(&body); err != nil {
		return err
	}
	if err := c.svc.SetRank(c.ctx, c.r.PathValue("outlet"), body.Rank); err != nil {
		return err
	}
	return c.done()
}

// Selection is the body of saveSelection and previewSelection: the
// outlets to connect, every other one disconnected.
type Selection struct {
	Outlets []string `json:"outlets"`
}

func saveSelection(c *call) error {
	return selection(c, c.svc.SaveSelection)
}

func previewSelection(c *call) error {
	return selection(c, c.svc.PreviewSelection)
}

func selection(c *call, do func(context.Context, []string) (onlinestock.SelectionResult, error)) error {
	var body Selection
	if err := c.decode(&body); err != nil {
		return err
	}
	res, err := do(c.ctx, body.Outlets)
	if err != nil {
		return err
	}
	return c.ok(res)
}

// Methods is the answer of getMethods.
type Methods struct {
	Methods []onlinestock.Method `json:"methods"`
}

func getMethods(c *call) error {
	methods, err := c.svc.Methods(c.ctx)
	if err != nil {
		return err
	}
	return c.ok(Methods{Methods: methods})
}

func saveMethod(c *call) error {
	var m onlinestock.Method
	if err := c.decode(&m); err != nil {
		return err
	}
	if err := samePathID(c, "id", &m.ID, "method"); err != nil {
		return err
	}
	if err := c.svc.SaveMethod(c.ctx, m); err != nil {
		return err
	}
	return c.done()
}

func deleteMethod(c *call) error {
	if err := c.svc.DeleteMethod(c.ctx, c.r.PathValue("method")); err != nil {
		return err
	}
	return c.done()
}

// Bundles is the answer of listBundles: every bundle, sorted by ID.
type Bundles struct {
	Bundles []onlinestock.Bundle `json:"bundles"`
}

func listBundles(c *call) error {
	bundles, err := c.svc.Bundles(c.ctx)
	if err != nil {
		return err
	}
	if bundles == nil {
		bundles = []onlinestock.Bundle{}
	}
	return c.ok(Bundles{Bundles: bundles})
}

func saveBundle(c *call) error {
	var b onlinestock.Bundle
	if err := c.decode(&b); err != nil {
		return err
	}
	if err := samePathID(c, "id", &b.ID, "bundle"); err != nil {
		return err
	}
	if err := c.svc.SaveBundle(c.ctx, b); err != nil {
		return err
	}
	return c.done()
}

func deleteBundle(c *call) error {
	if err := c.svc.DeleteBundle(c.ctx, c.r.PathValue("bundle")); err != nil {
		return err
	}
	return c.done()
}

// Backorders is the answer of listBackorders: every backorder policy,
// sorted by product.
type Backorders struct {
	Backorders []onlinestock.Backorder `json:"backorders"`
}

func listBackorders(c *call) error {
	policies, err := c.svc.Backorders(c.ctx)
	if err != nil {
		return err
	}
	if policies == nil {
		policies = []onlinestock.Backorder{}
	}
	return c.ok(Backorders{Backorders: policies})
}

func setBackorder(c *call) error {
	var b onlinestock.Backorder
	if err := c.decode(&b); err != nil {
		return err
	}
	if err := samePathID(c, "product", &b.Product, "product"); err != nil {
		return err
	}
	if err := c.svc.SetBackorder(c.ctx, b); err != nil {
		return err
	}
	return c.done()
}

func deleteBackorder(c *call) error {
	if err := c.svc.DeleteBackorder(c.ctx, c.r.PathValue("product")); err != nil {
		return err
	}
	return c.done()
}

// samePathID sets *id, the body's field named field, to the path's
// wildcard: a body may leave it out, but may not name another.
func samePathID(c *call, field string, id *string, wildcard string) error {
	path := c.r.PathValue(wildcard)
	if *id != "" && *id != path {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field,
			Detail: fmt.Sprintf("%s: %q in the body, %q in the path", field, *id, path)}
	}
	*id = path
	return nil
}

// checkLines bounds the lines of a cart, an order or an amendment, and
// their work: the lines times the shop's outlets.
func (c *call) checkLines(field string, lines []onlinestock.Line) error {
	if len(lines) > c.h.cfg.MaxLines {
		return overLimit(field, int64(c.h.cfg.MaxLines), "%s: %d lines, more than the %d of one request", field, len(lines), c.h.cfg.MaxLines)
	}
	setup, err := c.svc.Setup(c.ctx)
	if err != nil {
		return err
	}
	if n := len(lines) * len(setup.Outlets); n > c.h.cfg.MaxLineOutlets {
		return overLimit(field, int64(c.h.cfg.MaxLineOutlets),
			"%s: %d lines at %d outlets, more than the %d lines times outlets of one request", field, len(lines), len(setup.Outlets), c.h.cfg.MaxLineOutlets)
	}
	return nil
}

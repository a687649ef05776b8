// Package onlinestock lets a point-of-sale system sell its outlets' stock
// online. A retailer has several outlets; the online store sells the stock of
// the outlets connected to it, combined: the online stock. The package keeps
// that view consistent with the POS, decides which shipping, delivery and
// pickup methods a checkout may offer, reserves stock for online orders
// without ever overselling, and announces every change.
//
// Everything goes through a [Service] over a [Store]: package memstore keeps
// the state in memory, package pgstore in PostgreSQL. Each Service call is
// one Store transaction, and the events it causes are written in that same
// transaction.
//
// # Outlets and the order register
//
// Outlets and registers mirror the POS ([Service.SaveOutlet],
// [Service.SaveRegister]). The online store is activated by choosing the
// order register, the till that records online orders ([Service.Activate]);
// its outlet is the primary outlet, always connected: disconnecting it is
// [ErrPrimaryOutlet]. To stop selling an outlet's stock online, choose an
// order register elsewhere first. [Service.Connect], [Service.Disconnect] and
// [Service.SaveSelection] change the connected outlets, and
// [Service.PreviewSelection] tells what a selection would change before it is
// saved. Calls that need an active online store fail with [ErrNotActive]
// before activation.
//
// # Online stock
//
// The POS reports stock with [Service.Apply]: batches of [Set] and [Adjust]
// changes, all or nothing. A Set may carry the version it was based on
// ([Change.WithVersion]) so that a sale landing between the POS read and
// its write is not lost ([ErrConflict]). A level's Version moves with its
// on-hand count only (every POS change applied, every fulfilment), never
// when an order merely reserves or releases units, so a count is refused
// only when the count it was based on is stale.
//
// A change may carry an idempotency key ([Change.WithKey]) so that a batch
// replayed any number of times, even concurrently, changes stock once. A
// key remembers the change it was applied to (product, outlet, kind,
// quantity and order) for [Config.KeyRetention]: the same change under it
// again is skipped as [Duplicate]; another change under it is a
// [*KeyConflictError] ([ErrConflict]) and the whole batch is refused, so a
// key never silently swallows a different change. Use one key per line of
// a POS document: "receipt-42/1", "receipt-42/2".
//
// A product's online stock is the sum over connected outlets of each
// outlet's [Contribution]: on hand, less what is reserved for online orders,
// less the outlet's online buffer ([Service.SetBuffer]), and never below zero,
// so a negative outlet never cancels another's stock. [OnlineStock] computes
// it; [Classify] turns it into what the storefront sees ([Availability]):
// NotForSale until the product is enabled with [Service.EnableOnline] (new
// products are not), SoldOut at zero, LowStock at or under
// [Config.LowStockThreshold], InStock above; a product that takes
// backorders is [OnBackorder] at zero while it may still be ordered (see
// below). [Service.Availability] reads a page of products, bundles
// included, in one Store read.
//
// # Shipping rules
//
// A [Method] is a shipping, delivery or pickup method, optionally linked to
// an outlet. Its [Rule] is [AllowAll] (offered whenever online stock covers
// the cart) or [Restrict] (offered only when its outlet alone covers the whole
// cart). Disconnecting an outlet does not delete its methods: they become
// orphaned, are reported by [Service.Disconnect], in the event and by
// [Service.OrphanedMethods], and are still offered, flagged, unless
// [Config.HideOrphanedMethods] is set. [Service.Quote] evaluates a cart;
// [Evaluate] is the same rule as a pure function over a [Snapshot].
//
// # Orders
//
// [Service.Reserve] holds stock for an order, routing every line to
// connected outlets the way the merchant would: a Restrict method's outlet
// gives everything, an AllowAll method's outlet gives first, and the rest
// comes, in stages, from (1) one outlet that fills all of it, else (2) a
// split in which every line comes whole from one outlet, else (3) a split
// of lines. Each stage uses the fewest outlets it can; among equally few,
// the [Allocator]'s order of outlets ([FewestShipments], the default:
// primary first, then by [Service.SetRank], then by ID; or
// [MostStockFirst]; or your own) decides which outlets are used and which
// gives first. For example, with 4 units at W1, 3 at W2 and W2 ranked
// first, an order of 5 ships {W2: 3, W1: 2}: both splits take two outlets,
// so the ranking decides. The search is exact up to [MaxExactOutlets]
// outlets holding what the order needs, greedy above; whatever the
// Allocator says, nothing is taken that an outlet cannot give. The
// [Reservation]'s Sources say, per outlet, its [Stage] and rank.
//
// An order that cannot be filled is an [*InsufficientStockError] whose
// shortfalls say which products are short and which are not for sale, and
// reserves nothing. [Service.Release] returns the units, [Service.Fulfill]
// records the sale, and [Service.ExpireReservations] releases reservations
// past their TTL; a reservation past its deadline can no longer be
// fulfilled, even before the sweep. Reserve is idempotent by order ID while
// the reservation is open; reserving again an order whose reservation is
// closed is [ErrConflict] naming its status, so a retrying checkout never
// believes it holds stock it does not.
//
// Orders ship and get cancelled in pieces: [Service.FulfillPart] records a
// shipment of some units (from one outlet, or from the outlets in the order
// they gave) and [Service.ReleasePart] cancels some units (returned to the
// outlets that gave last first). Each call carries its own ID, so a retried
// call changes nothing, and the same ID with other content is
// [ErrConflict]. What is left stays reserved; each [Allocation] counts its
// units fulfilled and released, and the order closes when it holds
// nothing more. [Service.Amend] changes an open order's lines (a line
// added, a quantity changed) all at once or not at all: the order is
// routed anew counting the units it holds as available, and only the
// difference moves. [Service.Reservations] lists reservations, open ones by
// default, by product, outlet and due time, a page at a time
// ([ReservationFilter]).
//
// # Web sales
//
// The order register records web orders in the POS, so the POS reports the
// sale of a fulfilled web order like any other sale. To count it once,
// report it with [Change.ForOrder]: an Adjust by minus the units the
// order took at that outlet, before or after [Service.Fulfill], lowers
// on-hand only by what Fulfill has not already taken off, and turns the
// units still reserved into sold ones in the same step, so they are never
// offered online in between; reported again, it is a [Duplicate]. A count
// made after the POS recorded the sale is a Set with ForOrder; a plain
// count made after Fulfill needs nothing more, and one based on a read
// before it is refused by its version. A report that contradicts the
// order (another outlet, other units) is [ErrConflict] naming the order,
// and nothing of the batch applies. ForOrder names a product the order
// holds as such: the units of a bundle ([Bundle]) are sold with
// [Service.Fulfill] or [Service.FulfillPart].
//
// # Bundles
//
// A [Bundle] (a kit, a gift box) is a product made of components, each with
// the units one bundle takes ([Service.SaveBundle]). It holds no stock of
// its own: reporting stock for it is [ErrInvalid]. Each unit is assembled
// at one outlet from what that outlet holds, so an outlet adds to the
// bundle's online stock, over its components, the least of the component's
// contribution there divided by the units one bundle takes, rounded down;
// the bundle's online stock is the sum over connected outlets. Buffers,
// labels and events apply as for any product, and a change of a component
// announces, in the same call, every bundle whose availability it moves. A
// gift box of a candle, a soap and a ribbon sells out when the last candle
// goes at the only outlet that has all three, whatever soap the others
// hold.
//
// A cart's demand for a component is summed over every line that needs it,
// the component's own lines and its bundles', before anything is checked
// or reserved: [Quote].Components says, per component, what the cart
// needs and what is online, a Restrict method's outlet must hold all of
// it, and two orders that each fit alone never oversell a component they
// share. Reserving a bundle reserves its components at the outlets that
// assemble it (its [Allocation] is of the bundle, in its units, and names
// its [Component]s); releasing and fulfilling move them back or out, and
// the stock ledger records each component's movement under the order,
// naming the bundle. Bundles do not nest, and a bundle an open order holds
// cannot be changed or deleted ([ErrConflict]).
//
// # Backorders and pre-orders
//
// A product may take backorders (or pre-orders) past its online stock, up
// to a limit ([Service.SetBackorder], [Backorder]): once its stock is gone
// it is labelled [OnBackorder] with the units it may still be ordered, and
// while it has stock its Quantity counts them too. [Quote] and
// [Service.Reserve] allow them, and say per line how many units are
// backordered ([ProductQuote].Backordered, [Allocation].Backordered).
// Backordered units are reserved at the designated outlet (the primary by
// default), past what it holds, so they never take another order's units;
// the stock the POS then reports there goes to them first, and the product
// is in stock again only once they are covered. The limit holds under
// concurrency like the stock: racing buyers never get more than the stock
// and the limit together. [Event.EntersBackorder] and
// [Event.LeavesBackorder] tell the moves on and off backorder. Bundles and
// their components take no backorders: a bundle is made of stock.
//
// # The stock ledger
//
// Every change of a level's OnHand or Reserved appends a [Movement] in the
// same transaction: what moved it (a POS set or adjust, a reservation, a
// release, a fulfilment, an expiry), the deltas, the level after, and for
// a POS change the reason ([Change.WithReason]: sale, return, receipt,
// count, damage, transfer, correction, or the merchant's own code) and the
// document it comes from ([Change.WithRef], else its key). An order's
// movements carry its ID. Movements never change; replaying a level's
// movements from zero gives its OnHand, Reserved and Version exactly.
// [Service.Movements] reads them by product, outlet or reference, a page
// at a time in sequence order; [Outbox.Prune] deletes the oldest (package
// worker's retention does, by age, when told to).
//
// # Events
//
// Every committed change is an [Event] in the Store's outbox: availability
// changed (with [Event.SoldOut], [Event.BackInStock],
// [Event.EntersBackorder] and [Event.LeavesBackorder]), outlet connected or
// disconnected, primary outlet changed, product enabled or disabled, and
// each step of an order ([OrderReserved], [OrderAmended],
// [OrderPartiallyFulfilled], [OrderFulfilled], [OrderPartiallyReleased],
// [OrderReleased], [OrderExpired]) with its units per product and outlet,
// so an ERP or a storefront can follow orders without polling. A call
// writes at most one availability event per product, only when what the
// storefront sees changed, and each product's events form a chain: each
// Before is the previous After. Package worker delivers events in order,
// at least once, to a [Notifier] such as package webhook or a
// [NotifierFunc], in the background (its Worker, one in each process that
// serves a Store), and records those refused for good, wrapped with
// [Permanent], as [DeadLetter]s; [Service.EventsSince] lets consumers poll
// instead. The Store keeps the outbox, each consumer's cursor, the dead
// letters and the leases that let one process at a time deliver: its
// [Outbox].
//
// # Stores
//
// A [Store] holds no rules: it reads and writes in transactions ([Tx]) and
// keeps the outbox. Package storetest is the conformance suite every Store
// passes, a model-based property test included. Stores keep times as int64
// nanoseconds since 1970, the years 1678 to 2262: a [Config.Clock] outside
// them, or an [Order.TTL] ending past them, is ErrInvalid on every Store.
//
// The Service records its own metrics when [Config.MeterProvider] is set:
// the duration of each call by method, Apply's conflicts and duplicates,
// and the Store transactions run again. Without it, nothing is recorded and
// the calls cost what they did.
//
// # Retrying a call
//
// A call reports what its transaction did: nil when it committed, an error
// when nothing was kept. A context that ends while the commit is on its way
// does not turn a committed call into an error; the call waits for the
// commit's answer. Only when the connection to a database is lost during
// the commit, and the database cannot be asked afterwards, is the outcome
// unknown: the error then wraps [ErrCommitUnknown]. Retrying after any
// error is safe for a keyed Adjust, for a Set with its version, and for
// Reserve, Release and Fulfill, which are idempotent by order ID. An
// unkeyed Adjust is not safe to retry after [ErrCommitUnknown]: if the
// first attempt committed, the retry applies it twice. Key adjustments
// that a POS may send again.
//
// # On the wire
//
// The types a storefront, a POS adapter or an event consumer exchange
// ([Availability], [Change], [ChangeResult], [Level], [Quote], [Order],
// [Reservation], [Event], [Setup], [Method], …) carry JSON tags with stable
// snake_case names; kinds, labels, statuses and reasons encode as their
// names ("set", "in_stock", "applied"). Optional fields are left out when
// zero, times are RFC 3339, and [Order.TTL] is in nanoseconds (ttl_ns).
// Names are added to, never renamed. Package httpapi serves them over HTTP.
//
// # Errors
//
// Bad input is rejected with an error matching [ErrInvalid] that names the
// field, and changes nothing. Other sentinels: [ErrNotFound], [ErrConflict],
// [ErrInsufficientStock], [ErrPrimaryOutlet], [ErrNotActive]. Test with
// [errors.Is].
package onlinestock

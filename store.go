package onlinestock

import (
	"context"
	"time"
)

// Store keeps the library's state. The [Service] holds every rule and calls
// a Store for nothing but reads and writes, one transaction per Service call,
// so a Store stays a thin layer over its storage: package memstore in
// memory, package pgstore in PostgreSQL. Every Store must pass the conformance suite in
// package storetest.
//
// Implementations must be safe for concurrent use.
type Store interface {
	// Outbox is what the background runtime (package worker) reads and
	// writes: events, cursors, dead letters, leases and retention.
	Outbox

	// Update runs fn in a read-write transaction. If fn returns nil the
	// transaction commits; if fn returns an error, or the commit fails,
	// nothing fn wrote is kept and that error is returned. Once the commit
	// has begun, its outcome is what Update reports, even if ctx ends
	// meanwhile: nil when it committed. When the outcome cannot be learned
	// (the connection to a database was lost during the commit), Update
	// returns an error wrapping [ErrCommitUnknown]. Update may run fn
	// more than once when the transaction has to be retried (a serialization
	// failure or a deadlock in a database), so fn must have no effects
	// outside the Tx other than values it overwrites on each run. Concurrent
	// Updates are serializable: their outcome is that of some serial order.
	Update(ctx context.Context, fn func(Tx) error) error

	// View runs fn in a read-only transaction that sees one consistent state.
	// The Tx's write methods fail. It returns fn's error.
	View(ctx context.Context, fn func(Tx) error) error

	// ReadPage calls fn once with a [Page] of ids, read in one consistent
	// read: a single round trip for a networked Store (one more when the
	// catalog changed since the Store last read it). ids are sorted and
	// unique. The page's slices belong to the Store, must not be modified,
	// and are valid only while fn runs. It returns fn's error. The
	// storefront's page of availability is read this way, so it is the
	// hottest read of all.
	ReadPage(ctx context.Context, ids []string, fn func(Page) error) error

	// Movements returns the stock ledger's movements f selects
	// ([MovementFilter.Matches]) with a sequence number greater than
	// f.After, in sequence order, at most f.Limit of them (the Service
	// passes a positive limit); an empty slice when there are none.
	// Movements are numbered like events: 1, 2, 3, … with no gap, in
	// commit order, the movements of a transaction consecutive in the
	// order appended. [Outbox.Prune] may delete the oldest.
	Movements(ctx context.Context, f MovementFilter) ([]Movement, error)
}

// Outbox is the part of a [Store] that the background runtime needs: the
// committed events, each consumer's cursor and dead letters, the leases that
// let one process at a time deliver, and retention. Package worker runs on
// it alone. Implementations must be safe for concurrent use.
type Outbox interface {
	// EventsSince returns committed events with a sequence number greater
	// than after, in sequence order, at most limit of them (limit <= 0 means
	// a default of 1000). It returns an empty slice, not an error, when there
	// are none. Events are never changed once committed; [Outbox.Prune] may
	// delete the oldest, and only those every listed consumer acknowledged.
	EventsSince(ctx context.Context, after uint64, limit int) ([]Event, error)

	// Cursor returns the sequence number of the last event the named consumer
	// acknowledged, or 0 for a consumer never seen.
	Cursor(ctx context.Context, consumer string) (uint64, error)
	// SetCursor records that the consumer has handled every event up to seq.
	// A cursor never moves back: a seq lower than the current one is ignored.
	SetCursor(ctx context.Context, consumer string, seq uint64) error

	// PutDeadLetter records that the consumer gave up on event d.Seq. Putting
	// the same seq again replaces the record. The reason is kept byte for
	// byte, whatever it holds: it is a receiver's message, which may be
	// invalid UTF-8 or hold NUL.
	PutDeadLetter(ctx context.Context, consumer string, d DeadLetter) error
	// DeadLetters lists the consumer's dead letters in sequence order; an
	// empty slice when there are none.
	DeadLetters(ctx context.Context, consumer string) ([]DeadLetter, error)
	// DeleteDeadLetter removes one dead letter; removing a missing one is
	// not an error.
	DeleteDeadLetter(ctx context.Context, consumer string, seq uint64) error

	// TryLease takes or renews the named lease for holder, for ttl from now
	// by the Store's clock (the database's, for a networked Store, so that
	// processes with skewed clocks agree). It returns true when holder holds
	// the lease on return: it was free, had expired, or was already
	// holder's (and is extended). It returns false, changing nothing, while
	// another holder's lease runs. Concurrent calls for one name are
	// serialized: at most one holder holds a lease at any time. name and
	// holder must be non-empty and ttl positive, else ErrInvalid.
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease ends holder's lease on name at once, so another holder
	// can take it without waiting for it to expire. Releasing a lease held
	// by someone else, or by nobody, changes nothing and is not an error.
	ReleaseLease(ctx context.Context, name, holder string) error

	// Prune deletes what r says has aged out, at most r.Limit rows of each
	// kind, and reports how many it deleted: events (the oldest stored ones,
	// from the lowest sequence number up, stopping at the first that must be
	// kept), closed reservations, idempotency keys, and ledger movements
	// (like events, the oldest first). It never deletes an
	// event some consumer in r.Consumers has not acknowledged, an event at
	// or after any consumer's dead letter, an open reservation, a key
	// claimed at or after r.KeysBefore, or a movement stamped at or after
	// r.MovementsBefore. Zero times delete nothing of their
	// kind. A call is one bounded batch: call again while it deletes a full
	// batch. Concurrent Service calls go on meanwhile.
	Prune(ctx context.Context, r Retention) (Pruned, error)
}

// Tx is one Store transaction, handed to the function given to
// [Store.Update] or [Store.View].
//
// Reads return committed state that stays stable under the locks they take
// (in a View, one consistent snapshot); writes are buffered and take effect
// together at commit, so a read after a write in the same transaction does
// not see it. ClaimKeys is the one exception: its claims take effect at once
// within the transaction, since concurrent claimers must see them, and are
// undone with it. Slices returned by reads
// belong to the transaction: callers must not modify them or keep them after
// the function returns. Writes copy the slice they are given, so a caller
// may reuse it once the call returns; the slices within its elements (an
// event's Lines, say) they may keep.
//
// In an Update, reads lock what they return against concurrent Updates
// until commit: [Tx.Setup] takes a shared lock on the setup and
// [Tx.LockSetup] an exclusive one; [Tx.ClaimKeys] locks its keys;
// [Tx.Products], [Tx.ProductsAt] and [Tx.Reservation] lock what they
// return; Reservation locks the order ID even when it has no reservation
// yet, so concurrent transactions on one order serialize. The catalog
// ([Tx.Catalog]) belongs to the setup: it changes only under the exclusive
// setup lock, and reading it takes no lock of its own; nor do
// [Tx.PeekProducts], [Tx.DueReservations] and [Tx.Reservations].
//
// Lock order: so that a Store that locks rows never deadlocks, the Service
// takes the locks of every Update in one global order, and a Store may
// rely on it:
//
//  1. the setup, first of all: LockSetup in a transaction that changes
//     the setup (never after Setup, which would upgrade a shared lock),
//     Setup in any other;
//  2. then idempotency keys (one ClaimKeys call);
//  3. then reservations, in order ID order;
//  4. then products, in ID order: each Products or ProductsAt call locks
//     only products after every product it has locked before.
//
// Reading again what is locked already takes no new lock, and is allowed
// at any point. Under the exclusive setup lock no other Update holds any
// lock, so what comes after it may be read in any order. Since the setup
// always comes first, a Store need not lock it in any other call. Package
// storetest checks the Service against this order
// (storetest.CheckLockOrder).
type Tx interface {
	// Setup returns the outlets, registers and order register. The Setup and
	// its slices must not be modified.
	Setup(ctx context.Context) (*Setup, error)
	// LockSetup is Setup for a transaction that will change the setup: it
	// takes an exclusive lock at once, instead of a shared one that would
	// have to be upgraded.
	LockSetup(ctx context.Context) (*Setup, error)
	// PutOutlet creates or replaces an outlet, matched by ID.
	PutOutlet(ctx context.Context, o Outlet) error
	// PutRegister creates or replaces a register, matched by ID.
	PutRegister(ctx context.Context, r Register) error
	// SetOrderRegister records the order register. The Service checks that
	// it exists.
	SetOrderRegister(ctx context.Context, register string) error

	// Catalog returns the bundles and backorder policies. The Catalog must
	// not be modified. A
	// Store may keep it between transactions while the catalog does not
	// change; a Store shared by several processes then checks, in the
	// transaction, that no other has changed it since.
	Catalog(ctx context.Context) (*Catalog, error)
	// PutBundle creates or replaces a bundle, matched by ID, and creates
	// its product, not enabled, if it does not exist. The Service checks
	// the bundle, and holds the exclusive setup lock ([Tx.LockSetup]).
	PutBundle(ctx context.Context, b Bundle) error
	// DeleteBundle deletes a bundle's definition; its product stays.
	// Deleting a missing one is not an error. The Service holds the
	// exclusive setup lock.
	DeleteBundle(ctx context.Context, id string) error
	// PutBackorder creates or replaces a product's backorder policy,
	// matched by product. The Service checks it, and holds the exclusive
	// setup lock.
	PutBackorder(ctx context.Context, b Backorder) error
	// DeleteBackorder deletes a product's backorder policy; deleting a
	// missing one is not an error. The Service holds the exclusive setup
	// lock.
	DeleteBackorder(ctx context.Context, product string) error

	// Methods returns every shipping method, sorted by ID.
	Methods(ctx context.Context) ([]Method, error)
	// PutMethod creates or replaces a method, matched by ID.
	PutMethod(ctx context.Context, m Method) error
	// DeleteMethod deletes a method; deleting a missing one is not an error.
	DeleteMethod(ctx context.Context, id string) error

	// Products returns the products among ids that exist, sorted by ID, each
	// with all its levels sorted by outlet ID. ids are sorted and unique.
	Products(ctx context.Context, ids []string) ([]Product, error)
	// PeekProducts is Products without locks: in an Update it returns what
	// the last transactions committed, as Products does, but it locks
	// nothing and creates nothing. The Service peeks only at the
	// components of bundles whose locks it holds (see [Catalog]), which no
	// other transaction changes meanwhile, since changing a component's
	// levels locks the bundles it belongs to.
	PeekProducts(ctx context.Context, ids []string) ([]Product, error)
	// ProductsAt returns every product that has a level at any of the given
	// outlets, sorted by ID, each with all its levels (at every outlet)
	// sorted by outlet ID.
	ProductsAt(ctx context.Context, outlets []string) ([]Product, error)
	// PutLevels creates or replaces levels, matched by (Product, Outlet). A
	// level of an unknown product creates the product, not enabled. Each
	// (Product, Outlet) appears at most once.
	PutLevels(ctx context.Context, levels []Level) error
	// SetEnabled sets whether the products are enabled for online sale. The
	// Service checks that they exist.
	SetEnabled(ctx context.Context, ids []string, enabled bool) error

	// ClaimKeys records idempotency keys as used at now, each for the
	// change it names (an opaque, non-empty description of the change the
	// key stands for), and reports for each key the change it had already
	// been claimed for at or after notBefore, or "" when it is new. A key
	// already claimed keeps its claim and its change. Keys claimed before
	// notBefore have expired and are claimed afresh, for the new change.
	// Keys are unique. A claim by a concurrent transaction that has not
	// committed yet must be waited for, not missed: of two transactions
	// claiming one key, at most one sees it as new.
	ClaimKeys(ctx context.Context, claims []KeyClaim, now, notBefore time.Time) (prior []string, err error)

	// AppendEvents adds events to the outbox; they are published only if the
	// transaction commits. By the time EventsSince returns them, the Store
	// has numbered the committed events 1, 2, 3, … with no gap: the events
	// of one transaction get consecutive numbers in the order given, and of
	// two transactions that held a common lock, the one that committed first
	// gets the lower numbers. The Seq field passed in is ignored.
	AppendEvents(ctx context.Context, events []Event) error

	// AppendMovements adds movements to the stock ledger, numbered as
	// AppendEvents numbers events (in their own sequence): kept only if
	// the transaction commits, consecutive in the order given. The Seq
	// field passed in is ignored.
	AppendMovements(ctx context.Context, movements []Movement) error

	// Reservation returns the reservation of an order, and false if there
	// is none.
	Reservation(ctx context.Context, order string) (Reservation, bool, error)
	// PutReservation creates or replaces a reservation, matched by Order.
	PutReservation(ctx context.Context, r Reservation) error
	// DueReservations returns the orders of open reservations whose deadline
	// is set and not after now, sorted by order ID.
	DueReservations(ctx context.Context, now time.Time) ([]string, error)
	// Reservations returns the reservations f selects
	// ([ReservationFilter.Matches]) with an order ID after f.After (any, when
	// it is ""), sorted by order ID, at most f.Limit of them. The Service
	// sets f.Status and a positive f.Limit.
	Reservations(ctx context.Context, f ReservationFilter) ([]Reservation, error)
}

// Page is one consistent read of what a page of availability is worked
// out from, as [Store.ReadPage] hands it over.
type Page struct {
	Outlets []Outlet // every outlet, sorted by ID
	Primary string   // the primary outlet, "" before activation
	Catalog *Catalog
	// Products are the products among the IDs asked for that exist, and
	// the components of the bundles among them, sorted by ID, each with its
	// levels sorted by outlet ID.
	Products []Product
}

// Retention says what [Outbox.Prune] may delete. Zero values delete nothing.
type Retention struct {
	// Consumers lists every consumer the outbox is kept for: an event is
	// deleted only once each of them has acknowledged it (its cursor is at
	// or past the event). With no consumers, no event is deleted.
	Consumers []string
	// EventsBefore: events stamped before it may be deleted.
	EventsBefore time.Time
	// ReservationsBefore: closed reservations (released, fulfilled or
	// expired) created before it may be deleted. Open ones are kept.
	ReservationsBefore time.Time
	// KeysBefore: idempotency keys last claimed before it may be deleted.
	KeysBefore time.Time
	// MovementsBefore: ledger movements stamped before it may be deleted,
	// oldest first, stopping at the first that must be kept.
	MovementsBefore time.Time
	// Limit is the most rows of each kind one call deletes. Zero or less
	// means 1000.
	Limit int
}

// Pruned counts what one [Outbox.Prune] call deleted.
type Pruned struct {
	Events, Reservations, Keys, Movements int
}

// KeyClaim is an idempotency key and the change it is used for, for
// [Tx.ClaimKeys].
type KeyClaim struct {
	Key    string
	Change string
}

// DeadLetter records an event a consumer could not deliver and gave up on.
type DeadLetter struct {
	Seq    uint64    `json:"seq"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

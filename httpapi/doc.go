// Package httpapi serves an [onlinestock.Service] over HTTP, as JSON, so
// that storefronts and POS adapters in any language use the library without
// writing glue: availability of a page of products, quotes, reservations,
// POS stock batches, the stock ledger, events and setup.
//
//	api, err := httpapi.New(svc, httpapi.Config{Authenticate: httpapi.BearerToken(lookup)})
//	...
//	srv := &http.Server{Addr: ":8080", Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
//	err = srv.ListenAndServe()
//
// The command "onlinestock serve" runs it over PostgreSQL, with API keys
// kept there.
//
// # Operations
//
// Every operation is under /v1 and listed, with its schemas, in the OpenAPI
// 3.1 document served at GET /v1/openapi.json ([OpenAPI]):
//
//	GET    /v1/availability?product=a&product=b   storefront: a page of availability, in the order asked
//	POST   /v1/quote                              storefront: quote a cart (onlinestock.Cart)
//	POST   /v1/reservations                       reserve an order (Order: ttl_seconds); idempotent by id
//	GET    /v1/reservations?status=&product=&outlet=&due_before=&after=&limit=
//	                                              a page of reservations, sorted by order
//	GET    /v1/reservations/{order}               a reservation
//	POST   /v1/reservations/{order}/release       release it
//	POST   /v1/reservations/{order}/fulfill       fulfil it
//	POST   /v1/reservations/{order}/fulfill-part  fulfil some units (onlinestock.Part): a shipment
//	POST   /v1/reservations/{order}/release-part  release some units (onlinestock.Part): a cancellation
//	POST   /v1/reservations/{order}/amend         change an open order's lines ({"lines": [...]})
//	POST   /v1/reservations/expire                release those past their deadline
//	POST   /v1/changes                            POS: apply a batch ({"changes": [...]}), all or nothing
//	GET    /v1/products/{product}/levels          POS: a product's levels
//	POST   /v1/products/enable, /disable          list or unlist products ({"products": [...]})
//	GET    /v1/movements?product=&outlet=&ref=&after=&limit=
//	                                              the stock ledger: a page of movements, by seq
//	GET    /v1/events?after=N&limit=M             events after seq N, to poll
//	GET    /v1/setup                              outlets, registers, the order register
//	PUT    /v1/outlets/{outlet}                   save an outlet ({"name"})
//	PUT    /v1/registers/{register}               save a register ({"outlet", "name"})
//	POST   /v1/activate                           choose the order register ({"register"})
//	POST   /v1/outlets/{outlet}/connect, /disconnect
//	PUT    /v1/outlets/{outlet}/buffer, /rank     ({"units"}, {"rank"})
//	PUT    /v1/selection                          connect exactly these outlets ({"outlets"})
//	POST   /v1/selection/preview                  what that would change
//	GET    /v1/methods                            shipping methods
//	PUT    /v1/methods/{method}                   save one (onlinestock.Method)
//	DELETE /v1/methods/{method}                   delete one
//	GET    /v1/bundles                            every bundle
//	PUT    /v1/bundles/{bundle}                   save one (onlinestock.Bundle: {"components"})
//	DELETE /v1/bundles/{bundle}                   delete one
//	GET    /v1/backorders                         every backorder policy
//	PUT    /v1/products/{product}/backorder       set one (onlinestock.Backorder: {"limit", "expected", "outlet"})
//	DELETE /v1/products/{product}/backorder       remove it
//
// Bodies and answers are the library's types in their JSON form (see "On
// the wire" in package onlinestock), wrapped in an object where the answer
// is a list, so that fields can be added; the one exception is reserve's
// body ([Order]), whose TTL is in whole seconds (ttl_seconds). Path
// segments are URL-escaped IDs.
//
// # Principals and roles
//
// Every request is authenticated into a [Principal] before anything else
// of it is read: its tenant and its [Role]. [Config.Authenticate] proves
// it (from an API key, say: [BearerToken]); [Config.Tenant] picks the
// tenant's Service from it, and [Config.Authorize] may refuse more; none
// of them decides from what the request claims, so no header, path or ID
// reaches another tenant's data. Each operation may be called by these
// roles (admin may call every one), as [Roles] tells and the OpenAPI
// document lists under x-roles:
//
//	storefront, pos    getAvailability, getReservation, release, getMethods, listBundles, listBackorders
//	storefront         quote, reserve, amend
//	pos                fulfill, fulfillPart, releasePart, listReservations, expireReservations,
//	                   applyChanges, getLevels, enableOnline, disableOnline, listMovements, getEvents,
//	                   getSetup, saveOutlet, saveRegister, activate, connect, disconnect, setBuffer,
//	                   setRank, saveSelection, previewSelection, saveMethod, deleteMethod,
//	                   saveBundle, deleteBundle, setBackorder, deleteBackorder
//
// A request without a valid credential is answered 401 with a
// WWW-Authenticate: Bearer challenge; one whose role may not call the
// operation, 403, naming the roles that may. Only GET /v1/openapi.json is
// open to anyone.
//
// # Orders
//
// An order's life is a reservation ([onlinestock.Service.Reserve]), then
// either one call that closes it (fulfill, release) or, for an order that
// ships or is cancelled a piece at a time, parts: fulfill-part and
// release-part take an [onlinestock.Part], {"id", "outlet", "lines"}, whose
// id (a shipment or cancellation ID, unique within the order) makes a retry
// safe: the same part again changes nothing and answers the reservation as
// it stands, while other units under a used id are a conflict. The order
// closes when no unit is left held. amend replaces the lines of an open
// order, units already fulfilled included, all or nothing; when the new
// lines cannot be filled the answer is insufficient_stock and the
// reservation stays as it was. Each answers the reservation as it now
// stands ([onlinestock.Reservation]).
//
// GET /v1/reservations lists reservations ([Reservations]), open ones by
// default, filtered by status, product, outlet and due_before (an RFC 3339
// time; escape a + in its offset as %2B), a page of limit (1 to 1000, 100 by
// default) at a time: ask for the next page with after set to the last
// order of the previous one. An open reservation past its deadline is listed
// as open until expire has run: due_before finds those. A listing refuses
// a malformed query, and a parameter it does not know, given twice or left
// empty, so that a misspelt filter never answers more than was asked for.
//
// # POS changes and the stock ledger
//
// POST /v1/changes applies a POS batch ([Changes]) all or nothing, and
// answers a result per change ([ChangeResults]). Besides its kind,
// product, outlet and quantity, a change ([onlinestock.Change]) may carry
// check_version and if_version (a count based on the level at that
// version), a key (one per line of a POS document: the same change under
// a key applied before answers duplicate, while another change under it is
// a conflict whose key member and detail name the key), a reason (sale, return,
// receipt, count, damage, transfer, correction, or the merchant's own
// code, at most 64 bytes) and a ref (the POS document) for the stock
// ledger, and an order: the change then reports the POS's sale of that
// web order's units at the outlet, which reaches the stock once, before
// or after the order is fulfilled ([onlinestock.Change.ForOrder]), and
// the order's allocation there says reported. A report that contradicts
// the order is a conflict naming it; an unknown order is not_found.
//
// GET /v1/movements reads the stock ledger ([Movements]): every change of
// a level's on-hand or reserved count, in sequence order, with its kind,
// reason, ref, deltas and the level right after ([onlinestock.Movement]).
// Filter by product, outlet and ref (an order's ID finds its movements and
// the POS's report of its sale; a POS change is under its ref, or else its
// key), and page with after, the last seq of the previous page, and limit
// (1 to 1000, as [Config.MaxPage] allows; 100 by default); an empty page
// means there are no more.
// Like the reservations listing, it refuses an unknown, repeated or empty
// parameter.
//
// # The catalog
//
// A POS adapter keeps the POS's composite products and its backorder
// settings in step with PUT and DELETE. A bundle ([onlinestock.Bundle]) is
// made of components, each a product that exists and is not a bundle,
// with the units one bundle takes; it holds no stock of its own, and an
// outlet offers as many as its least plentiful component allows, so its
// availability moves with its components'. A product that holds stock
// cannot become a bundle, and neither a bundle nor its components take
// backorders. While an open order holds a bundle, changing or deleting it
// is a conflict naming the order; saving it as it stands changes nothing.
// A backorder policy ([onlinestock.Backorder]) keeps a product purchasable
// past its online stock, up to limit units (0 takes none), reserved at its
// designated outlet (the primary when none is named) while that outlet is
// connected; expected, an RFC 3339 time, is when stock is due, for the
// storefront to show. Removing the policy leaves units already backordered
// reserved. The id or product of a body may be left out: the path's is
// used, and a body naming another is invalid.
//
// # Errors
//
// An error is an RFC 9457 problem ([Error]), sent as
// application/problem+json, whose code member is stable: invalid (400),
// not_found (404), conflict, insufficient_stock and primary_outlet (409),
// not_active (503), commit_unknown (500: the database connection was lost
// while a change committed, so it may or may not have been applied; see
// onlinestock.ErrCommitUnknown for which calls are safe to retry),
// unauthenticated (401) and forbidden (403), and the request's own
// faults: over_limit (400), unsupported_media (415), too_large (413),
// body_timeout (408), no_route (404), method_not_allowed (405), timeout
// and busy (503). The detail names the field at fault, and field holds its
// path when the request itself was malformed (changes[0].quantity); limit
// holds the limit a request went over. An insufficient_stock problem
// carries the shortfalls. Internal errors are logged, with the operation
// and never the URL or a credential, and answered without detail; a
// request whose client went away is logged at Debug level and answered
// nothing.
//
// # Reading requests
//
// A body is read against the operation's schema in the OpenAPI document:
// a field it marks required must be present and not null, a field it does
// not list is refused, and so are a name given twice or in another case
// ("QUANTITY"), invalid UTF-8 and lone surrogates, so that a gateway that
// checks a request sees the request that is applied. The body is decoded
// with github.com/go-json-experiment/json, which refuses the same.
// Queries are read the same way: a parameter the operation does not take,
// one given twice (but product of getAvailability), empty, or not valid
// UTF-8 is refused. A refused request changes nothing.
//
// # Limits
//
// Each request is bounded in time and memory, and the OpenAPI document
// states every limit. A body must be sent as application/json (which a
// browser does not send to another site without a CORS preflight), at
// most [Config.MaxBodyBytes], within [Config.BodyTimeout]: a body that
// stalls is answered 408 and the connection closed, and a body the
// operation does not read (a request refused before it, say) is never
// waited for. Each operation must finish within [Config.Timeout], and the
// client must read the answer within [Config.WriteTimeout], past which it
// is abandoned. At most [Config.MaxInFlight] requests are served at once;
// one more is answered 503 busy with Retry-After at once. An availability
// request names at most [Config.MaxPage] products and a page of a listing
// holds at most as many; a cart, an order, a part or an amendment holds at
// most [Config.MaxLines] lines, and a quote, a reservation or an
// amendment at most [Config.MaxLineOutlets] lines times the shop's
// outlets. Set the [net/http.Server]'s ReadHeaderTimeout and IdleTimeout
// as well.
//
// # Authentication and tenants
//
// The API keeps no credentials of its own: [Config.Authenticate] proves
// each request's principal from whatever a deployment uses (package
// pgstore keeps API keys, and "onlinestock serve" uses them), and
// [Config.Tenant] picks its tenant's Service, for a multi-tenant pgstore.
// Without Authenticate, every request is an admin of the one Service:
// put the Handler behind authentication of your own.
package httpapi

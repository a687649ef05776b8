// Package httpapi serves an [onlinestock.Service] over HTTP, as JSON, so
// that storefronts and POS adapters in any language use the library without
// writing glue: availability of a page of products, quotes, reservations,
// POS stock batches, the stock ledger, events and setup.
//
//	api, err := httpapi.New(svc, httpapi.Config{})
//	...
//	srv := &http.Server{Addr: ":8080", Handler: api, ReadHeaderTimeout: 10 * time.Second}
//	err = srv.ListenAndServe()
//
// The command "onlinestock serve" runs it over PostgreSQL.
//
// # Operations
//
// Every operation is under /v1 and listed, with its schemas, in the OpenAPI
// 3.1 document served at GET /v1/openapi.json ([OpenAPI]):
//
//	GET    /v1/availability?product=a&product=b   storefront: a page of availability, in the order asked
//	POST   /v1/quote                              storefront: quote a cart (onlinestock.Cart)
//	POST   /v1/reservations                       reserve an order (onlinestock.Order); idempotent by id
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
// is a list, so that fields can be added. Path segments are URL-escaped
// IDs.
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
// (1 to 10000, 100 by default); an empty page means there are no more.
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
// onlinestock.ErrCommitUnknown for which calls are safe to retry), and the
// request's own faults: unsupported_media (415),
// too_large (413), body_timeout (408), no_route (404) and
// method_not_allowed (405). The detail names the field at fault, and field
// holds its JSON path when the request itself was malformed. An
// insufficient_stock problem carries the shortfalls. Internal errors are
// logged and answered without detail.
//
// # Limits
//
// A body must be sent as application/json (which a browser does not send to
// another site without a CORS preflight), one JSON value with no unknown field,
// at most [Config.MaxBodyBytes], sent within [Config.BodyTimeout]; each
// operation must finish within [Config.Timeout]. Set the
// [net/http.Server]'s ReadHeaderTimeout and IdleTimeout as well.
//
// # Authentication and tenants
//
// The API has no users of its own. [Config.Authorize] sees every request
// and the operation it asks for, so a deployment decides who may change
// stock and who may only read; wrap the Handler in any other middleware as
// usual. [Config.Tenant] picks the Service of each request, for a
// multi-tenant pgstore.
package httpapi

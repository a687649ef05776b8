// Package worker is the background runtime of package onlinestock: it
// delivers a Store's committed events to their consumers, releases
// reservations past their deadline, and prunes what has aged out, in every
// process that serves the Store.
//
//	w, err := worker.New(svc, worker.Config{
//		Consumers: []worker.Consumer{{Name: "shop", Notifier: n}}, // n: a webhook.Notifier, say
//	})
//	if err != nil { … }
//	if err := w.Start(ctx); err != nil { … }
//	defer w.Stop(context.Background())
//
// # Delivery
//
// A [Worker] delivers every committed event to each of its [Consumer]s (a
// [onlinestock.Notifier] with its own cursor in the Store), in sequence
// order and at least once, a batch of at most Config.BatchSize events at a
// time. A batch the Notifier acknowledges moves the consumer's cursor; a
// transient failure is retried with capped exponential backoff and
// jitter, and what the Notifier says got through before it failed
// ([onlinestock.Partial]) is acknowledged all the same and starts the
// backoff over, so a receiver that stumbles now and then slows delivery
// down by a retry, not by a growing backoff. An event the Notifier refuses
// for good ([onlinestock.Permanent]) is recorded as a dead letter, and
// delivery goes on; [Dispatcher.Redeliver] tries one again.
//
// The Worker looks for events every Config.PollInterval, and is woken at
// once when a commit writes events if the Store is a [Listener] (package
// memstore's Store and package pgstore's are: LISTEN/NOTIFY on
// PostgreSQL).
//
// # Leases
//
// Run one Worker in every process that serves a Store: for each consumer,
// a lease in the Store ([onlinestock.Outbox.TryLease]) lets one process at
// a time deliver. The holder renews it every LeaseTTL/3 while it
// delivers, and while it backs off after a failure, so a process keeps
// what it delivers for; the others try to take it every LeaseTTL/3. When
// the holder dies another process delivers again within LeaseTTL and a
// third: 20 seconds with the default LeaseTTL of 15 seconds. A delivery
// cut off by the takeover is delivered again: at most a batch is
// repeated. [Worker.Stop] stops a Worker gracefully, letting a delivery in
// flight finish, and releases its leases so that another process takes
// over at once.
//
// # Expiry and retention
//
// Every Config.ExpireEvery the Worker releases reservations past their
// deadline ([onlinestock.Service.ExpireReservations]). Retention
// ([onlinestock.Outbox.Prune]) deletes, in bounded batches, events older
// than Config.RetainEvents that every consumer of the Worker has
// acknowledged, closed reservations older than Config.RetainReservations,
// idempotency keys past [onlinestock.Config.KeyRetention], and ledger
// movements older than Config.RetainMovements. It never deletes an event
// a consumer has not acknowledged or one at or after a dead letter, an
// open reservation, or a key inside its window. List every consumer of a
// Store in its Workers: events are kept only for the consumers named
// there. Expiry and retention are idempotent, and every process runs
// them.
//
// # Many tenants
//
// A Store of many tenants (package pgstore's Tenants) is served by one
// Worker per process for all of them: [NewTenants] over [Tenants]. It
// finds the tenants with work by asking the Tenants, not by reading every
// tenant, is woken at commit when the Tenants is a [Listener], and serves
// the tenants in turn, a batch per consumer at a time, Config.Concurrency
// at once, so that a busy tenant does not starve the others and one
// tenant's failing receiver holds up no other. Leases are per tenant and
// consumer, so the processes split the busy tenants between them. A
// Notifier shared by the tenants learns whose events it is handed from
// [TenantOf]. A Worker over one Service runs the same loop over its one
// tenant.
//
// # Failures and telemetry
//
// When the Store fails, each part of the Worker waits before trying again,
// with capped exponential backoff and jitter, and logs the failure once
// when it starts and once when the Store answers again. Records go to
// Config.Logger with the tenant (for a Store with a Tenant method, and
// over Tenants) and the consumer as attributes; metrics go to
// Config.MeterProvider through the OpenTelemetry metric API, recorded by
// the meter named [onlinestock.MeterName]: events delivered, retried and
// dead-lettered, the delivery lag from commit to acknowledgement,
// reservations expired, rows pruned, leases held.
//
// A [Dispatcher] is the delivery of one consumer on its own, without
// leases, for a program that delivers by itself ([Dispatcher.Flush],
// [Dispatcher.Run]) or redelivers a dead letter.
package worker

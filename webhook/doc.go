// Package webhook announces onlinestock events to an online store over
// HTTP, and verifies them on the receiving side.
//
// The sending side is a [Notifier]: give it to a [worker.Worker] (or
// a bare [worker.Dispatcher]) and every committed event is POSTed, as
// signed JSON, to a URL. The
// receiving side, for online stores written in Go, is a [Verifier] and
// [Handler], which check the signature and hand back the events as
// [onlinestock.Event] values.
//
//	n, err := webhook.New(webhook.Config{URL: "https://shop.example/hooks/stock", Secret: secret})
//	w, err := worker.New(svc, worker.Config{
//		Consumers: []worker.Consumer{{Name: "shop", Notifier: n}},
//	})
//	err = w.Start(ctx)
//	defer w.Stop(shutdownCtx)
//
// # Schema
//
// A request body is one JSON object (version [Version] of the schema):
//
//	{
//	  "version": 1,
//	  "events": [
//	    {"id": "evt_12", "seq": 12, "kind": "availability_changed",
//	     "time": "2025-03-01T09:30:00.123456789Z", "product": "tee-m",
//	     "before": {"quantity": 3, "label": "in_stock"},
//	     "after": {"quantity": 0, "label": "sold_out"}},
//	    {"id": "evt_13", "seq": 13, "kind": "outlet_disconnected",
//	     "time": "2025-03-01T09:31:00Z", "outlet": "north", "methods": ["pickup-north"]}
//	  ]
//	}
//
// Every event has:
//
//   - id: "evt_" and the sequence number ([EventID]), the same on every
//     attempt: a receiver keeps the ids it has handled and skips repeats;
//   - seq: the sequence number, strictly increasing per store and in
//     increasing order within a body;
//   - kind: one of the [onlinestock.EventKind] values;
//   - time: when the change committed, RFC 3339 in UTC with up to nanoseconds.
//
// and, by kind, exactly these fields (the others are left out):
//
//   - availability_changed: product, before and after, each
//     {"quantity": units offered online, "label": an [onlinestock.Label]
//     such as "in_stock", "low_stock", "backorder", "sold_out" or
//     "not_for_sale"};
//   - product_enabled, product_disabled: product;
//   - outlet_connected, outlet_disconnected: outlet, and methods, the IDs
//     of the shipping methods linked to it, un-orphaned or orphaned ([] when
//     none);
//   - primary_changed: outlet, the new primary outlet, and previous, the
//     former one ("" on activation);
//   - order_reserved, order_amended, order_partially_fulfilled,
//     order_fulfilled, order_partially_released, order_released,
//     order_expired: order; lines, the units concerned, each
//     {"product", "quantity"}; allocations, the same units per outlet, each
//     {"product", "outlet", "quantity"}; and part, the ID of the partial
//     call, on order_partially_fulfilled and order_partially_released, and on
//     order_fulfilled and order_released when a partial call closed the
//     order.
//
// Compatibility: within a version, new kinds, new fields and new labels may
// appear. A receiver ignores fields and kinds it does not know, and goes by
// the quantity when it meets a label it does not know. A change
// that would break such a receiver comes with a new version, and a receiver
// that gets a version it does not know should answer 400 (as [Handler]
// does), which dead-letters the events until it is upgraded.
//
// [Encode] and [Decode] turn events into a body and back.
//
// # Signing
//
// Requests are signed as the Standard Webhooks scheme does, so receivers in
// any language can verify them with an existing library. Each request
// carries three headers:
//
//   - webhook-id: the [BatchID] of its events, "evt_12" for one event or
//     "evt_12-15" for a batch. A retried request keeps its webhook-id;
//   - webhook-timestamp: when the request was sent (this attempt), in unix
//     seconds;
//   - webhook-signature: "v1," followed by the standard base64 of
//     HMAC-SHA256(secret, webhook-id + "." + webhook-timestamp + "." + body).
//
// The secret is at least [MinSecretBytes] random bytes shared with the
// receiver. Libraries of the scheme write it as "whsec_" and its base64:
// [ParseSecret] and [FormatSecret] convert.
//
// # Verification
//
// [Verifier.Verify] accepts a request when one of the space-separated v1
// signatures of webhook-signature matches (compared in constant time, so a
// sender can sign with an old and a new secret while rotating), its
// timestamp lies within [VerifierConfig.Tolerance] of the receiver's clock
// (5 minutes by default, against replays), and its body decodes. Its errors
// wrap [ErrSignature], [ErrTimestamp] or [ErrPayload]. [Handler] wraps it in
// an http.Handler and answers with the status codes the Notifier expects.
//
// Delivery is at least once: the same event may arrive again, alone or in a
// different batch, after a timeout or a lost answer. Dropping repeats by
// webhook-id is enough when the sender's batching does not change; dropping
// them by event id (or seq) always is.
//
// # Delivery rules
//
// The Notifier sends the events of one Notify call in requests of
// [Config.BatchSize] events (one by default), in sequence order, one request
// at a time, and classifies each answer:
//
//   - 2xx: delivered;
//   - 408, 429, 5xx, a timeout ([Config.Timeout], 10 seconds by default) or a
//     connection error: transient. Notify returns a plain error, and the
//     Dispatcher retries the batch with capped exponential backoff and jitter;
//   - any other answer (3xx, since redirects are not followed, and 4xx):
//     permanent. Notify returns an error wrapped with [onlinestock.Permanent];
//     the Dispatcher retries the batch event by event and dead-letters each
//     event refused, logs it, and goes on. [worker.Dispatcher.Redeliver]
//     sends a dead letter again once the receiver is fixed.
//
// A receiver therefore answers 2xx only once it has stored the events, 5xx
// when it cannot right now, and 4xx only when the request itself is wrong.
//
// The Notifier does not retry by itself: the Dispatcher owns the retry
// policy, so there is one backoff to tune and ctx ends both. When a call
// fails after some of its requests got through, it says so with
// [onlinestock.Partial], so the retry resumes after them instead of sending
// the whole batch again.
// [Notifier.Stats] counts requests, deliveries, transient and permanent
// failures.
//
// Redirects are never followed, whatever [Config.Client] is given: a 3xx
// answer is a permanent failure, so a signed request never reaches another
// host. Errors and logs name the URL with its password and every query
// value replaced by "xxxxx".
//
// # Receiving limits
//
// [Handler] reads at most [VerifierConfig.MaxBodyBytes] (1 MiB by default,
// 413 beyond) within [VerifierConfig.ReadTimeout] (10 s by default, 408
// beyond), setting the connection's read deadline itself, so a sender that
// trickles its body cannot hold a connection even on an http.Server without
// a ReadTimeout. Give the server a ReadHeaderTimeout all the same: the
// headers are read before the Handler runs.
package webhook

package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/onlinestock/onlinestock"
)

// Errors of [Verifier.Verify], wrapped with the reason; test with
// [errors.Is].
var (
	// ErrSignature reports a request without the three signing headers, or
	// whose signatures do not match the body under the secret: it was not
	// sent by a Notifier holding the secret, or was changed on the way.
	ErrSignature = errors.New("webhook: missing or bad signature")
	// ErrTimestamp reports a webhook-timestamp that is not unix seconds or is
	// further from the receiver's clock than the tolerance: a replay of an
	// old request, or clocks too far apart.
	ErrTimestamp = errors.New("webhook: timestamp missing or outside the tolerance")
	// ErrPayload reports a body that is not an event payload of this
	// package's [Version]; see [Decode].
	ErrPayload = errors.New("webhook: unparsable payload")
)

// DefaultTolerance is how far a request's timestamp may be from the
// receiver's clock when [VerifierConfig.Tolerance] is zero.
const DefaultTolerance = 5 * time.Minute

// DefaultMaxBodyBytes is the largest body [Handler] reads when
// [VerifierConfig.MaxBodyBytes] is zero.
const DefaultMaxBodyBytes = 1 << 20

// DefaultReadTimeout is how long [Handler] allows for reading a request's
// body when [VerifierConfig.ReadTimeout] is zero.
const DefaultReadTimeout = 10 * time.Second

// VerifierConfig configures a [Verifier]. Zero values are defaults, except
// Secret.
type VerifierConfig struct {
	// Secret is the secret shared with the sender, at least
	// [MinSecretBytes] bytes; [ParseSecret] reads the "whsec_" form.
	Secret []byte
	// Tolerance is how far the webhook-timestamp may be from Clock, in
	// either direction. Default [DefaultTolerance].
	Tolerance time.Duration
	// MaxBodyBytes is the largest body [Handler] reads; a larger one is
	// answered 413. Default [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// ReadTimeout bounds how long [Handler] spends reading a request's
	// body, from when the handler is called: a sender that stalls is
	// answered 408 and its connection closed, whatever timeouts the
	// http.Server has. Default [DefaultReadTimeout].
	ReadTimeout time.Duration
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
}

// Verifier checks requests sent by a [Notifier] on the receiving side: the
// signature, the timestamp and the body. It is safe for concurrent use.
type Verifier struct {
	secret    []byte
	tolerance time.Duration
	maxBody   int64
	readLimit time.Duration
	clock     func() time.Time
}

// NewVerifier returns a Verifier, or an error naming the field of cfg that
// is wrong (matching [onlinestock.ErrInvalid]).
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if err := checkSecret(cfg.Secret); err != nil {
		return nil, fmt.Errorf("webhook: VerifierConfig.Secret: %w: %w", err, onlinestock.ErrInvalid)
	}
	if cfg.Tolerance < 0 {
		return nil, fmt.Errorf("webhook: VerifierConfig.Tolerance: negative duration %v: %w", cfg.Tolerance, onlinestock.ErrInvalid)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("webhook: VerifierConfig.MaxBodyBytes: negative size %d: %w", cfg.MaxBodyBytes, onlinestock.ErrInvalid)
	}
	if cfg.ReadTimeout < 0 {
		return nil, fmt.Errorf("webhook: VerifierConfig.ReadTimeout: negative duration %v: %w", cfg.ReadTimeout, onlinestock.ErrInvalid)
	}
	v := &Verifier{secret: append([]byte(nil), cfg.Secret...), tolerance: cfg.Tolerance, maxBody: cfg.MaxBodyBytes, readLimit: cfg.ReadTimeout, clock: cfg.Clock}
	if v.readLimit == 0 {
		v.readLimit = DefaultReadTimeout
	}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	if v.maxBody == 0 {
		v.maxBody = DefaultMaxBodyBytes
	}
	if v.clock == nil {
		v.clock = time.Now
	}
	return v, nil
}

// Verify checks a request's headers and body and returns its events, in
// sequence order with Seq preserved. It fails with an error wrapping
// [ErrSignature] when a signing header is missing or no v1 signature in
// webhook-signature matches (several space-separated signatures are
// allowed, and any one matching is enough); [ErrTimestamp] when the
// timestamp is malformed or outside the tolerance; and [ErrPayload] when the
// signed body cannot be decoded. Signatures are compared in constant time.
//
// Verify does not remember what it has seen: a receiver drops repeats by the
// webhook-id header or, better since batches may be regrouped, by each
// event's Seq.
func (v *Verifier) Verify(header http.Header, body []byte) ([]onlinestock.Event, error) {
	id, ts, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	for _, h := range [...]struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if h.value == "" {
			return nil, fmt.Errorf("%w: no %s header", ErrSignature, h.name)
		}
	}
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q is not unix seconds", ErrTimestamp, HeaderTimestamp, ts)
	}
	if err := matchSignature(sigs, signature(v.secret, id, sent, body)); err != nil {
		return nil, fmt.Errorf("%w: %s %q: %w", ErrSignature, HeaderID, id, err)
	}
	// Checked after the signature, so a forged request learns nothing
	// about the receiver's clock.
	now := v.clock()
	if skew := now.Sub(time.Unix(sent, 0)); skew > v.tolerance || skew < -v.tolerance {
		return nil, fmt.Errorf("%w: sent at %d, %v from now (tolerance %v)", ErrTimestamp, sent, skew.Round(time.Second), v.tolerance)
	}
	return Decode(body)
}

type webhookIDKey struct{}

// WebhookID returns the webhook-id of the request a [Handler] is serving,
// from the context it hands to its function, or "" for another context.
func WebhookID(ctx context.Context) string {
	id, _ := ctx.Value(webhookIDKey{}).(string)
	return id
}

// Handler returns an http.Handler for the receiving end of a [Notifier]. It
// reads the body (at most [VerifierConfig.MaxBodyBytes], within
// [VerifierConfig.ReadTimeout]), verifies it with v and calls fn with the
// events, and answers:
//
//   - 204 No Content when fn returns nil: the events are delivered;
//   - 500 when fn fails, so the sender retries;
//   - 422 when fn's error is wrapped with [onlinestock.Permanent]: the sender
//     dead-letters the events instead of retrying;
//   - 401 for [ErrSignature] and [ErrTimestamp], 400 for [ErrPayload] and
//     an unreadable body, 408 for a body not read within the read timeout,
//     413 for a body too large, 405 for a method other than POST.
//
// Handler sets the connection's read deadline itself (through
// http.ResponseController), so a sender that trickles its body cannot hold
// a connection longer than the read timeout even when the http.Server sets
// no ReadTimeout. Where the ResponseWriter cannot set deadlines, the
// server's own timeouts are all there is: set ReadTimeout or
// ReadHeaderTimeout on it as well.
//
// fn's context is the request's, with [WebhookID] set. fn may be called
// again with events it has seen (delivery is at least once): skip events by
// Seq to handle each once. Calls may be concurrent. Handler panics if v or
// fn is nil.
func Handler(v *Verifier, fn func(ctx context.Context, events []onlinestock.Event) error) http.Handler {
	if v == nil || fn == nil {
		panic("webhook: Handler needs a Verifier and a function")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "webhook: POST only", http.StatusMethodNotAllowed)
			return
		}
		rc := http.NewResponseController(w)
		// An error means the writer cannot set deadlines; the server's
		// timeouts then apply alone, as documented.
		_ = rc.SetReadDeadline(time.Now().Add(v.readLimit))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, v.maxBody))
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				http.Error(w, fmt.Sprintf("webhook: body larger than %d bytes", v.maxBody), http.StatusRequestEntityTooLarge)
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				w.Header().Set("Connection", "close")
				http.Error(w, fmt.Sprintf("webhook: body not read within %v", v.readLimit), http.StatusRequestTimeout)
				return
			}
			http.Error(w, "webhook: reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		// The body is read: lift the deadline, or the server's watch for a
		// closed connection would hit it and cancel fn's context. The
		// server sets the deadlines of the next request afresh.
		_ = rc.SetReadDeadline(time.Time{})
		events, err := v.Verify(r.Header, body)
		switch {
		case errors.Is(err, ErrPayload):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), webhookIDKey{}, r.Header.Get(HeaderID))
		if err := fn(ctx, events); err != nil {
			// The error text may be internal to the receiver: answer
			// with the status alone.
			code := http.StatusInternalServerError
			if onlinestock.IsPermanent(err) {
				code = http.StatusUnprocessableEntity
			}
			http.Error(w, http.StatusText(code), code)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

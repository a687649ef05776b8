package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/onlinestock/onlinestock"
)

var _ onlinestock.Notifier = (*Notifier)(nil)

// DefaultTimeout bounds one request when [Config.Timeout] is zero.
const DefaultTimeout = 10 * time.Second

// Config configures a [Notifier]. Zero values are defaults, except URL and
// Secret.
type Config struct {
	// URL receives the POST requests: an absolute http or https URL.
	// Errors and logs name it by its scheme and host alone, so that a
	// secret in its path, its query or its user information (a token
	// passed as "?token=…", a Basic credential) never reaches them.
	URL string
	// Secret signs every request; at least [MinSecretBytes] bytes, shared
	// with the receiver. [ParseSecret] reads the "whsec_" form.
	Secret []byte
	// Client sends the requests. Default: a client over
	// http.DefaultTransport. Whatever the client, redirects are never
	// followed (the Notifier uses a copy of it whose CheckRedirect stops at
	// the first answer): a 3xx answer is a permanent failure, so a signed
	// request never reaches a host other than the URL's. Fix the URL.
	Client *http.Client
	// Timeout bounds each request, on top of the Notify context and any
	// Client.Timeout. A request that times out is a transient failure.
	// Default [DefaultTimeout].
	Timeout time.Duration
	// BatchSize is the most events sent in one request, at most
	// [MaxBatchSize]. Default 1: one event per request.
	BatchSize int
	// Logger receives a Debug record per request: the batch, the status
	// and the time taken, never a URL's path or the receiver's body. The
	// Dispatcher logs the failures. Default slog.Default().
	Logger *slog.Logger
	// Clock returns the current time, for the webhook-timestamp header.
	// Default time.Now.
	Clock func() time.Time
}

func (c Config) withDefaults() Config {
	client := http.Client{}
	if c.Client != nil {
		client = *c.Client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Client = &client
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

func (c Config) validate() (*url.URL, error) {
	if c.URL == "" {
		return nil, errors.New("webhook: Config.URL: empty")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Parse quotes the whole URL in its error: keep only the reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("webhook: Config.URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("webhook: Config.URL %q: scheme is not http or https", origin(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("webhook: Config.URL %q: no host", origin(u))
	}
	if err := checkSecret(c.Secret); err != nil {
		return nil, fmt.Errorf("webhook: Config.Secret: %w", err)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("webhook: Config.Timeout: negative duration %v", c.Timeout)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		return nil, fmt.Errorf("webhook: Config.BatchSize: %d is not between 1 and %d", c.BatchSize, MaxBatchSize)
	}
	return u, nil
}

// Notifier is an [onlinestock.Notifier] that POSTs events as signed JSON to
// a URL, [Config.BatchSize] events per request, in sequence order. See the
// package documentation for the schema, the signature and which answers
// are delivered, transient or permanent.
//
// Notify returns nil once every event is delivered; a plain error on a
// transient failure, for the Dispatcher to retry with backoff; and an error
// wrapped with [onlinestock.Permanent] when the receiver refuses a request
// with a 4xx (other than 408 and 429) or 3xx answer, or an event cannot be
// encoded, so the Dispatcher dead-letters it.
//
// When a request fails after earlier requests of the same call got
// through, the error is wrapped with [onlinestock.Partial], so the
// Dispatcher acknowledges those events and retries only the rest: a batch
// of many requests against a flaky receiver does not start over at every
// failure.
//
// Sequence numbers identify events within one store only, and receivers
// drop repeats by them: point one store's events at one URL. A Notifier is
// safe for concurrent use, though a Dispatcher calls it one call at a time.
type Notifier struct {
	cfg     Config
	url     string   // the scheme and host alone, for messages
	secrets []string // what of the URL beyond them an excerpt must not show
	stats   stats
}

// New returns a Notifier, or an error naming the field of cfg that is wrong
// (matching [onlinestock.ErrInvalid]).
func New(cfg Config) (*Notifier, error) {
	u, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, onlinestock.ErrInvalid)
	}
	cfg = cfg.withDefaults()
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	return &Notifier{cfg: cfg, url: origin(u), secrets: urlSecrets(u)}, nil
}

// redacted stands for what is left out of a URL or masked in an excerpt.
const redacted = "xxxxx"

// origin returns u for messages and logs: its scheme and host alone. A
// path, a query and user information often carry secrets (a token in
// "?token=…", a hook ID in the path, a Basic credential), and a log is
// read by more people than the configuration.
func origin(u *url.URL) string {
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// originOf is origin for a Location header, which may be relative or not
// a URL at all.
func originOf(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "a path on the same host"
	}
	return origin(u)
}

// urlSecrets lists what of u beyond its scheme and host an echoing
// receiver might send back: the path, its segments, the query, its
// values, the user, the password and the Basic credential made of them,
// each raw and escaped. Short pieces are left out: masking them would
// hide the excerpt, and a secret is longer.
func urlSecrets(u *url.URL) []string {
	var s []string
	add := func(v string) {
		if len(v) >= 4 {
			s = append(s, v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
	add(u.EscapedPath())
	add(u.Path)
	for _, seg := range strings.Split(u.Path, "/") {
		add(seg)
	}
	add(u.RawQuery)
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	if u.User != nil {
		add(u.User.Username())
		pass, _ := u.User.Password()
		add(pass)
		add(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass)))
	}
	// The longest first, so that a secret is masked whole before a piece
	// of it is.
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(s)
}

// excerpt is the start of a receiver's answer, for an error: at most
// excerptBytes, with anything of the URL beyond its scheme and host
// masked, as valid UTF-8. [StatusError.Error] quotes it as ASCII.
func (n *Notifier) excerpt(body []byte) string {
	s := strings.ToValidUTF8(strings.TrimSpace(string(body)), "\uFFFD")
	for _, secret := range n.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	if len(s) > excerptBytes {
		cut := excerptBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Stats counts what a [Notifier] did since it was made. Delivered counts
// events; the others count requests.
type Stats struct {
	Requests  uint64 // requests sent, whatever came of them
	Delivered uint64 // events the receiver acknowledged with a 2xx answer
	Retried   uint64 // requests that failed transiently, left for the Dispatcher to retry
	Failed    uint64 // requests refused permanently, or batches that could not be encoded
}

type stats struct {
	requests, delivered, retried, failed atomic.Uint64
}

// Stats returns the counters. Each is read atomically; they are not one
// snapshot, so while requests are in flight they may disagree by a little.
func (n *Notifier) Stats() Stats {
	return Stats{
		Requests:  n.stats.requests.Load(),
		Delivered: n.stats.delivered.Load(),
		Retried:   n.stats.retried.Load(),
		Failed:    n.stats.failed.Load(),
	}
}

// Notify implements [onlinestock.Notifier]: it sends events in requests of
// at most [Config.BatchSize], in order, and stops at the first failure,
// wrapping its error with [onlinestock.Partial] when earlier requests got
// through. Events are expected in strictly increasing Seq order, as a
// Dispatcher hands them.
func (n *Notifier) Notify(ctx context.Context, events []onlinestock.Event) error {
	for sent := 0; sent < len(events); {
		batch := events[sent:min(sent+n.cfg.BatchSize, len(events))]
		if err := n.send(ctx, batch); err != nil {
			return onlinestock.Partial(sent, err)
		}
		sent += len(batch)
	}
	return nil
}

// StatusError is a receiver's answer other than 2xx. Notify's error wraps
// it; read it with [errors.As]. Its message is what the Dispatcher logs
// and keeps as a dead letter's reason.
type StatusError struct {
	StatusCode int
	// Body is a short excerpt of the response body: its first bytes
	// (at most 64), with anything of the URL beyond its scheme and host
	// masked as "xxxxx", should the receiver echo the request.
	Body string
	// Location is the scheme and host of a redirect's Location header.
	Location string
}

// Error says what the receiver answered.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("receiver answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Location != "" {
		msg += " to " + strconv.Quote(e.Location) + " (redirects are not followed: update the URL)"
	}
	if e.Body != "" {
		msg += ": " + strconv.QuoteToASCII(e.Body)
	}
	return msg
}

// Transient reports whether the answer is worth retrying: 408 Request
// Timeout, 429 Too Many Requests and every 5xx.
func (e *StatusError) Transient() bool { return transientStatus(e.StatusCode) }

func transientStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Bounds on what is read of a response: a snippet to excerpt for the
// error, and a drain so the connection can be reused.
const (
	snippetBytes = 256
	excerptBytes = 64
	drainBytes   = 64 << 10
)

// send makes one request for batch and classifies the outcome.
func (n *Notifier) send(ctx context.Context, batch []onlinestock.Event) error {
	id := BatchID(batch)
	body, err := Encode(batch)
	if err != nil {
		n.stats.failed.Add(1)
		return onlinestock.Permanent(fmt.Errorf("webhook %s: %w", id, err))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		n.stats.failed.Add(1)
		return onlinestock.Permanent(fmt.Errorf("webhook %s to %s: %w", id, n.url, withoutURL(err)))
	}
	sent := n.cfg.Clock().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "onlinestock-webhook/"+strconv.Itoa(Version))
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(sent, 10))
	req.Header.Set(HeaderSignature, sign(n.cfg.Secret, id, sent, body))

	n.stats.requests.Add(1)
	start := time.Now()
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		err = withoutURL(err)
		if ctx.Err() != nil {
			return ctx.Err() // the caller gave up: not the receiver's failure
		}
		n.stats.retried.Add(1)
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v: %w", n.cfg.Timeout, err)
		}
		n.log(ctx, id, len(batch), 0, start, err)
		return fmt.Errorf("webhook %s to %s: %w", id, n.url, err)
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, snippetBytes))
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)
	_ = resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		n.stats.delivered.Add(uint64(len(batch)))
		n.log(ctx, id, len(batch), resp.StatusCode, start, nil)
		return nil
	}
	serr := &StatusError{StatusCode: resp.StatusCode, Body: n.excerpt(snippet)}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		if loc := resp.Header.Get("Location"); loc != "" {
			serr.Location = originOf(loc)
		}
	}
	// The record says the status; the body stays out of the log.
	n.log(ctx, id, len(batch), resp.StatusCode, start, fmt.Errorf("receiver answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	err = fmt.Errorf("webhook %s to %s: %w", id, n.url, serr)
	if serr.Transient() {
		n.stats.retried.Add(1)
		return err
	}
	n.stats.failed.Add(1)
	return onlinestock.Permanent(err)
}

// withoutURL strips the *url.Error wrapper the http package puts around
// its errors, which spells out the whole URL, credentials included; the
// Notifier names the URL itself, by its scheme and host.
func withoutURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

func (n *Notifier) log(ctx context.Context, id string, events, status int, start time.Time, err error) {
	if !n.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("webhook_id", id), slog.Int("events", events),
		slog.Int("status", status), slog.Duration("took", time.Since(start)),
	}
	msg := "webhook: delivered"
	if err != nil {
		msg = "webhook: not delivered"
		attrs = append(attrs, slog.Any("err", err))
	}
	n.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
}

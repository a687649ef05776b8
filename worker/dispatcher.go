package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/onlinestock/onlinestock"
)

// delivered returns how many of n events err says were delivered.
func delivered(err error, n int) int {
	var p *onlinestock.PartialError
	if !errors.As(err, &p) {
		return 0
	}
	return min(max(p.Delivered, 0), n)
}

// DispatcherConfig configures a [Dispatcher]. Zero values are defaults.
type DispatcherConfig struct {
	// Consumer names the cursor and dead letters in the Store, so several
	// dispatchers can each follow the outbox. Default "default".
	Consumer string
	// BatchSize is the most events handed to one Notify call. Default 100.
	BatchSize int
	// PollInterval is how long Run waits when no event is pending.
	// Default 200ms.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// transient failure; it doubles from MinBackoff up to MaxBackoff, with
	// jitter. Defaults 50ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives delivery failures. Default slog.Default().
	Logger *slog.Logger
	// Clock stamps dead letters. Default time.Now. A time outside the years
	// 1678 to 2262 (what a Store keeps) fails the dead-lettering with
	// ErrInvalid.
	Clock func() time.Time
}

func (c DispatcherConfig) withDefaults() DispatcherConfig {
	if c.Consumer == "" {
		c.Consumer = "default"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 50 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Dispatcher delivers committed events from a Store's outbox to a
// [onlinestock.Notifier], in sequence order and at least once. It records its progress
// in the Store (the consumer's cursor) after each delivered batch, so after
// a restart it resumes after the last acknowledged event; with a durable
// Store, progress survives the process.
//
// Transient failures are retried with capped exponential backoff. An event
// the Notifier refuses permanently is recorded as a dead letter, with the
// refusal's message as its reason (quoted, as by [strconv.Quote], for a
// Store that rejects the message as ErrInvalid), and delivery goes on;
// [Dispatcher.DeadLetters] lists them and [Dispatcher.Redeliver] tries one
// again. Events stay readable through [onlinestock.Outbox.EventsSince]. An event is
// logged as dead-lettered only once the Store has recorded it; until then
// the pass fails with the Store's error and the event is sent again later.
//
// Run one Dispatcher per consumer name at a time: two would both deliver.
// A [Worker] runs dispatchers for you, one per consumer across every process
// sharing the Store.
type Dispatcher struct {
	store    onlinestock.Outbox
	notifier onlinestock.Notifier
	cfg      DispatcherConfig
	// turn admits one delivery pass at a time. A channel rather than a
	// mutex, so that a caller waiting for its turn gives up when its
	// context ends.
	turn chan struct{}
	// onDelivered, when set, is told of every batch the Notifier
	// acknowledged, with the time of acknowledgement; a [Worker] counts
	// them.
	onDelivered func(events []onlinestock.Event, at time.Time)
	// onRetry and onDead, when set, count retried and dead-lettered batches.
	onRetry func(events []onlinestock.Event)
	onDead  func(e onlinestock.Event)
}

// NewDispatcher returns a Dispatcher from store to n.
func NewDispatcher(store onlinestock.Outbox, n onlinestock.Notifier, cfg DispatcherConfig) (*Dispatcher, error) {
	if store == nil {
		return nil, invalid("store", "nil")
	}
	if n == nil {
		return nil, invalid("notifier", "nil")
	}
	cfg = cfg.withDefaults()
	if err := checkName("DispatcherConfig.Consumer", cfg.Consumer); err != nil {
		return nil, err
	}
	return &Dispatcher{store: store, notifier: n, cfg: cfg, turn: make(chan struct{}, 1)}, nil
}

// lock waits for the dispatcher's turn, or for ctx to end.
func (d *Dispatcher) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case d.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) unlock() { <-d.turn }

// Run delivers events until ctx is done, then returns ctx's error. When the
// Store fails, Run waits before trying again, with the same capped
// exponential backoff and jitter as a failing delivery (never shorter than
// PollInterval), so a Store that keeps failing is not hammered; it logs the
// failure once, when it starts, and once more when the Store answers again.
func (d *Dispatcher) Run(ctx context.Context) error {
	retry := newBackoff(d.cfg.MinBackoff, d.cfg.MaxBackoff)
	health := failureLog{logger: d.cfg.Logger, msg: "onlinestock: dispatch", attrs: []any{"consumer", d.cfg.Consumer}}
	for {
		n, err := d.flush(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := d.cfg.PollInterval
		if err != nil {
			health.failed(ctx, err)
			wait = max(wait, retry.next())
		} else {
			health.ok(ctx)
			retry.reset()
			if n > 0 {
				continue
			}
		}
		if err := sleep(ctx, nil, wait); err != nil {
			return ctx.Err()
		}
	}
}

// Flush delivers every event committed so far and returns how many it
// handed on (delivered or dead-lettered). It retries transient failures until
// they succeed or ctx is done, and returns early with an error only when the
// Store fails or ctx ends. While another delivery pass of this Dispatcher
// runs (Run's, or another Flush or Redeliver), Flush waits for it to end, or
// for ctx to end.
func (d *Dispatcher) Flush(ctx context.Context) (int, error) {
	return d.flush(ctx)
}

func (d *Dispatcher) flush(ctx context.Context) (int, error) {
	if err := d.lock(ctx); err != nil {
		return 0, err
	}
	defer d.unlock()
	cursor, err := d.store.Cursor(ctx, d.cfg.Consumer)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		events, err := d.store.EventsSince(ctx, cursor, d.cfg.BatchSize)
		if err != nil {
			return total, err
		}
		if len(events) == 0 {
			return total, nil
		}
		n, err := d.deliver(ctx, nil, events, false)
		total += n
		if err != nil {
			return total, err
		}
		cursor = events[len(events)-1].Seq
	}
}

// step delivers the next batch after the consumer's cursor, if any, as
// flush does, but tries the Notifier once: a transient failure ends the
// step with the Notifier's error, after acknowledging what got through,
// and the caller decides when to try again. It also ends, between two
// Notify calls, once stop is closed. It reads the cursor from the Store
// unless the caller knows it (known), and returns how many events it
// handed on, even when it failed after some, and the cursor after them.
// A Worker delivers this way, a batch per tenant at a time, so that one
// tenant's failing receiver holds up no other tenant.
func (d *Dispatcher) step(ctx context.Context, stop <-chan struct{}, known bool, cursor uint64) (int, uint64, error) {
	if err := d.lock(ctx); err != nil {
		return 0, cursor, err
	}
	defer d.unlock()
	if !known {
		var err error
		if cursor, err = d.store.Cursor(ctx, d.cfg.Consumer); err != nil {
			return 0, cursor, err
		}
	}
	events, err := d.store.EventsSince(ctx, cursor, d.cfg.BatchSize)
	if err != nil || len(events) == 0 {
		return 0, cursor, err
	}
	n, err := d.deliver(ctx, stop, events, true)
	if n > 0 {
		cursor = events[n-1].Seq
	}
	return n, cursor, err
}

// deliver hands a batch to the notifier until it is accepted, retrying
// transient failures with backoff, and records in the consumer's cursor
// every event handed on, as it goes: what a partial failure says got
// through, and the batch once accepted. When events are refused
// permanently they are tried one by one, so only the refused ones are
// dead-lettered. With once, a transient failure is not retried: deliver
// returns it. It returns how many events, from the first, it handed on
// and recorded, whatever the error.
func (d *Dispatcher) deliver(ctx context.Context, stop <-chan struct{}, events []onlinestock.Event, once bool) (int, error) {
	retry := newBackoff(d.cfg.MinBackoff, d.cfg.MaxBackoff)
	handed := 0
	for attempt := 1; ; attempt++ {
		rest := events[handed:]
		err := d.notifier.Notify(ctx, rest)
		n := len(rest)
		if err != nil {
			n = delivered(err, len(rest))
		}
		if n > 0 {
			if d.onDelivered != nil {
				d.onDelivered(rest[:n], d.cfg.Clock())
			}
			if err := d.store.SetCursor(ctx, d.cfg.Consumer, rest[n-1].Seq); err != nil {
				return handed, err
			}
			handed += n
			rest = rest[n:]
			retry.reset() // progress: start the backoff over
			attempt = 1
			if len(rest) == 0 {
				return handed, nil
			}
		}
		if onlinestock.IsPermanent(err) {
			m, err := d.refused(ctx, stop, rest, err, once)
			return handed + m, err
		}
		if ctx.Err() != nil {
			return handed, ctx.Err()
		}
		if d.onRetry != nil {
			d.onRetry(rest)
		}
		if once {
			return handed, fmt.Errorf("delivering event %d: %w", rest[0].Seq, err)
		}
		wait := retry.next()
		d.cfg.Logger.Warn("onlinestock: delivery failed, retrying", "consumer", d.cfg.Consumer,
			"first_seq", rest[0].Seq, "attempt", attempt, "wait", wait, "err", err)
		if err := sleep(ctx, stop, wait); err != nil {
			return handed, err
		}
	}
}

// refused handles events the notifier refused for good: one event is
// dead-lettered, several are delivered again one by one to find which.
// Like deliver, it records each event in the cursor once settled, so a
// stop between two of them does not deliver the first again, and returns
// how many it settled.
func (d *Dispatcher) refused(ctx context.Context, stop <-chan struct{}, events []onlinestock.Event, err error, once bool) (int, error) {
	if len(events) > 1 {
		for i := range events {
			if stopped(stop) {
				return i, errStopping
			}
			if _, err := d.deliver(ctx, stop, events[i:i+1], once); err != nil {
				return i, err
			}
		}
		return len(events), nil
	}
	e := events[0]
	letter := onlinestock.DeadLetter{Seq: e.Seq, Reason: err.Error(), Time: d.cfg.Clock()}
	if err := checkTime("DispatcherConfig.Clock", letter.Time); err != nil {
		return 0, fmt.Errorf("dead-lettering event %d: %w", e.Seq, err)
	}
	perr := d.store.PutDeadLetter(ctx, d.cfg.Consumer, letter)
	if errors.Is(perr, onlinestock.ErrInvalid) {
		// The Store cannot keep this reason (a Store of text may refuse
		// bytes that are not UTF-8, or NUL): keep it escaped instead, so
		// that delivery goes on.
		letter.Reason = escapeReason(letter.Reason)
		perr = d.store.PutDeadLetter(ctx, d.cfg.Consumer, letter)
	}
	if perr != nil {
		return 0, fmt.Errorf("dead-lettering event %d: %w", e.Seq, perr)
	}
	d.cfg.Logger.Error("onlinestock: event dead-lettered", "consumer", d.cfg.Consumer, "seq", e.Seq, "kind", e.Kind, "err", err)
	if d.onDead != nil {
		d.onDead(e)
	}
	if err := d.store.SetCursor(ctx, d.cfg.Consumer, e.Seq); err != nil {
		return 0, err
	}
	return 1, nil
}

// checkTime checks that a Store can keep t: int64 nanoseconds since 1970,
// about the years 1678 to 2262.
func checkTime(field string, t time.Time) error {
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return invalid(field, "%v is outside the years 1678 to 2262, the times a Store keeps", t)
	}
	return nil
}

// maxEscapedReason bounds an escaped reason, in bytes of the original.
const maxEscapedReason = 4096

// escapeReason quotes a reason as a Go string literal: printable UTF-8,
// without NUL, that strconv.Unquote turns back into the reason (or into its
// first maxEscapedReason bytes, for a longer one).
func escapeReason(reason string) string {
	if len(reason) > maxEscapedReason {
		return strconv.Quote(reason[:maxEscapedReason]) + "…"
	}
	return strconv.Quote(reason)
}

// DeadLetters lists the events this dispatcher's consumer gave up on.
func (d *Dispatcher) DeadLetters(ctx context.Context) ([]onlinestock.DeadLetter, error) {
	return d.store.DeadLetters(ctx, d.cfg.Consumer)
}

// Redeliver tries a dead-lettered event again, once, and removes the dead
// letter when it is delivered. A seq that is not a dead letter of this
// consumer is ErrNotFound; a failed delivery returns the Notifier's error
// and keeps the dead letter. Like Flush, it waits for a delivery pass in
// progress to end, or for ctx to end.
func (d *Dispatcher) Redeliver(ctx context.Context, seq uint64) error {
	if seq == 0 {
		return notFound("dead letter", "0")
	}
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	dead, err := d.store.DeadLetters(ctx, d.cfg.Consumer)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(dead, func(l onlinestock.DeadLetter) bool { return l.Seq == seq }) {
		return notFound("dead letter", fmt.Sprint(seq))
	}
	events, err := d.store.EventsSince(ctx, seq-1, 1)
	if err != nil {
		return err
	}
	if len(events) == 0 || events[0].Seq != seq {
		return notFound("event", fmt.Sprint(seq))
	}
	if err := d.notifier.Notify(ctx, events); err != nil {
		return err
	}
	return d.store.DeleteDeadLetter(ctx, d.cfg.Consumer, seq)
}

func notFound(kind, id string) error {
	return fmt.Errorf("%s %q: %w", kind, id, onlinestock.ErrNotFound)
}

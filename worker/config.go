package worker

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/onlinestock/onlinestock"
)

// Consumer is one destination of a [Worker]'s event delivery: a Notifier
// and the name of its cursor in the Store.
type Consumer struct {
	// Name names the consumer's cursor and dead letters, as
	// [DispatcherConfig.Consumer] does. Required; unique within a Worker.
	Name     string
	Notifier onlinestock.Notifier
}

// Config configures a [Worker]. Zero values are defaults.
type Config struct {
	// Consumers receive every committed event, each at its own pace and
	// from its own cursor. Without consumers the Worker only expires
	// reservations and prunes (never events: an event is pruned only once
	// every consumer has acknowledged it).
	Consumers []Consumer

	// Holder names this process in the Store's leases; it must differ
	// between processes. Default: the host name, the process ID and a
	// random suffix.
	Holder string
	// LeaseTTL is how long a consumer's lease lasts unless renewed; it is
	// renewed every LeaseTTL/3 while the Worker delivers, and while it
	// waits to retry a failed delivery. A process that does not hold the
	// lease tries to take it every LeaseTTL/3, so when the holder dies
	// another process delivers again within LeaseTTL and a third of it.
	// Default 15s.
	LeaseTTL time.Duration

	// BatchSize, PollInterval, MinBackoff and MaxBackoff tune delivery as
	// in [DispatcherConfig]. MinBackoff and MaxBackoff also bound the
	// waits after a Store error. A consumer's delivery that gets some
	// events through before it fails starts its backoff over.
	//
	// The Worker hands a consumer at most BatchSize events at a time
	// before it turns to the next tenant with work, and looks for events
	// every PollInterval. When the Store (or the Tenants) is a
	// [Listener], commits wake the Worker at once, and PollInterval only
	// bounds how long a lost notification (the listening connection
	// failed) delays delivery.
	BatchSize              int
	PollInterval           time.Duration
	MinBackoff, MaxBackoff time.Duration

	// Concurrency is how many tenants the Worker serves at once, each with
	// one Store call at a time; a Worker over one Service serves its one
	// tenant. Default 4.
	Concurrency int

	// ExpireEvery is how often reservations past their deadline are
	// released ([onlinestock.Service.ExpireReservations]). Default 1s;
	// negative turns expiry off.
	ExpireEvery time.Duration

	// RetentionEvery is how often retention runs. Default 1 minute, and
	// for a Worker over [Tenants], which goes through every tenant in
	// turn, spread over the period, 1 hour. Negative turns retention off.
	RetentionEvery time.Duration
	// RetainEvents is how long events are kept after they are committed
	// (and, in any case, until every consumer has acknowledged them, and
	// while any consumer has a dead letter at or before them). Default 7
	// days; negative keeps events for ever.
	RetainEvents time.Duration
	// RetainReservations is how long closed reservations are kept after
	// they were made: Reserve, Release and Fulfill replayed within that
	// window find them and stay idempotent. Default the Service's
	// [onlinestock.Config.KeyRetention]; negative keeps them for ever.
	// Idempotency keys are deleted once past KeyRetention.
	RetainReservations time.Duration
	// RetainMovements is how long the stock ledger's movements are kept
	// after they are committed. Zero (the default) or negative keeps them
	// for ever: the ledger is a record the retailer may want to keep.
	RetainMovements time.Duration
	// RetentionBatch is the most rows of each kind deleted in one batch.
	// Default 1000.
	RetentionBatch int

	// Logger receives the Worker's records, with the tenant (when the
	// Store has one, and over [Tenants]) and the consumer as attributes.
	// Default slog.Default().
	Logger *slog.Logger
	// MeterProvider records the Worker's metrics. Default a no-op. Over
	// [Tenants], metrics carry the consumer but not the tenant, so that
	// thousands of tenants do not make thousands of series, and leases
	// held ([MetricLeasesHeld]) are not recorded: a lease is taken while
	// a tenant has events and lapses when it has none.
	MeterProvider metric.MeterProvider
}

// Defaults for the zero values of [Config].
const (
	DefaultLeaseTTL              = 15 * time.Second
	DefaultExpireEvery           = time.Second
	DefaultRetentionEvery        = time.Minute
	DefaultTenantsRetentionEvery = time.Hour
	DefaultRetainEvents          = 7 * 24 * time.Hour
	DefaultRetentionBatch        = 1000
	DefaultConcurrency           = 4
)

func (c Config) withDefaults(keyRetention time.Duration, tenants bool) Config {
	if c.Holder == "" {
		host, _ := os.Hostname()
		c.Holder = fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	d := DispatcherConfig{BatchSize: c.BatchSize, PollInterval: c.PollInterval, MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff}.withDefaults()
	c.BatchSize, c.PollInterval, c.MinBackoff, c.MaxBackoff = d.BatchSize, d.PollInterval, d.MinBackoff, d.MaxBackoff
	if c.ExpireEvery == 0 {
		c.ExpireEvery = DefaultExpireEvery
	}
	if c.RetentionEvery == 0 {
		c.RetentionEvery = DefaultRetentionEvery
		if tenants {
			c.RetentionEvery = DefaultTenantsRetentionEvery
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.RetainEvents == 0 {
		c.RetainEvents = DefaultRetainEvents
	}
	if c.RetainReservations == 0 {
		c.RetainReservations = keyRetention
	}
	if c.RetentionBatch <= 0 {
		c.RetentionBatch = DefaultRetentionBatch
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = noop.NewMeterProvider()
	}
	return c
}

func (c Config) validate() error {
	seen := map[string]bool{}
	for i, cons := range c.Consumers {
		field := fmt.Sprintf("Config.Consumers[%d].Name", i)
		if err := checkName(field, cons.Name); err != nil {
			return err
		}
		if seen[cons.Name] {
			return invalid(field, "%q appears twice", cons.Name)
		}
		seen[cons.Name] = true
		if cons.Notifier == nil {
			return invalid(fmt.Sprintf("Config.Consumers[%d].Notifier", i), "nil")
		}
	}
	if c.LeaseTTL < 0 {
		return invalid("Config.LeaseTTL", "negative duration %v", c.LeaseTTL)
	}
	if c.RetentionBatch < 0 {
		return invalid("Config.RetentionBatch", "negative %d", c.RetentionBatch)
	}
	if c.Concurrency < 0 {
		return invalid("Config.Concurrency", "negative %d", c.Concurrency)
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(format, args...), onlinestock.ErrInvalid)
}

// checkName checks a consumer's name as the Store checks an ID: non-empty,
// at most [onlinestock.MaxIDBytes] bytes, valid UTF-8 and free of control
// characters.
func checkName(field, name string) error {
	switch {
	case name == "":
		return invalid(field, "empty")
	case len(name) > onlinestock.MaxIDBytes:
		return invalid(field, "%d bytes, longer than %d", len(name), onlinestock.MaxIDBytes)
	case !utf8.ValidString(name):
		return invalid(field, "invalid UTF-8")
	}
	for i, r := range name {
		if unicode.IsControl(r) {
			return invalid(field, "control character at byte %d", i)
		}
	}
	return nil
}

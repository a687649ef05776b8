package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

func inspectCommand(db *database) *cobra.Command {
	o := &inspectOptions{db: db}
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show a tenant's outlets, methods, catalog, levels, availability, events, reservations, stock ledger or dead letters",
		Long: `Show a tenant's state as a table, or as JSON with --json (the library's
types in their JSON form).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("inspect: name what to show")
			}
			return usageErrorf("inspect: unknown %q%s", args[0], suggest(cmd, args[0]))
		},
		RunE: func(*cobra.Command, []string) error { return nil }, // Args refuses every call
	}
	pf := cmd.PersistentFlags()
	tenantFlag(pf, &o.tenant)
	pf.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	pf.DurationVar(&o.timeout, "timeout", time.Minute, "give up after this long")

	events := o.command("events", "Events after --after, at most --limit", nargs(0, 0), inspectEvents)
	events.Flags().Uint64Var(&o.after, "after", 0, "the sequence number to start after")
	events.Flags().IntVar(&o.limit, "limit", 100, "the most to print")

	reservations := o.command("reservations", "A page of reservations, sorted by order: open ones, or as the flags say", nargs(0, 0), inspectReservations)
	rf := reservations.Flags()
	rf.StringVar(&o.filter.status, "status", "open", "the status to list: open, released, fulfilled or expired")
	rf.StringVar(&o.filter.product, "product", "", "only reservations holding this product")
	rf.StringVar(&o.filter.outlet, "outlet", "", "only reservations at this outlet (of --product, when both are given)")
	rf.StringVar(&o.filter.dueBefore, "due-before", "", "only reservations whose deadline is before this RFC 3339 time, or this long from now (15m)")
	rf.StringVar(&o.filter.after, "after", "", "start after this order: the last of the previous page")
	rf.IntVar(&o.limit, "limit", 100, fmt.Sprintf("the most to print, up to %d", onlinestock.MaxReservationsPage))

	movements := o.command("movements", "A page of the stock ledger, in sequence order: every movement, or as the flags say", nargs(0, 0), inspectMovements)
	mf := movements.Flags()
	mf.StringVar(&o.ledger.product, "product", "", "only movements of this product")
	mf.StringVar(&o.ledger.outlet, "outlet", "", "only movements at this outlet")
	mf.StringVar(&o.ledger.ref, "ref", "", "only movements under this reference: an order, or a POS change's ref (else its key)")
	mf.Uint64Var(&o.after, "after", 0, "start after this sequence number: the last of the previous page")
	mf.IntVar(&o.limit, "limit", 100, fmt.Sprintf("the most to print, up to %d", onlinestock.MaxMovementPage))

	deadLetters := o.command("dead-letters", "Events a consumer (--consumer) gave up on", nargs(0, 0), inspectDeadLetters)
	deadLetters.Flags().StringVar(&o.consumer, "consumer", "default", "the Dispatcher's consumer name")

	cmd.AddCommand(
		o.command("setup", "Outlets (connected, buffer, rank, primary) and registers", nargs(0, 0), inspectSetup),
		o.command("methods", "Shipping, delivery and pickup methods, orphaned flagged", nargs(0, 0), inspectMethods),
		o.command("bundles", "Bundles and the units of each component one bundle takes", nargs(0, 0), inspectBundles),
		o.command("backorders", "Backorder policies: how many units each product sells past its stock, and where", nargs(0, 0), inspectBackorders),
		o.command("levels PRODUCT", "A product's level at each outlet", nargs(1, 1), inspectLevels),
		o.command("availability PRODUCT...", "What the storefront sees of products", nargs(1, -1), inspectAvailability),
		events,
		o.command("reservation ORDER...", "Reservations of orders", nargs(1, -1), inspectReservation),
		reservations,
		movements,
		deadLetters,
	)
	return cmd
}

// inspectOptions are the flags of inspect and its subcommands.
type inspectOptions struct {
	db       *database
	tenant   string
	json     bool
	timeout  time.Duration
	after    uint64 // events, movements
	limit    int    // events, reservations, movements
	consumer string // dead-letters
	filter   struct{ status, product, outlet, dueBefore, after string }
	ledger   struct{ product, outlet, ref string }
}

// inspection is one inspect command being run.
type inspection struct {
	*inspectOptions
	ctx    context.Context
	svc    *onlinestock.Service
	store  *pgstore.Store
	out    *printer
	stderr io.Writer
}

// command returns the subcommand use of inspect, which opens the tenant's
// Service and calls show.
func (o *inspectOptions) command(use, short string, args cobra.PositionalArgs, show func(*inspection, []string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			svc, store, closePool, err := o.db.service(ctx, cmd, o.tenant)
			if err != nil {
				return err
			}
			defer closePool()
			return show(&inspection{
				inspectOptions: o, ctx: ctx, svc: svc, store: store,
				out: &printer{w: cmd.OutOrStdout(), json: o.json}, stderr: cmd.ErrOrStderr(),
			}, args)
		},
	}
}

func inspectSetup(in *inspection, _ []string) error {
	setup, err := in.svc.Setup(in.ctx)
	if err != nil {
		return err
	}
	return in.out.print(setup, func(t *table) {
		primary := setup.Primary()
		t.row("outlet", "name", "connected", "buffer", "rank", "primary")
		for _, o := range setup.Outlets {
			t.row(o.ID, o.Name, yes(o.Connected), o.Buffer, o.Rank, yes(o.ID == primary))
		}
		t.blank()
		t.row("register", "outlet", "name", "order register")
		for _, r := range setup.Registers {
			t.row(r.ID, r.Outlet, r.Name, yes(r.ID == setup.OrderRegister))
		}
	})
}

func inspectMethods(in *inspection, _ []string) error {
	methods, err := in.svc.Methods(in.ctx)
	if err != nil {
		return err
	}
	orphaned, err := in.svc.OrphanedMethods(in.ctx)
	if err != nil {
		return err
	}
	isOrphan := map[string]bool{}
	for _, m := range orphaned {
		isOrphan[m.ID] = true
	}
	return in.out.print(methods, func(t *table) {
		t.row("method", "name", "kind", "outlet", "rule", "orphaned")
		for _, m := range methods {
			t.row(m.ID, m.Name, m.Kind, m.Outlet, m.Rule, yes(isOrphan[m.ID]))
		}
	})
}

func inspectBundles(in *inspection, _ []string) error {
	bundles, err := in.svc.Bundles(in.ctx)
	if err != nil {
		return err
	}
	if bundles == nil {
		bundles = []onlinestock.Bundle{}
	}
	return in.out.print(bundles, func(t *table) {
		t.row("bundle", "component", "units")
		for _, b := range bundles {
			for _, c := range b.Components {
				t.row(b.ID, c.Product, c.Quantity)
			}
		}
	})
}

func inspectBackorders(in *inspection, _ []string) error {
	policies, err := in.svc.Backorders(in.ctx)
	if err != nil {
		return err
	}
	if policies == nil {
		policies = []onlinestock.Backorder{}
	}
	return in.out.print(policies, func(t *table) {
		t.row("product", "limit", "expected", "outlet")
		for _, b := range policies {
			expected, outlet := "", cmp.Or(b.Outlet, "(primary)")
			if !b.Expected.IsZero() {
				expected = b.Expected.UTC().Format(time.RFC3339)
			}
			t.row(b.Product, b.Limit, expected, outlet)
		}
	})
}

func inspectLevels(in *inspection, args []string) error {
	levels, err := in.svc.Levels(in.ctx, args[0])
	if err != nil {
		return err
	}
	return in.out.print(levels, func(t *table) {
		t.row("outlet", "on hand", "reserved", "version")
		for _, l := range levels {
			t.row(l.Outlet, l.OnHand, l.Reserved, l.Version)
		}
	})
}

func inspectAvailability(in *inspection, products []string) error {
	avail, err := in.svc.Availability(in.ctx, products...)
	if err != nil {
		return err
	}
	type productAvailability struct {
		Product string `json:"product"`
		onlinestock.Availability
	}
	page := make([]productAvailability, len(products))
	for i, p := range products {
		page[i] = productAvailability{p, avail[i]}
	}
	return in.out.print(page, func(t *table) {
		t.row("product", "online", "label")
		for _, a := range page {
			t.row(a.Product, a.Quantity, a.Label)
		}
	})
}

func inspectEvents(in *inspection, _ []string) error {
	if in.limit <= 0 {
		return usageErrorf("inspect events: --limit must be positive")
	}
	events, err := in.svc.EventsSince(in.ctx, in.after, in.limit)
	if err != nil {
		return err
	}
	if events == nil {
		events = []onlinestock.Event{}
	}
	return in.out.print(events, func(t *table) {
		t.row("seq", "time", "kind", "subject", "change")
		for _, e := range events {
			subject, change := e.Product, ""
			switch e.Kind {
			case onlinestock.AvailabilityChanged:
				change = fmt.Sprintf("%d %s -> %d %s", e.Before.Quantity, e.Before.Label, e.After.Quantity, e.After.Label)
			case onlinestock.PrimaryChanged:
				subject, change = e.Outlet, "was "+e.Previous
			case onlinestock.OutletConnected, onlinestock.OutletDisconnected:
				subject, change = e.Outlet, strings.Join(e.Methods, ",")
			case onlinestock.OrderReserved, onlinestock.OrderAmended, onlinestock.OrderPartiallyFulfilled,
				onlinestock.OrderFulfilled, onlinestock.OrderPartiallyReleased, onlinestock.OrderReleased, onlinestock.OrderExpired:
				subject, change = e.Order, allocations(e.Allocations)
				if e.Part != "" {
					change = "part " + e.Part + ": " + change
				}
			}
			t.row(e.Seq, e.Time.UTC().Format(time.RFC3339), e.Kind, subject, change)
		}
	})
}

// allocations says where units are: "2 tee at north, 1 tee at south".
func allocations(as []onlinestock.Allocation) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = fmt.Sprintf("%d %s at %s", a.Quantity, a.Product, a.Outlet)
	}
	return strings.Join(s, ", ")
}

func inspectReservation(in *inspection, orders []string) error {
	var rs []onlinestock.Reservation
	for _, order := range orders {
		r, err := in.svc.Reservation(in.ctx, order)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	return in.out.print(rs, reservationTable(rs))
}

func inspectReservations(in *inspection, _ []string) error {
	f := onlinestock.ReservationFilter{
		Status:  onlinestock.ReservationStatus(in.filter.status),
		Product: in.filter.product,
		Outlet:  in.filter.outlet,
		After:   in.filter.after,
		Limit:   in.limit,
	}
	switch f.Status {
	case onlinestock.Open, onlinestock.Released, onlinestock.Fulfilled, onlinestock.Expired:
	default:
		return usageErrorf("inspect reservations: --status %q: want open, released, fulfilled or expired", f.Status)
	}
	if in.limit <= 0 || in.limit > onlinestock.MaxReservationsPage {
		return usageErrorf("inspect reservations: --limit must be from 1 to %d", onlinestock.MaxReservationsPage)
	}
	if s := in.filter.dueBefore; s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			f.DueBefore = t
		} else if d, err := time.ParseDuration(s); err == nil {
			f.DueBefore = time.Now().Add(d)
		} else {
			return usageErrorf("inspect reservations: --due-before %q: want an RFC 3339 time (2026-03-01T09:30:00Z) or a duration from now (15m)", s)
		}
	}
	rs, err := in.svc.Reservations(in.ctx, f)
	if err != nil {
		return err
	}
	if err := in.out.print(rs, reservationTable(rs)); err != nil {
		return err
	}
	if len(rs) == f.Limit {
		fmt.Fprintf(in.stderr, "more may follow: add --after %s\n", rs[len(rs)-1].Order)
	}
	return nil
}

// reservationTable fills a table with a row per allocation of each
// reservation.
func reservationTable(rs []onlinestock.Reservation) func(*table) {
	return func(t *table) {
		t.row("order", "status", "method", "created", "deadline", "product", "outlet", "quantity")
		for _, r := range rs {
			deadline := ""
			if !r.Deadline.IsZero() {
				deadline = r.Deadline.UTC().Format(time.RFC3339)
			}
			for _, a := range r.Allocations {
				t.row(r.Order, r.Status, r.Method, r.Created.UTC().Format(time.RFC3339), deadline, a.Product, a.Outlet, a.Quantity)
			}
		}
	}
}

func inspectMovements(in *inspection, _ []string) error {
	if in.limit <= 0 || in.limit > onlinestock.MaxMovementPage {
		return usageErrorf("inspect movements: --limit must be from 1 to %d", onlinestock.MaxMovementPage)
	}
	f := onlinestock.MovementFilter{
		Product: in.ledger.product,
		Outlet:  in.ledger.outlet,
		Ref:     in.ledger.ref,
		After:   in.after,
		Limit:   in.limit,
	}
	ms, err := in.svc.Movements(in.ctx, f)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []onlinestock.Movement{}
	}
	err = in.out.print(ms, func(t *table) {
		t.row("seq", "time", "product", "outlet", "kind", "reason", "ref", "delta on hand", "delta reserved", "on hand", "reserved", "version")
		for _, m := range ms {
			t.row(m.Seq, m.Time.UTC().Format(time.RFC3339), m.Product, m.Outlet, m.Kind, m.Reason, m.Ref,
				signed(m.OnHandDelta), signed(m.ReservedDelta), m.OnHand, m.Reserved, m.Version)
		}
	})
	if err != nil {
		return err
	}
	if len(ms) == f.Limit {
		fmt.Fprintf(in.stderr, "more may follow: add --after %d\n", ms[len(ms)-1].Seq)
	}
	return nil
}

// signed writes a delta with its sign: +2, -1, 0.
func signed(n int64) string {
	if n > 0 {
		return "+" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

func inspectDeadLetters(in *inspection, _ []string) error {
	dead, err := in.store.DeadLetters(in.ctx, in.consumer)
	if err != nil {
		return err
	}
	if dead == nil {
		dead = []onlinestock.DeadLetter{}
	}
	return in.out.print(dead, func(t *table) {
		t.row("seq", "time", "reason")
		for _, d := range dead {
			t.row(d.Seq, d.Time.UTC().Format(time.RFC3339), d.Reason)
		}
	})
}

// printer prints a value as JSON or as the table fill makes.
type printer struct {
	w    io.Writer
	json bool
}

func (p *printer) print(v any, fill func(*table)) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	t := &table{tw: tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)}
	fill(t)
	return t.tw.Flush()
}

// table prints aligned columns.
type table struct{ tw *tabwriter.Writer }

func (t *table) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		switch c := c.(type) {
		case int64:
			s[i] = strconv.FormatInt(c, 10)
		default:
			s[i] = fmt.Sprint(c)
		}
	}
	fmt.Fprintln(t.tw, strings.Join(s, "\t"))
}

func (t *table) blank() { fmt.Fprintln(t.tw) }

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

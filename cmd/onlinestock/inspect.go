package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onlinestock/onlinestock"
)

const inspectUsage = `WHAT [ARGS] --tenant T [--json]

what:
  setup                  outlets (connected, buffer, rank, primary) and registers
  methods                shipping, delivery and pickup methods, orphaned flagged
  levels PRODUCT         a product's level at each outlet
  availability PRODUCT…  what the storefront sees of products
  events                 events after --after, at most --limit
  reservation ORDER…     reservations of orders
  dead-letters           events a consumer (--consumer) gave up on`

// inspect prints a tenant's state as a table, or as JSON with --json (the
// library's types in their JSON form).
func inspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("inspect", inspectUsage, stderr)
	tenant := c.tenantFlag()
	asJSON := c.fs.Bool("json", false, "print JSON instead of a table")
	after := c.fs.Uint64("after", 0, "events: the sequence number to start after")
	limit := c.fs.Int("limit", 100, "events: the most to print")
	consumer := c.fs.String("consumer", "default", "dead-letters: the Dispatcher's consumer name")
	timeout := c.fs.Duration("timeout", time.Minute, "give up after this long")
	if err := c.parse(args); err != nil {
		return err
	}
	if err := c.wantArgs(1, -1); err != nil {
		return err
	}
	what, rest := c.args[0], c.args[1:]
	nargs := map[string][2]int{ // the arguments each takes: at least, at most (-1: any)
		"setup": {0, 0}, "methods": {0, 0}, "levels": {1, 1}, "availability": {1, -1},
		"events": {0, 0}, "reservation": {1, -1}, "dead-letters": {0, 0},
	}
	n, ok := nargs[what]
	if !ok {
		c.fs.Usage()
		return usageErrorf("inspect: unknown %q", what)
	}
	if len(rest) < n[0] || (n[1] >= 0 && len(rest) > n[1]) {
		c.fs.Usage()
		return usageErrorf("inspect %s: wrong number of arguments", what)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	svc, store, closePool, err := c.service(ctx, *tenant)
	if err != nil {
		return err
	}
	defer closePool()

	out := &printer{w: stdout, json: *asJSON}
	switch what {
	case "setup":
		setup, err := svc.Setup(ctx)
		if err != nil {
			return err
		}
		return out.print(setup, func(t *table) {
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
	case "methods":
		methods, err := svc.Methods(ctx)
		if err != nil {
			return err
		}
		orphaned, err := svc.OrphanedMethods(ctx)
		if err != nil {
			return err
		}
		isOrphan := map[string]bool{}
		for _, m := range orphaned {
			isOrphan[m.ID] = true
		}
		return out.print(methods, func(t *table) {
			t.row("method", "name", "kind", "outlet", "rule", "orphaned")
			for _, m := range methods {
				t.row(m.ID, m.Name, m.Kind, m.Outlet, m.Rule, yes(isOrphan[m.ID]))
			}
		})
	case "levels":
		levels, err := svc.Levels(ctx, rest[0])
		if err != nil {
			return err
		}
		return out.print(levels, func(t *table) {
			t.row("outlet", "on hand", "reserved", "version")
			for _, l := range levels {
				t.row(l.Outlet, l.OnHand, l.Reserved, l.Version)
			}
		})
	case "availability":
		avail, err := svc.Availability(ctx, rest...)
		if err != nil {
			return err
		}
		type productAvailability struct {
			Product string `json:"product"`
			onlinestock.Availability
		}
		page := make([]productAvailability, len(rest))
		for i, p := range rest {
			page[i] = productAvailability{p, avail[i]}
		}
		return out.print(page, func(t *table) {
			t.row("product", "online", "label")
			for _, a := range page {
				t.row(a.Product, a.Quantity, a.Label)
			}
		})
	case "events":
		if *limit <= 0 {
			return usageErrorf("inspect events: --limit must be positive")
		}
		events, err := svc.EventsSince(ctx, *after, *limit)
		if err != nil {
			return err
		}
		if events == nil {
			events = []onlinestock.Event{}
		}
		return out.print(events, func(t *table) {
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
				}
				t.row(e.Seq, e.Time.UTC().Format(time.RFC3339), e.Kind, subject, change)
			}
		})
	case "reservation":
		var rs []onlinestock.Reservation
		for _, order := range rest {
			r, err := svc.Reservation(ctx, order)
			if err != nil {
				return err
			}
			rs = append(rs, r)
		}
		return out.print(rs, func(t *table) {
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
		})
	case "dead-letters":
		dead, err := store.DeadLetters(ctx, *consumer)
		if err != nil {
			return err
		}
		if dead == nil {
			dead = []onlinestock.DeadLetter{}
		}
		return out.print(dead, func(t *table) {
			t.row("seq", "time", "reason")
			for _, d := range dead {
				t.row(d.Seq, d.Time.UTC().Format(time.RFC3339), d.Reason)
			}
		})
	}
	return nil
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

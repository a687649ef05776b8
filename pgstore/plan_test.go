package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// planNode is one node of EXPLAIN (FORMAT JSON)'s plan tree.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	IndexCond    string     `json:"Index Cond"`
	Plans        []planNode `json:"Plans"`
	// On Citus, the plans the workers run for the query's tasks.
	Distributed *struct {
		Job struct {
			Tasks []struct {
				RemotePlan [][]struct{ Plan planNode } `json:"Remote Plan"`
			} `json:"Tasks"`
		} `json:"Job"`
	} `json:"Distributed Query"`
}

// children returns the nodes below n: its subplans, and on Citus the plans
// of its tasks.
func (n planNode) children() []planNode {
	out := n.Plans
	if n.Distributed != nil {
		for _, task := range n.Distributed.Job.Tasks {
			for _, plans := range task.RemotePlan {
				for _, p := range plans {
					out = append(out, p.Plan)
				}
			}
		}
	}
	return out
}

// shardSuffix is the suffix Citus gives a shard's table.
var shardSuffix = regexp.MustCompile(`_\d+$`)

// bigTables are the tables that grow with the catalog or the outbox.
var bigTables = []string{"onlinestock_products", "onlinestock_levels", "onlinestock_events"}

// condColumn finds the columns an index condition compares.
var condColumn = regexp.MustCompile(`\(?(\w+) (?:=|<|>|<=|>=) `)

// checkPlan reports every scan of a big table in the plan that does not
// find its rows through an index by more than the tenant: a sequential
// scan, or an index scan on the tenant alone that is not bounded by a
// LIMIT above it.
func checkPlan(n planNode, limited bool, path string) []string {
	var bad []string
	path += " > " + n.NodeType
	if slices.Contains(bigTables, shardSuffix.ReplaceAllString(n.RelationName, "")) || n.NodeType == "Bitmap Index Scan" {
		switch n.NodeType {
		case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
			keyed := false
			for _, m := range condColumn.FindAllStringSubmatch(n.IndexCond, -1) {
				if m[1] != "tenant" {
					keyed = true
				}
			}
			if !keyed && !limited {
				bad = append(bad, fmt.Sprintf("%s on %s by the tenant alone (%s)", path, n.IndexName, n.IndexCond))
			}
		case "Tid Scan", "Bitmap Heap Scan", "ModifyTable": // by row ID, or the scan below decides
		default:
			bad = append(bad, fmt.Sprintf("%s of %s", path, n.RelationName))
		}
	}
	limited = limited || n.NodeType == "Limit"
	for _, c := range n.children() {
		bad = append(bad, checkPlan(c, limited, path)...)
	}
	return bad
}

// TestHotPlansUseIndexes loads 100,000 products × 5 outlets as a POS sync
// does, in batches of 10,000 levels with no ANALYZE by hand, then checks
// that every hot statement finds its rows through an index by its key,
// whatever the statistics say at that moment.
func TestHotPlansUseIndexes(t *testing.T) {
	t.Parallel()
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	ctx := context.Background()
	pool := newPool(t, 2)
	store := newStore(t, pool)
	svc := newService(t, store, onlinestock.Config{})
	outlets := benchOutlets(t, svc, 5)
	st := dense(n, 5).load(t, svc, 10_000)
	t.Logf("loaded %d levels: first batch %.0f levels/s, last %.0f, slowest %.0f", st.levels, st.first, st.last, st.slowest)

	page := make([]string, 100)
	for i := range page {
		page[i] = catalogProduct(n/2 + i)
	}
	many := make([]string, 2_000)
	for i := range many {
		many[i] = catalogProduct(n/3 + i)
	}
	tenant := store.Tenant()
	args := map[string][]any{
		"products":            {tenant, page},
		"products-at":         {tenant, outlets[1:2]},
		"lock-products-at":    {tenant, outlets[1:2]},
		"page-products":       {tenant, page},
		"page-levels":         {tenant, page},
		"set-enabled":         {tenant, many, true},
		"delete-placeholders": {tenant, page[:10]},
		"number-events":       {tenant, 1_000},
		"lock-products":       {tenant, page},
		"create-setup":        {tenant},
		"claim-keys":          {tenant, page, int64(1), int64(0), page},
		"claimed-keys":        {tenant, page},
		"insert-movements":    {tenant, "\x1f", "p", "o", "adjust", "", "", []int64{1}, []int64{1}, []int64{0}, []int64{1}, []int64{0}, []int64{1}, ""},
		"insert-movement":     {tenant, int64(1), "p", "o", "adjust", "", "", int64(1), int64(0), int64(1), int64(0), int64(1), ""},
		"create-ledger-count": {tenant},
		"number-movements":    {tenant, 1_000},
		"movements":           {tenant, int64(n / 2), 1_000, ""},
		"movements-product":   {tenant, int64(0), 100, "", page[0], ""},
		"movements-ref":       {tenant, int64(0), 100, "", "receipt-1"},
		"create-products":     {tenant, many},
		"put-levels":          {tenant, page, page, make([]int64, len(page)), make([]int64, len(page)), make([]int64, len(page))},
		"insert-events":       {tenant, "\x1f", []string{"stock"}, []*int64{nil}, []string{"p"}, []int64{0}, []string{""}, []int64{1}, []string{""}, []string{""}, []string{""}, []*string{nil}, []*string{nil}},
		"create-counter":      {tenant},
		"sweep-keys":          {tenant, int64(1), 1_000},
		"events-since":        {tenant, int64(n / 2), 1_000},
		"lock-pending":        {tenant, int64(5)},
		"mark-pending":        {tenant, "onlinestock", "\x1f"},
		"settle":              {tenant, []string{"web", "crm"}},
	}
	var citus bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&citus); err != nil {
		t.Fatal(err)
	}
	explainAll := func(when string) {
		t.Helper()
		for name, sql := range pgstore.HotStatements {
			a, ok := args[name]
			if !ok {
				t.Errorf("%s: no arguments to explain it with", name)
				continue
			}
			// Explained in a transaction as the Store runs them: with the
			// pending key of the events drawn, and with the planner
			// settings of their transaction.
			var out []byte
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SELECT set_config('onlinestock.pending', '0', true)"); err != nil {
					return err
				}
				if setting := pgstore.PlanSettings[name]; setting != "" {
					settings := []string{setting}
					switch {
					case citus && setting == pgstore.PlanSettings["number-events"]:
						settings = pgstore.CitusNumberingPlan
					case citus:
						settings = []string{pgstore.PropagateSettings, setting}
					}
					for _, set := range settings {
						if _, err := tx.Exec(ctx, set); err != nil {
							return err
						}
					}
				}
				return tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, a...).Scan(&out)
			})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			checkExplained(t, name, when, out)
			if slices.Contains(pgstore.GenericPlans, name) && !citus { // on Citus they are planned per call
				explainGeneric(t, ctx, pool, name, sql, a, when)
			}
		}
	}
	explainAll("statistics as the load left them")
	if _, err := pool.Exec(ctx, `ANALYZE onlinestock_products, onlinestock_levels, onlinestock_events, onlinestock_movements`); err != nil {
		t.Fatal(err)
	}
	explainAll("statistics fresh")
}

// explainGeneric checks the generic plan of a statement the Store runs
// with its generic plan: prepared, and explained as it executes with the
// generic plan forced.
func explainGeneric(t *testing.T, ctx context.Context, pool *pgxpool.Pool, name, sql string, args []any, when string) {
	t.Helper()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// EXECUTE takes no parameters: its arguments are written as literals.
	params := make([]string, len(args))
	for i, a := range args {
		var cast string
		switch a.(type) {
		case string:
			cast = "text"
		case []string:
			cast = "text[]"
		case int64, int:
			cast = "bigint"
		default:
			t.Fatalf("%s: no literal for argument %d, a %T", name, i+1, a)
		}
		if err := conn.QueryRow(ctx, "SELECT format('%L', $1::"+cast+")", a).Scan(&params[i]); err != nil {
			t.Fatal(err)
		}
	}
	var out []byte
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "PREPARE generic AS "+sql); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE generic("+strings.Join(params, ", ")+")").Scan(&out)
	})
	// Prepared for the session, not the transaction.
	if _, derr := conn.Exec(ctx, "DEALLOCATE generic"); derr != nil && err == nil {
		t.Fatal(derr)
	}
	if err != nil {
		t.Errorf("%s, generic plan: %v", name, err)
		return
	}
	checkExplained(t, name+", generic plan", when, out)
}

// checkExplained checks the output of EXPLAIN (FORMAT JSON) with checkPlan.
func checkExplained(t *testing.T, name, when string, out []byte) {
	t.Helper()
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("%s: EXPLAIN output %s: %v", name, out, err)
	}
	if bad := checkPlan(plans[0].Plan, false, ""); len(bad) > 0 {
		t.Errorf("%s, %s: not by index:\n\t%s", name, when, strings.Join(bad, "\n\t"))
	}
}

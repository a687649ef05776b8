package pgstore_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/worker"
)

// Environment of the worker processes TestWorkerReplicas starts: the test
// binary run again, as a worker, until it is killed.
const (
	workerTenantsEnv = "PGSTORE_WORKER_CHILD_TENANTS" // comma-separated
	workerLogEnv     = "PGSTORE_WORKER_CHILD_LOG"     // file of deliveries
	workerNameEnv    = "PGSTORE_WORKER_CHILD_NAME"    // lease holder
	workerPrefixEnv  = "PGSTORE_WORKER_CHILD_PREFIX"  // one Worker over the tenants with this prefix
)

const (
	replicaLeaseTTL  = time.Second
	replicaBatchSize = 10
	replicaConns     = 8 // each worker process's pool
)

// TestWorkerReplicas runs four worker processes over one database with
// many tenants, each process with a Worker per tenant, while writers
// commit events, kills (SIGKILL) the process delivering for the most
// tenants, and checks that another takes over its tenants within the
// lease's bound; that every event is delivered, in sequence order per
// tenant and process; and that repeats happen only where delivery moved
// from one process to another, at most a batch each.
func TestWorkerReplicas(t *testing.T) {
	if os.Getenv(workerTenantsEnv) != "" {
		workerChild(t)
		return
	}
	testReplicas(t, false)
}

// TestTenantsWorkerReplicas is TestWorkerReplicas with one Worker over
// every tenant in each process.
func TestTenantsWorkerReplicas(t *testing.T) {
	if os.Getenv(workerTenantsEnv) != "" {
		workerChild(t)
		return
	}
	testReplicas(t, true)
}

func testReplicas(t *testing.T, overTenants bool) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs and kills worker processes; skipped with -short")
	}
	pool := sharedPool(t)
	const processes, tenants = 4, 50
	var services []*onlinestock.Service
	var stores []onlinestock.Store
	var names []string
	var prefix string
	if overTenants {
		var all *pgstore.Tenants
		all, services = newTenants(t, pool, tenants)
		prefix = pgstore.Prefix(all)
	} else {
		for range tenants {
			store := newStore(t, pool)
			svc := newService(t, store, onlinestock.Config{})
			must(t, setUpShop(context.Background(), svc))
			services = append(services, svc)
		}
	}
	ctx := context.Background()
	for _, svc := range services {
		stores, names = append(stores, svc.Store()), append(names, tenantOf(svc))
	}

	dir := t.TempDir()
	conns := replicaConns
	if overTenants {
		conns++ // the listening connection
	}
	reserveConns(t, processes*conns) // the children's
	children := make([]*exec.Cmd, processes)
	logs := make([]string, processes)
	for i := range children {
		logs[i] = filepath.Join(dir, fmt.Sprintf("worker-%d.log", i))
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), workerTenantsEnv+"="+strings.Join(names, ","), workerLogEnv+"="+logs[i],
			workerNameEnv+"="+fmt.Sprintf("worker-%d", i), appNameEnv+"="+appName, workerPrefixEnv+"="+prefix)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("worker %d: %q, %v; want ready", i, line, err)
		}
		children[i] = cmd
	}

	// Writers touch every tenant in turn, until told to stop.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := g; !stop.Load(); n += 4 {
				svc := services[n%tenants]
				_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(n%7+1))})
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	time.Sleep(2 * time.Second)

	// Kill the process that delivers for the most tenants.
	held := map[int][]string{}
	for i := range logs {
		for _, d := range readDeliveries(t, logs[i]) {
			if !slices.Contains(held[i], d.tenant) {
				held[i] = append(held[i], d.tenant)
			}
		}
	}
	victim := 0
	for i := range logs {
		if len(held[i]) > len(held[victim]) {
			victim = i
		}
	}
	if len(held[victim]) == 0 {
		t.Fatal("no process delivered anything in 2s")
	}
	killed := time.Now()
	must(t, children[victim].Process.Kill()) // SIGKILL: no release, no cleanup
	_ = children[victim].Wait()
	t.Logf("killed worker %d, which delivered for %d tenants", victim, len(held[victim]))
	time.Sleep(3 * time.Second)
	stop.Store(true)
	wg.Wait()

	last := map[string]uint64{}
	for i, store := range stores {
		events := allEvents(t, store)
		last[names[i]] = uint64(len(events))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := map[string]uint64{}
		for i := range logs {
			for _, d := range readDeliveries(t, logs[i]) {
				got[d.tenant] = max(got[d.tenant], d.seq)
			}
		}
		done := true
		for tenant, n := range last {
			done = done && got[tenant] == n
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every event delivered after 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	type delivery struct {
		process int
		at      time.Time
		seq     uint64
	}
	byTenant := map[string][]delivery{}
	for i := range logs {
		seen := map[string]uint64{}
		for _, d := range readDeliveries(t, logs[i]) {
			if d.seq <= seen[d.tenant] {
				t.Errorf("worker %d delivered %s's event %d after event %d", i, d.tenant, d.seq, seen[d.tenant])
			}
			seen[d.tenant] = d.seq
			byTenant[d.tenant] = append(byTenant[d.tenant], delivery{i, d.at, d.seq})
		}
	}
	var slowest time.Duration
	repeats, handovers := 0, 0
	for _, tenant := range names {
		ds := byTenant[tenant]
		slices.SortStableFunc(ds, func(a, b delivery) int { return a.at.Compare(b.at) })
		count := map[uint64]int{}
		moves := 0
		for j, d := range ds {
			count[d.seq]++
			if j > 0 && d.process != ds[j-1].process {
				moves++
			}
		}
		for seq := uint64(1); seq <= last[tenant]; seq++ {
			if count[seq] == 0 {
				t.Errorf("%s: event %d never delivered", tenant, seq)
			}
		}
		dups := 0
		for _, n := range count {
			dups += n - 1
		}
		if dups > moves*replicaBatchSize {
			t.Errorf("%s: %d repeated deliveries across %d handovers, want at most a batch (%d) each", tenant, dups, moves, replicaBatchSize)
		}
		repeats, handovers = repeats+dups, handovers+moves
		if slices.Contains(held[victim], tenant) {
			// The victim's tenants: the first delivery by another process
			// after the kill.
			for _, d := range ds {
				if d.process != victim && d.at.After(killed) {
					slowest = max(slowest, d.at.Sub(killed))
					break
				}
			}
		}
	}
	t.Logf("%d tenants, %d events; %d handovers, %d repeated deliveries; slowest takeover %v",
		tenants, func() (n uint64) {
			for _, l := range last {
				n += l
			}
			return n
		}(), handovers, repeats, slowest.Round(time.Millisecond))
	// A lease lapses LeaseTTL after its last renewal, and a standby tries
	// every LeaseTTL/3; the rest is slack for a loaded machine.
	if bound := replicaLeaseTTL + replicaLeaseTTL/3 + 2*time.Second; slowest > bound {
		t.Errorf("slowest takeover took %v, want at most %v", slowest, bound)
	}
}

type childDelivery struct {
	tenant string
	seq    uint64
	at     time.Time
}

// readDeliveries reads a worker's log, "tenant seq unixnano" a line,
// ignoring a last line cut short by a kill.
func readDeliveries(t *testing.T, path string) []childDelivery {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	var out []childDelivery
	for line := range strings.Lines(string(data)) {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("%s: bad line %q", path, line)
		}
		seq, err1 := strconv.ParseUint(f[1], 10, 64)
		ns, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out = append(out, childDelivery{f[0], seq, time.Unix(0, ns)})
	}
	return out
}

// workerChild runs one Worker per tenant, or one over them all, delivering
// to a file, until it is killed (or a minute passes, should the parent be
// gone).
func workerChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f, err := os.OpenFile(os.Getenv(workerLogEnv), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	must(t, err)
	var mu sync.Mutex
	pool := openPool(t, replicaConns)
	deliveries := func(of string) onlinestock.Notifier {
		return onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
			tenant := of
			if tenant == "" {
				tenant = worker.TenantOf(ctx)
			}
			var b strings.Builder
			for _, e := range events {
				fmt.Fprintf(&b, "%s %d %d\n", tenant, e.Seq, time.Now().UnixNano())
			}
			mu.Lock()
			defer mu.Unlock()
			_, err := f.WriteString(b.String()) // one write: a kill cuts at most the last line
			return err
		})
	}
	cfg := func(n onlinestock.Notifier) worker.Config {
		return worker.Config{
			Consumers:      []worker.Consumer{{Name: "web", Notifier: n}},
			Holder:         os.Getenv(workerNameEnv),
			LeaseTTL:       replicaLeaseTTL,
			BatchSize:      replicaBatchSize,
			PollInterval:   100 * time.Millisecond,
			Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			ExpireEvery:    -1,
			RetentionEvery: -1,
		}
	}
	if prefix := os.Getenv(workerPrefixEnv); prefix != "" {
		tenants, err := pgstore.NewTenants(pool, pgstore.Config{})
		must(t, err)
		pgstore.SetPrefix(tenants, prefix)
		w, err := worker.NewTenants(tenants, onlinestock.Config{}, cfg(deliveries("")))
		must(t, err)
		must(t, w.Start(ctx))
	} else {
		for _, tenant := range strings.Split(os.Getenv(workerTenantsEnv), ",") {
			store, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
			must(t, err)
			w, err := worker.New(newService(t, store, onlinestock.Config{}), cfg(deliveries(tenant)))
			must(t, err)
			must(t, w.Start(ctx))
		}
	}
	fmt.Println("ready")
	<-ctx.Done()
}

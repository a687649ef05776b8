package pgstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// crashEnv switches the test binary into the child of TestCrashRecovery,
// which loads the tenant it names until it is killed.
const crashEnv = "PGSTORE_CRASH_CHILD_TENANT"

func TestCrashRecovery(t *testing.T) {
	if tenant := os.Getenv(crashEnv); tenant != "" {
		crashChild(t, tenant)
		return
	}
	t.Parallel()
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	ctx := context.Background()
	pool := sharedPool(t)
	store := newStore(t, pool)
	svc := newService(t, store, onlinestock.Config{LowStockThreshold: 2})
	setUpOutlets(t, svc)
	_, err := svc.SetBuffer(ctx, "b", 1)
	must(t, err)
	products := productIDs(20)
	var stock []onlinestock.Change
	for _, p := range products {
		stock = append(stock, onlinestock.Set(p, "a", 3), onlinestock.Set(p, "b", 3))
	}
	_, err = svc.Apply(ctx, stock)
	must(t, err)
	must(t, svc.EnableOnline(ctx, products[:15]...))

	reserveConns(t, crashWorkers+2) // the children's pools, one child at a time
	for round := range 4 {
		// Each child is killed once it reports a number of commits, more
		// each round: a count, not a timer, so that a loaded machine
		// slows the child down without making it do less.
		crashRound(t, store.Tenant(), 10+10*round)
	}

	// A fresh pool and Store see only what committed, and it is consistent.
	fresh := newPool(t, 4)
	after, err := pgstore.New(fresh, pgstore.Config{Tenant: store.Tenant()})
	must(t, err)
	events := allEvents(t, after)
	if len(events) < 50 {
		t.Errorf("only %d events after the crashes: the child did not get far enough to test anything", len(events))
	}
	t.Logf("%d events committed across the crashes", len(events))
	checkConsistent(t, after, newService(t, after, onlinestock.Config{LowStockThreshold: 2}), 2)
	var orders []string
	for g := range crashWorkers {
		for n := range 10000 {
			orders = append(orders, crashOrder(g, n))
		}
	}
	checkReserved(t, after, orders)
}

const crashWorkers = 4

// crashProgress starts the lines a crash child writes on its standard
// output after each commit: the prefix, then how many of its calls have
// committed so far.
const crashProgress = "crash-progress "

// crashRound runs a crash child over tenant and kills it (SIGKILL: no
// cleanup, transactions cut mid-flight) once it reports commits calls
// committed. It fails the test if the child stops, or reports nothing
// for a minute, before.
func crashRound(t *testing.T, tenant string, commits int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+tenant, appNameEnv+"="+appName)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	progress := make(chan int)
	go func() {
		defer close(progress)
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			n, ok := strings.CutPrefix(lines.Text(), crashProgress)
			if !ok {
				fmt.Println(lines.Text())
				continue
			}
			if n, err := strconv.Atoi(n); err == nil {
				progress <- n
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	for {
		select {
		case n, ok := <-progress:
			if !ok {
				t.Fatalf("the crash child ended before it committed %d calls", commits)
			}
			if n < commits {
				continue
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			go func() { // unblock the reader until the pipe closes
				for range progress {
				}
			}()
			return
		case <-time.After(time.Minute):
			t.Fatalf("the crash child reported no commit for a minute (wanted %d)", commits)
		}
	}
}

func crashOrder(worker, n int) string { return fmt.Sprintf("w%d-%d", worker, n) }

// crashChild applies changes, reserves and releases orders, and flips an
// outlet's connection, from several goroutines, until it is killed.
func crashChild(t *testing.T, tenant string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // never outlive a lost parent
	defer cancel()
	pool := openPool(t, crashWorkers+2)
	store, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
	must(t, err)
	svc := newService(t, store, onlinestock.Config{LowStockThreshold: 2})
	products := productIDs(20)
	seed := uint64(time.Now().UnixNano())
	var committed atomic.Int64
	var report sync.Mutex
	var wg sync.WaitGroup
	for g := range crashWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			// Orders are numbered from a random start, so each run of the
			// child uses new order IDs within the range the parent checks.
			for n := rng.IntN(9000); ctx.Err() == nil && n < 10000; n++ {
				var err error
				switch k := rng.IntN(10); {
				case k < 6:
					var changes []onlinestock.Change
					for range 1 + rng.IntN(6) {
						p, o := products[rng.IntN(len(products))], []string{"a", "b", "c"}[rng.IntN(3)]
						changes = append(changes, onlinestock.Adjust(p, o, rng.Int64N(7)-3).WithKey(fmt.Sprintf("w%d-%d-%d", g, n, len(changes))))
					}
					_, err = svc.Apply(ctx, changes)
				case k < 9:
					id := crashOrder(g, n)
					lines := []onlinestock.Line{{Product: products[rng.IntN(len(products))], Quantity: 1}}
					_, err = svc.Reserve(ctx, onlinestock.Order{ID: id, Lines: lines})
					if err == nil && rng.IntN(2) == 0 {
						_, err = svc.Release(ctx, id)
					}
				default:
					if rng.IntN(2) == 0 {
						_, err = svc.Connect(ctx, "c")
					} else {
						_, err = svc.Disconnect(ctx, "c")
					}
				}
				if err == nil {
					report.Lock() // one line at a time, in order
					fmt.Printf("%s%d\n", crashProgress, committed.Add(1))
					report.Unlock()
				}
				if err != nil && !errors.Is(err, onlinestock.ErrInsufficientStock) && !errors.Is(err, onlinestock.ErrInvalid) &&
					!errors.Is(err, onlinestock.ErrConflict) && ctx.Err() == nil {
					t.Errorf("child: %v", err)
				}
			}
		})
	}
	wg.Wait()
}

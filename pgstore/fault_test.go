package pgstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// TestConnectionLostAroundCommit kills the Store's database connections at
// random moments (as a server restart or a network failure would) while
// unkeyed adjusts of +1 run one after another. Whatever each call reports,
// on-hand must count exactly the calls reported done: a call whose
// connection died during its COMMIT asks the database, on another
// connection, whether it committed, so none is left unknown while the
// server is up.
func TestConnectionLostAroundCommit(t *testing.T) {
	t.Parallel()
	const tries = 600
	ctx := context.Background()
	app := newTenant(t, sharedPool(t)) // a name no other test uses
	// The pool's connections are named apart, so the killer finds them, and
	// within the tests' name, so they count in the tests' connections.
	cfg := poolConfig(t, databaseURL(t), 3)
	killable := appName + " " + app
	cfg.ConnConfig.RuntimeParams["application_name"] = killable
	reserveConns(t, int(cfg.MaxConns))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store, err := pgstore.New(pool, pgstore.Config{Tenant: app})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, store, onlinestock.Config{})
	setUpOutlets(t, svc)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("tee", "a", 0)})
	must(t, err)

	killer := sharedPool(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var kills int
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(7, 8))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(rng.IntN(20_000)) * time.Microsecond):
			}
			tag, err := killer.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE application_name = $1 AND pid <> pg_backend_pid()`, killable)
			if err != nil {
				t.Error(err)
				return
			}
			kills += int(tag.RowsAffected())
		}
	})
	var done, failed, unknown int64
	for range tries {
		_, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Adjust("tee", "a", 1)})
		switch {
		case err == nil:
			done++
		case errors.Is(err, onlinestock.ErrCommitUnknown):
			unknown++
		default:
			failed++
		}
	}
	close(stop)
	wg.Wait()

	var onHand int64
	if err := killer.QueryRow(ctx, `SELECT on_hand FROM onlinestock_levels WHERE tenant = $1 AND product = 'tee'`,
		app).Scan(&onHand); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d connections killed; %d calls done, %d failed, %d unknown", kills, done, failed, unknown)
	if failed == 0 {
		t.Errorf("no call failed: the connections were not killed while calls ran")
	}
	if unknown > 0 {
		t.Errorf("%d calls reported ErrCommitUnknown although the server was up to be asked", unknown)
	}
	if onHand != done {
		t.Errorf("on-hand is %d after %d adjusts of +1 reported done and %d failed", onHand, done, failed)
	}
}

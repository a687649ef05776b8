package pgstore

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The Stores of one pool listen for commits on one connection between
// them: a process that runs a Worker per tenant opens one listening
// connection, not one per tenant. A hub is that connection and the Stores
// listening on it; it closes when the last one stops listening, or when
// the connection fails, which ends every Listen call on it (each Worker
// then listens again, on a new hub).
type hub struct {
	pool   *pgxpool.Pool
	cancel context.CancelFunc

	mu   sync.Mutex
	subs map[*subscriber]bool
	live bool // listening: every commit from now on reaches the subscribers
}

// subscriber is one Listen call on a hub.
type subscriber struct {
	tenant string
	wake   func(tenant string)
	live   chan struct{} // closed once the hub listens
	failed chan error    // the hub's connection failed
}

var hubs = struct {
	sync.Mutex
	by map[*pgxpool.Pool]*hub
}{by: map[*pgxpool.Pool]*hub{}}

// subscribe adds sub to the hub of pool, starting one if there is none.
func subscribe(pool *pgxpool.Pool, sub *subscriber) *hub {
	hubs.Lock()
	defer hubs.Unlock()
	h := hubs.by[pool]
	if h == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h = &hub{pool: pool, cancel: cancel, subs: map[*subscriber]bool{}}
		hubs.by[pool] = h
		go h.run(ctx)
	}
	h.mu.Lock()
	h.subs[sub] = true
	if h.live {
		close(sub.live)
	}
	h.mu.Unlock()
	return h
}

// leave removes sub, and closes the hub once nobody listens on it.
func (h *hub) leave(sub *subscriber) {
	hubs.Lock()
	defer hubs.Unlock()
	h.mu.Lock()
	delete(h.subs, sub)
	last := len(h.subs) == 0
	h.mu.Unlock()
	if last {
		h.cancel()
		if hubs.by[h.pool] == h {
			delete(hubs.by, h.pool)
		}
	}
}

// run listens until the last subscriber leaves or the connection fails,
// and then tells every subscriber left.
func (h *hub) run(ctx context.Context) {
	err := listen(ctx, h.pool, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.live = true
		for sub := range h.subs {
			close(sub.live)
		}
	}, func(tenant string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for sub := range h.subs {
			if sub.tenant == tenant {
				sub.wake(tenant)
			}
		}
	})
	hubs.Lock()
	if hubs.by[h.pool] == h {
		delete(hubs.by, h.pool) // the next Listen starts a new hub
	}
	hubs.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.failed <- err
	}
}

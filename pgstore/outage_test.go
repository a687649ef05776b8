package pgstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/worker"
)

// proxy forwards TCP connections to PostgreSQL until it is taken down:
// then it cuts every open connection and refuses new ones, as a database
// that stopped would, until it is brought up again. With a delay, it holds
// what it forwards that long each way, as a network would.
type proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration // one way

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newProxy(t testing.TB, target string) *proxy {
	return newDelayProxy(t, target, 0)
}

// newDelayProxy returns a proxy that delays what it forwards by delay,
// each way.
func newDelayProxy(t testing.TB, target string, delay time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true)
	})
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.mu.Unlock()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	go func() { p.copy(s, c); s.Close() }()
	p.copy(c, s)
	c.Close()
}

// copy forwards what src sends to dst, each read held for the delay.
func (p *proxy) copy(dst, src net.Conn) {
	if p.delay <= 0 {
		_, _ = io.Copy(dst, src)
		return
	}
	type chunk struct {
		due  time.Time
		data []byte
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{time.Now().Add(p.delay), slices.Clone(buf[:n])}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			src.Close() // ends the reader, which closes chunks
			for range chunks {
				continue
			}
			return
		}
	}
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// countingHandler counts slog records per level.
type countingHandler struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Level]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// TestWorkerRidesOutADatabaseOutage runs a Worker whose connections to
// PostgreSQL go through a proxy, and takes the proxy down for two seconds
// while writers commit (through connections of their own): the Worker
// backs off, logs a handful of lines however many calls fail, and then
// delivers every event, none skipped. It does so for a Worker over the
// tenant's Store and for one over Tenants, which also listens through the
// proxy.
func TestWorkerRidesOutADatabaseOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes seconds; skipped with -short")
	}
	for _, overTenants := range []bool{false, true} {
		t.Run(fmt.Sprintf("over tenants=%v", overTenants), func(t *testing.T) {
			t.Parallel()
			rideOutAnOutage(t, overTenants)
		})
	}
}

func rideOutAnOutage(t *testing.T, overTenants bool) {
	ctx := context.Background()
	direct := sharedPool(t)
	store := newStore(t, direct)
	svc := newService(t, store, onlinestock.Config{})
	must(t, svc.SaveOutlet(ctx, "a", "A"))
	must(t, svc.SaveRegister(ctx, "r", "a", ""))
	_, err := svc.Activate(ctx, "r")
	must(t, err)
	_, err = svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 1)})
	must(t, err)
	must(t, svc.EnableOnline(ctx, "p"))

	cfg := poolConfig(t, databaseURL(t), 4)
	reserveConns(t, int(cfg.MaxConns)+1) // and a listening connection
	p := newProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(p.ln.Addr().(*net.TCPAddr).Port)
	// The proxy, when down, refuses at once: the timeout only bounds a
	// connection a loaded machine is slow to make, so it is generous.
	cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	proxied, err := pgxpool.NewWithConfig(ctx, cfg)
	must(t, err)
	t.Cleanup(proxied.Close)
	viaProxy, err := pgstore.New(proxied, pgstore.Config{Tenant: store.Tenant()})
	must(t, err)

	var mu sync.Mutex
	var got []uint64
	notify := onlinestock.NotifierFunc(func(ctx context.Context, events []onlinestock.Event) error {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			got = append(got, e.Seq)
		}
		return nil
	})
	logs := &countingHandler{n: map[slog.Level]int{}}
	wcfg := worker.Config{
		Consumers:      []worker.Consumer{{Name: "web", Notifier: notify}},
		LeaseTTL:       time.Second,
		PollInterval:   10 * time.Millisecond,
		MinBackoff:     10 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		ExpireEvery:    10 * time.Millisecond,
		RetentionEvery: 10 * time.Millisecond,
		Logger:         slog.New(logs),
	}
	var w *worker.Worker
	if overTenants {
		tenants, err := pgstore.NewTenants(proxied, pgstore.Config{})
		must(t, err)
		pgstore.SetPrefix(tenants, store.Tenant())
		w, err = worker.NewTenants(tenants, onlinestock.Config{}, wcfg)
		must(t, err)
	} else {
		w, err = worker.New(newService(t, viaProxy, onlinestock.Config{}), wcfg)
		must(t, err)
	}
	must(t, w.Start(ctx))

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 0; !stop.Load(); n++ {
			if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", int64(n%5+1))}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	time.Sleep(500 * time.Millisecond)
	p.setDown(true)
	time.Sleep(2 * time.Second)
	p.setDown(false)
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	last := uint64(len(allEvents(t, store)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		done := n > 0 && got[n-1] == last
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every event delivered 30s after the outage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	must(t, w.Stop(stopCtx))

	mu.Lock()
	defer mu.Unlock()
	// A batch whose acknowledgement was cut off is delivered again; no
	// event is ever skipped.
	var once []uint64
	var high uint64
	for _, seq := range got {
		if seq > high+1 {
			t.Fatalf("event %d delivered after event %d: %d skipped", seq, high, high+1)
		}
		if seq == high+1 {
			once = append(once, seq)
			high = seq
		}
	}
	want := make([]uint64, last)
	for i := range want {
		want[i] = uint64(i) + 1
	}
	if diff := cmp.Diff(want, once); diff != "" {
		t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	problems := logs.n[slog.LevelError] + logs.n[slog.LevelWarn]
	t.Logf("%d events, %d deliveries; log records: %v", last, len(got), logs.n)
	if logs.n[slog.LevelError] == 0 {
		t.Error("no error logged: the outage went unnoticed")
	}
	// At most a failure for each of the lease, delivery, expiry and
	// retention loops, and a lost lease; over Tenants, for each of
	// listening, the two polls, retention, and the tenant's delivery and
	// expiry, and a lost lease.
	most := 6
	if overTenants {
		most = 7
	}
	if problems > most {
		t.Errorf("%d error and warning records for one outage, want at most %d", problems, most)
	}
}

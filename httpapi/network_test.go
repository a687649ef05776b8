package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
)

// testKeys is an Authenticate over a fixed table of keys.
func testKeys(keys map[string]httpapi.Principal) func(*http.Request) (httpapi.Principal, error) {
	return httpapi.BearerToken(func(_ context.Context, token string) (httpapi.Principal, error) {
		p, ok := keys[token]
		if !ok {
			return httpapi.Principal{}, httpapi.ErrUnauthenticated
		}
		return p, nil
	})
}

// changing are requests of every kind that change something, naming the
// outlets, products and order of setUpShop's shop.
var changing = []struct{ method, path, body string }{
	{"POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 0}]}`},
	{"POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 1}]}`},
	{"POST", "/v1/reservations/web-1/release", ""},
	{"POST", "/v1/reservations/web-1/fulfill", ""},
	{"POST", "/v1/reservations/web-1/fulfill-part", `{"id": "s1", "lines": [{"product": "tee", "quantity": 1}]}`},
	{"POST", "/v1/reservations/web-1/release-part", `{"id": "c1", "lines": [{"product": "tee", "quantity": 1}]}`},
	{"POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "tee", "quantity": 2}]}`},
	{"POST", "/v1/reservations/expire", ""},
	{"POST", "/v1/products/disable", `{"products": ["tee"]}`},
	{"PUT", "/v1/outlets/north", `{"name": "Taken"}`},
	{"PUT", "/v1/registers/till", `{"outlet": "north", "name": "Taken"}`},
	{"POST", "/v1/activate", `{"register": "till"}`},
	{"POST", "/v1/outlets/south/disconnect", ""},
	{"POST", "/v1/outlets/south/connect", ""},
	{"PUT", "/v1/outlets/north/buffer", `{"units": 5}`},
	{"PUT", "/v1/outlets/north/rank", `{"rank": 3}`},
	{"PUT", "/v1/selection", `{"outlets": []}`},
	{"PUT", "/v1/methods/courier", `{"name": "Taken", "kind": "pickup"}`},
	{"DELETE", "/v1/methods/courier", ""},
	{"PUT", "/v1/bundles/gift", `{"components": [{"product": "tee", "quantity": 1}]}`},
	{"DELETE", "/v1/bundles/gift", ""},
	{"PUT", "/v1/products/tee/backorder", `{"limit": 5}`},
	{"DELETE", "/v1/products/tee/backorder", ""},
}

// TestKeyReachesOnlyItsTenant serves two tenants from one Handler: a key
// of tenant b, whatever headers, paths and IDs it sends, changes nothing
// of tenant a's and reads nothing of it; a storefront key of a changes no
// stock and no setup.
func TestKeyReachesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, ns newStore) {
		services := map[string]*onlinestock.Service{}
		for _, tenant := range []string{"a", "b"} {
			svc, err := onlinestock.New(ns(t), onlinestock.Config{})
			if err != nil {
				t.Fatal(err)
			}
			services[tenant] = svc
		}
		keys := map[string]httpapi.Principal{
			"a-admin": {Tenant: "a", Role: httpapi.RoleAdmin}, "a-shop": {Tenant: "a", Role: httpapi.RoleStorefront},
			"b-admin": {Tenant: "b", Role: httpapi.RoleAdmin},
		}
		c := serve(t, nil, httpapi.Config{Authenticate: testKeys(keys),
			Tenant: func(_ context.Context, p httpapi.Principal) (*onlinestock.Service, error) {
				svc, ok := services[p.Tenant]
				if !ok {
					return nil, fmt.Errorf("tenant %q: %w", p.Tenant, onlinestock.ErrNotFound)
				}
				return svc, nil
			}})
		as := func(key string) *client {
			k := *c
			k.http = &http.Client{Transport: bearerTransport{key: key, next: c.http.Transport}}
			return &k
		}
		setUpShop(as("a-admin"))
		as("a-admin").must(200, "POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 1}]}`)
		before := snapshot(t, services["a"])

		b := as("b-admin")
		for _, header := range []map[string]string{nil, {"X-Tenant": "a"}, {"X-Onlinestock-Tenant": "a", "Host": "a.example"}} {
			for _, r := range changing {
				req, err := http.NewRequest(r.method, c.base+r.path, strings.NewReader(r.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				for k, v := range header {
					req.Header.Set(k, v)
				}
				b.send(req)
			}
			for _, path := range []string{"/v1/reservations/web-1", "/v1/products/tee/levels", "/v1/setup", "/v1/movements?ref=web-1", "/v1/availability?product=tee"} {
				r := b.do("GET", path, nil)
				if bytes.Contains(r.body, []byte(`"North"`)) || bytes.Contains(r.body, []byte(`"in_stock"`)) || r.status == 200 && bytes.Contains(r.body, []byte(`"web-1"`)) {
					t.Errorf("tenant b's key read tenant a's data at %s: %d %s", path, r.status, r.body)
				}
			}
		}
		if diff := cmp.Diff(before, snapshot(t, services["a"])); diff != "" {
			t.Errorf("tenant a after tenant b's requests mismatch (-before +after):\n%s", diff)
		}

		shop := as("a-shop")
		for _, r := range changing {
			if slices.Contains(httpapi.Roles(operationOf(t, r.method, r.path)), httpapi.RoleStorefront) {
				continue
			}
			resp := shop.do(r.method, r.path, r.body)
			if resp.status != 403 || resp.problem(t).Code != httpapi.CodeForbidden {
				t.Errorf("storefront %s %s: %d %s, want 403", r.method, r.path, resp.status, resp.body)
			}
		}
		if diff := cmp.Diff(before, snapshot(t, services["a"])); diff != "" {
			t.Errorf("tenant a after its storefront's refused requests mismatch (-before +after):\n%s", diff)
		}
		// A key no table knows, and none at all, change nothing either.
		for _, key := range []string{"", "a-admin.", "A-ADMIN", "b-admi"} {
			for _, r := range changing[:3] {
				if resp := as(key).do(r.method, r.path, r.body); resp.status != 401 {
					t.Errorf("key %q: %s %s: %d, want 401", key, r.method, r.path, resp.status)
				}
			}
		}
		if diff := cmp.Diff(before, snapshot(t, services["a"])); diff != "" {
			t.Errorf("tenant a after unauthenticated requests mismatch (-before +after):\n%s", diff)
		}
	})
}

// operationOf names the operation a request calls.
func operationOf(t *testing.T, method, path string) string {
	t.Helper()
	ops := map[string]string{
		"/v1/changes": "applyChanges", "/v1/reservations": "reserve", "/v1/reservations/web-1/release": "release",
		"/v1/reservations/web-1/fulfill": "fulfill", "/v1/reservations/web-1/fulfill-part": "fulfillPart",
		"/v1/reservations/web-1/release-part": "releasePart", "/v1/reservations/web-1/amend": "amend",
		"/v1/reservations/expire": "expireReservations", "/v1/products/disable": "disableOnline",
		"/v1/outlets/north": "saveOutlet", "/v1/registers/till": "saveRegister", "/v1/activate": "activate",
		"/v1/outlets/south/disconnect": "disconnect", "/v1/outlets/south/connect": "connect", "/v1/outlets/north/buffer": "setBuffer",
		"/v1/outlets/north/rank": "setRank", "/v1/selection": "saveSelection", "/v1/methods/courier": "saveMethod",
		"/v1/bundles/gift": "saveBundle", "/v1/products/tee/backorder": "setBackorder",
	}
	op := ops[path]
	if method == "DELETE" {
		op = map[string]string{"saveMethod": "deleteMethod", "saveBundle": "deleteBundle", "setBackorder": "deleteBackorder"}[op]
	}
	if op == "" {
		t.Fatalf("no operation known for %s %s", method, path)
	}
	return op
}

// bearerTransport sends every request with a key.
type bearerTransport struct {
	key  string
	next http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.key != "" {
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	return b.next.RoundTrip(r)
}

// stall opens a connection, sends a request whose body stops short of
// its Content-Length, and returns what came back and when, and whether
// the server then closed the connection.
func stall(t *testing.T, addr, key string) (status string, took time.Duration, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	auth := ""
	if key != "" {
		auth = "Authorization: Bearer " + key + "\r\n"
	}
	start := time.Now()
	fmt.Fprintf(conn, "POST /v1/changes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: 200\r\n\r\n{\"ch", auth)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails here, not the test run
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no answer to a stalled body (key %q) after %v: %v", key, time.Since(start), err)
	}
	took = time.Since(start)
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadByte()
	return strings.TrimSpace(line), took, errors.Is(err, io.EOF)
}

// TestStalledBodies sends bodies that stall, many at once: with a key,
// each is answered 408 once the body timeout has passed, and the
// connection closed; without a valid key, each is answered 401 before
// any of the body is read, and the connection closed. None waits for the
// rest of its body.
func TestStalledBodies(t *testing.T) {
	t.Parallel()
	const bodyTimeout = 300 * time.Millisecond
	forEachStore(t, func(t *testing.T, ns newStore) {
		c, _ := newAPI(t, ns, httpapi.Config{BodyTimeout: bodyTimeout,
			Authenticate: testKeys(map[string]httpapi.Principal{"pos": {Role: httpapi.RolePOS}})})
		addr := strings.TrimPrefix(c.base, "http://")
		for _, tt := range []struct {
			key, want string
		}{{"pos", "HTTP/1.1 408 Request Timeout"}, {"", "HTTP/1.1 401 Unauthorized"}, {"nope", "HTTP/1.1 401 Unauthorized"}} {
			const n = 100
			var mu sync.Mutex
			var took []time.Duration
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, d, closed := stall(t, addr, tt.key)
					if status != tt.want || !closed {
						t.Errorf("stalled body, key %q: %q, connection closed %v; want %q and closed", tt.key, status, closed, tt.want)
					}
					mu.Lock()
					took = append(took, d)
					mu.Unlock()
				}()
			}
			wg.Wait()
			slices.Sort(took)
			t.Logf("%d stalled bodies, key %q, body timeout %v: answered after %v (median) to %v (slowest)", n, tt.key, bodyTimeout, took[n/2], took[n-1])
			if tt.key == "pos" && took[0] < bodyTimeout {
				t.Errorf("a stalled body was answered after %v, before the body timeout", took[0])
			}
		}
	})
}

// TestSlowReaders asks for full pages of the ledger from clients that
// never read the answers, over connections whose buffers hold little, as
// a slow network's do: each answer is abandoned at the write timeout and
// its connection closed, requests over the cap on requests in flight are
// refused at once, and the heap and the goroutines come back to where
// they were without the clients doing anything.
//
// It measures the heap, so it runs alone: not in parallel.
func TestSlowReaders(t *testing.T) {
	const clients, inFlight = 200, 64
	svc, err := onlinestock.New(stores()["memstore"](t), onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(svc, httpapi.Config{WriteTimeout: 500 * time.Millisecond, MaxInFlight: inFlight, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(api)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	c := &client{t: t, base: srv.URL, http: srv.Client()}
	setUpShop(c)
	ctx := context.Background()
	changes := make([]onlinestock.Change, 0, 1000)
	for i := range 1000 {
		changes = append(changes, onlinestock.Adjust("tee", "north", 1).WithReason(onlinestock.StockReceipt).WithRef(fmt.Sprintf("delivery-%06d-with-a-long-reference", i)))
	}
	if _, err := svc.Apply(ctx, changes); err != nil {
		t.Fatal(err)
	}
	full := c.must(200, "GET", "/v1/movements?limit=1000", nil)
	srv.Client().CloseIdleConnections()
	addr := strings.TrimPrefix(c.base, "http://")
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	h0, g0 := heap(), runtime.NumGoroutine()
	var conns []net.Conn
	dialer := net.Dialer{Control: smallReceiveBuffer}
	for range clients {
		conn, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		fmt.Fprintf(conn, "GET /v1/movements?limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	time.Sleep(200 * time.Millisecond)
	h1, g1 := heap(), runtime.NumGoroutine()
	time.Sleep(time.Second) // past the write timeout
	h2, g2 := heap(), runtime.NumGoroutine()
	busy, cut, whole := 0, 0, 0
	for _, conn := range conns {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			cut++ // abandoned before its headers were out: a loaded machine
			conn.Close()
			continue
		}
		if err != nil {
			t.Fatalf("a slow reader's answer: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		switch {
		case resp.StatusCode == 503 && err == nil:
			busy++
		case resp.StatusCode == 200 && errors.Is(err, io.ErrUnexpectedEOF):
			cut++ // the server gave up at the write timeout and closed
		case resp.StatusCode == 200 && err == nil && len(b) == len(full.body):
			whole++
		default:
			t.Errorf("a slow reader's answer: %d, %d bytes, %v", resp.StatusCode, len(b), err)
		}
		conn.Close()
	}
	h3, g3 := heap(), runtime.NumGoroutine()
	t.Logf("%d clients not reading a %d KiB page, %d in flight at most, write timeout 500ms: heap %d KiB before, %d KiB while they hang, %d KiB past the write timeout, %d KiB once read; goroutines %d, %d, %d, %d; %d answers cut at the write timeout, %d whole, %d answered 503 at once",
		clients, len(full.body)>>10, inFlight, h0>>10, h1>>10, h2>>10, h3>>10, g0, g1, g2, g3, cut, whole, busy)
	// How many find the cap full depends on how fast the clients connect
	// beside the write timeout: TestInFlightCap checks the cap.
	if cut == 0 {
		t.Errorf("no answer was cut at the write timeout (%d whole, %d refused over the cap)", whole, busy)
	}
	if max(h1, h2) > h0+uint64(inFlight)*uint64(len(full.body))*4 {
		t.Errorf("the heap grew by %d KiB with %d slow readers, more than 4 answers per request in flight", (max(h1, h2)-h0)>>10, clients)
	}
	if h3 > h0+4<<20 {
		t.Errorf("once every answer was abandoned, the heap is %d KiB over its start", (h3-h0)>>10)
	}
}

// smallBuffers is a listener whose connections have small send buffers,
// so that a client that does not read blocks the server's writes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(4096)
	}
	return conn, err
}

// TestInFlightCap checks that a request over Config.MaxInFlight is
// answered 503 busy with Retry-After at once.
func TestInFlightCap(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 2)
	svc, err := onlinestock.New(signallingStore{stuckStore{stores()["memstore"](t)}, entered}, onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc, httpapi.Config{MaxInFlight: 2, Timeout: 2 * time.Second})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.do("GET", "/v1/setup", nil) // stuck until the timeout
		}()
	}
	<-entered
	<-entered // both in flight
	r := c.do("GET", "/v1/setup", nil)
	if p := r.problem(t); r.status != 503 || p.Code != httpapi.CodeBusy || p.Limit != 2 || r.header.Get("Retry-After") != "1" {
		t.Errorf("a third request: %d %+v, Retry-After %q; want 503 busy", r.status, p, r.header.Get("Retry-After"))
	}
	wg.Wait()
}

// signallingStore says on entered when a read starts.
type signallingStore struct {
	stuckStore
	entered chan<- struct{}
}

func (s signallingStore) View(ctx context.Context, f func(onlinestock.Tx) error) error {
	s.entered <- struct{}{}
	return s.stuckStore.View(ctx, f)
}

// TestLogs checks what the Handler logs: a client that went away at Debug
// level, not as an error; a failure with the operation, never the URL's
// path or query, nor a credential.
func TestLogs(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := onlinestock.New(stuckStore{stores()["memstore"](t)}, onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(svc, httpapi.Config{Logger: logger, Timeout: 5 * time.Second,
		Authenticate: testKeys(map[string]httpapi.Principal{"osk_secret-key": {Role: httpapi.RolePOS, Key: "k1"}})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	// A client that gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/reservations?product=s3cret-product", nil)
	req.Header.Set("Authorization", "Bearer osk_secret-key")
	if _, err := srv.Client().Do(req); err == nil {
		t.Fatal("a stuck request was answered")
	}
	// A request that fails inside.
	failing, err := onlinestock.New(failingStore{stores()["memstore"](t)}, onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	api2, err := httpapi.New(failing, httpapi.Config{Logger: logger,
		Authenticate: testKeys(map[string]httpapi.Principal{"osk_secret-key": {Role: httpapi.RolePOS, Key: "k1"}})})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(api2)
	t.Cleanup(srv2.Close)
	req, _ = http.NewRequest("GET", srv2.URL+"/v1/reservations/web-9?x=1", nil)
	req.Header.Set("Authorization", "Bearer osk_secret-key")
	resp, err := srv2.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 { // the unknown parameter, before the operation
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", srv2.URL+"/v1/reservations/web-9", nil)
	req.Header.Set("Authorization", "Bearer osk_secret-key")
	if resp, err = srv2.Client().Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "client went away") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := logs.String()
	if resp.StatusCode != 500 || !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "operation=getReservation") {
		t.Errorf("a failure: status %d, logs:\n%s", resp.StatusCode, got)
	}
	if !strings.Contains(got, "level=DEBUG msg=\"httpapi: the client went away\" operation=listReservations") ||
		strings.Contains(got, "level=ERROR msg=\"httpapi: request failed\" operation=listReservations") {
		t.Errorf("the client that went away is not logged at Debug level alone:\n%s", got)
	}
	for _, secret := range []string{"s3cret", "osk_secret-key", "/v1/", "x=1"} {
		if strings.Contains(got, secret) {
			t.Errorf("the logs hold %q:\n%s", secret, got)
		}
	}
}

// failingStore is a Store whose reads fail with an internal error.
type failingStore struct{ onlinestock.Store }

func (failingStore) View(context.Context, func(onlinestock.Tx) error) error {
	return errors.New("the disk is on fire")
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/pgstore"
)

const urlEnv = "ONLINESTOCK_TEST_DATABASE_URL"

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
)

// newStore makes a fresh, empty Store of one kind.
type newStore func(t *testing.T) onlinestock.Store

// stores are the Stores every API test runs on: memstore, and pgstore when
// a test database is named.
func stores() map[string]newStore {
	return map[string]newStore{
		"memstore": func(*testing.T) onlinestock.Store { return memstore.New() },
		"pgstore":  pgStore,
	}
}

// forEachStore runs test on every Store kind.
func forEachStore(t *testing.T, test func(t *testing.T, newStore newStore)) {
	for name, ns := range stores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, ns)
		})
	}
}

// pgStore returns the Store of a new tenant in the test database, removed
// when t ends, or skips t when no test database is named.
func pgStore(t *testing.T) onlinestock.Store {
	t.Helper()
	url := os.Getenv(urlEnv)
	if url == "" {
		t.Skipf("%s is not set: skipping the API tests over PostgreSQL", urlEnv)
	}
	poolOnce.Do(func() {
		pool, poolErr = pgxpool.New(context.Background(), url)
		if poolErr == nil {
			poolErr = pgstore.Migrate(context.Background(), pool)
		}
	})
	if poolErr != nil {
		t.Fatal(poolErr)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	tenant := "httpapi-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		for _, table := range []string{"setup", "event_counter", "outlets", "registers", "methods", "products",
			"levels", "keys", "events", "reservations", "cursors", "dead_letters", "movements", "movement_counter", "leases", "pending", "bundle_components", "backorders"} {
			if _, err := pool.Exec(context.Background(), "DELETE FROM onlinestock_"+table+" WHERE tenant = $1", tenant); err != nil {
				t.Errorf("deleting tenant %q from %s: %v", tenant, table, err)
			}
		}
	})
	s, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client drives a running API server as an HTTP client would.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

// serve starts the API over svc on 127.0.0.1, stopped when t ends.
func serve(t *testing.T, svc *onlinestock.Service, cfg httpapi.Config) *client {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler) // the tests check the answers
	}
	api, err := httpapi.New(svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &client{t: t, base: srv.URL, http: srv.Client()}
}

// newAPI starts the API over a new Service on a new Store.
func newAPI(t *testing.T, ns newStore, cfg httpapi.Config) (*client, *onlinestock.Service) {
	t.Helper()
	svc, err := onlinestock.New(ns(t), onlinestock.Config{LowStockThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, svc, cfg), svc
}

// response is an answer, its body kept raw.
type response struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes the answer as a problem.
func (r response) problem(t *testing.T) httpapi.Error {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p httpapi.Error
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status || p.Type != "about:blank" || p.Title != http.StatusText(r.status) || p.Code == "" {
		t.Errorf("problem %+v does not match its status %d", p, r.status)
	}
	return p
}

// into decodes a 2xx JSON answer into v.
func (r response) into(t *testing.T, v any) {
	t.Helper()
	if r.status/100 != 2 {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// raw sends a request with a body as it is.
func (c *client) raw(method, path, contentType string, body io.Reader) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.send(req)
}

func (c *client) send(req *http.Request) response {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// do sends v, when not nil, as a JSON body.
func (c *client) do(method, path string, v any) response {
	c.t.Helper()
	if v == nil {
		return c.raw(method, path, "", nil)
	}
	var body []byte
	if s, ok := v.(string); ok {
		body = []byte(s)
	} else {
		var err error
		if body, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.raw(method, path, "application/json", bytes.NewReader(body))
}

// must sends a request that must succeed with want.
func (c *client) must(want int, method, path string, v any) response {
	c.t.Helper()
	r := c.do(method, path, v)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, strings.TrimSpace(string(r.body)))
	}
	return r
}

// setUpShop makes the shop of the tests through the API: outlets north and
// south, connected, the order register in north, a courier, and a tee
// stocked 2 + 3, enabled.
func setUpShop(c *client) {
	c.t.Helper()
	c.must(204, "PUT", "/v1/outlets/north", map[string]any{"name": "North"})
	c.must(204, "PUT", "/v1/outlets/south", map[string]any{"name": "South"})
	c.must(204, "PUT", "/v1/registers/till", map[string]any{"outlet": "north", "name": "Till"})
	c.must(200, "POST", "/v1/activate", map[string]any{"register": "till"})
	c.must(200, "POST", "/v1/outlets/south/connect", nil)
	c.must(204, "PUT", "/v1/methods/courier", map[string]any{"name": "Courier", "kind": "shipping"})
	c.must(200, "POST", "/v1/changes", `{"changes": [
		{"kind": "set", "product": "tee", "outlet": "north", "quantity": 2},
		{"kind": "set", "product": "tee", "outlet": "south", "quantity": 3}]}`)
	c.must(204, "POST", "/v1/products/enable", map[string]any{"products": []string{"tee"}})
}

// refusal is a request the API must refuse: its status, and the code, field
// and words of detail of the problem it answers with.
type refusal struct {
	name         string
	method, path string
	body         string
	status       int
	code         string
	field        string // the problem's field, when the request was malformed
	detail       string // words the detail must hold
}

// checkRefusals sends each request, a JSON body but for a GET or DELETE
// without one, and checks its answer; more, when not nil, checks more of
// it.
func checkRefusals(t *testing.T, c *client, tests []refusal, more func(t *testing.T, tt refusal, r response, p httpapi.Error)) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.body == "" && tt.method != "POST" {
				r = c.do(tt.method, tt.path, nil)
			} else {
				r = c.raw(tt.method, tt.path, "application/json", strings.NewReader(tt.body))
			}
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			p := r.problem(t)
			if p.Code != tt.code || p.Field != tt.field || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("problem %+v, want code %q, field %q, detail holding %q", p, tt.code, tt.field, tt.detail)
			}
			if more != nil {
				more(t, tt, r, p)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

// createKey runs "keys create" and returns the key it printed.
func createKey(t *testing.T, db, tenant, role string) string {
	t.Helper()
	out, stderr, err := cli(t, "keys", "create", "--database-url", db, "--tenant", tenant, "--role", role, "--name", role+" of "+tenant)
	if err != nil {
		t.Fatalf("keys create: %v; %s", err, stderr)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "osk_") || strings.Contains(key, "\n") || !strings.Contains(stderr, "not shown again") {
		t.Fatalf("keys create printed %q, %q: want the key alone on standard output", out, stderr)
	}
	return key
}

// send makes a request with key (none when empty) and header, and returns
// the status, the body and the headers of the answer.
func send(t *testing.T, client *http.Client, key, method, url, body string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// tenantState is what a tenant holds that a request could change.
type tenantState struct {
	Setup        *onlinestock.Setup
	Levels       []onlinestock.Level
	Events       []onlinestock.Event
	Movements    []onlinestock.Movement
	Reservations []onlinestock.Reservation
	Methods      []onlinestock.Method
	Bundles      []onlinestock.Bundle
	Backorders   []onlinestock.Backorder
}

func stateOf(t *testing.T, svc *onlinestock.Service) tenantState {
	t.Helper()
	ctx := context.Background()
	var s tenantState
	var err error
	check := func() {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Setup, err = svc.Setup(ctx)
	check()
	s.Levels, err = svc.Levels(ctx, "tee")
	check()
	s.Events, err = svc.EventsSince(ctx, 0, 0)
	check()
	s.Movements, err = svc.Movements(ctx, onlinestock.MovementFilter{Limit: onlinestock.MaxMovementPage})
	check()
	for _, status := range []onlinestock.ReservationStatus{onlinestock.Open, onlinestock.Released, onlinestock.Fulfilled, onlinestock.Expired} {
		rs, err := svc.Reservations(ctx, onlinestock.ReservationFilter{Status: status, Limit: onlinestock.MaxReservationsPage})
		if err != nil {
			t.Fatal(err)
		}
		s.Reservations = append(s.Reservations, rs...)
	}
	s.Methods, err = svc.Methods(ctx)
	check()
	s.Bundles, err = svc.Bundles(ctx)
	check()
	s.Backorders, err = svc.Backorders(ctx)
	check()
	return s
}

// attempts are requests of every kind that change something, aimed at
// the tenant acme's outlets, products and order web-1 by name.
var attempts = []struct{ method, path, body string }{
	{"POST", "/v1/changes", `{"changes": [{"kind": "set", "product": "tee", "outlet": "north", "quantity": 0}]}`},
	{"POST", "/v1/reservations", `{"id": "web-1", "lines": [{"product": "tee", "quantity": 1}]}`},
	{"POST", "/v1/reservations/web-1/release", ""},
	{"POST", "/v1/reservations/web-1/fulfill", ""},
	{"POST", "/v1/reservations/web-1/fulfill-part", `{"id": "s1", "lines": [{"product": "tee", "quantity": 1}]}`},
	{"POST", "/v1/reservations/web-1/amend", `{"lines": [{"product": "tee", "quantity": 2}]}`},
	{"POST", "/v1/reservations/expire", ""},
	{"POST", "/v1/products/disable", `{"products": ["tee"]}`},
	{"PUT", "/v1/outlets/north", `{"name": "Taken"}`},
	{"PUT", "/v1/registers/till", `{"outlet": "north", "name": "Taken"}`},
	{"POST", "/v1/activate", `{"register": "till"}`},
	{"POST", "/v1/outlets/south/disconnect", ""},
	{"PUT", "/v1/outlets/north/buffer", `{"units": 5}`},
	{"PUT", "/v1/outlets/north/rank", `{"rank": 3}`},
	{"PUT", "/v1/selection", `{"outlets": []}`},
	{"PUT", "/v1/methods/courier", `{"name": "Taken", "kind": "pickup"}`},
	{"DELETE", "/v1/methods/courier", ""},
	{"PUT", "/v1/bundles/gift", `{"components": [{"product": "tee", "quantity": 1}]}`},
	{"PUT", "/v1/products/tee/backorder", `{"limit": 5}`},
	{"DELETE", "/v1/products/tee/backorder", ""},
}

// TestServeKeys checks serve over real HTTP on PostgreSQL: a key reaches
// its own tenant and no other, whatever the headers, paths and IDs say; a
// storefront key cannot change stock; a revoked key is refused at the
// next request; keys that are not keys change nothing and grow nothing.
func TestServeKeys(t *testing.T) {
	db, tenant, svc := shop(t)
	ctx := context.Background()
	if _, err := svc.Reserve(ctx, onlinestock.Order{ID: "web-1", Lines: []onlinestock.Line{{Product: "tee", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	pos := createKey(t, db, tenant, "pos")
	storefront := createKey(t, db, tenant, "storefront")
	rival := createKey(t, db, "rival", "admin")
	base, stop := startServe(t, "--database-url", db)
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second}

	// The rival sets up a shop of its own with the same names.
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/v1/outlets/north", `{"name": "Rival North"}`},
		{"PUT", "/v1/registers/till", `{"outlet": "north", "name": "Rival Till"}`},
		{"POST", "/v1/activate", `{"register": "till"}`},
	} {
		if status, body, _ := send(t, client, rival, r.method, base+r.path, r.body, nil); status/100 != 2 {
			t.Fatalf("rival %s %s: %d %s", r.method, r.path, status, body)
		}
	}

	t.Run("a key of another tenant reaches nothing of acme's", func(t *testing.T) {
		before := stateOf(t, svc)
		headers := []map[string]string{nil, {"X-Tenant": tenant}, {"X-Onlinestock-Tenant": tenant, "Forwarded": "for=acme"}}
		for _, h := range headers {
			for _, a := range attempts {
				send(t, client, rival, a.method, base+a.path, a.body, h)
			}
			for _, path := range []string{"/v1/reservations/web-1", "/v1/products/tee/levels", "/v1/movements?ref=web-1", "/v1/setup"} {
				status, body, _ := send(t, client, rival, "GET", base+path, "", h)
				if strings.Contains(body, `"name":"North"`) || strings.Contains(body, `"web-1"`) && status == 200 || strings.Contains(body, `"on_hand":2`) {
					t.Errorf("rival GET %s with %v: %d %s: acme's data", path, h, status, body)
				}
			}
		}
		if diff := cmp.Diff(before, stateOf(t, svc)); diff != "" {
			t.Errorf("acme's state after the rival's requests mismatch (-before +after):\n%s", diff)
		}
	})

	t.Run("a storefront key changes no stock and no setup", func(t *testing.T) {
		before := stateOf(t, svc)
		for _, a := range attempts {
			if a.path == "/v1/reservations" || a.path == "/v1/reservations/web-1/release" || a.path == "/v1/reservations/web-1/amend" {
				continue // the storefront's own: its orders' reservations
			}
			status, body, _ := send(t, client, storefront, a.method, base+a.path, a.body, nil)
			if status != 403 || !strings.Contains(body, `"forbidden"`) || !strings.Contains(body, "the storefront role") {
				t.Errorf("storefront %s %s: %d %s, want 403 naming the role", a.method, a.path, status, body)
			}
		}
		if diff := cmp.Diff(before, stateOf(t, svc)); diff != "" {
			t.Errorf("acme's state after the storefront's refused requests mismatch (-before +after):\n%s", diff)
		}
		if status, body, _ := send(t, client, storefront, "GET", base+"/v1/availability?product=tee", "", nil); status != 200 || !strings.Contains(body, `"quantity":4`) {
			t.Errorf("storefront reading availability: %d %s", status, body)
		}
		if status, body, _ := send(t, client, pos, "POST", base+"/v1/changes", attempts[0].body, nil); status != 200 {
			t.Errorf("POS changing stock: %d %s", status, body)
		}
	})

	t.Run("a revoked key is refused at the next request", func(t *testing.T) {
		key := createKey(t, db, tenant, "pos")
		if status, body, _ := send(t, client, key, "GET", base+"/v1/setup", "", nil); status != 200 {
			t.Fatalf("a new key: %d %s", status, body)
		}
		id := key[:len("osk_")+16]
		if out, _, err := cli(t, "keys", "revoke", "--database-url", db, id); err != nil || !strings.Contains(out, "revoked key "+id) {
			t.Fatalf("keys revoke: %q, %v", out, err)
		}
		status, body, header := send(t, client, key, "GET", base+"/v1/setup", "", nil)
		if status != 401 || header.Get("WWW-Authenticate") != `Bearer realm="onlinestock", error="invalid_token"` {
			t.Errorf("the revoked key: %d %s %v", status, body, header)
		}
		out, _, err := cli(t, "keys", "list", "--database-url", db, "--tenant", tenant, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var keys []struct {
			ID       string `json:"id"`
			LastUsed string `json:"last_used"`
			Revoked  string `json:"revoked"`
		}
		if err := json.Unmarshal([]byte(out), &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.ID == id && (k.Revoked == "" || k.LastUsed == "") {
				t.Errorf("keys list: %+v, want it used and revoked", k)
			}
		}
	})

	t.Run("made-up keys change nothing and grow nothing", func(t *testing.T) {
		before := stateOf(t, svc)
		tenantsBefore, _, err := cli(t, "tenants", "list", "--database-url", db)
		if err != nil {
			t.Fatal(err)
		}
		try := func(n int) {
			for i := range n {
				var b [8]byte
				_, _ = rand.Read(b[:])
				key := []string{"osk_" + hex.EncodeToString(b[:]) + "_" + strings.Repeat("x", 43), "tenant-" + hex.EncodeToString(b[:]), pos + "x"}[i%3]
				status, _, _ := send(t, client, key, "POST", base+"/v1/changes", attempts[0].body, map[string]string{"X-Tenant": "made-up-" + hex.EncodeToString(b[:])})
				if status != 401 {
					t.Fatalf("made-up key %q: status %d, want 401", key, status)
				}
			}
		}
		try(200) // warm up: connections, pools
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		h0 := heap()
		try(3000)
		h1 := heap()
		t.Logf("heap after 3000 made-up keys: %d KiB before, %d KiB after", h0>>10, h1>>10)
		if h1 > h0+2<<20 {
			t.Errorf("the heap grew by %d KiB over 3000 made-up keys", (h1-h0)>>10)
		}
		if diff := cmp.Diff(before, stateOf(t, svc)); diff != "" {
			t.Errorf("acme's state after made-up keys mismatch (-before +after):\n%s", diff)
		}
		if tenantsAfter, _, err := cli(t, "tenants", "list", "--database-url", db); err != nil || tenantsAfter != tenantsBefore {
			t.Errorf("tenants after made-up keys:\n%s\nbefore:\n%s (%v)", tenantsAfter, tenantsBefore, err)
		}
	})
}

// TestServeRefusesUnsafeSetups checks the setups serve refuses at start.
func TestServeRefusesUnsafeSetups(t *testing.T) {
	db, tenant, _ := shop(t)
	for _, tt := range []struct {
		name string
		env  string
		args []string
		msg  string
	}{
		{"no auth beyond loopback", "", []string{"--tenant", tenant, "--no-auth", "--addr", "0.0.0.0:0"}, "beyond loopback"},
		{"no auth on every interface", "", []string{"--tenant", tenant, "--no-auth", "--addr", ":0"}, "beyond loopback"},
		{"no auth without a tenant", "", []string{"--no-auth"}, "--tenant"},
		{"the network flag alone", "", []string{"--allow-no-auth-on-network"}, "goes with --no-auth"},
		{"a tenant that does not exist", "", []string{"--tenant", "nope"}, "no such tenant"},
		{"the old shared token", "s3cret", nil, "ONLINESTOCK_API_TOKEN"},
		{"the old tenant header", "", []string{"--tenant-header", "X-Tenant"}, "--tenant-header is gone"},
		{"a certificate without its key", "", []string{"--tls-cert", "cert.pem"}, "--tls-key"},
		{"a zero body timeout", "", []string{"--body-timeout", "0s"}, "not positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ONLINESTOCK_API_TOKEN", tt.env)
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database-url", db}, tt.args...)
			_, _, err := cli(t, args...)
			if !errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("onlinestock %q: error %v, want a usage error saying %q", args, err, tt.msg)
			}
		})
	}
	if loopbackAddr("localhost:80") != true || loopbackAddr("[::1]:80") != true || loopbackAddr("10.0.0.1:80") || loopbackAddr(":80") {
		t.Error("loopbackAddr misjudges an address")
	}
}

// TestServeNoAuthOnLoopback serves one tenant without keys on loopback.
func TestServeNoAuthOnLoopback(t *testing.T) {
	db, tenant, _ := shop(t)
	base, stop := startServe(t, "--database-url", db, "--tenant", tenant, "--no-auth")
	defer stop()
	if status, body, _ := send(t, http.DefaultClient, "", "GET", base+"/v1/availability?product=tee", "", nil); status != 200 || !strings.Contains(body, `"quantity":5`) {
		t.Errorf("no key: %d %s", status, body)
	}
}

// TestServeTLS serves HTTPS with --tls-cert and --tls-key.
func TestServeTLS(t *testing.T) {
	db, tenant, _ := shop(t)
	key := createKey(t, db, tenant, "storefront")
	certFile, keyFile, pool := selfSigned(t)
	base, stop := startServe(t, "--database-url", db, "--tls-cert", certFile, "--tls-key", keyFile)
	defer stop()
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serve printed %s, want an https URL", base)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	if status, body, _ := send(t, client, key, "GET", base+"/v1/availability?product=tee", "", nil); status != 200 || !strings.Contains(body, `"quantity":5`) {
		t.Errorf("over TLS: %d %s", status, body)
	}
	plain := strings.Replace(base, "https://", "http://", 1)
	req, _ := http.NewRequest("GET", plain+"/v1/openapi.json", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served on the TLS port")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool that trusts it.
func selfSigned(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	var c, k bytes.Buffer
	_ = pem.Encode(&c, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(certFile, c.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, k.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeStalledBodies sends serve bodies that stall: with a key, the
// answer is a 408 at the body timeout; without one, a 401 at once; and
// either way the connection is closed.
func TestServeStalledBodies(t *testing.T) {
	db, tenant, _ := shop(t)
	key := createKey(t, db, tenant, "pos")
	base, stop := startServe(t, "--database-url", db, "--body-timeout", "300ms")
	defer stop()
	addr := strings.TrimPrefix(base, "http://")
	for _, tt := range []struct{ key, want string }{{key, "HTTP/1.1 408 Request Timeout"}, {"", "HTTP/1.1 401 Unauthorized"}} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		auth := ""
		if tt.key != "" {
			auth = "Authorization: Bearer " + tt.key + "\r\n"
		}
		start := time.Now()
		fmt.Fprintf(conn, "POST /v1/changes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: 200\r\n\r\n{\"ch", auth)
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, err := io.ReadAll(conn) // to the end: the server closes the connection
		took := time.Since(start)
		conn.Close()
		if err != nil || !strings.HasPrefix(string(b), tt.want) {
			t.Errorf("a stalled body (key %v): %q, %v after %v; want %q and the connection closed", tt.key != "", b, err, took, tt.want)
		}
		t.Logf("a stalled body (key %v): %s and closed after %v", tt.key != "", tt.want, took)
	}
}

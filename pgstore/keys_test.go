package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/pgstore"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newAccess(t *testing.T, clock *fakeClock) *pgstore.Access {
	t.Helper()
	a, err := pgstore.NewAccess(sharedPool(t), pgstore.AccessConfig{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAccessKeys walks a key's life: created with its tenant, valid for
// that tenant alone, its last use recorded at most once a minute, and
// refused at the first call after it is revoked.
func TestAccessKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)}
	a := newAccess(t, clock)
	pool := sharedPool(t)
	tenant := newTenant(t, pool)

	if ok, err := a.TenantExists(ctx, tenant); err != nil || ok {
		t.Fatalf("TenantExists before any key: %v, %v", ok, err)
	}
	key, secret, err := a.CreateKey(ctx, pgstore.NewKey{Tenant: tenant, Role: "pos", Name: "till 1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, key.ID+"_") || !strings.HasPrefix(key.ID, "osk_") || len(secret) < 60 {
		t.Errorf("key %q, secret %q: want the secret to be the ID, an underscore and 43 more characters", key.ID, secret)
	}
	if ok, err := a.TenantExists(ctx, tenant); err != nil || !ok {
		t.Fatalf("TenantExists after its first key: %v, %v", ok, err)
	}
	// Only a hash of the secret is kept.
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM onlinestock_api_keys k WHERE k.id = $1
		AND position(convert_to($2, 'UTF8') in k.secret_sha256) = 0 AND k::text NOT LIKE '%' || $2 || '%'`,
		key.ID, strings.TrimPrefix(secret, key.ID+"_")).Scan(&stored); err != nil || stored != 1 {
		t.Errorf("the key's row holds its secret (%d, %v)", stored, err)
	}

	got, err := a.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	want := pgstore.Key{ID: key.ID, Tenant: tenant, Role: "pos", Name: "till 1", Created: clock.Now(), LastUsed: clock.Now()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Authenticate mismatch (-want +got):\n%s", diff)
	}
	// A use within the minute is not written; one after it is.
	clock.Add(30 * time.Second)
	if got, err = a.Authenticate(ctx, secret); err != nil || !got.LastUsed.Equal(want.LastUsed) {
		t.Errorf("Authenticate 30 s later: last used %v (%v), want %v", got.LastUsed, err, want.LastUsed)
	}
	clock.Add(31 * time.Second)
	if got, err = a.Authenticate(ctx, secret); err != nil || !got.LastUsed.Equal(clock.Now()) {
		t.Errorf("Authenticate 61 s later: last used %v (%v), want %v", got.LastUsed, err, clock.Now())
	}

	for _, bad := range []string{"", secret + "x", secret[:len(secret)-1] + "A", "osk_0000000000000000_" + strings.Repeat("A", 43),
		strings.Replace(secret, "osk_", "osx_", 1), "Bearer " + secret, key.ID, strings.Repeat("osk_", 100)} {
		if _, err := a.Authenticate(ctx, bad); !errors.Is(err, pgstore.ErrInvalidKey) {
			t.Errorf("Authenticate(%q): %v, want ErrInvalidKey", bad, err)
		}
	}

	revoked, err := a.RevokeKey(ctx, key.ID)
	if err != nil || !revoked.Revoked.Equal(clock.Now()) {
		t.Fatalf("RevokeKey: %+v, %v", revoked, err)
	}
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, pgstore.ErrInvalidKey) {
		t.Errorf("Authenticate after revocation: %v, want ErrInvalidKey", err)
	}
	clock.Add(time.Hour)
	if again, err := a.RevokeKey(ctx, key.ID); err != nil || !again.Revoked.Equal(revoked.Revoked) {
		t.Errorf("revoking again: %+v, %v; want it revoked when first revoked", again, err)
	}
	if _, err := a.RevokeKey(ctx, "osk_ffffffffffffffff"); !errors.Is(err, onlinestock.ErrNotFound) {
		t.Errorf("revoking an unknown key: %v, want ErrNotFound", err)
	}
	keys, err := a.Keys(ctx, tenant)
	if err != nil || len(keys) != 1 || keys[0].Revoked.IsZero() {
		t.Errorf("Keys: %+v, %v; want the one key, revoked", keys, err)
	}
}

func TestAccessRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newAccess(t, &fakeClock{now: time.Now()})
	tenant := newTenant(t, sharedPool(t))
	for _, k := range []pgstore.NewKey{
		{Tenant: "", Role: "pos"},
		{Tenant: "a\x00b", Role: "pos"},
		{Tenant: "a\xffb", Role: "pos"},
		{Tenant: strings.Repeat("t", 129), Role: "pos"},
		{Tenant: tenant, Role: ""},
		{Tenant: tenant, Role: strings.Repeat("r", 65)},
		{Tenant: tenant, Role: "pos", Name: "a\nb"},
		{Tenant: tenant, Role: "pos", Name: strings.Repeat("n", 129)},
	} {
		if _, _, err := a.CreateKey(ctx, k); !errors.Is(err, onlinestock.ErrInvalid) {
			t.Errorf("CreateKey(%+v): %v, want ErrInvalid", k, err)
		}
	}
	if _, err := a.CreateTenant(ctx, "a\x01"); !errors.Is(err, onlinestock.ErrInvalid) {
		t.Errorf("CreateTenant of a name with a control character: %v, want ErrInvalid", err)
	}
	if ok, err := a.TenantExists(ctx, tenant); err != nil || ok {
		t.Errorf("the refused keys created their tenant: %v, %v", ok, err)
	}
}

// TestAccessModel drives tenants and keys with random calls beside a plain
// model: every key authenticates as its tenant and role until revoked, and
// never after; listings agree with the model.
func TestAccessModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newAccess(t, &fakeClock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	pool := sharedPool(t)
	rapid.Check(t, func(rt *rapid.T) {
		tenants := []string{newTenant(t, pool), newTenant(t, pool)}
		type modelKey struct {
			key     pgstore.Key
			secret  string
			revoked bool
		}
		var keys []*modelKey
		created := map[string]bool{}
		rt.Repeat(map[string]func(*rapid.T){
			"create tenant": func(rt *rapid.T) {
				tenant := rapid.SampledFrom(tenants).Draw(rt, "tenant")
				ok, err := a.CreateTenant(ctx, tenant)
				if err != nil || ok == created[tenant] {
					rt.Fatalf("CreateTenant(%s): %v, %v; created before: %v", tenant, ok, err, created[tenant])
				}
				created[tenant] = true
			},
			"create key": func(rt *rapid.T) {
				tenant := rapid.SampledFrom(tenants).Draw(rt, "tenant")
				role := rapid.SampledFrom([]string{"storefront", "pos", "admin"}).Draw(rt, "role")
				k, secret, err := a.CreateKey(ctx, pgstore.NewKey{Tenant: tenant, Role: role})
				if err != nil {
					rt.Fatal(err)
				}
				created[tenant] = true
				keys = append(keys, &modelKey{key: k, secret: secret})
			},
			"revoke": func(rt *rapid.T) {
				if len(keys) == 0 {
					rt.Skip("no key")
				}
				k := rapid.SampledFrom(keys).Draw(rt, "key")
				if _, err := a.RevokeKey(ctx, k.key.ID); err != nil {
					rt.Fatal(err)
				}
				k.revoked = true
			},
			"authenticate": func(rt *rapid.T) {
				if len(keys) == 0 {
					rt.Skip("no key")
				}
				k := rapid.SampledFrom(keys).Draw(rt, "key")
				got, err := a.Authenticate(ctx, k.secret)
				if k.revoked {
					if !errors.Is(err, pgstore.ErrInvalidKey) {
						rt.Fatalf("revoked key %s: %+v, %v", k.key.ID, got, err)
					}
					return
				}
				if err != nil || got.Tenant != k.key.Tenant || got.Role != k.key.Role || got.ID != k.key.ID {
					rt.Fatalf("key %s: %+v, %v; want tenant %s, role %s", k.key.ID, got, err, k.key.Tenant, k.key.Role)
				}
			},
			"": func(rt *rapid.T) {
				for _, tenant := range tenants {
					ok, err := a.TenantExists(ctx, tenant)
					if err != nil || ok != created[tenant] {
						rt.Fatalf("TenantExists(%s): %v, %v; want %v", tenant, ok, err, created[tenant])
					}
					got, err := a.Keys(ctx, tenant)
					if err != nil {
						rt.Fatal(err)
					}
					var want []string
					for _, k := range keys {
						if k.key.Tenant == tenant {
							want = append(want, k.key.ID+" "+k.key.Role+" "+map[bool]string{true: "revoked", false: "valid"}[k.revoked])
						}
					}
					var have []string
					for _, k := range got {
						have = append(have, k.ID+" "+k.Role+" "+map[bool]string{true: "revoked", false: "valid"}[!k.Revoked.IsZero()])
					}
					if diff := cmp.Diff(want, have, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()); diff != "" {
						rt.Fatalf("Keys(%s) mismatch (-model +got):\n%s", tenant, diff)
					}
				}
			},
		})
	})
}

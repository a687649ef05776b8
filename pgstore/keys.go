package pgstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onlinestock/onlinestock"
)

// Access is who may reach the tenants of a database: the tenants that
// exist, and their API keys. A key belongs to one tenant and has one role;
// only a hash of its secret is kept, and the secret is shown once, when
// the key is created. It is safe for concurrent use, by any number of
// processes sharing the database.
//
// A server authenticates each request with [Access.Authenticate], which
// reads the key from the database every time, so that a revoked key stops
// working at the next request; it records a key's last use at most once
// per [AccessConfig.LastUseInterval], so that requests do not each write.
// A name that is not a tenant's, or a key that is not one, costs a lookup
// and nothing is kept of it.
type Access struct {
	pool *pgxpool.Pool
	cfg  AccessConfig
}

// AccessConfig configures an [Access]. The zero value is the default.
type AccessConfig struct {
	// LastUseInterval is how stale a key's recorded last use may be:
	// Authenticate records a use only when the last one recorded is at
	// least this old. Zero means [DefaultLastUseInterval].
	LastUseInterval time.Duration
	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
}

// DefaultLastUseInterval is the default of [AccessConfig.LastUseInterval].
const DefaultLastUseInterval = time.Minute

// Key is an API key as it is kept: everything but its secret.
type Key struct {
	// ID names the key in listings and to revoke it; it is the part of
	// the secret before its last underscore, and no secret itself.
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Role is what the key may do, in the terms of its user (package
	// httpapi's storefront, pos or admin).
	Role    string    `json:"role"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
	// LastUsed is when the key was last seen, to within
	// AccessConfig.LastUseInterval; zero when never.
	LastUsed time.Time `json:"last_used,omitzero"`
	// Revoked is when the key was revoked; zero while it is valid.
	Revoked time.Time `json:"revoked,omitzero"`
}

// NewKey is a key to create.
type NewKey struct {
	Tenant string // the tenant it reaches; created if it does not exist
	Role   string // non-empty, at most 64 bytes, no control characters
	Name   string // for people: what or who holds it; at most 128 bytes
}

// Tenant is a tenant as [Access.Tenants] lists it.
type Tenant struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Keys    int       `json:"keys"` // keys not revoked
}

// ErrInvalidKey is what [Access.Authenticate] returns for a secret that is
// not one of a valid key: malformed, unknown, or revoked.
var ErrInvalidKey = errors.New("pgstore: not a valid API key")

// keyPrefix starts every secret, so that one is recognised where it
// leaks (a scanner, a log) and told apart from other credentials.
const keyPrefix = "osk_"

// Bounds on a key's fields.
const (
	maxRoleBytes    = 64
	maxKeyNameBytes = 128
)

// NewAccess returns the tenants and keys of the database pool is
// connected to. The schema must be up to date. The pool is the caller's
// to close, after the Access is no longer used.
func NewAccess(pool *pgxpool.Pool, cfg AccessConfig) (*Access, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgstore: nil pool: %w", onlinestock.ErrInvalid)
	}
	if cfg.LastUseInterval < 0 {
		return nil, fmt.Errorf("pgstore: AccessConfig.LastUseInterval: negative: %w", onlinestock.ErrInvalid)
	}
	if cfg.LastUseInterval == 0 {
		cfg.LastUseInterval = DefaultLastUseInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Access{pool: pool, cfg: cfg}, nil
}

// CreateTenant creates tenant, and reports whether it did: false when it
// existed already. A name New would refuse is ErrInvalid.
func (a *Access) CreateTenant(ctx context.Context, tenant string) (bool, error) {
	if err := (Config{Tenant: tenant}).validate(); err != nil {
		return false, err
	}
	tag, err := a.pool.Exec(ctx, `INSERT INTO onlinestock_tenants (tenant, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		tenant, a.cfg.Clock())
	if err != nil {
		return false, interpretError(ctx, err)
	}
	return tag.RowsAffected() == 1, nil
}

// TenantExists reports whether tenant was created.
func (a *Access) TenantExists(ctx context.Context, tenant string) (bool, error) {
	var ok bool
	if err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM onlinestock_tenants WHERE tenant = $1)`, tenant).Scan(&ok); err != nil {
		return false, interpretError(ctx, err)
	}
	return ok, nil
}

// Tenants lists every tenant, by name, with its count of valid keys.
func (a *Access) Tenants(ctx context.Context) ([]Tenant, error) {
	rows, err := a.pool.Query(ctx, `SELECT t.tenant, t.created_at,
			(SELECT count(*) FROM onlinestock_api_keys k WHERE k.tenant = t.tenant AND k.revoked_at IS NULL)
		FROM onlinestock_tenants t ORDER BY t.tenant`)
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	tenants, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Tenant, error) {
		var t Tenant
		err := row.Scan(&t.Name, &t.Created, &t.Keys)
		return t, err
	})
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	return tenants, nil
}

// CreateKey creates a key for k.Tenant, creating the tenant too when it
// does not exist, and returns it with its secret: the only time the
// secret is told. Invalid fields are ErrInvalid, naming the field.
func (a *Access) CreateKey(ctx context.Context, k NewKey) (Key, string, error) {
	if err := (Config{Tenant: k.Tenant}).validate(); err != nil {
		return Key{}, "", err
	}
	if err := checkText("role", k.Role, maxRoleBytes, false); err != nil {
		return Key{}, "", err
	}
	if err := checkText("name", k.Name, maxKeyNameBytes, true); err != nil {
		return Key{}, "", err
	}
	var id [8]byte
	var secret [32]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	_, _ = rand.Read(secret[:])
	key := Key{ID: keyPrefix + hex.EncodeToString(id[:]), Tenant: k.Tenant, Role: k.Role, Name: k.Name,
		Created: a.cfg.Clock().UTC().Truncate(time.Microsecond)}
	token := key.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	hash := sha256.Sum256([]byte(token))
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO onlinestock_tenants (tenant, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			key.Tenant, key.Created); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO onlinestock_api_keys (id, tenant, role, name, secret_sha256, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, key.ID, key.Tenant, key.Role, key.Name, hash[:], key.Created)
		return err
	})
	if err != nil {
		return Key{}, "", interpretError(ctx, err)
	}
	return key, token, nil
}

func checkText(field, s string, max int, empty bool) error {
	switch {
	case s == "" && !empty:
		return fmt.Errorf("pgstore: key %s: empty: %w", field, onlinestock.ErrInvalid)
	case len(s) > max:
		return fmt.Errorf("pgstore: key %s: %d bytes, longer than %d: %w", field, len(s), max, onlinestock.ErrInvalid)
	case !utf8.ValidString(s):
		return fmt.Errorf("pgstore: key %s: invalid UTF-8: %w", field, onlinestock.ErrInvalid)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("pgstore: key %s: control character: %w", field, onlinestock.ErrInvalid)
	}
	return nil
}

// Keys lists the keys of tenant, revoked ones included, by ID; every
// tenant's when tenant is empty.
func (a *Access) Keys(ctx context.Context, tenant string) ([]Key, error) {
	rows, err := a.pool.Query(ctx, `SELECT id, tenant, role, name, created_at, last_used_at, revoked_at
		FROM onlinestock_api_keys WHERE $1 = '' OR tenant = $1 ORDER BY tenant, id`, tenant)
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	keys, err := pgx.CollectRows(rows, scanKey)
	if err != nil {
		return nil, interpretError(ctx, err)
	}
	return keys, nil
}

func scanKey(row pgx.CollectableRow) (Key, error) {
	var k Key
	var used, revoked *time.Time
	if err := row.Scan(&k.ID, &k.Tenant, &k.Role, &k.Name, &k.Created, &used, &revoked); err != nil {
		return Key{}, err
	}
	k.Created = k.Created.UTC()
	if used != nil {
		k.LastUsed = used.UTC()
	}
	if revoked != nil {
		k.Revoked = revoked.UTC()
	}
	return k, nil
}

// RevokeKey revokes the key id at once: Authenticate refuses it from the
// next call on, in every process. Revoking a revoked key changes nothing;
// an unknown one is ErrNotFound. It returns the key as it now stands.
func (a *Access) RevokeKey(ctx context.Context, id string) (Key, error) {
	rows, err := a.pool.Query(ctx, `UPDATE onlinestock_api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1
		RETURNING id, tenant, role, name, created_at, last_used_at, revoked_at`, id, a.cfg.Clock())
	if err != nil {
		return Key{}, interpretError(ctx, err)
	}
	key, err := pgx.CollectExactlyOneRow(rows, scanKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, fmt.Errorf("pgstore: key %q: %w", id, onlinestock.ErrNotFound)
	}
	if err != nil {
		return Key{}, interpretError(ctx, err)
	}
	return key, nil
}

// Authenticate returns the key whose secret is token, or ErrInvalidKey
// when there is none or it is revoked. It reads the key from the database
// at every call, and records its use when the last one recorded is older
// than AccessConfig.LastUseInterval.
func (a *Access) Authenticate(ctx context.Context, token string) (Key, error) {
	id, _, ok := strings.Cut(strings.TrimPrefix(token, keyPrefix), "_")
	if !strings.HasPrefix(token, keyPrefix) || !ok || len(id) != 16 || len(token) > 128 {
		return Key{}, ErrInvalidKey
	}
	id = keyPrefix + id
	var k Key
	var hash []byte
	var used, revoked *time.Time
	err := a.pool.QueryRow(ctx, `SELECT tenant, role, name, created_at, last_used_at, revoked_at, secret_sha256
		FROM onlinestock_api_keys WHERE id = $1`, id).Scan(&k.Tenant, &k.Role, &k.Name, &k.Created, &used, &revoked, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, ErrInvalidKey
	}
	if err != nil {
		return Key{}, interpretError(ctx, err)
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], hash) != 1 || revoked != nil {
		return Key{}, ErrInvalidKey
	}
	k.ID, k.Created = id, k.Created.UTC()
	now := a.cfg.Clock()
	if used == nil || now.Sub(*used) >= a.cfg.LastUseInterval {
		// Guarded in SQL too, so that the replicas that see the same stale
		// use at once write it once.
		if _, err := a.pool.Exec(ctx, `UPDATE onlinestock_api_keys SET last_used_at = $2
			WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`,
			id, now, now.Add(-a.cfg.LastUseInterval)); err != nil {
			return Key{}, interpretError(ctx, err)
		}
		used = &now
	}
	k.LastUsed = used.UTC()
	return k, nil
}

package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/onlinestock/onlinestock"
)

// Role is what a principal may do: [RoleStorefront], [RolePOS] or
// [RoleAdmin]. [Roles] lists the operations each may call.
type Role string

// The roles, after the people who call the API.
const (
	// RoleStorefront reads availability, quotes carts and keeps its
	// orders' reservations: reserve, read, amend and release them.
	RoleStorefront Role = "storefront"
	// RolePOS is a POS adapter: stock, the ledger, fulfilment and
	// cancellation, the catalog, setup and events; it reads availability
	// but neither quotes nor reserves.
	RolePOS Role = "pos"
	// RoleAdmin may call every operation.
	RoleAdmin Role = "admin"
)

// ParseRole returns the role named s, or an error naming the roles.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleStorefront, RolePOS, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("role %q: not storefront, pos or admin", s)
}

// Principal is who a request was proven to come from, as
// [Config.Authenticate] found it: the tenant whose data it may reach and
// its role. [Config.Tenant] and [Config.Authorize] decide from it alone,
// never from what a request claims. Fields may be added (a sales channel,
// say): build one with field names.
type Principal struct {
	// Tenant is the retailer whose data the principal may reach; empty
	// when the Handler serves one Service ([Config.Tenant] is nil).
	Tenant string
	// Role is what the principal may do.
	Role Role
	// Key names the credential the principal presented, such as an API
	// key's ID, for the logs; never a secret.
	Key string
}

// Allowed reports whether role may call operation (an operationId of the
// OpenAPI document, such as "applyChanges").
func Allowed(role Role, operation string) bool {
	for _, rt := range routes {
		if rt.operation == operation {
			return role == RoleAdmin || slices.Contains(rt.roles, role)
		}
	}
	return false
}

// Roles returns the roles that may call operation, admin last; none for
// an operation the API does not have.
func Roles(operation string) []Role {
	for _, rt := range routes {
		if rt.operation == operation {
			return append(slices.Clone(rt.roles), RoleAdmin)
		}
	}
	return nil
}

// ErrUnauthenticated is what [Config.Authenticate] (or [Config.Authorize])
// wraps to answer 401: no credential, or one that is not valid.
var ErrUnauthenticated = errors.New("httpapi: unauthenticated")

// BearerToken returns an Authenticate function for [Config.Authenticate]
// that reads "Authorization: Bearer <token>" and hands the token to
// lookup. A request without one, or whose token lookup refuses with an
// error wrapping [ErrUnauthenticated], is answered 401 with a
// WWW-Authenticate challenge; any other error of lookup is answered like
// a Service error (a 500 for a database that cannot be reached, say).
func BearerToken(lookup func(ctx context.Context, token string) (Principal, error)) func(*http.Request) (Principal, error) {
	return func(r *http.Request) (Principal, error) {
		h := r.Header.Values("Authorization")
		if len(h) == 0 {
			return Principal{}, fmt.Errorf("send Authorization: Bearer <key>: %w", ErrUnauthenticated)
		}
		scheme, token, ok := strings.Cut(h[0], " ")
		if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
			return Principal{}, &unauthenticated{msg: "the Authorization header is not one Bearer <key>", invalid: true}
		}
		p, err := lookup(r.Context(), token)
		if errors.Is(err, ErrUnauthenticated) {
			return Principal{}, &unauthenticated{msg: "the key is not valid", invalid: true}
		}
		return p, err
	}
}

// unauthenticated is a 401 whose challenge says the token was not valid
// (RFC 6750's invalid_token) rather than missing.
type unauthenticated struct {
	msg     string
	invalid bool
}

func (e *unauthenticated) Error() string { return e.msg }
func (e *unauthenticated) Unwrap() error { return ErrUnauthenticated }

// challenge is the WWW-Authenticate header of a 401 for err.
func challenge(err error) string {
	var u *unauthenticated
	if errors.As(err, &u) && u.invalid {
		return `Bearer realm="onlinestock", error="invalid_token"`
	}
	return `Bearer realm="onlinestock"`
}

// authenticate finds the principal of the call, then its Service, and
// checks that the principal may call rt.
func (c *call) authenticate(rt route) error {
	if c.h.cfg.Authenticate == nil {
		c.principal = Principal{Role: RoleAdmin}
	} else {
		p, err := c.h.cfg.Authenticate(c.r)
		if err != nil {
			return denied(err)
		}
		if _, err := ParseRole(string(p.Role)); err != nil {
			return denied(fmt.Errorf("the key's %v: %w", err, ErrUnauthenticated))
		}
		c.principal = p
	}
	if !Allowed(c.principal.Role, rt.operation) {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Detail: fmt.Sprintf("%s needs the %s role; this key has the %s role", rt.operation, roleList(Roles(rt.operation)), c.principal.Role)}
	}
	if c.h.cfg.Authorize != nil {
		if err := c.h.cfg.Authorize(c.r.Context(), c.principal, rt.operation); err != nil {
			return denied(err)
		}
	}
	c.svc = c.h.svc
	if c.h.cfg.Tenant != nil {
		svc, err := c.h.cfg.Tenant(c.r.Context(), c.principal)
		if err != nil {
			return err
		}
		if svc == nil {
			return fmt.Errorf("tenant %q: %w", c.principal.Tenant, onlinestock.ErrNotFound)
		}
		c.svc = svc
	}
	return nil
}

// roleList spells roles as "storefront, pos or admin".
func roleList(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

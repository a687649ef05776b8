package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/onlinestock/onlinestock"
)

// Codes name each kind of error in the "code" member of a problem body.
// They are stable: clients branch on them, not on the text.
const (
	CodeInvalid           = "invalid"            // 400: onlinestock.ErrInvalid, or a malformed request
	CodeNotFound          = "not_found"          // 404: onlinestock.ErrNotFound
	CodeConflict          = "conflict"           // 409: onlinestock.ErrConflict (a compare-and-set lost)
	CodeInsufficientStock = "insufficient_stock" // 409: onlinestock.ErrInsufficientStock, with shortfalls
	CodePrimaryOutlet     = "primary_outlet"     // 409: onlinestock.ErrPrimaryOutlet
	CodeNotActive         = "not_active"         // 503: onlinestock.ErrNotActive
	CodeCommitUnknown     = "commit_unknown"     // 500: onlinestock.ErrCommitUnknown: it may or may not have been applied
	CodeUnauthenticated   = "unauthenticated"    // 401: no credential, or not a valid one (see WWW-Authenticate)
	CodeForbidden         = "forbidden"          // 403: the principal's role may not call the operation, or Config.Authorize refused
	CodeNoRoute           = "no_route"           // 404: no operation at this path
	CodeMethodNotAllowed  = "method_not_allowed" // 405: the path has no such method (see Allow)
	CodeUnsupportedMedia  = "unsupported_media"  // 415: a body that is not application/json
	CodeTooLarge          = "too_large"          // 413: a body over Config.MaxBodyBytes
	CodeOverLimit         = "over_limit"         // 400: a page, a listing or a cart over one of the limits of a request (see limit)
	CodeBodyTimeout       = "body_timeout"       // 408: the body took longer than Config.BodyTimeout
	CodeTimeout           = "timeout"            // 503: the operation took longer than Config.Timeout
	CodeBusy              = "busy"               // 503: Config.MaxInFlight requests in flight already (see Retry-After)
	CodeInternal          = "internal"           // 500: anything else; the details are logged, not sent
)

// Error is an RFC 9457 problem: the body of every error response, sent as
// application/problem+json. Return one from [Config.Authenticate],
// [Config.Tenant] or [Config.Authorize] to choose the status and code.
type Error struct {
	Type   string `json:"type"`             // always "about:blank": the code says what happened
	Title  string `json:"title"`            // the status's text
	Status int    `json:"status"`           // the HTTP status
	Detail string `json:"detail,omitempty"` // for people: what was wrong, naming the field
	Code   string `json:"code"`             // for programs: one of the Code constants
	// Field is the JSON field or query parameter of a malformed request,
	// when known, such as "changes[2].quantity".
	Field string `json:"field,omitempty"`
	// Outlet and Shortfalls detail an insufficient_stock error.
	Outlet     string                  `json:"outlet,omitempty"`
	Shortfalls []onlinestock.Shortfall `json:"shortfalls,omitempty"`
	// Key is the idempotency key of a conflict over a key used before for
	// another change ([onlinestock.KeyConflictError]), so that a POS
	// adapter can find the line at fault without parsing the detail.
	Key string `json:"key,omitempty"`
	// Limit is the limit a request went over: of an over_limit, busy or
	// too_large problem.
	Limit int64 `json:"limit,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Detail == "" {
		return "httpapi: " + e.Code
	}
	return "httpapi: " + e.Code + ": " + e.Detail
}

// problem maps err to the problem answered for it.
func problem(err error) *Error {
	var p *Error
	if errors.As(err, &p) {
		return p
	}
	p = &Error{Detail: err.Error()}
	var short *onlinestock.InsufficientStockError
	var reused *onlinestock.KeyConflictError
	switch {
	case errors.As(err, &short):
		p.Status, p.Code = http.StatusConflict, CodeInsufficientStock
		p.Outlet, p.Shortfalls = short.Outlet, short.Shortfalls
	case errors.As(err, &reused):
		p.Status, p.Code, p.Key = http.StatusConflict, CodeConflict, reused.Key
	case errors.Is(err, onlinestock.ErrInvalid):
		p.Status, p.Code = http.StatusBadRequest, CodeInvalid
	case errors.Is(err, onlinestock.ErrNotFound):
		p.Status, p.Code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, onlinestock.ErrConflict):
		p.Status, p.Code = http.StatusConflict, CodeConflict
	case errors.Is(err, onlinestock.ErrInsufficientStock):
		p.Status, p.Code = http.StatusConflict, CodeInsufficientStock
	case errors.Is(err, onlinestock.ErrPrimaryOutlet):
		p.Status, p.Code = http.StatusConflict, CodePrimaryOutlet
	case errors.Is(err, onlinestock.ErrNotActive):
		p.Status, p.Code = http.StatusServiceUnavailable, CodeNotActive
	case errors.Is(err, onlinestock.ErrCommitUnknown):
		// 500, not 503: clients retry a 503 on their own, and retrying an
		// unkeyed Adjust whose first attempt committed applies it twice.
		p.Status, p.Code = http.StatusInternalServerError, CodeCommitUnknown
		p.Detail = "the database connection was lost while the change was committing: it may or may not have been applied"
	case errors.Is(err, context.DeadlineExceeded):
		p.Status, p.Code = http.StatusServiceUnavailable, CodeTimeout
		p.Detail = "the operation took too long"
	default:
		p.Status, p.Code, p.Detail = http.StatusInternalServerError, CodeInternal, "internal error"
	}
	return p
}

// denied maps an error of Config.Authorize.
func denied(err error) error {
	if errors.As(err, new(*Error)) {
		return err
	}
	detail := strings.TrimSuffix(err.Error(), ": "+ErrUnauthenticated.Error())
	if errors.Is(err, ErrUnauthenticated) {
		return &unauthenticatedProblem{p: &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Detail: detail}, err: err}
	}
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Detail: detail}
}

// unauthenticatedProblem is a 401 that keeps the error it came from, for
// its challenge.
type unauthenticatedProblem struct {
	p   *Error
	err error
}

func (u *unauthenticatedProblem) Error() string   { return u.p.Error() }
func (u *unauthenticatedProblem) Unwrap() []error { return []error{u.p, u.err} }

func writeProblem(w http.ResponseWriter, p *Error) {
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	p.Type = "about:blank"
	p.Title = http.StatusText(p.Status)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/onlinestock/onlinestock"
)

// Config configures a [Handler]. The zero value of every field is a usable
// default.
type Config struct {
	// Tenant picks the Service that serves a request, for a multi-tenant
	// deployment: from a header, a host name or the principal Authorize
	// found, say. An error it returns is answered like a Service error
	// (wrap [onlinestock.ErrNotFound] for an unknown tenant, or return an
	// [*Error] for any status). Nil means every request is served by the
	// Service given to [New].
	Tenant func(r *http.Request) (*onlinestock.Service, error)

	// Authorize is called before every operation but reading the OpenAPI
	// document, with the operation's name (its OpenAPI operationId, such as
	// "applyChanges" or "getAvailability"), so that a storefront's key may
	// read and reserve while only the POS's may change stock. Return nil to
	// allow, an error wrapping [ErrUnauthenticated] for a 401 or any other
	// error for a 403. Nil allows everything: put the API behind your own
	// authentication.
	Authorize func(r *http.Request, operation string) error

	// MaxBodyBytes is the largest request body read. Zero means
	// [DefaultMaxBodyBytes], enough for a batch of about 40,000 changes.
	MaxBodyBytes int64

	// MaxPage is the most products one availability request may name.
	// Zero means [DefaultMaxPage].
	MaxPage int

	// BodyTimeout is how long a client may take to send its request body,
	// from when the handler starts reading it. Zero means
	// [DefaultBodyTimeout]. The [http.Server]'s ReadHeaderTimeout bounds
	// the headers.
	BodyTimeout time.Duration

	// Timeout bounds each operation, body excluded. Zero means
	// [DefaultTimeout].
	Timeout time.Duration

	// Logger records the errors answered with a 500. Nil means
	// [slog.Default].
	Logger *slog.Logger

	// Clock returns the current time, for expiring reservations. Nil
	// means [time.Now].
	Clock func() time.Time
}

// Defaults for the zero values of [Config].
const (
	DefaultMaxBodyBytes = 4 << 20
	DefaultMaxPage      = 1000
	DefaultBodyTimeout  = 10 * time.Second
	DefaultTimeout      = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxPage <= 0 {
		c.MaxPage = DefaultMaxPage
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Handler serves the API. It is an [http.Handler], safe for concurrent use.
type Handler struct {
	svc *onlinestock.Service
	cfg Config
	mux *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns the API over svc. svc may be nil when [Config.Tenant] picks
// the Service of each request.
func New(svc *onlinestock.Service, cfg Config) (*Handler, error) {
	if svc == nil && cfg.Tenant == nil {
		return nil, errors.New("httpapi: New: nil Service and no Config.Tenant")
	}
	h := &Handler{svc: svc, cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	for _, rt := range routes {
		h.mux.Handle(rt.method+" "+rt.path, h.operation(rt))
	}
	h.mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
	h.mux.HandleFunc("/", h.unrouted)
	return h, nil
}

// ServeHTTP implements [http.Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// route is one operation of the API. The table in routes.go lists them
// all, and a test checks it against the OpenAPI document.
type route struct {
	method, path string
	operation    string // the OpenAPI operationId, given to Config.Authorize
	handle       func(*call) error
}

// call is one request being served.
type call struct {
	h   *Handler
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	svc *onlinestock.Service
}

func (h *Handler) operation(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{h: h, w: w, r: r}
		writeError(w, r, h.cfg.Logger, c.serve(rt))
	})
}

func (c *call) serve(rt route) error {
	if c.h.cfg.Authorize != nil {
		if err := c.h.cfg.Authorize(c.r, rt.operation); err != nil {
			return denied(err)
		}
	}
	c.svc = c.h.svc
	if c.h.cfg.Tenant != nil {
		svc, err := c.h.cfg.Tenant(c.r)
		if err != nil {
			return err
		}
		if svc == nil {
			return onlinestock.ErrNotFound
		}
		c.svc = svc
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), c.h.cfg.Timeout)
	defer cancel()
	c.ctx = ctx
	return rt.handle(c)
}

// unrouted answers a request no route matches: 405 when the path exists
// with other methods, else 404.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header()["Allow"] = allow
		writeProblem(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
			Detail: r.Method + " is not allowed here"})
		return
	}
	writeProblem(w, &Error{Status: http.StatusNotFound, Code: CodeNoRoute, Detail: "no operation at " + r.URL.Path})
}

package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/onlinestock/onlinestock"
)

// Config configures a [Handler]. The zero value of every field is a usable
// default.
type Config struct {
	// Authenticate proves who sent a request, before anything else of it
	// is read: it returns the request's [Principal], an error wrapping
	// [ErrUnauthenticated] for a 401 (answered with a WWW-Authenticate
	// challenge), or an [*Error] for any status. [BearerToken] makes one
	// from a lookup of "Authorization: Bearer" keys. Nil means every
	// request is an admin of the Service given to [New]: put the API
	// behind your own authentication.
	Authenticate func(r *http.Request) (Principal, error)

	// Tenant picks the Service of the principal's tenant, for a
	// multi-tenant deployment. It decides from the principal alone, which
	// Authenticate proved. An error it returns is answered like a Service
	// error (wrap [onlinestock.ErrNotFound] for an unknown tenant, or
	// return an [*Error] for any status). Nil means every request is
	// served by the Service given to [New].
	Tenant func(ctx context.Context, p Principal) (*onlinestock.Service, error)

	// Authorize, when set, is asked after the role check (see [Roles])
	// whether the principal may call the operation, named by its OpenAPI
	// operationId ("applyChanges", "getAvailability"). Return nil to
	// allow, an error wrapping [ErrUnauthenticated] for a 401 or any other
	// error for a 403. It may refuse what a role allows, never allow more.
	Authorize func(ctx context.Context, p Principal, operation string) error

	// MaxBodyBytes is the largest request body read. Zero means
	// [DefaultMaxBodyBytes], enough for a batch of about 40,000 changes.
	MaxBodyBytes int64

	// MaxPage is the most products one availability request may name,
	// and the most items one page of a listing (reservations, movements,
	// events) may hold. Zero means [DefaultMaxPage].
	MaxPage int

	// MaxLines is the most lines of a cart, an order, a part or an
	// amendment. Zero means [DefaultMaxLines].
	MaxLines int

	// MaxLineOutlets bounds the work of a quote, a reservation and an
	// amendment, which weigh every line at every outlet: their lines
	// times the shop's outlets may be at most this. Zero means
	// [DefaultMaxLineOutlets].
	MaxLineOutlets int

	// MaxInFlight is the most requests served at once; one more is
	// answered 503 with a Retry-After header at once. Zero means
	// [DefaultMaxInFlight].
	MaxInFlight int

	// BodyTimeout is how long a client may take to send its request body,
	// from when the handler starts reading it. A body that takes longer
	// is answered 408 and the connection closed. Zero means
	// [DefaultBodyTimeout]. The [http.Server]'s ReadHeaderTimeout bounds
	// the headers.
	BodyTimeout time.Duration

	// Timeout bounds each operation, body excluded. Zero means
	// [DefaultTimeout].
	Timeout time.Duration

	// WriteTimeout is how long a client may take to read an answer; past
	// it the answer is abandoned and the connection closed. Zero means
	// [DefaultWriteTimeout].
	WriteTimeout time.Duration

	// Logger records the errors answered with a 500, at Error level, and
	// requests whose client went away, at Debug level. It is given the
	// operation, never the URL or a credential. Nil means
	// [slog.Default].
	Logger *slog.Logger

	// Clock returns the current time, for expiring reservations. Nil
	// means [time.Now].
	Clock func() time.Time
}

// Defaults for the zero values of [Config].
const (
	DefaultMaxBodyBytes   = 4 << 20
	DefaultMaxPage        = 1000
	DefaultMaxLines       = 1000
	DefaultMaxLineOutlets = 100_000
	DefaultMaxInFlight    = 128
	DefaultBodyTimeout    = 10 * time.Second
	DefaultTimeout        = 30 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxPage <= 0 {
		c.MaxPage = DefaultMaxPage
	}
	if c.MaxLines <= 0 {
		c.MaxLines = DefaultMaxLines
	}
	if c.MaxLineOutlets <= 0 {
		c.MaxLineOutlets = DefaultMaxLineOutlets
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
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
	svc      *onlinestock.Service
	cfg      Config
	mux      *http.ServeMux
	inFlight chan struct{} // a slot per request being served
}

var _ http.Handler = (*Handler)(nil)

// New returns the API over svc. svc may be nil when [Config.Tenant] picks
// the Service of each request.
func New(svc *onlinestock.Service, cfg Config) (*Handler, error) {
	if svc == nil && cfg.Tenant == nil {
		return nil, errors.New("httpapi: New: nil Service and no Config.Tenant")
	}
	cfg = cfg.withDefaults()
	h := &Handler{svc: svc, cfg: cfg, mux: http.NewServeMux(), inFlight: make(chan struct{}, cfg.MaxInFlight)}
	for _, rt := range routes {
		h.mux.Handle(rt.method+" "+rt.path, h.operation(rt))
	}
	h.mux.HandleFunc("GET /v1/openapi.json", serveOpenAPI)
	h.mux.HandleFunc("/", h.unrouted)
	return h, nil
}

// retryAfter is what a 503 for too many requests in flight asks to wait,
// in seconds.
const retryAfter = 1

// ServeHTTP implements [http.Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		abandonBody(w, r)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeProblem(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeBusy, Limit: int64(h.cfg.MaxInFlight),
			Detail: "too many requests in flight: retry after " + strconv.Itoa(retryAfter) + "s"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// route is one operation of the API. The table in routes.go lists them
// all, and a test checks it against the OpenAPI document.
type route struct {
	method, path string
	operation    string // the OpenAPI operationId, given to Config.Authorize
	roles        []Role // the roles but admin that may call it
	handle       func(*call) error
}

// call is one request being served.
type call struct {
	h         *Handler
	rt        route
	w         http.ResponseWriter
	r         *http.Request
	ctx       context.Context
	svc       *onlinestock.Service
	principal Principal
	q         map[string][]string // the query, read strictly
	bodyRead  bool                // the body was read to its end
}

func (h *Handler) operation(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{h: h, rt: rt, w: w, r: r}
		c.finish(c.serve())
	})
}

func (c *call) serve() error {
	if err := c.authenticate(c.rt); err != nil {
		return err
	}
	q, err := c.query()
	if err != nil {
		return err
	}
	c.q = q
	ctx, cancel := context.WithTimeout(c.r.Context(), c.h.cfg.Timeout)
	defer cancel()
	c.ctx = ctx
	return c.rt.handle(c)
}

// finish answers err, when not nil, as a problem. The details of an
// internal error are logged, not sent. When the client went away there
// is no one to answer: that is logged at Debug level.
func (c *call) finish(err error) {
	if err == nil {
		return
	}
	log := c.h.cfg.Logger
	if c.r.Context().Err() != nil && !errors.As(err, new(*Error)) {
		log.DebugContext(c.r.Context(), "httpapi: the client went away", "operation", c.rt.operation, "err", err)
		return
	}
	p := problem(err)
	if p.Status >= 500 && p.Code != CodeNotActive {
		log.ErrorContext(c.r.Context(), "httpapi: request failed", "operation", c.rt.operation, "method", c.r.Method,
			"tenant", c.principal.Tenant, "key", c.principal.Key, "status", p.Status, "err", err)
	}
	c.startAnswer()
	if p.Status == http.StatusUnauthorized {
		c.w.Header().Set("WWW-Authenticate", challenge(err))
	}
	writeProblem(c.w, p)
}

// unrouted answers a request no route matches: 405 when the path exists
// with other methods, else 404.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	abandonBody(w, r)
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

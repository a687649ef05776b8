package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
	"github.com/onlinestock/onlinestock/pgstore"
	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

func serveCommand(db *database) *cobra.Command {
	o := serveOptions{db: db}
	cmd := &cobra.Command{
		Use:   "serve [--tenant T] [flags]",
		Short: "Serve the HTTP API over PostgreSQL, and run the background worker",
		Long: `Serve the HTTP API (package httpapi) over PostgreSQL to the holders of API
keys: each request sends "Authorization: Bearer <key>", and the key names
its tenant and its role (create keys with "onlinestock keys create"). No
header, path or ID reaches another tenant's data. With --tenant, only that
tenant's keys are served.

Running it on a network:
  - Listen on a public address only with keys: serve refuses to listen
    beyond loopback with --no-auth unless --allow-no-auth-on-network says so.
  - Serve TLS (--tls-cert and --tls-key), or put a TLS-terminating proxy in
    front: keys sent over plain HTTP can be read on the way.
  - Give each caller its own key with the least role it needs (a storefront
    key cannot change stock), and revoke a key that leaked: it is refused
    from the next request on.
  - Every request is bounded: headers within --read-header-timeout, a body
    within --body-timeout (else 408 and the connection closed), the
    operation within --request-timeout, the answer read within
    --write-timeout, and at most --max-in-flight at once (else 503 with
    Retry-After). Bodies are read strictly; see the OpenAPI document at
    /v1/openapi.json for every limit.

--no-auth serves one tenant (--tenant) to anyone who reaches the address,
as its admin: for a server on loopback, on a machine of your own.

Beside the API runs the background worker (unless --worker=false): it
releases reservations past their deadline, prunes what has aged out and,
with --webhook-url, delivers every event to that webhook, signed with
ONLINESTOCK_WEBHOOK_SECRET (whsec_...). Serving every tenant, it serves
every tenant of the database, and the URL names the tenant as {tenant}.
Run it in every replica: one replica at a time delivers for each tenant.

SIGINT or SIGTERM stops the server and the worker after the requests and
deliveries in flight.`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.tenant, "tenant", "", "serve only this tenant (it must exist: see \"onlinestock tenants\")")
	fs.StringVar(&o.tenantHeader, "tenant-header", "", "removed: each key names its tenant")
	_ = fs.MarkHidden("tenant-header")
	fs.BoolVar(&o.noAuth, "no-auth", false, "serve --tenant without keys, every request as its admin (loopback only)")
	fs.BoolVar(&o.noAuthOnNetwork, "allow-no-auth-on-network", false, "allow --no-auth on an address beyond loopback: anyone who reaches it may change anything")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM, the chain after the leaf), with --tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "the private key (PEM) of --tls-cert")
	fs.DurationVar(&o.limits.readHeader, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	fs.DurationVar(&o.limits.body, "body-timeout", httpapi.DefaultBodyTimeout, "how long a client may take to send a request's body (then 408)")
	fs.DurationVar(&o.limits.request, "request-timeout", httpapi.DefaultTimeout, "how long an operation may take (then 503)")
	fs.DurationVar(&o.limits.write, "write-timeout", httpapi.DefaultWriteTimeout, "how long a client may take to read an answer (then it is abandoned)")
	fs.DurationVar(&o.limits.idle, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	fs.IntVar(&o.limits.inFlight, "max-in-flight", httpapi.DefaultMaxInFlight, "the most requests served at once (then 503 with Retry-After)")
	fs.DurationVar(&o.grace, "shutdown-timeout", 30*time.Second, "on SIGINT or SIGTERM, how long requests and deliveries in flight may take to finish")
	fs.BoolVar(&o.worker.enabled, "worker", true, "run the background worker: event delivery to --webhook-url, reservation expiry, retention")
	fs.StringVar(&o.worker.url, "webhook-url", "", "deliver every event to this URL, signed with $ONLINESTOCK_WEBHOOK_SECRET (whsec_…); "+
		"serving every tenant, the URL names the tenant as {tenant}")
	return cmd
}

type serveOptions struct {
	db                         *database
	addr, tenant, tenantHeader string
	noAuth, noAuthOnNetwork    bool
	tlsCert, tlsKey            string
	limits                     serveLimits
	grace                      time.Duration
	worker                     serveWorker
}

// serveLimits are the bounds of each request.
type serveLimits struct {
	readHeader, body, request, write, idle time.Duration
	inFlight                               int
}

// serve runs the HTTP API and the background Worker until the command's
// context ends (SIGINT or SIGTERM), then lets the requests and deliveries
// in flight finish.
func serve(cmd *cobra.Command, o serveOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case o.tenantHeader != "":
		return usageErrorf("serve: --tenant-header is gone: each API key names its tenant (see \"onlinestock keys create\"); drop the flag")
	case os.Getenv("ONLINESTOCK_API_TOKEN") != "":
		return usageErrorf("serve: ONLINESTOCK_API_TOKEN is no longer read: it opened every tenant. Create a key per caller with \"onlinestock keys create\", then unset it")
	case o.noAuth && o.tenant == "":
		return usageErrorf("serve: --no-auth serves one tenant: name it with --tenant")
	case o.noAuthOnNetwork && !o.noAuth:
		return usageErrorf("serve: --allow-no-auth-on-network goes with --no-auth")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return usageErrorf("serve: pass both --tls-cert and --tls-key, or neither")
	}
	for name, d := range map[string]time.Duration{"read-header-timeout": o.limits.readHeader, "body-timeout": o.limits.body,
		"request-timeout": o.limits.request, "write-timeout": o.limits.write, "idle-timeout": o.limits.idle, "shutdown-timeout": o.grace} {
		if d <= 0 {
			return usageErrorf("serve: --%s: %v is not positive", name, d)
		}
	}
	if o.limits.inFlight <= 0 {
		return usageErrorf("serve: --max-in-flight: %d is not positive", o.limits.inFlight)
	}
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return usageErrorf("serve: --tls-cert, --tls-key: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	pool, err := o.db.pool(ctx, cmd)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgstore.CheckSchema(ctx, pool); err != nil {
		return err
	}
	access, err := pgstore.NewAccess(pool, pgstore.AccessConfig{})
	if err != nil {
		return err
	}
	services := &tenants{open: func(tenant string) (*onlinestock.Service, error) {
		store, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
		if err != nil {
			return nil, err
		}
		return onlinestock.New(store, onlinestock.Config{})
	}}
	cfg := httpapi.Config{Logger: log, BodyTimeout: o.limits.body, Timeout: o.limits.request,
		WriteTimeout: o.limits.write, MaxInFlight: o.limits.inFlight}
	var svc *onlinestock.Service
	if o.tenant != "" {
		exists, err := access.TenantExists(ctx, o.tenant)
		if err != nil {
			return err
		}
		if !exists {
			return usageErrorf("serve: --tenant %q: no such tenant: create it with \"onlinestock tenants create\"", o.tenant)
		}
		if svc, err = services.get(o.tenant); err != nil {
			return err
		}
	} else {
		// The key names a tenant that was created; nothing is kept of a
		// name that is not one.
		cfg.Tenant = func(_ context.Context, p httpapi.Principal) (*onlinestock.Service, error) {
			return services.get(p.Tenant)
		}
	}
	if o.noAuth {
		cfg.Authenticate = func(*http.Request) (httpapi.Principal, error) {
			return httpapi.Principal{Tenant: o.tenant, Role: httpapi.RoleAdmin}, nil
		}
	} else {
		cfg.Authenticate = httpapi.BearerToken(keyLookup(access, o.tenant))
	}
	api, err := httpapi.New(svc, cfg)
	if err != nil {
		return err
	}

	if o.noAuth && !o.noAuthOnNetwork && !loopbackAddr(o.addr) {
		return usageErrorf("serve: --no-auth on %s, beyond loopback, lets anyone who reaches it change anything: "+
			"serve with keys, listen on 127.0.0.1, or pass --allow-no-auth-on-network", o.addr)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	if !loopback(ln.Addr()) {
		switch {
		case o.noAuth && !o.noAuthOnNetwork: // a name that resolved otherwise when listening
			ln.Close()
			return usageErrorf("serve: --no-auth on %s, beyond loopback: pass --allow-no-auth-on-network", ln.Addr())
		case o.noAuth:
			log.Warn("serving without authentication beyond loopback (--allow-no-auth-on-network): anyone who reaches the address may change anything", "addr", ln.Addr().String())
		case tlsConfig == nil:
			log.Warn("serving plain HTTP beyond loopback: API keys can be read on the way; pass --tls-cert and --tls-key, or put a TLS proxy in front", "addr", ln.Addr().String())
		}
	}
	bg := &o.worker
	if err := bg.start(ctx, pool, svc, log); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: o.limits.readHeader,
		// Backstops: the API sets its own deadlines for a body and an
		// answer; these bound what it does not read or write.
		ReadTimeout:  o.limits.readHeader + o.limits.body,
		WriteTimeout: o.limits.body + o.limits.request + o.limits.write,
		IdleTimeout:  o.limits.idle,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:    tlsConfig,
	}
	scheme, run := "http", func() error { return srv.Serve(ln) }
	if tlsConfig != nil {
		scheme, run = "https", func() error { return srv.ServeTLS(ln, "", "") }
	}
	fmt.Fprintf(stdout, "serving the API on %s://%s/v1/ (the OpenAPI document at /v1/openapi.json)\n", scheme, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		return errors.Join(err, bg.stop(o.grace))
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down: finishing the requests and deliveries in flight")
	stopped := make(chan error, 1)
	go func() { stopped <- bg.stop(o.grace) }()
	shutdown, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return errors.Join(fmt.Errorf("serve: shutdown: %w", err), <-stopped)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return errors.Join(err, <-stopped)
	}
	return <-stopped
}

// keyLookup finds the principal of an API key: its tenant and role. With
// only set, a key of any other tenant is refused.
func keyLookup(access *pgstore.Access, only string) func(context.Context, string) (httpapi.Principal, error) {
	return func(ctx context.Context, token string) (httpapi.Principal, error) {
		key, err := access.Authenticate(ctx, token)
		if errors.Is(err, pgstore.ErrInvalidKey) {
			return httpapi.Principal{}, httpapi.ErrUnauthenticated
		}
		if err != nil {
			return httpapi.Principal{}, err
		}
		role, err := httpapi.ParseRole(key.Role)
		if err != nil || (only != "" && key.Tenant != only) {
			return httpapi.Principal{}, httpapi.ErrUnauthenticated
		}
		return httpapi.Principal{Tenant: key.Tenant, Role: role, Key: key.ID}, nil
	}
}

// loopbackAddr reports whether the address to listen on, host:port, is on
// loopback alone, before listening: an empty host is every interface, and
// a name must resolve to loopback addresses only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// loopback reports whether addr can be reached from this machine alone.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// serveWorker is the background Worker of serve: it delivers events to
// the webhook, if one is named, releases reservations past their
// deadline and prunes what has aged out, for one tenant or, through
// pgstore.Tenants, for every tenant of the database.
type serveWorker struct {
	enabled bool   // --worker
	url     string // --webhook-url
	w       *worker.Worker
}

// webhookConsumer names the webhook's cursor and dead letters: the
// consumer "onlinestock redeliver" redelivers by default.
const webhookConsumer = "default"

// serveTenantsPoll is how often the Worker over every tenant looks for
// tenants with events. Commits wake it at once (LISTEN/NOTIFY); the
// polling only makes up for a notification lost while it was not
// listening.
const serveTenantsPoll = 2 * time.Second

// start starts the Worker of svc, or of every tenant when svc is nil.
func (s *serveWorker) start(ctx context.Context, pool *pgxpool.Pool, svc *onlinestock.Service, log *slog.Logger) error {
	if !s.enabled {
		if s.url != "" {
			return usageErrorf("serve: --webhook-url needs the worker: drop --worker=false")
		}
		return nil
	}
	cfg := worker.Config{Logger: log}
	if s.url != "" {
		secret, err := webhook.ParseSecret(os.Getenv("ONLINESTOCK_WEBHOOK_SECRET"))
		if err != nil {
			return usageErrorf("serve: --webhook-url: ONLINESTOCK_WEBHOOK_SECRET: %v", err)
		}
		if svc == nil && !strings.Contains(s.url, "{tenant}") {
			return usageErrorf("serve: --webhook-url: serving every tenant, name the tenant in the URL as {tenant}")
		}
		hooks := &tenantWebhooks{url: s.url, secret: secret, log: log, by: map[string]*webhook.Notifier{}}
		if _, err := hooks.notifier("tenant"); err != nil { // a URL that cannot work is refused at once
			return usageErrorf("serve: --webhook-url: %v", err)
		}
		cfg.Consumers = []worker.Consumer{{Name: webhookConsumer, Notifier: hooks}}
	}
	var err error
	if svc != nil {
		s.w, err = worker.New(svc, cfg)
	} else {
		var tenants *pgstore.Tenants
		if tenants, err = pgstore.NewTenants(pool, pgstore.Config{}); err != nil {
			return err
		}
		cfg.PollInterval = serveTenantsPoll
		s.w, err = worker.NewTenants(tenants, onlinestock.Config{}, cfg)
	}
	if err != nil {
		return err
	}
	// Not stopped by ctx, which ends at the signal: stop lets the
	// deliveries in flight finish.
	return s.w.Start(context.WithoutCancel(ctx))
}

// stop stops the Worker, waiting at most grace for what is in flight.
func (s *serveWorker) stop(grace time.Duration) error {
	if s.w == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.w.Stop(ctx); err != nil {
		return fmt.Errorf("serve: stopping the worker: %w", err)
	}
	return nil
}

// tenantWebhooks is the webhook Notifier of every tenant: the tenant a
// Worker delivers for (worker.TenantOf) stands for {tenant} in the
// URL, path-escaped.
type tenantWebhooks struct {
	url    string
	secret []byte
	log    *slog.Logger
	mu     sync.Mutex
	by     map[string]*webhook.Notifier
}

func (h *tenantWebhooks) notifier(tenant string) (*webhook.Notifier, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, ok := h.by[tenant]; ok {
		return n, nil
	}
	n, err := webhook.New(webhook.Config{URL: strings.ReplaceAll(h.url, "{tenant}", url.PathEscape(tenant)), Secret: h.secret, Logger: h.log})
	if err != nil {
		return nil, err
	}
	h.by[tenant] = n
	return n, nil
}

// Notify implements onlinestock.Notifier.
func (h *tenantWebhooks) Notify(ctx context.Context, events []onlinestock.Event) error {
	n, err := h.notifier(worker.TenantOf(ctx))
	if err != nil {
		return onlinestock.Permanent(err)
	}
	return n.Notify(ctx, events)
}

// tenants opens each tenant's Service once.
type tenants struct {
	open func(tenant string) (*onlinestock.Service, error)
	mu   sync.Mutex
	svc  map[string]*onlinestock.Service
}

func (t *tenants) get(tenant string) (*onlinestock.Service, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if svc, ok := t.svc[tenant]; ok {
		return svc, nil
	}
	svc, err := t.open(tenant)
	if err != nil {
		return nil, err
	}
	if t.svc == nil {
		t.svc = map[string]*onlinestock.Service{}
	}
	t.svc[tenant] = svc
	return svc, nil
}

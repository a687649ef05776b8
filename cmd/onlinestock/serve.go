package main

import (
	"context"
	"crypto/subtle"
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
		Use:   "serve (--tenant T | --tenant-header H)",
		Short: "Serve the HTTP API over PostgreSQL, and run the background worker",
		Long: `Serve the HTTP API (package httpapi) over PostgreSQL, for one tenant
(--tenant) or for every tenant, each request naming its own in a header
(--tenant-header). Set ONLINESTOCK_API_TOKEN to require
"Authorization: Bearer <token>".

Beside the API runs the background worker (unless --worker=false): it
releases reservations past their deadline, prunes what has aged out and,
with --webhook-url, delivers every event to that webhook, signed with
ONLINESTOCK_WEBHOOK_SECRET (whsec_...). With --tenant-header it serves
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
	tenantFlag(fs, &o.tenant)
	fs.StringVar(&o.tenantHeader, "tenant-header", "", "serve every tenant, each request naming its own in this header (instead of --tenant)")
	fs.DurationVar(&o.grace, "shutdown-timeout", 30*time.Second, "on SIGINT or SIGTERM, how long requests and deliveries in flight may take to finish")
	fs.BoolVar(&o.worker.enabled, "worker", true, "run the background worker: event delivery to --webhook-url, reservation expiry, retention")
	fs.StringVar(&o.worker.url, "webhook-url", "", "deliver every event to this URL, signed with $ONLINESTOCK_WEBHOOK_SECRET (whsec_…); "+
		"with --tenant-header, the URL names the tenant as {tenant}")
	return cmd
}

type serveOptions struct {
	db                         *database
	addr, tenant, tenantHeader string
	grace                      time.Duration
	worker                     serveWorker
}

// serve runs the HTTP API and the background Worker until the command's
// context ends (SIGINT or SIGTERM), then lets the requests and deliveries
// in flight finish.
func serve(cmd *cobra.Command, o serveOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if (o.tenant == "") == (o.tenantHeader == "") {
		return usageErrorf("serve: pass one of --tenant and --tenant-header")
	}
	token := os.Getenv("ONLINESTOCK_API_TOKEN")
	log := slog.New(slog.NewTextHandler(stderr, nil))

	pool, err := o.db.pool(ctx, cmd)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgstore.CheckSchema(ctx, pool); err != nil {
		return err
	}
	services := &tenants{open: func(tenant string) (*onlinestock.Service, error) {
		store, err := pgstore.New(pool, pgstore.Config{Tenant: tenant})
		if err != nil {
			return nil, err
		}
		return onlinestock.New(store, onlinestock.Config{})
	}}
	cfg := httpapi.Config{Logger: log}
	var svc *onlinestock.Service
	if o.tenant != "" {
		if svc, err = services.get(o.tenant); err != nil {
			return err
		}
	} else {
		header := o.tenantHeader
		cfg.Tenant = func(r *http.Request) (*onlinestock.Service, error) {
			t := r.Header.Get(header)
			if t == "" {
				return nil, &httpapi.Error{Status: http.StatusBadRequest, Code: httpapi.CodeInvalid, Field: header,
					Detail: "name the tenant in the " + header + " header"}
			}
			return services.get(t)
		}
	}
	if token != "" {
		cfg.Authorize = bearer(token)
	} else {
		log.Warn("serving without authentication: set ONLINESTOCK_API_TOKEN to require a bearer token")
	}
	api, err := httpapi.New(svc, cfg)
	if err != nil {
		return err
	}
	worker := &o.worker
	if err := worker.start(ctx, pool, svc, log); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "serving the API on http://%s/v1/ (the OpenAPI document at /v1/openapi.json)\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return errors.Join(err, worker.stop(o.grace))
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down: finishing the requests and deliveries in flight")
	stopped := make(chan error, 1)
	go func() { stopped <- worker.stop(o.grace) }()
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
			return usageErrorf("serve: --webhook-url: with --tenant-header, name the tenant in the URL as {tenant}")
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

// bearer requires "Authorization: Bearer token".
func bearer(token string) func(*http.Request, string) error {
	return func(r *http.Request, _ string) error {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			return fmt.Errorf("send Authorization: Bearer <token>: %w", httpapi.ErrUnauthenticated)
		}
		return nil
	}
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

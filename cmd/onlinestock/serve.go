package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/httpapi"
	"github.com/onlinestock/onlinestock/pgstore"
)

func serveCommand(db *database) *cobra.Command {
	o := serveOptions{db: db}
	cmd := &cobra.Command{
		Use:   "serve (--tenant T | --tenant-header H)",
		Short: "Serve the HTTP API over PostgreSQL",
		Long: `Serve the HTTP API (package httpapi) over PostgreSQL, for one tenant
(--tenant) or for every tenant, each request naming its own in a header
(--tenant-header). Set ONLINESTOCK_API_TOKEN to require
"Authorization: Bearer <token>". SIGINT or SIGTERM stops the server after
the requests in flight.`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	tenantFlag(fs, &o.tenant)
	fs.StringVar(&o.tenantHeader, "tenant-header", "", "serve every tenant, each request naming its own in this header (instead of --tenant)")
	fs.DurationVar(&o.grace, "shutdown-timeout", 30*time.Second, "on SIGINT or SIGTERM, how long requests in flight may take to finish")
	return cmd
}

type serveOptions struct {
	db                         *database
	addr, tenant, tenantHeader string
	grace                      time.Duration
}

// serve runs the HTTP API until the command's context ends (SIGINT or
// SIGTERM), then lets the requests in flight finish.
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
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down: finishing the requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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

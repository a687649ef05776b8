package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

// TestNotifyNeverFollowsRedirects points a Notifier at a receiver that
// redirects to another server, with the default client and with clients
// the caller made, and checks that the other server gets nothing and the
// answer is a permanent failure.
func TestNotifyNeverFollowsRedirects(t *testing.T) {
	t.Parallel()
	clients := map[string]*http.Client{
		"the default client":          nil,
		"a plain client":              {},
		"a client that follows":       {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }},
		"a client with a timeout":     {Timeout: 5 * time.Second},
		"a client over its transport": {Transport: &http.Transport{}},
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		for name, client := range clients {
			t.Run(fmt.Sprintf("%d with %s", code, name), func(t *testing.T) {
				t.Parallel()
				var elsewhere atomic.Int64
				other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					elsewhere.Add(1)
					w.WriteHeader(http.StatusNoContent)
				}))
				srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, other.URL+"/stolen", code)
				}))
				n := newNotifier(t, webhook.Config{URL: srv.URL, Client: client})
				err := n.Notify(t.Context(), sampleEvents()[:1])
				if !onlinestock.IsPermanent(err) {
					t.Errorf("Notify() error = %v, want a permanent failure", err)
				}
				var serr *webhook.StatusError
				if !errors.As(err, &serr) || serr.StatusCode != code {
					t.Errorf("Notify() error = %v, want a StatusError %d", err, code)
				}
				if got := elsewhere.Load(); got != 0 {
					t.Errorf("the redirect's target got %d requests, want 0", got)
				}
			})
		}
	}
	if clients["a client that follows"].CheckRedirect(nil, nil) != nil {
		t.Error("the caller's client was changed")
	}
}

// TestNotifyRedactsCredentials checks that secrets in the URL, as a
// password or in the query string, appear in no error and no log record,
// whatever the failure: the URL is named by its scheme and host.
func TestNotifyRedactsCredentials(t *testing.T) {
	t.Parallel()
	const secrets = "hunter2|s3cret|t0ken"
	var closedURL string
	{
		srv := newServer(t, http.NotFoundHandler())
		closedURL = srv.URL
		srv.Close() // connection refused from now on
	}
	failing := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	refusing := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	redirecting := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://user:hunter2@elsewhere.example/hook?token=t0ken", http.StatusFound)
	}))
	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		<-r.Context().Done()
	}))
	tests := []struct {
		name string
		base string
		cfg  webhook.Config
	}{
		{"when the connection is refused", closedURL, webhook.Config{}},
		{"when the receiver fails", failing.URL, webhook.Config{}},
		{"when the receiver refuses", refusing.URL, webhook.Config{}},
		{"when the receiver redirects", redirecting.URL, webhook.Config{}},
		{"when the request times out", slow.URL, webhook.Config{Timeout: 50 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			cfg := tt.cfg
			cfg.URL = strings.Replace(tt.base, "http://", "http://shop:hunter2@", 1) + "/hook?token=s3cret&account=t0ken"
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			n := newNotifier(t, cfg)
			err := n.Notify(t.Context(), sampleEvents()[:1])
			if err == nil {
				t.Fatal("Notify() = nil, want an error")
			}
			for _, s := range strings.Split(secrets, "|") {
				if strings.Contains(err.Error(), s) {
					t.Errorf("Notify() error %q contains the secret %q", err, s)
				}
				if strings.Contains(logs.String(), s) {
					t.Errorf("logs %q contain the secret %q", logs.String(), s)
				}
			}
			if !strings.Contains(err.Error(), "to "+tt.base+":") || strings.Contains(err.Error()+logs.String(), "/hook") {
				t.Errorf("Notify() error %q does not name the URL by its scheme and host alone", err)
			}
		})
	}

	t.Run("when the URL is rejected", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{
			"ftp://shop:hunter2@example.com/?token=s3cret",
			"http:///hook?token=s3cret",
			"http://shop:hunter2@example.com:port/?token=s3cret",
		} {
			_, err := webhook.New(webhook.Config{URL: u, Secret: testSecret})
			if !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("New(%q) error = %v, want ErrInvalid", u, err)
			}
			for _, s := range strings.Split(secrets, "|") {
				if err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("New() error %q contains the secret %q", err, s)
				}
			}
		}
	})
}

// TestHandlerTimesOutASlowBody sends a request whose body never finishes
// to a Handler served with no server timeouts, and checks that the Handler
// answers 408 and closes the connection once its read timeout passes.
func TestHandlerTimesOutASlowBody(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, webhook.VerifierConfig{ReadTimeout: 100 * time.Millisecond})
	var called atomic.Int64
	srv := newServer(t, webhook.Handler(v, func(ctx context.Context, events []onlinestock.Event) error {
		called.Add(1)
		return nil
	}))
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The test gives up long after the Handler should have answered.
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"version\":")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusRequestTimeout)
	}
	if !resp.Close {
		t.Error("the connection is kept open, want it closed")
	}
	if got := called.Load(); got != 0 {
		t.Errorf("fn called %d times, want 0", got)
	}
}

// TestHandlerLetsFnOutliveTheReadTimeout checks that the read deadline
// ends once the body is read: a function slower than the read timeout
// keeps its context and its answer reaches the sender.
func TestHandlerLetsFnOutliveTheReadTimeout(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, webhook.VerifierConfig{ReadTimeout: 20 * time.Millisecond})
	srv := newServer(t, webhook.Handler(v, func(ctx context.Context, events []onlinestock.Event) error {
		select {
		case <-time.After(200 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	n := newNotifier(t, webhook.Config{URL: srv.URL})
	if err := n.Notify(t.Context(), sampleEvents()[:1]); err != nil {
		t.Errorf("Notify() = %v, want nil", err)
	}
}

// TestDispatcherWaitsOnlyAsLongAsTheContext runs a Dispatcher against a
// receiver that always fails, and checks that Flush and Redeliver, called
// meanwhile, return when their own context ends instead of waiting for
// Run's retries.
func TestDispatcherWaitsOnlyAsLongAsTheContext(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	var requests atomic.Int64
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	n := newNotifier(t, webhook.Config{URL: srv.URL})
	d, err := worker.NewDispatcher(s.store, n, worker.DispatcherConfig{
		MinBackoff: 10 * time.Millisecond, MaxBackoff: time.Hour, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.PutDeadLetter(t.Context(), "default", onlinestock.DeadLetter{Seq: 1, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	for requests.Load() < 2 {
		time.Sleep(time.Millisecond)
	}

	calls := map[string]func(context.Context) error{
		"Flush":     func(ctx context.Context) error { _, err := d.Flush(ctx); return err },
		"Redeliver": func(ctx context.Context) error { return d.Redeliver(ctx, 1) },
	}
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		returned := make(chan error, 1)
		go func() { returned <- call(ctx) }()
		select {
		case err := <-returned:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s() = %v, want context.DeadlineExceeded", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s() still blocked long after its context ended", name)
		}
		cancel()
	}
}

// TestEchoingReceiverLeaksNothing delivers through a Dispatcher to a
// receiver that echoes the request back: its URL, path and query, and its
// Basic credential, then a long body. The captured logs (Notifier and
// Dispatcher, at Debug level), the errors and the dead letters' reasons
// hold no path, no query, no credential and no more of the body than a
// short excerpt.
func TestEchoingReceiverLeaksNothing(t *testing.T) {
	t.Parallel()
	const tail = "END-OF-THE-RECEIVER-BODY"
	var fail atomic.Bool // 503 first, then 400 for good
	fail.Store(true)
	echo := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		status := http.StatusBadRequest
		if fail.Swap(false) {
			status = http.StatusServiceUnavailable
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "%s %s auth=%s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"),
			strings.Repeat("padding ", 40), tail)
	}))
	secrets := []string{"/hooks", "p4th-s3cret", "q-s3cret-token", "shopuser", "hunter22", "c2hvcHVzZXI6aHVudGVyMjI=", tail}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n := newNotifier(t, webhook.Config{
		URL:    strings.Replace(echo.URL, "http://", "http://shopuser:hunter22@", 1) + "/hooks/p4th-s3cret?token=q-s3cret-token",
		Logger: logger,
	})
	store := memstore.New()
	svc, err := onlinestock.New(store, onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SaveOutlet(t.Context(), "north", "North"); err != nil {
		t.Fatal(err)
	}
	d, err := worker.NewDispatcher(store, n, worker.DispatcherConfig{Logger: logger, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SaveRegister(t.Context(), "till", "north", "Till"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Activate(t.Context(), "till"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	dead, err := d.DeadLetters(t.Context())
	if err != nil || len(dead) == 0 {
		t.Fatalf("dead letters %v, %v; want the refused events", dead, err)
	}
	var reasons []string
	for _, l := range dead {
		reasons = append(reasons, l.Reason)
	}
	all := logs.String() + strings.Join(reasons, "\n")
	if !strings.Contains(logs.String(), "503") || !strings.Contains(reasons[0], "400 Bad Request") || !strings.Contains(reasons[0], echo.URL) {
		t.Errorf("want the retried 503 logged and the 400 with the receiver's scheme and host in the reasons; logs:\n%s\nreasons: %q", logs.String(), reasons)
	}
	if !strings.Contains(reasons[0], `POST xxxxx?xxxxx auth=Basic xxxxx`) {
		t.Errorf("reason %q: want a short excerpt of the body, the echoed URL and credential masked", reasons[0])
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the logs or the dead letters hold %q:\n%s", s, all)
		}
	}
}

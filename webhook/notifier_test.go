package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/webhook"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  webhook.Config
		want string
	}{
		{"no URL", webhook.Config{Secret: testSecret}, "Config.URL"},
		{"a relative URL", webhook.Config{URL: "/hooks", Secret: testSecret}, "Config.URL"},
		{"a URL of another scheme", webhook.Config{URL: "ftp://shop.example/hooks", Secret: testSecret}, "Config.URL"},
		{"a URL without host", webhook.Config{URL: "https:///hooks", Secret: testSecret}, "Config.URL"},
		{"an unparsable URL", webhook.Config{URL: "https://shop.example/%zz", Secret: testSecret}, "Config.URL"},
		{"no secret", webhook.Config{URL: "https://shop.example/hooks"}, "Config.Secret"},
		{"a short secret", webhook.Config{URL: "https://shop.example/hooks", Secret: []byte("0123456789")}, "Config.Secret"},
		{"a negative timeout", webhook.Config{URL: "https://shop.example/hooks", Secret: testSecret, Timeout: -time.Second}, "Config.Timeout"},
		{"a negative batch size", webhook.Config{URL: "https://shop.example/hooks", Secret: testSecret, BatchSize: -1}, "Config.BatchSize"},
		{"a batch size too large", webhook.Config{URL: "https://shop.example/hooks", Secret: testSecret, BatchSize: webhook.MaxBatchSize + 1}, "Config.BatchSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.New(tt.cfg)
			if !errors.Is(err, onlinestock.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want ErrInvalid naming %s", err, tt.want)
			}
		})
	}
}

// outcome names what Notify's error tells the Dispatcher.
func outcome(err error) string {
	switch {
	case err == nil:
		return "delivered"
	case onlinestock.IsPermanent(err):
		return "permanent"
	default:
		return "transient"
	}
}

func TestNotifyClassifiesAnswers(t *testing.T) {
	t.Parallel()
	// /status/N answers N; /slow answers after the client gave up; /drop
	// closes the connection without an answer.
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte("answer " + r.PathValue("code")))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	srv := newServer(t, mux)
	closed := newServer(t, mux)
	closed.Close()

	tests := []struct {
		name string
		url  string
		want string
	}{
		{"200 OK", "/status/200", "delivered"},
		{"201 Created", "/status/201", "delivered"},
		{"202 Accepted", "/status/202", "delivered"},
		{"204 No Content", "/status/204", "delivered"},
		{"299", "/status/299", "delivered"},
		{"301 Moved Permanently", "/status/301", "permanent"},
		{"302 Found", "/status/302", "permanent"},
		{"307 Temporary Redirect", "/status/307", "permanent"},
		{"400 Bad Request", "/status/400", "permanent"},
		{"401 Unauthorized", "/status/401", "permanent"},
		{"403 Forbidden", "/status/403", "permanent"},
		{"404 Not Found", "/status/404", "permanent"},
		{"405 Method Not Allowed", "/status/405", "permanent"},
		{"408 Request Timeout", "/status/408", "transient"},
		{"409 Conflict", "/status/409", "permanent"},
		{"410 Gone", "/status/410", "permanent"},
		{"413 Content Too Large", "/status/413", "permanent"},
		{"422 Unprocessable Entity", "/status/422", "permanent"},
		{"429 Too Many Requests", "/status/429", "transient"},
		{"500 Internal Server Error", "/status/500", "transient"},
		{"501 Not Implemented", "/status/501", "transient"},
		{"502 Bad Gateway", "/status/502", "transient"},
		{"503 Service Unavailable", "/status/503", "transient"},
		{"504 Gateway Timeout", "/status/504", "transient"},
		{"599", "/status/599", "transient"},
		{"no answer within the timeout", "/slow", "transient"},
		{"a dropped connection", "/drop", "transient"},
		{"a refused connection", closed.URL, "transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			if strings.HasPrefix(url, "/") {
				url = srv.URL + url
			}
			timeout := 10 * time.Second
			if tt.url == "/slow" {
				timeout = 100 * time.Millisecond
			}
			n := newNotifier(t, webhook.Config{URL: url, Timeout: timeout})
			err := n.Notify(context.Background(), sampleEvents()[:1])
			if got := outcome(err); got != tt.want {
				t.Fatalf("Notify() = %v: %s, want %s", err, got, tt.want)
			}
			var want webhook.Stats
			want.Requests = 1
			switch tt.want {
			case "delivered":
				want.Delivered = 1
			case "transient":
				want.Retried = 1
			case "permanent":
				want.Failed = 1
			}
			if diff := cmp.Diff(want, n.Stats()); diff != "" {
				t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
			}
			var serr *webhook.StatusError
			if errors.As(err, &serr) {
				if !strings.Contains(err.Error(), "answer") || serr.Transient() != (tt.want == "transient") {
					t.Errorf("Notify() error = %v, want the answer's body and Transient() = %v", err, tt.want == "transient")
				}
			}
		})
	}
}

func TestNotifyHonoursTheContext(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := newServer(t, rec)
	n := newNotifier(t, webhook.Config{URL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Notify(ctx, sampleEvents()); !errors.Is(err, context.Canceled) {
		t.Errorf("Notify(canceled) error = %v, want context.Canceled", err)
	}
	if got := len(rec.received()); got != 0 {
		t.Errorf("server got %d requests, want 0", got)
	}

	slow := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	n = newNotifier(t, webhook.Config{URL: slow.URL})
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.Notify(ctx, sampleEvents()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Notify(ctx that ends) error = %v, want context.DeadlineExceeded", err)
	}
	if got := n.Stats(); got.Retried != 0 {
		t.Errorf("Stats().Retried = %d, want 0: the caller gave up, not the receiver", got.Retried)
	}
}

func TestNotifySendsBatchesInOrder(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := newServer(t, rec)
	n := newNotifier(t, webhook.Config{URL: srv.URL, BatchSize: 3})
	events := sampleEvents()
	if err := n.Notify(context.Background(), events); err != nil {
		t.Fatalf("Notify() error = %v", err)
	}
	var gotIDs []string
	var got []onlinestock.Event
	for _, r := range rec.received() {
		gotIDs = append(gotIDs, r.Header.Get(webhook.HeaderID))
		got = append(got, mustDecode(t, r.Body)...)
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
	}
	if diff := cmp.Diff([]string{"evt_1-3", "evt_4-6", "evt_7"}, gotIDs); diff != "" {
		t.Errorf("webhook-ids mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(events, got); diff != "" {
		t.Errorf("events received mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(webhook.Stats{Requests: 3, Delivered: 7}, n.Stats()); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

// When a request fails after others of the same call got through, Notify
// says how many events were delivered, and the retried requests keep their
// webhook-id.
func TestNotifyReportsPartialDelivery(t *testing.T) {
	t.Parallel()
	rec := &recorder{status: func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	srv := newServer(t, rec)
	n := newNotifier(t, webhook.Config{URL: srv.URL, BatchSize: 3})
	events := sampleEvents()
	err := n.Notify(context.Background(), events)
	if outcome(err) != "transient" {
		t.Fatalf("Notify() error = %v, want a transient one", err)
	}
	var partial *onlinestock.PartialError
	if !errors.As(err, &partial) || partial.Delivered != 3 {
		t.Fatalf("Notify() error = %v, want a PartialError with 3 delivered", err)
	}
	// The Dispatcher hands on what was not delivered.
	if err := n.Notify(context.Background(), events[partial.Delivered:]); err != nil {
		t.Fatalf("Notify() of the rest error = %v", err)
	}
	var gotIDs []string
	for _, r := range rec.received() {
		gotIDs = append(gotIDs, r.Header.Get(webhook.HeaderID))
	}
	if diff := cmp.Diff([]string{"evt_1-3", "evt_4-6", "evt_4-6", "evt_7"}, gotIDs); diff != "" {
		t.Errorf("webhook-ids mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(webhook.Stats{Requests: 4, Delivered: 7, Retried: 1}, n.Stats()); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

func TestNotifyRefusesEventsItCannotEncode(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	srv := newServer(t, rec)
	n := newNotifier(t, webhook.Config{URL: srv.URL})
	err := n.Notify(context.Background(), []onlinestock.Event{{Seq: 1, Kind: onlinestock.ProductEnabled, Time: t0}})
	if outcome(err) != "permanent" {
		t.Errorf("Notify(event without product) error = %v, want a permanent one", err)
	}
	if got := len(rec.received()); got != 0 {
		t.Errorf("server got %d requests, want 0", got)
	}
	if diff := cmp.Diff(webhook.Stats{Failed: 1}, n.Stats()); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

func TestNotifyHeadersCarryTheClock(t *testing.T) {
	t.Parallel()
	got := capture(t, sampleEvents()[:1], t0)
	if want := strconv.FormatInt(t0.Unix(), 10); got.Header.Get(webhook.HeaderTimestamp) != want {
		t.Errorf("%s = %q, want %q", webhook.HeaderTimestamp, got.Header.Get(webhook.HeaderTimestamp), want)
	}
	if want := "evt_1"; got.Header.Get(webhook.HeaderID) != want {
		t.Errorf("%s = %q, want %q", webhook.HeaderID, got.Header.Get(webhook.HeaderID), want)
	}
}

package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/webhook"
)

// The example of the Standard Webhooks specification: a receiver using
// any of its libraries accepts what this package signs, and the reverse.
func TestSignatureMatchesTheStandardWebhooksExample(t *testing.T) {
	t.Parallel()
	secret, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, webhook.VerifierConfig{Secret: secret, Clock: func() time.Time { return time.Unix(1614265330, 0) }})
	h := http.Header{}
	h.Set(webhook.HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(webhook.HeaderTimestamp, "1614265330")
	h.Set(webhook.HeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	// The signature matches; the body is the example's, not an event payload.
	if _, err := v.Verify(h, []byte(`{"test": 2432232314}`)); !errors.Is(err, webhook.ErrPayload) {
		t.Errorf("Verify() error = %v, want ErrPayload (signature accepted)", err)
	}
	h.Set(webhook.HeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	if _, err := v.Verify(h, []byte(`{"test": 2432232315}`)); !errors.Is(err, webhook.ErrSignature) {
		t.Errorf("Verify(changed body) error = %v, want ErrSignature", err)
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	if got, err := webhook.ParseSecret(webhook.FormatSecret(testSecret)); err != nil || !bytes.Equal(got, testSecret) {
		t.Errorf("ParseSecret(FormatSecret(s)) = %q, %v; want s", got, err)
	}
	for _, bad := range []string{
		"",
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",      // no prefix
		"whsec_not base64!",                     // not base64
		"whsec_" + "c2hvcnQ=",                   // 5 bytes: too short
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", // truncated
	} {
		if got, err := webhook.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) = %q, want an error", bad, got)
		}
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  webhook.VerifierConfig
	}{
		{"no secret", webhook.VerifierConfig{}},
		{"a short secret", webhook.VerifierConfig{Secret: []byte("short")}},
		{"a negative tolerance", webhook.VerifierConfig{Secret: testSecret, Tolerance: -time.Second}},
		{"a negative body limit", webhook.VerifierConfig{Secret: testSecret, MaxBodyBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := webhook.NewVerifier(tt.cfg); !errors.Is(err, onlinestock.ErrInvalid) {
				t.Errorf("NewVerifier() error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestVerifyChecksWhatTheNotifierSent(t *testing.T) {
	t.Parallel()
	events := sampleEvents()
	sent := capture(t, events, t0)
	v := newVerifier(t, webhook.VerifierConfig{Clock: func() time.Time { return t0 }})

	got, err := v.Verify(sent.Header, sent.Body)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	if diff := cmp.Diff(events, got); diff != "" {
		t.Errorf("Verify() mismatch (-want +got):\n%s", diff)
	}

	edit := func(edit func(h http.Header)) http.Header {
		h := sent.Header.Clone()
		edit(h)
		return h
	}
	otherSecret := bytes.Repeat([]byte("x"), webhook.MinSecretBytes)
	notJSON := request{Header: signed(testSecret, "evt_1", t0.Unix(), []byte("not json")), Body: []byte("not json")}
	tests := []struct {
		name    string
		v       *webhook.Verifier
		header  http.Header
		body    []byte
		wantErr error
	}{
		{"a tampered body", v, sent.Header, bytes.Replace(sent.Body, []byte(`"tee-m"`), []byte(`"tee-x"`), 1), webhook.ErrSignature},
		{"another secret", newVerifier(t, webhook.VerifierConfig{Secret: otherSecret, Clock: func() time.Time { return t0 }}), sent.Header, sent.Body, webhook.ErrSignature},
		{"another webhook-id", v, edit(func(h http.Header) { h.Set(webhook.HeaderID, "evt_2-7") }), sent.Body, webhook.ErrSignature},
		{"another timestamp", v, edit(func(h http.Header) { h.Set(webhook.HeaderTimestamp, "1740821401") }), sent.Body, webhook.ErrSignature},
		{"no webhook-id", v, edit(func(h http.Header) { h.Del(webhook.HeaderID) }), sent.Body, webhook.ErrSignature},
		{"no webhook-signature", v, edit(func(h http.Header) { h.Del(webhook.HeaderSignature) }), sent.Body, webhook.ErrSignature},
		{"only a signature of another version", v, edit(func(h http.Header) {
			h.Set(webhook.HeaderSignature, "v1a,"+strings.TrimPrefix(h.Get(webhook.HeaderSignature), "v1,"))
		}), sent.Body, webhook.ErrSignature},
		{"a signature that is not base64", v, edit(func(h http.Header) { h.Set(webhook.HeaderSignature, "v1,!!!") }), sent.Body, webhook.ErrSignature},
		{"no webhook-timestamp", v, edit(func(h http.Header) { h.Del(webhook.HeaderTimestamp) }), sent.Body, webhook.ErrSignature},
		{"a timestamp that is not unix seconds", v, edit(func(h http.Header) { h.Set(webhook.HeaderTimestamp, "2025-03-01") }), sent.Body, webhook.ErrTimestamp},
		{"a request older than the tolerance", newVerifier(t, webhook.VerifierConfig{Clock: func() time.Time { return t0.Add(5*time.Minute + 2*time.Second) }}), sent.Header, sent.Body, webhook.ErrTimestamp},
		{"a request from beyond the tolerance ahead", newVerifier(t, webhook.VerifierConfig{Clock: func() time.Time { return t0.Add(-5*time.Minute - 2*time.Second) }}), sent.Header, sent.Body, webhook.ErrTimestamp},
		{"a request older than a custom tolerance", newVerifier(t, webhook.VerifierConfig{Tolerance: time.Second, Clock: func() time.Time { return t0.Add(3 * time.Second) }}), sent.Header, sent.Body, webhook.ErrTimestamp},
		{"a signed body that does not parse", v, notJSON.Header, notJSON.Body, webhook.ErrPayload},
		{"a request within the tolerance", newVerifier(t, webhook.VerifierConfig{Clock: func() time.Time { return t0.Add(4 * time.Minute) }}), sent.Header, sent.Body, nil},
		{"a bad signature before a good one", v, edit(func(h http.Header) { h.Set(webhook.HeaderSignature, "v1,AAAA v2,xyz "+h.Get(webhook.HeaderSignature)) }), sent.Body, nil},
		{"a good signature before a bad one", v, edit(func(h http.Header) { h.Set(webhook.HeaderSignature, h.Get(webhook.HeaderSignature)+" v1,AAAA") }), sent.Body, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.v.Verify(tt.header, tt.body)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Verify() error = %v, want nil", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// signed returns the headers of a request signed as the scheme says,
// computed here independently of the package.
func signed(secret []byte, id string, timestamp int64, body []byte) http.Header {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%s.%d.%s", id, timestamp, body)
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	h.Set(webhook.HeaderSignature, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}

func TestVerifyAcceptsAnIndependentSigner(t *testing.T) {
	t.Parallel()
	body, err := webhook.Encode(sampleEvents())
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, webhook.VerifierConfig{Clock: func() time.Time { return t0 }})
	if _, err := v.Verify(signed(testSecret, "evt_1-7", t0.Unix(), body), body); err != nil {
		t.Errorf("Verify() error = %v", err)
	}
	if got := capture(t, sampleEvents(), t0).Header; !cmp.Equal(got.Values(webhook.HeaderSignature), signed(testSecret, "evt_1-7", t0.Unix(), body).Values(webhook.HeaderSignature)) {
		t.Errorf("Notifier signature = %q, want %q", got.Values(webhook.HeaderSignature), signed(testSecret, "evt_1-7", t0.Unix(), body).Values(webhook.HeaderSignature))
	}
}

func TestHandlerAnswers(t *testing.T) {
	t.Parallel()
	events := sampleEvents()[:2]
	sent := capture(t, events, t0)
	v := newVerifier(t, webhook.VerifierConfig{Clock: func() time.Time { return t0 }, MaxBodyBytes: 4096})
	var gotEvents []onlinestock.Event
	var gotID string
	ok := func(ctx context.Context, events []onlinestock.Event) error {
		gotEvents, gotID = events, webhook.WebhookID(ctx)
		return nil
	}
	tests := []struct {
		name   string
		method string
		header http.Header
		body   []byte
		fn     func(context.Context, []onlinestock.Event) error
		want   int
	}{
		{"delivered", http.MethodPost, sent.Header, sent.Body, ok, http.StatusNoContent},
		{"GET", http.MethodGet, sent.Header, nil, ok, http.StatusMethodNotAllowed},
		{"bad signature", http.MethodPost, sent.Header, append(bytes.Clone(sent.Body), ' '), ok, http.StatusUnauthorized},
		{"no headers", http.MethodPost, http.Header{}, sent.Body, ok, http.StatusUnauthorized},
		{"too large", http.MethodPost, sent.Header, bytes.Repeat([]byte(" "), 4097), ok, http.StatusRequestEntityTooLarge},
		{"function fails", http.MethodPost, sent.Header, sent.Body, func(context.Context, []onlinestock.Event) error { return errors.New("db down") }, http.StatusInternalServerError},
		{"function refuses", http.MethodPost, sent.Header, sent.Body, func(context.Context, []onlinestock.Event) error {
			return onlinestock.Permanent(errors.New("unknown product"))
		}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/hooks", bytes.NewReader(tt.body))
			req.Header = tt.header.Clone()
			w := httptest.NewRecorder()
			webhook.Handler(v, tt.fn).ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("status = %d, want %d (body %q)", w.Code, tt.want, w.Body)
			}
			if strings.Contains(w.Body.String(), "db down") {
				t.Errorf("body %q shows the function's error", w.Body)
			}
		})
	}
	if diff := cmp.Diff(events, gotEvents); diff != "" {
		t.Errorf("events handed to fn mismatch (-want +got):\n%s", diff)
	}
	if want := "evt_1-2"; gotID != want {
		t.Errorf("WebhookID() = %q, want %q", gotID, want)
	}
}

package webhook

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Decode never panics; what it accepts, Encode writes back to a body that
// decodes to the same events and encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	if sample, err := os.ReadFile("testdata/sample.json"); err == nil {
		f.Add(sample)
	}
	for _, seed := range []string{
		`{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"product_enabled","time":"2025-03-01T09:30:00Z","product":"p"}]}`,
		`{"version":1,"events":[{"id":"evt_9","seq":9,"kind":"availability_changed","time":"2025-03-01T09:30:00.5+01:00","product":"p",` +
			`"before":{"quantity":0,"label":"sold_out"},"after":{"quantity":7,"label":"in_stock"},"outlet":"ignored"}]}`,
		`{"version":1,"events":[{"id":"evt_3","seq":3,"kind":"outlet_disconnected","time":"2025-03-01T09:30:00Z","outlet":"o","methods":null}]}`,
		`{"version":1,"events":[{"id":"evt_4","seq":4,"kind":"something_new","time":"0000-01-01T00:00:00Z","before":{"quantity":0,"label":""},"methods":["a"]}]}`,
		`{"version":1,"events":[{"id":"evt_18446744073709551615","seq":18446744073709551615,"kind":"primary_changed","time":"9999-12-31T23:59:59.999999999Z","outlet":"o"}]}`,
		`{"version":1,"events":[]}`,
		`{"version":2}`,
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := Decode(body)
		if err != nil {
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("Decode() error = %v, want one wrapping ErrPayload", err)
			}
			return
		}
		again, err := Encode(events)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) error = %v", body, err)
		}
		got, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(%q) error = %v", again, err)
		}
		if diff := cmp.Diff(events, got); diff != "" {
			t.Fatalf("Decode(Encode()) mismatch (-want +got):\n%s", diff)
		}
		if third, err := Encode(got); err != nil || !bytes.Equal(third, again) {
			t.Fatalf("Encode() is not stable: %q then %q (%v)", again, third, err)
		}
	})
}

// Verify never panics; it accepts a request only when one of its v1
// signatures is the right one and the timestamp is within the tolerance, and
// then returns what Decode returns. A request signed with the secret is
// accepted exactly when its body decodes and its timestamp is in tolerance.
func FuzzVerify(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1740821400, 0)
	v, err := NewVerifier(VerifierConfig{Secret: secret, Clock: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	body := []byte(`{"version":1,"events":[{"id":"evt_1","seq":1,"kind":"product_enabled","time":"2025-03-01T09:30:00Z","product":"p"}]}`)
	good := sign(secret, "evt_1", now.Unix(), body)
	f.Add("evt_1", "1740821400", good, body, int64(0))
	f.Add("evt_1", "1740821400", "v1,AAAA "+good, body, int64(-300))
	f.Add("evt_1", "1740821400", "v1a,xyz v2,abc", body, int64(301))
	f.Add("evt_1", "1740821399", good, body[1:], int64(1<<62))
	f.Add("", "", "", []byte(nil), int64(-1<<63))
	f.Add("evt_1", "-9223372036854775808", "v1,", []byte("{}"), int64(9))
	f.Fuzz(func(t *testing.T, id, timestamp, signatures string, body []byte, offset int64) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, timestamp)
		h.Set(HeaderSignature, signatures)
		// Arbitrary headers: accepted only with the right signature.
		if events, err := v.Verify(h, body); err == nil {
			sent, perr := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
			if perr != nil || matchSignature(h.Get(HeaderSignature), signature(secret, h.Get(HeaderID), sent, body)) != nil {
				t.Fatalf("Verify(%v) accepted a request without the right signature: %v", h, events)
			}
		} else if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrTimestamp) && !errors.Is(err, ErrPayload) {
			t.Fatalf("Verify() error = %v, want one of the sentinels", err)
		}

		// Properly signed: accepted exactly when the body decodes and the
		// timestamp is in tolerance.
		if id == "" {
			id = "evt_1"
		}
		sent := now.Unix() + offset%(1<<40)
		h = http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, strconv.FormatInt(sent, 10))
		h.Set(HeaderSignature, sign(secret, h.Get(HeaderID), sent, body))
		if h.Get(HeaderID) == "" {
			return // a header value of blanks only
		}
		got, err := v.Verify(h, body)
		want, decodeErr := Decode(body)
		skew := now.Unix() - sent
		inTolerance := skew >= -300 && skew <= 300
		switch {
		case !inTolerance:
			if !errors.Is(err, ErrTimestamp) {
				t.Fatalf("Verify(skew %ds) error = %v, want ErrTimestamp", skew, err)
			}
		case decodeErr != nil:
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("Verify(undecodable body) error = %v, want ErrPayload", err)
			}
		case err != nil:
			t.Fatalf("Verify(signed request) error = %v", err)
		default:
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Verify() mismatch with Decode() (-want +got):\n%s", diff)
			}
		}
		// Any change to the body breaks the signature.
		if len(body) > 0 && inTolerance {
			tampered := bytes.Clone(body)
			tampered[len(tampered)/2] ^= 1
			if _, err := v.Verify(h, tampered); !errors.Is(err, ErrSignature) {
				t.Fatalf("Verify(tampered body) error = %v, want ErrSignature", err)
			}
		}
	})
}

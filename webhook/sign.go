package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Headers of a signed request, as the Standard Webhooks scheme names them.
const (
	// HeaderID carries the webhook-id: see [BatchID].
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the time of sending, in unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries one or more space-separated signatures, each
	// "v1," followed by the base64 HMAC-SHA256 of id.timestamp.body.
	HeaderSignature = "webhook-signature"
)

// MinSecretBytes is the shortest secret accepted, as the Standard Webhooks
// scheme recommends (at least 24 random bytes).
const MinSecretBytes = 24

// secretPrefix marks a secret written as text in the scheme's usual form.
const secretPrefix = "whsec_"

// ParseSecret decodes a secret written as "whsec_" followed by standard
// base64, the form receivers built on Standard Webhooks libraries are
// usually configured with, into the raw bytes [Config.Secret] and
// [VerifierConfig.Secret] take.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook: secret does not start with %q", secretPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("webhook: secret after %q is not base64: %w", secretPrefix, err)
	}
	if err := checkSecret(b); err != nil {
		return nil, fmt.Errorf("webhook: secret: %w", err)
	}
	return b, nil
}

// FormatSecret writes a secret in the "whsec_" form [ParseSecret] reads.
func FormatSecret(secret []byte) string {
	return secretPrefix + base64.StdEncoding.EncodeToString(secret)
}

func checkSecret(secret []byte) error {
	if len(secret) < MinSecretBytes {
		return fmt.Errorf("%d bytes, want at least %d", len(secret), MinSecretBytes)
	}
	return nil
}

// signature returns the HMAC-SHA256 of id.timestamp.body under secret.
func signature(secret []byte, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, timestamp, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// sign returns the webhook-signature header value for a request.
func sign(secret []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(signature(secret, id, timestamp, body))
}

var errNoV1 = errors.New("no v1 signature")

// matchSignature reports whether header, a space-separated list of
// "version,base64" signatures, holds the v1 signature want. Entries of other
// versions are skipped, so a sender may add new schemes; every v1 entry is
// compared in constant time.
func matchSignature(header string, want []byte) error {
	found := false
	for entry := range strings.FieldsSeq(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		found = true
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return errNoV1
	}
	return errors.New("no v1 signature matches")
}

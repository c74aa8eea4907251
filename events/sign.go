package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret in its text form.
const SecretPrefix = "whsec_"

// Secret lengths accepted by ParseSecret, in bytes, as Standard Webhooks
// recommends (24 to 64).
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// Tolerance is how far a delivery's timestamp may lie from the receiver's
// clock before Verify refuses it (a replayed or badly delayed request).
const Tolerance = 5 * time.Minute

// Errors of ParseSecret and Verify. They never quote a secret, a signature
// or the body.
var (
	ErrSecret       = errors.New("events: the secret must be whsec_ and the base64 of 24 to 64 bytes")
	ErrNoSignature  = errors.New("events: webhook-id, webhook-timestamp or webhook-signature missing")
	ErrTimestamp    = errors.New("events: webhook-timestamp is malformed or outside the tolerance")
	ErrBadSignature = errors.New("events: no valid v1 signature")
)

// ParseSecret decodes a signing secret in the whsec_<base64> form and
// returns the HMAC key (the decoded bytes).
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), SecretPrefix)
	if !ok {
		return nil, ErrSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return nil, ErrSecret
		}
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, ErrSecret
	}
	return key, nil
}

// NewSecret returns a fresh random signing secret (32 bytes) in the
// whsec_<base64> form.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("events: secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// Sign returns the webhook-signature value of a delivery: "v1," and the
// base64 HMAC-SHA256, keyed with key, of "id.timestamp.body" (timestamp in
// Unix seconds).
func Sign(key []byte, id string, at time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(at.Unix(), 10), body))
}

func mac(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery the way a receiver must: the three headers are
// present, the timestamp lies within Tolerance of now, and one of the
// space-separated signatures of the webhook-signature header is a v1
// signature of body under key (compared in constant time; several
// signatures let a sender rotate its secret). body must be the raw request
// body, before any JSON decoding.
func Verify(key []byte, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return ErrTimestamp
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}

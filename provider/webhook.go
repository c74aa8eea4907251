package provider

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Helpers for webhook receivers: a bounded body read, constant-time secret
// and HMAC checks, and a timestamp tolerance against replays.

// ReadBody reads r's whole body, at most limit bytes. On failure it returns
// the status to answer: 413 for a larger body, 400 for a broken read.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, errors.New("provider: webhook body too large")
		}
		return nil, http.StatusBadRequest, errors.New("provider: webhook body unreadable")
	}
	return b, 0, nil
}

// SecretEqual reports whether got equals the configured secret, in constant
// time. An empty secret matches nothing: a receiver without a secret
// accepts nothing.
func SecretEqual(got, secret string) bool {
	return secret != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1
}

// SignHMACSHA256 returns the upper-case hex HMAC-SHA256 of the
// concatenated parts under key (what fakes put in a signature header).
func SignHMACSHA256(key []byte, parts ...[]byte) string {
	return strings.ToUpper(hex.EncodeToString(macOf(key, parts)))
}

// VerifyHMACSHA256 reports whether sig, hex in either case, is the
// HMAC-SHA256 of the concatenated parts under key, comparing in constant
// time. An empty key or a signature that is not 64 hex digits never
// verifies.
func VerifyHMACSHA256(key []byte, sig string, parts ...[]byte) bool {
	if len(key) == 0 || len(sig) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, macOf(key, parts))
}

func macOf(key []byte, parts [][]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// ParseTimestamp reads a webhook timestamp header: Unix seconds, Unix
// milliseconds (13 digits or more) or RFC 3339.
func ParseTimestamp(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, errors.New("provider: no timestamp")
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return time.Time{}, errors.New("provider: timestamp is not positive")
		}
		if len(v) >= 13 {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errors.New("provider: timestamp is neither Unix time nor RFC 3339")
	}
	return t.UTC(), nil
}

// CheckTimestamp parses a webhook timestamp header (see ParseTimestamp)
// and reports an error when it lies more than tolerance before or after now.
// A tolerance of zero or less checks the format only.
func CheckTimestamp(v string, now time.Time, tolerance time.Duration) (time.Time, error) {
	t, err := ParseTimestamp(v)
	if err != nil {
		return time.Time{}, err
	}
	if tolerance > 0 {
		if d := now.Sub(t); d > tolerance || d < -tolerance {
			return t, fmt.Errorf("provider: timestamp outside the %s tolerance", tolerance)
		}
	}
	return t, nil
}

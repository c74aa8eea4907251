package provider

import (
	"context"
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
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Helpers for webhook receivers: a bounded body read, constant-time secret
// and HMAC checks, a timestamp tolerance against replays, the durable hand-off
// of notifications (Notify, RetryLater) and replay marks (Replays).

// RetryAfter is the delay RetryLater asks for. Providers schedule their own
// retries (none documents honouring Retry-After); the header tells a human
// or a proxy that the failure is temporary.
const RetryAfter = 5 * time.Second

// RetryLater answers 503 Service Unavailable with a Retry-After header and
// returns the status: what a webhook receiver answers when a notification
// could not be made durable (its ohx.NotifyFunc failed), so that the provider
// delivers it again. Every provider ohx supports retries a 503 (see the
// repository's docs/providers), and none treats it as a reason to cancel a
// subscription the way Oura treats 410.
func RetryLater(w http.ResponseWriter) int {
	w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
	w.WriteHeader(http.StatusServiceUnavailable)
	return http.StatusServiceUnavailable
}

// maxNotifyParallel bounds how many notifications of one request Notify
// hands on at once.
const maxNotifyParallel = 8

// Notify hands every notification of one webhook request to notify, several
// at once (so they can share the queue's round trips), and returns nil only
// when every call returned nil; otherwise the errors joined. A receiver that
// gets an error must not acknowledge the request (answer with RetryLater):
// the provider then delivers it again, and the notifications that did get
// through coalesce with their repeats. A nil notify is an error: a receiver
// without somewhere to hand notifications cannot acknowledge them.
func Notify(ctx context.Context, notify ohx.NotifyFunc, ns ...ohx.Notification) error {
	if notify == nil {
		return errNoNotify
	}
	switch len(ns) {
	case 0:
		return nil
	case 1:
		return notify(ctx, ns[0])
	}
	errs := make([]error, len(ns))
	sem := make(chan struct{}, maxNotifyParallel)
	var wg sync.WaitGroup
	for i, n := range ns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = notify(ctx, n)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

var errNoNotify = errors.New("provider: webhook handler has no notify callback")

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

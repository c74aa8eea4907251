// Package storeutil holds the machinery the ohx stores share: time checks,
// lease holder tokens, the backoff of lock waiters and slice encoding.
package storeutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Errors for bad input, shared by every store.
var (
	// ErrNoID: a link id is empty.
	ErrNoID = errors.New("store: link id is empty")
	// ErrBadTime: a cursor time is zero or outside 1678..2262 (the range of
	// int64 nanoseconds the stores keep cursors in).
	ErrBadTime = errors.New("store: cursor time is zero or out of range")
	// ErrBadLease: a lease duration is not positive.
	ErrBadLease = errors.New("store: lease duration must be positive")
)

var (
	minNano = time.Unix(0, -1<<63).Add(time.Second)
	maxNano = time.Unix(0, 1<<63-1).Add(-time.Second)
)

// CheckCursorTime reports ErrBadTime for times a cursor cannot hold.
func CheckCursorTime(at time.Time) error {
	if at.IsZero() || at.Before(minNano) || at.After(maxNano) {
		return ErrBadTime
	}
	return nil
}

// HolderToken returns a random lease holder token.
func HolderToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Backoff paces the retries of a lock waiter: it starts at Min, doubles up
// to Max and adds up to 50% jitter.
type Backoff struct {
	// Min is the first wait; 0 means 5ms.
	Min time.Duration
	// Max caps the wait; 0 means 250ms.
	Max time.Duration
	cur time.Duration
}

// Wait sleeps for the next backoff step or until ctx ends, returning ctx's
// error in that case.
func (b *Backoff) Wait(ctx context.Context) error {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 5 * time.Millisecond
	}
	if hi <= 0 {
		hi = 250 * time.Millisecond
	}
	if hi < lo {
		hi = lo
	}
	switch {
	case b.cur == 0:
		b.cur = lo
	case b.cur < hi:
		b.cur = min(2*b.cur, hi)
	}
	d := b.cur + mrand.N(b.cur/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// EncodeStrings encodes a slice as a JSON array ("[]" when empty).
func EncodeStrings[S ~[]E, E ~string](s S) string {
	if len(s) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(s) // strings always marshal
	return string(b)
}

// DecodeStrings decodes a JSON array; an empty array gives nil.
func DecodeStrings[E ~string](s string) ([]E, error) {
	var out []E
	if s == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ExternalOrder is the SQL ORDER BY that picks, among links of one provider
// user, an active one first, then the most recently updated, then the lowest
// id (the rule of store.Memory).
const ExternalOrder = "CASE status WHEN '" + string(ohx.LinkActive) + "' THEN 0 ELSE 1 END, updated_at DESC, id"

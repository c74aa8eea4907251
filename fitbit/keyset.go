package fitbit

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/internal/tink"
)

// Signature header names; the second is the older name.
const (
	signatureHeader       = "Google-Health-Api-Signature"
	legacySignatureHeader = "X-Healthapi-Signature"
)

// keyset caches Google's public keyset, refetching it on an unknown key id
// (at most once a minute) and using a stale copy up to maxStale when the
// refetch fails.
type keyset struct {
	url      string
	client   *http.Client
	maxStale time.Duration
	now      func() time.Time

	mu        sync.Mutex
	keys      map[uint32]*ecdsa.PublicKey
	fetched   time.Time
	lastTry   time.Time
	refreshes int
}

func newKeyset(url string, client *http.Client, maxStale time.Duration, now func() time.Time) *keyset {
	return &keyset{url: url, client: client, maxStale: maxStale, now: now}
}

// verify checks a signature, fetching the keyset when needed.
func (k *keyset) verify(ctx context.Context, header string, body []byte) error {
	id, _, err := tink.ParseSignature(header)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	switch {
	case k.keys == nil, now.Sub(k.fetched) > 24*time.Hour:
		// First use, or a daily refresh; a failed refresh keeps the old
		// keys up to maxStale.
		if err := k.fetch(ctx); err != nil && (k.keys == nil || now.Sub(k.fetched) > k.maxStale) {
			return err
		}
	case k.keys[id] == nil && (k.lastTry.IsZero() || now.Sub(k.lastTry) >= time.Minute):
		// An unknown key id: Google may have rotated. Bogus ids cannot make
		// us fetch more than once a minute.
		k.lastTry = now
		_ = k.fetch(ctx)
	}
	if k.keys == nil {
		return errors.New("fitbit: no webhook keyset")
	}
	return tink.Verify(k.keys, header, body)
}

func (k *keyset) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return errors.New("fitbit: build keyset request")
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return errors.New("fitbit: keyset fetch failed")
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fitbit: keyset fetch: http %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return errors.New("fitbit: keyset read failed")
	}
	keys, err := tink.ParseKeyset(b)
	if err != nil {
		return err
	}
	k.keys, k.fetched = keys, k.now()
	k.refreshes++
	return nil
}

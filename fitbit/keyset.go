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

// Keyset fetch pacing. Only requests that carry a well-formed signature ever
// reach the keyset; these bounds keep forged ones from turning into a flood
// of fetches to Google (and into a queue of requests behind one lock).
const (
	// keysetRefresh is the age after which a keyset is refetched.
	keysetRefresh = 24 * time.Hour
	// keysetMinInterval is the least time between two fetches after a
	// successful one: an unknown key id (Google rotates about every 30
	// days, or a forger picked one) refetches at most this often.
	keysetMinInterval = time.Minute
	// keysetFirstBackoff and keysetMaxBackoff pace the fetches after a
	// failed one: the wait doubles from the first to the cap.
	keysetFirstBackoff = 5 * time.Second
	keysetMaxBackoff   = 5 * time.Minute
	// keysetFetchTimeout bounds one fetch, whatever the request that
	// triggered it does.
	keysetFetchTimeout = 10 * time.Second
)

// errNoKeyset: no usable keyset (never fetched, or older than the allowed
// staleness) and none could be fetched now. A genuine notification cannot
// be verified either, so the handler asks Google to retry (503).
var errNoKeyset = errors.New("fitbit: no usable webhook keyset")

// keyset caches Google's public keyset. It is fetched when missing, older
// than a day, or missing a signature's key id, by one request at a time and
// outside the lock (other requests verify with the keys at hand meanwhile,
// or wait for the fetch when they have none), never more than once a minute,
// and with a doubling back-off after a failed fetch. A stale keyset is used
// up to maxStale after its last successful fetch.
type keyset struct {
	url      string
	client   *http.Client
	maxStale time.Duration
	now      func() time.Time

	mu       sync.Mutex
	keys     map[uint32]*ecdsa.PublicKey
	fetched  time.Time     // last successful fetch
	next     time.Time     // no fetch starts before
	failures int           // consecutive failed fetches
	inflight chan struct{} // closed when the running fetch ends; nil when none
}

func newKeyset(url string, client *http.Client, maxStale time.Duration, now func() time.Time) *keyset {
	return &keyset{url: url, client: client, maxStale: maxStale, now: now}
}

// verify checks a signature header against body. A header that does not
// parse is refused before the keyset is consulted.
func (k *keyset) verify(ctx context.Context, header string, body []byte) error {
	id, _, err := tink.ParseSignature(header)
	if err != nil {
		return err
	}
	keys, err := k.keysFor(ctx, id)
	if err != nil {
		return err
	}
	return tink.Verify(keys, header, body)
}

// keysFor returns the keys to verify a signature of key id with, fetching
// the keyset first when it is due and allowed.
func (k *keyset) keysFor(ctx context.Context, id uint32) (map[uint32]*ecdsa.PublicKey, error) {
	k.mu.Lock()
	for {
		now := k.now()
		usable := k.keys != nil && now.Sub(k.fetched) <= k.maxStale
		due := !usable || now.Sub(k.fetched) > keysetRefresh || k.keys[id] == nil
		switch {
		case !due:
		case k.inflight == nil && !now.Before(k.next):
			k.fetchUnlocked()
			continue // look again with the fetch's outcome
		case k.inflight != nil && (!usable || k.keys[id] == nil):
			// The running fetch may bring the missing key: wait for it.
			wait := k.inflight
			k.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			k.mu.Lock()
			if k.now().Before(k.next) || k.inflight != nil {
				// Do not start another fetch right after this one.
				return k.usableLocked()
			}
			continue
		}
		return k.usableLocked()
	}
}

// usableLocked returns the keys when they may be used, and unlocks.
func (k *keyset) usableLocked() (map[uint32]*ecdsa.PublicKey, error) {
	defer k.mu.Unlock()
	if k.keys == nil || k.now().Sub(k.fetched) > k.maxStale {
		return nil, errNoKeyset
	}
	return k.keys, nil
}

// fetchUnlocked runs one fetch without holding the lock (which it expects
// held on entry and holds again on return) and records its outcome.
func (k *keyset) fetchUnlocked() {
	done := make(chan struct{})
	k.inflight = done
	k.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), keysetFetchTimeout)
	keys, err := k.fetch(ctx)
	cancel()
	k.mu.Lock()
	now := k.now()
	if err == nil {
		k.keys, k.fetched, k.failures = keys, now, 0
		k.next = now.Add(keysetMinInterval)
	} else {
		k.failures++
		k.next = now.Add(backoff(k.failures))
	}
	k.inflight = nil
	close(done)
}

// backoff is the wait after the n-th consecutive failed fetch.
func backoff(n int) time.Duration {
	d := keysetFirstBackoff
	for i := 1; i < n && d < keysetMaxBackoff; i++ {
		d *= 2
	}
	return min(d, keysetMaxBackoff)
}

func (k *keyset) fetch(ctx context.Context) (map[uint32]*ecdsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, errors.New("fitbit: build keyset request")
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, errors.New("fitbit: keyset fetch failed")
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fitbit: keyset fetch: http %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, errors.New("fitbit: keyset read failed")
	}
	return tink.ParseKeyset(b)
}

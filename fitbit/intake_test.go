package fitbit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/internal/testredis"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/store/redisreplay"
)

func TestWebhookAcknowledgementContract(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	start := time.Date(2026, 11, 18, 7, 0, 0, 0, time.UTC)
	body, err := e.fake.NotificationBody(fitbittest.Notification{HealthUserID: "hu-4711", DataType: "steps", Start: start, End: start.Add(time.Hour)})
	require.NoError(t, err)
	providertest.RunWebhook(t, providertest.WebhookConfig{
		Receiver:     e.p,
		Acknowledged: []int{http.StatusNoContent},
		Request: func(t *testing.T) *http.Request {
			sig, err := e.fake.Sign(body) // a new signature: never a replay
			require.NoError(t, err)
			req := httptest.NewRequest(http.MethodPost, "/webhooks/fitbit", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Google-Health-Api-Signature", sig)
			return req
		},
	})
}

// A replayed signed delivery (same signature, same body) is acknowledged
// without a new notification, but only once the first delivery was made
// durable: a delivery answered 503 gets through when Google retries it.
func TestReplayedDeliveryAcknowledgedWithoutNewNotification(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replays func(t *testing.T, clock *testClock) provider.Replays
		expiry  bool // the marks expire on clock, so expiry can be checked
	}{
		{"default in-memory marks", func(*testing.T, *testClock) provider.Replays { return nil }, true},
		{"injected marks", func(_ *testing.T, c *testClock) provider.Replays { return provider.NewMemoryReplays(10, c.Now) }, true},
		{"marks in Redis", redisReplays, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &testClock{now: now}
			replays := tc.replays(t, clock)
			e := newEnv(t, fitbittest.Config{}, func(c *fitbit.Config) {
				c.Now = clock.Now
				c.WebhookReplays = replays
			})
			box := &inbox{}
			srv := httptest.NewServer(e.p.WebhookHandler(box.notify))
			t.Cleanup(srv.Close)
			start := time.Date(2026, 11, 18, 7, 0, 0, 0, time.UTC)
			body, err := e.fake.NotificationBody(fitbittest.Notification{HealthUserID: "hu-4711", DataType: "steps", Start: start, End: start.Add(time.Hour)})
			require.NoError(t, err)
			sig, err := e.fake.Sign(body)
			require.NoError(t, err)
			h := map[string]string{"Google-Health-Api-Signature": sig}

			box.failWith(errors.New("queue down"))
			assert.Equal(t, http.StatusServiceUnavailable, post(t, srv.URL, body, h), "not durable: Google must retry")
			box.failWith(nil)
			assert.Equal(t, http.StatusNoContent, post(t, srv.URL, body, h), "the retry after a 503 gets through")
			require.Len(t, box.all(), 1)

			assert.Equal(t, http.StatusNoContent, post(t, srv.URL, body, h), "a replay is acknowledged")
			if tc.expiry {
				clock.Advance(23 * time.Hour)
			}
			assert.Equal(t, http.StatusNoContent, post(t, srv.URL, body, h))
			assert.Len(t, box.all(), 1, "replays within 24 h queue nothing")

			sig2, err := e.fake.Sign(body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusNoContent, post(t, srv.URL, body, map[string]string{"Google-Health-Api-Signature": sig2}))
			assert.Len(t, box.all(), 2, "a new signature is a new delivery")

			if !tc.expiry {
				return // Redis expires marks on its own clock (store/redisreplay checks the TTL)
			}
			clock.Advance(2 * time.Hour)
			assert.Equal(t, http.StatusNoContent, post(t, srv.URL, body, h))
			assert.Len(t, box.all(), 3, "the mark lasts 24 h")
		})
	}
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// keysetServer serves the fake's keyset, or fails, or hangs, and counts the
// fetches.
type keysetServer struct {
	*httptest.Server
	fetches atomic.Int32
	mode    atomic.Int32 // 0 serve, 1 fail with 500, 2 hang until released
	release chan struct{}
}

func newKeysetServer(t *testing.T, fake *fitbittest.Server) *keysetServer {
	k := &keysetServer{release: make(chan struct{})}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.fetches.Add(1)
		switch k.mode.Load() {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
			return
		case 2:
			select {
			case <-k.release:
			case <-r.Context().Done():
				return
			}
		}
		resp, err := fake.Client().Get(fake.KeysetURL())
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(k.Close)
	return k
}

// forged returns a well-formed signature header under a key id that is not
// in the keyset, over nothing in particular.
func forged(i int) string {
	raw := make([]byte, 5, 5+64)
	raw[0] = 0x01
	binary.BigEndian.PutUint32(raw[1:], uint32(0x7000_0000+i))
	raw = append(raw, bytes.Repeat([]byte{0x30}, 64)...)
	return base64.StdEncoding.EncodeToString(raw)
}

// A flood of forged signatures while the keyset is missing (its URL fails)
// or stale costs a bounded number of keyset fetches: at most one at a time,
// at most one a minute after a success, and backing off after failures.
// Requests with neither signature nor secret never fetch.
func TestForgedSignatureFloodFetchesKeysetBoundedly(t *testing.T) {
	clock := &testClock{now: now}
	e := newEnv(t, fitbittest.Config{})
	ks := newKeysetServer(t, e.fake)
	p, err := fitbit.New(fitbit.Config{KeysetURL: ks.URL, WebhookSecret: secret,
		Common: provider.Common{Now: clock.Now}})
	require.NoError(t, err)
	box := &inbox{}
	h := p.WebhookHandler(box.notify)
	start := time.Date(2026, 11, 18, 7, 0, 0, 0, time.UTC)
	body, err := e.fake.NotificationBody(fitbittest.Notification{HealthUserID: "hu-4711", DataType: "steps", Start: start, End: start.Add(time.Hour)})
	require.NoError(t, err)
	serve := func(headers map[string]string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/fitbit", bytes.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	flood := func(n int) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := serve(map[string]string{"Google-Health-Api-Signature": forged(i)})
				mu.Lock()
				codes[c]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return codes
	}

	// Neither signature nor secret: refused without touching the keyset.
	for range 50 {
		require.Equal(t, http.StatusUnauthorized, serve(nil))
		require.Equal(t, http.StatusUnauthorized, serve(map[string]string{"Google-Health-Api-Signature": "not base64 !"}))
	}
	assert.Zero(t, ks.fetches.Load(), "unsigned and unparseable requests never fetch the keyset")

	// Missing keyset, failing URL: ten simulated minutes of floods.
	ks.mode.Store(1)
	for range 300 {
		codes := flood(16)
		assert.Equal(t, map[int]int{http.StatusServiceUnavailable: 16}, codes, "no keyset: Google is asked to retry")
		clock.Advance(2 * time.Second)
	}
	// Back-off 5 s, 10 s, 20 s, … capped at 5 min: fetches at t = 0, 5, 15,
	// 35, 75, 155 and 315 s, 7 in 10 minutes.
	missing := ks.fetches.Load()
	assert.LessOrEqual(t, missing, int32(7), "4,800 forged requests over 10 minutes")
	assert.GreaterOrEqual(t, missing, int32(5), "the keyset is still being sought")

	// The URL recovers: the next due fetch brings the keys, and a genuine
	// signature verifies.
	ks.mode.Store(0)
	clock.Advance(5 * time.Minute)
	sig, err := e.fake.Sign(body)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, serve(map[string]string{"Google-Health-Api-Signature": sig}))
	require.Len(t, box.all(), 1)
	fetched := ks.fetches.Load()

	// Fresh keyset, forged unknown key ids: at most one fetch a minute.
	for range 300 {
		codes := flood(16)
		assert.Equal(t, map[int]int{http.StatusUnauthorized: 16}, codes)
		clock.Advance(2 * time.Second)
	}
	assert.LessOrEqual(t, ks.fetches.Load()-fetched, int32(10), "unknown key ids: one fetch a minute at most")

	// Stale keyset (older than a day) with a failing URL: forged requests
	// are refused with the stale keys, fetches back off; a genuine signature
	// still verifies with the stale keys.
	ks.mode.Store(1)
	clock.Advance(25 * time.Hour)
	fetched = ks.fetches.Load()
	for range 300 {
		codes := flood(16)
		assert.Equal(t, map[int]int{http.StatusUnauthorized: 16}, codes, "stale keys still refuse forgeries")
		clock.Advance(2 * time.Second)
	}
	assert.LessOrEqual(t, ks.fetches.Load()-fetched, int32(7))
	sig, err = e.fake.Sign(body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, serve(map[string]string{"Google-Health-Api-Signature": sig}), "stale keys within KeysetMaxStale verify")
	assert.Len(t, box.all(), 2)
}

// The keyset is fetched outside the lock: while one fetch hangs, requests
// signed with a known key verify with the keys at hand.
func TestKeysetFetchDoesNotBlockVerification(t *testing.T) {
	clock := &testClock{now: now}
	e := newEnv(t, fitbittest.Config{})
	ks := newKeysetServer(t, e.fake)
	p, err := fitbit.New(fitbit.Config{KeysetURL: ks.URL, Common: provider.Common{Now: clock.Now}})
	require.NoError(t, err)
	box := &inbox{}
	h := p.WebhookHandler(box.notify)
	start := time.Date(2026, 11, 18, 7, 0, 0, 0, time.UTC)
	body, err := e.fake.NotificationBody(fitbittest.Notification{HealthUserID: "hu-4711", DataType: "steps", Start: start, End: start.Add(time.Hour)})
	require.NoError(t, err)
	serve := func(sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/fitbit", bytes.NewReader(body))
		req.Header.Set("Google-Health-Api-Signature", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	sign := func() string {
		s, err := e.fake.Sign(body)
		require.NoError(t, err)
		return s
	}
	require.Equal(t, http.StatusNoContent, serve(sign()))

	// A forged unknown key id a minute later starts a fetch that hangs.
	clock.Advance(2 * time.Minute)
	ks.mode.Store(2)
	hung := make(chan int, 1)
	go func() { hung <- serve(forged(1)) }()
	require.Eventually(t, func() bool { return ks.fetches.Load() == 2 }, 10*time.Second, time.Millisecond)

	// Genuine deliveries are not stuck behind it.
	for range 5 {
		assert.Equal(t, http.StatusNoContent, serve(sign()))
	}
	assert.Len(t, box.all(), 6)
	close(ks.release)
	assert.Equal(t, http.StatusUnauthorized, <-hung)
	assert.Equal(t, int32(2), ks.fetches.Load())
}

func TestNotifyItemsOfOneDeliveryAllOrRetry(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	var calls atomic.Int32
	h := e.p.WebhookHandler(func(_ context.Context, n ohx.Notification) error {
		calls.Add(1)
		if n.ExternalUserID == "u2" {
			return errors.New("not durable")
		}
		return nil
	})
	arr := []byte(`[{"data":{"healthUserId":"u1","operation":"UPSERT","dataType":"steps"}},
		{"data":{"healthUserId":"u2","operation":"UPSERT","dataType":"steps"}}]`)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/fitbit", bytes.NewReader(arr))
	req.Header.Set("Authorization", secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "one item not durable: the whole delivery is retried")
	assert.Equal(t, int32(2), calls.Load())
}

// redisReplays returns replay marks in the test Redis under a prefix of the
// test's own, skipping without OHX_TEST_REDIS_URL.
func redisReplays(t *testing.T, _ *testClock) provider.Replays {
	rdb := testredis.Client(t)
	prefix := fmt.Sprintf("ohx-test-fitbit-%d:replay:", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		it := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for it.Next(ctx) {
			rdb.Del(ctx, it.Val())
		}
	})
	r, err := redisreplay.New(rdb, redisreplay.WithPrefix(prefix))
	require.NoError(t, err)
	return r
}

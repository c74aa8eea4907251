package providertest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

// WebhookConfig tells RunWebhook what to check.
type WebhookConfig struct {
	// Receiver is the provider under test.
	Receiver ohx.WebhookReceiver
	// Request returns a new, valid delivery that names data the provider
	// reads: the receiver must hand at least one notification on. Each call
	// returns a fresh request (a signed one may be signed anew).
	Request func(t *testing.T) *http.Request
	// Acknowledged lists the statuses the provider's documentation accepts
	// as an acknowledgement; empty means any 2xx.
	Acknowledged []int
}

// RunWebhook checks the acknowledgement contract of a webhook receiver
// (ohx.WebhookReceiver): a delivery is acknowledged (Acknowledged, or any
// 2xx) only when every notify call returned nil; when notify fails, the
// receiver answers 503 (so the provider delivers it again) and never an
// acknowledgement or a 410; a receiver built without a notify callback
// acknowledges nothing; and notify gets a context that ends.
func RunWebhook(t *testing.T, cfg WebhookConfig) {
	t.Helper()
	require.NotNil(t, cfg.Receiver, "providertest: WebhookConfig.Receiver is required")
	require.NotNil(t, cfg.Request, "providertest: WebhookConfig.Request is required")
	acked := func(status int) bool {
		if len(cfg.Acknowledged) == 0 {
			return status >= 200 && status < 300
		}
		for _, s := range cfg.Acknowledged {
			if s == status {
				return true
			}
		}
		return false
	}
	serve := func(notify ohx.NotifyFunc) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		cfg.Receiver.WebhookHandler(notify).ServeHTTP(rec, cfg.Request(t))
		return rec
	}

	t.Run("acknowledged-when-durable", func(t *testing.T) {
		var calls atomic.Int32
		var deadline atomic.Bool
		rec := serve(func(ctx context.Context, _ ohx.Notification) error {
			calls.Add(1)
			_, ok := ctx.Deadline()
			deadline.Store(ok || ctx.Done() != nil)
			return nil
		})
		assert.Positive(t, calls.Load(), "the delivery was handed on")
		assert.True(t, acked(rec.Code), "a durable delivery is acknowledged, got %d", rec.Code)
		assert.True(t, deadline.Load(), "notify gets a context that can end")
	})
	t.Run("503-when-not-durable", func(t *testing.T) {
		rec := serve(func(context.Context, ohx.Notification) error {
			return errors.New("queue unavailable")
		})
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "a delivery that could not be queued must be retried")
		assert.NotEqual(t, http.StatusGone, rec.Code)
		assert.NotEmpty(t, rec.Header().Get("Retry-After"), "provider.RetryLater sets Retry-After")
	})
	t.Run("503-when-notify-times-out", func(t *testing.T) {
		rec := serve(func(ctx context.Context, _ ohx.Notification) error {
			c, cancel := context.WithTimeout(ctx, time.Millisecond)
			defer cancel()
			<-c.Done()
			return c.Err()
		})
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	})
	t.Run("nothing-acknowledged-without-notify", func(t *testing.T) {
		rec := serve(nil)
		assert.False(t, acked(rec.Code), "a receiver with nowhere to hand notifications acknowledged one (%d)", rec.Code)
		assert.NotEqual(t, http.StatusGone, rec.Code)
	})
}

// ReplaysHarness is one Replays under test for RunReplays.
type ReplaysHarness struct {
	// Replays is the implementation under test, empty.
	Replays provider.Replays
	// Other shares Replays' marks (another process on the same Redis); nil
	// when marks are per process.
	Other provider.Replays
	// Advance moves Replays' clock forward; nil when its clock cannot be
	// moved (Redis expires marks on the server), which skips the expiry
	// check.
	Advance func(d time.Duration)
}

// RunReplays checks a provider.Replays: a key is seen only after it was
// marked, marks do not leak between keys, another process sharing the
// marks sees them, a mark without a positive time to live is refused, and a
// mark expires after its time to live.
func RunReplays(t *testing.T, newHarness func(t *testing.T) ReplaysHarness) {
	t.Helper()
	ctx := t.Context()
	t.Run("mark-then-seen", func(t *testing.T) {
		h := newHarness(t)
		a, b := provider.ReplayKey("sig", []byte("body-a")), provider.ReplayKey("sig", []byte("body-b"))
		seen, err := h.Replays.Seen(ctx, a)
		require.NoError(t, err)
		assert.False(t, seen, "nothing is seen before it is marked")
		require.NoError(t, h.Replays.Mark(ctx, a, time.Hour))
		seen, err = h.Replays.Seen(ctx, a)
		require.NoError(t, err)
		assert.True(t, seen)
		seen, err = h.Replays.Seen(ctx, b)
		require.NoError(t, err)
		assert.False(t, seen, "a mark is per key")
		if h.Other != nil {
			seen, err = h.Other.Seen(ctx, a)
			require.NoError(t, err)
			assert.True(t, seen, "another process sees the mark")
		}
	})
	t.Run("no-ttl-refused", func(t *testing.T) {
		h := newHarness(t)
		require.Error(t, h.Replays.Mark(ctx, provider.ReplayKey("s", nil), 0))
	})
	t.Run("expires", func(t *testing.T) {
		h := newHarness(t)
		if h.Advance == nil {
			t.Skip("the harness cannot move this Replays' clock")
		}
		k := provider.ReplayKey("sig", []byte("body"))
		require.NoError(t, h.Replays.Mark(ctx, k, time.Hour))
		h.Advance(time.Hour - time.Second)
		seen, err := h.Replays.Seen(ctx, k)
		require.NoError(t, err)
		assert.True(t, seen, "still inside its time to live")
		h.Advance(2 * time.Second)
		seen, err = h.Replays.Seen(ctx, k)
		require.NoError(t, err)
		assert.False(t, seen, "expired")
	})
}

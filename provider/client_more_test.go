package provider_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

func TestAttemptTimeoutIsATransientBreakerFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, hc := newPipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers
		}))
		c := newClient(t, hc, nil, func(cfg *provider.Config) { cfg.Timeout = 5 * time.Second })
		start := time.Now()
		_, err := c.Do(t.Context(), provider.Op{Name: "slow"}, get(t, base))
		require.Error(t, err)
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		assert.NotContains(t, err.Error(), "SECRET")
		assert.Equal(t, 5*time.Second, time.Since(start))
		assert.EqualValues(t, 1, c.Breaker().Status().ConsecutiveFailures)
	})
}

func TestOversizedBodyIsPermanent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusOK)
		api.set(http.StatusOK, nil, strings.Repeat("x", 1025))
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, func(cfg *provider.Config) { cfg.MaxBodyBytes = 1024 })
		_, err := c.Do(t.Context(), read, get(t, base))
		var pe *ohx.ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, ohx.KindPermanent, pe.Kind)
		assert.Equal(t, "body-too-large", pe.Code)
		assert.EqualValues(t, 1, api.hits.Load())

		api.set(http.StatusOK, nil, strings.Repeat("x", 1024))
		resp, err := c.Do(t.Context(), read, get(t, base))
		require.NoError(t, err)
		assert.Len(t, resp.Body, 1024)
	})
}

func TestRetriesResendTheBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var bodies []string
		base, hc := newPipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			n := len(bodies)
			mu.Unlock()
			if n < 3 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			_, _ = w.Write([]byte(`{"status":0}`))
		}))
		c := newClient(t, hc, nil, nil)
		// A body without GetBody is buffered by the client.
		req, err := http.NewRequest(http.MethodPost, base+"/measure", io.NopCloser(strings.NewReader("action=getmeas&meastypes=1")))
		require.NoError(t, err)
		require.Nil(t, req.GetBody)
		resp, err := c.Do(t.Context(), provider.Op{Name: "getmeas", Idempotent: true}, req)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, []string{"action=getmeas&meastypes=1", "action=getmeas&meastypes=1", "action=getmeas&meastypes=1"}, bodies)
	})
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		base, hc := newPipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		c := newClient(t, hc, nil, func(cfg *provider.Config) {
			cfg.Breaker.FailureThreshold = 100
			cfg.Retry = resilience.RetrySettings{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 3 * time.Second}
		})
		_, err := c.Do(t.Context(), read, get(t, base))
		require.ErrorIs(t, err, ohx.ErrTransient)
		require.Len(t, at, 5)
		// Base 1 s doubling, capped at 3 s, each ±20 %.
		for i, want := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
			got := at[i+1].Sub(at[i])
			assert.InDelta(t, float64(want), float64(got), float64(want)/5+1, "wait %d", i)
		}
	})
}

func TestAppRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusOK)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, func(cfg *provider.Config) { cfg.AppLimit = resilience.PerMinute(120) })
		start := time.Now()
		// 120 per minute: a burst of 12, then one every 500 ms.
		for i := range 12 + 10 {
			_, err := c.Do(t.Context(), provider.Op{Name: "getmeas", User: []string{"a", "b", "c"}[i%3]}, get(t, base))
			require.NoError(t, err)
		}
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

func TestUserRateLimitIsPerUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusOK)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, func(cfg *provider.Config) {
			cfg.UserLimit = resilience.Limit{Rate: 1, Burst: 2}
		})
		start := time.Now()
		for _, user := range []string{"a", "a", "b", "b", "c", "c"} {
			_, err := c.Do(t.Context(), provider.Op{Name: "list", User: user}, get(t, base))
			require.NoError(t, err)
		}
		assert.Zero(t, time.Since(start), "each user has its own burst")
		_, err := c.Do(t.Context(), provider.Op{Name: "list", User: "a"}, get(t, base))
		require.NoError(t, err)
		assert.Equal(t, time.Second, time.Since(start), "a third call of user a waits for its bucket")
	})
}

func TestUserScopedRateLimitAnswerPausesThatUserOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var limited atomic.Bool
		limited.Store(true)
		base, hc := newPipeServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("user") == "a" && limited.CompareAndSwap(true, false) {
				w.Header().Set("Retry-After", "10")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			_, _ = w.Write([]byte("{}"))
		}))
		c := newClient(t, hc, nil, func(cfg *provider.Config) { cfg.RateLimitScope = provider.ScopeUser })
		call := func(user string) error {
			req, err := http.NewRequest(http.MethodGet, base+"/list?user="+user, nil)
			require.NoError(t, err)
			_, err = c.Do(t.Context(), provider.Op{Name: "list", User: user}, req)
			return err
		}
		start := time.Now()
		require.ErrorIs(t, call("a"), ohx.ErrRateLimited)
		require.NoError(t, call("b"))
		assert.Zero(t, time.Since(start), "user b is not paused")
		require.NoError(t, call("a"))
		assert.Equal(t, 10*time.Second, time.Since(start), "user a waits for its Retry-After")
	})
}

func TestUnauthorizedWithoutCredentialsIsAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusUnauthorized)
		base, hc := newPipeServer(t, api)
		c := newClient(t, hc, nil, nil)
		_, err := c.Do(t.Context(), read, get(t, base))
		require.ErrorIs(t, err, ohx.ErrAuth)
		assert.EqualValues(t, 1, api.hits.Load(), "an auth failure is not retried")
		assert.Equal(t, resilience.BreakerClosed, c.Breaker().Status().State)
	})
}

func TestUnauthorizedWithRevokedGrantIsRevoked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI(http.StatusUnauthorized)
		base, hc := newPipeServer(t, api)
		st := store.NewMemory()
		require.NoError(t, st.SaveToken(t.Context(), "l1", ohx.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}))
		var refreshes atomic.Int32
		tokens, err := provider.NewTokens(provider.TokensConfig{Provider: "acme", Store: st, Locker: st,
			Refresher: provider.RefresherFunc(func(context.Context, string) (ohx.Token, error) {
				refreshes.Add(1)
				return ohx.Token{}, &ohx.ProviderError{Provider: "acme", Op: "token.refresh", Kind: ohx.KindRevoked, Code: "invalid_grant"}
			})})
		require.NoError(t, err)
		c := newClient(t, hc, nil, nil)
		_, err = c.Do(t.Context(), provider.Op{Name: "list", Idempotent: true, Credentials: tokens.Source("l1")}, get(t, base))
		require.ErrorIs(t, err, ohx.ErrTokenRevoked)
		assert.EqualValues(t, 1, api.hits.Load())
		assert.EqualValues(t, 1, refreshes.Load())
	})
}

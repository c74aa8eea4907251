package resilience_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/resilience"
)

func TestLimit(t *testing.T) {
	assert.True(t, resilience.Limit{}.Unlimited())
	assert.False(t, resilience.PerMinute(120).Unlimited())
	assert.Equal(t, rate.Limit(2), resilience.PerMinute(120).Rate)
	require.NoError(t, resilience.Limit{}.Validate())
	require.Error(t, resilience.Limit{Rate: -1}.Validate())
	require.Error(t, resilience.Limit{Rate: 1, Burst: -1}.Validate())
}

func TestLimiterTokenBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := resilience.NewLimiter(resilience.PerMinute(60)) // 1/s, bursts of 6
		start := time.Now()
		for range 6 {
			require.NoError(t, l.Wait(t.Context(), time.Minute))
		}
		assert.Zero(t, time.Since(start), "a burst passes at once")
		require.NoError(t, l.Wait(t.Context(), time.Minute))
		assert.Equal(t, time.Second, time.Since(start), "then one per second")

		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := l.Wait(ctx, time.Minute)
		require.ErrorIs(t, err, ohx.ErrRateLimited, "a token after ctx's deadline fails at once")
		var le *resilience.LimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "local-limit", le.Reason)
		assert.Equal(t, time.Second, ohx.RetryAfter(err))
		assert.Equal(t, time.Second, time.Since(start), "without waiting")
	})
}

func TestLimiterPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := resilience.NewLimiter(resilience.Limit{}) // unlimited, but pausable
		start := time.Now()
		l.Pause(start.Add(5 * time.Second))
		l.Pause(start.Add(2 * time.Second)) // a shorter pause does not shorten it

		err := l.Wait(t.Context(), time.Second)
		require.ErrorIs(t, err, ohx.ErrRateLimited, "a pause beyond maxWait fails at once")
		assert.Equal(t, 5*time.Second, ohx.RetryAfter(err))
		assert.Equal(t, "rate limited (paused), retry after 5s", err.Error())

		require.NoError(t, l.Wait(t.Context(), time.Minute))
		assert.Equal(t, 5*time.Second, time.Since(start), "the pause is sat out")
		require.NoError(t, l.Wait(t.Context(), time.Minute))
		assert.Equal(t, 5*time.Second, time.Since(start), "and over")

		l.Pause(time.Now().Add(time.Hour))
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(time.Second); cancel() }()
		require.ErrorIs(t, l.Wait(ctx, 2*time.Hour), context.Canceled)
	})
}

func TestLimitersKeepOnePerKeyAndForgetIdleOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := resilience.NewLimiters(resilience.Limit{Rate: 1, Burst: 1})
		assert.Equal(t, resilience.Limit{Rate: 1, Burst: 1}, ls.Limit())
		alice := ls.Get("alice")
		assert.Same(t, alice, ls.Get("alice"))
		assert.NotSame(t, alice, ls.Get("bob"))
		require.NoError(t, alice.Wait(t.Context(), time.Minute))
		start := time.Now()
		require.NoError(t, ls.Get("alice").Wait(t.Context(), time.Minute))
		assert.Equal(t, time.Second, time.Since(start), "alice's bucket is alice's")
		require.NoError(t, ls.Get("bob").Wait(t.Context(), time.Minute))
		assert.Equal(t, time.Second, time.Since(start), "bob has his own")

		for i := range 70 {
			ls.Get(fmt.Sprint("user-", i))
		}
		ls.Get("paused").Pause(time.Now().Add(time.Hour))
		require.Equal(t, 73, ls.Len())
		time.Sleep(2 * time.Minute)
		ls.Get("newcomer")
		assert.Equal(t, 2, ls.Len(), "idle limiters are dropped; a paused one and the new one stay")
	})
}

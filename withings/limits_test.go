package withings_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// bubbleEnv wires a provider to an in-process fake inside a synctest
// bubble, where time.Now and timers are fake: backoffs, rate-limit pauses and
// breaker timeouts pass instantly and exactly.
func bubbleEnv(t *testing.T, mut func(*withings.Config)) (*withingstest.Server, *withings.Provider, ohx.Link, *resilience.Breakers) {
	t.Helper()
	fake := withingstest.New(withingstest.Config{})
	fake.AddUser(withingstest.User{ID: userID, TimeZone: "Europe/Paris"})
	st := store.NewMemory()
	breakers := resilience.NewBreakers(resilience.BreakersConfig{})
	cfg := withings.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		APIBaseURL: fake.URL(),
		Common: provider.Common{
			HTTPClient: fake.Client(), Tokens: st, Locker: st, Breakers: breakers,
			AppLimit: provider.NoLimit(),
		},
	}
	if mut != nil {
		mut(&cfg)
	}
	p, err := withings.New(cfg)
	require.NoError(t, err)
	link := ohx.Link{ID: "link-1", Provider: withings.Name, ExternalUserID: "4242", TimeZone: "Europe/Paris"}
	require.NoError(t, st.SaveToken(t.Context(), link.ID, fake.IssueToken(userID)))
	return fake, p, link, breakers
}

func TestRateLimit601WaitsForTheNextMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, p, link, breakers := bubbleEnv(t, nil)
		time.Sleep(20 * time.Second) // 00:00:20 in the bubble
		fake.Fail(withingstest.OpGetDevice, 601, 1)
		start := time.Now()
		devs, err := p.Devices(t.Context(), link)
		require.NoError(t, err, "the read is retried after the pause")
		assert.Len(t, devs, 4)
		waited := time.Since(start)
		assert.GreaterOrEqual(t, waited, 40*time.Second, "until the next minute")
		assert.Less(t, waited, 46*time.Second, "plus at most 5 s of jitter")
		assert.Len(t, fake.CallsOf(withingstest.OpGetDevice), 2)
		assert.Equal(t, resilience.BreakerClosed, breakers.Status()[0].State, "a rate limit is no breaker failure")
	})
}

func TestRateLimit601BeyondMaxWaitIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, p, link, _ := bubbleEnv(t, func(c *withings.Config) { c.Retry.MaxWait = time.Second })
		fake.Fail(withingstest.OpGetDevice, 601, 1)
		_, err := p.Devices(t.Context(), link)
		require.Error(t, err)
		assert.ErrorIs(t, err, ohx.ErrRateLimited)
		assert.Greater(t, ohx.RetryAfter(err), 55*time.Second)
		// The app is paused: the next call does not reach Withings.
		_, err = p.Devices(t.Context(), link)
		assert.ErrorIs(t, err, ohx.ErrRateLimited)
		assert.Len(t, fake.CallsOf(withingstest.OpGetDevice), 1)
		time.Sleep(66 * time.Second)
		_, err = p.Devices(t.Context(), link)
		assert.NoError(t, err, "the next minute")
	})
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, p, link, breakers := bubbleEnv(t, func(c *withings.Config) {
			c.Breaker = resilience.BreakerSettings{FailureThreshold: 3, OpenTimeout: 30 * time.Second, HalfOpenSuccesses: 2}
		})
		fake.Fail(withingstest.OpGetDevice, 522, 3) // Withings timeout status, in an HTTP 200
		_, err := p.Devices(t.Context(), link)
		require.Error(t, err)
		assert.ErrorIs(t, err, ohx.ErrCircuitOpen, "three failed attempts opened the breaker, the fourth was refused")
		assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
		assert.Len(t, fake.CallsOf(withingstest.OpGetDevice), 3)
		st := breakers.Status()
		require.Len(t, st, 1)
		assert.Equal(t, "withings", st[0].Name)
		assert.Equal(t, resilience.BreakerOpen, st[0].State)

		_, err = p.Devices(t.Context(), link)
		assert.ErrorIs(t, err, ohx.ErrCircuitOpen)
		assert.Len(t, fake.CallsOf(withingstest.OpGetDevice), 3, "an open breaker sends nothing")

		time.Sleep(31 * time.Second)
		for range 2 {
			_, err = p.Devices(t.Context(), link)
			require.NoError(t, err)
		}
		assert.Equal(t, resilience.BreakerClosed, breakers.Status()[0].State)
	})
}

func TestServerErrorsAreRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, p, link, _ := bubbleEnv(t, nil)
		fake.FailHTTP(withingstest.OpGetDevice, 502, 2)
		_, err := p.Devices(t.Context(), link)
		require.NoError(t, err)
		assert.Len(t, fake.CallsOf(withingstest.OpGetDevice), 3)
	})
}

func TestSubscribeIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, p, link, _ := bubbleEnv(t, func(c *withings.Config) { c.CallbackURL = "https://ehr.example/withings/s" })
		fake.FailHTTP(withingstest.OpNotifySubscribe, 502, 1)
		err := p.Subscribe(t.Context(), link)
		require.Error(t, err)
		assert.Len(t, fake.CallsOf(withingstest.OpNotifySubscribe), 1)
	})
}

package provider_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
)

func TestCommonWithDefaultsFillsEveryZeroField(t *testing.T) {
	d := provider.Defaults{AppLimit: provider.PerMinute(120), MaxWait: 75 * time.Second}
	c := provider.Common{}.WithDefaults(d)

	assert.IsType(t, &provider.LocalLocker{}, c.Locker)
	assert.Equal(t, provider.DefaultTimeout, c.Timeout)
	require.NotNil(t, c.HTTPClient)
	assert.Equal(t, provider.DefaultTimeout, c.HTTPClient.Timeout, "the default client is bounded by Timeout")
	tr, ok := c.HTTPClient.Transport.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, uint16(tls.VersionTLS12), tr.TLSClientConfig.MinVersion)
	assert.Equal(t, provider.PerMinute(120), c.AppLimit, "the provider's default")
	assert.Equal(t, provider.Limit{}, c.UserLimit, "no default: none")
	assert.Equal(t, 75*time.Second, c.Retry.MaxWait)
	assert.Zero(t, c.Retry.MaxAttempts, "left to the client's default")
	assert.NotNil(t, c.Logger)
	assert.Equal(t, ohx.NopMetrics{}, c.Metrics)
	require.NotNil(t, c.Now)
	assert.WithinDuration(t, time.Now(), c.Now(), time.Minute)

	again := c.WithDefaults(d)
	assert.Same(t, c.Locker, again.Locker, "applying the defaults twice changes nothing")
	assert.Same(t, c.HTTPClient, again.HTTPClient)
}

func TestCommonWithDefaultsKeepsWhatIsSet(t *testing.T) {
	hc := &http.Client{}
	locker := &provider.LocalLocker{}
	now := func() time.Time { return time.Unix(0, 0) }
	c := provider.Common{
		Locker: locker, HTTPClient: hc, Timeout: 5 * time.Second,
		AppLimit: provider.NoLimit(), UserLimit: provider.PerMinute(10),
		Retry: provider.RetrySettings{MaxWait: time.Second}, Now: now,
	}.WithDefaults(provider.Defaults{AppLimit: provider.PerMinute(120), UserLimit: provider.PerMinute(300), MaxWait: time.Minute})

	assert.Same(t, locker, c.Locker)
	assert.Same(t, hc, c.HTTPClient)
	assert.Zero(t, hc.Timeout, "a caller's client is not modified")
	assert.Equal(t, 5*time.Second, c.Timeout)
	assert.Equal(t, provider.NoLimit(), c.AppLimit, "NoLimit is not replaced by the default")
	assert.Equal(t, provider.PerMinute(10), c.UserLimit)
	assert.Equal(t, time.Second, c.Retry.MaxWait)
	assert.Equal(t, time.Unix(0, 0), c.Now())
}

func TestCommonBuildAppliesTheProvidersRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, hc := newPipeServer(t, newFakeAPI(http.StatusOK))
		calls := func(c provider.Common) time.Duration {
			k, err := c.Build("acme", provider.Defaults{AppLimit: provider.PerMinute(60)})
			require.NoError(t, err)
			start := time.Now()
			for range 7 { // a burst of 6 (a tenth of a minute's worth), then 1 per second
				_, err := k.Client.Do(t.Context(), read, get(t, base))
				require.NoError(t, err)
			}
			return time.Since(start)
		}
		assert.Equal(t, time.Second, calls(provider.Common{HTTPClient: hc}), "the default limit waits")
		assert.Zero(t, calls(provider.Common{HTTPClient: hc, AppLimit: provider.NoLimit()}), "NoLimit never waits")
	})
}

func TestCommonBuildNamesTheBreakerAfterTheProvider(t *testing.T) {
	reg := provider.NewBreakers(provider.BreakersConfig{})
	k, err := provider.Common{Breakers: reg}.Build("acme", provider.Defaults{})
	require.NoError(t, err)
	assert.Equal(t, "acme", k.Client.Breaker().Name())
	require.Len(t, reg.Status(), 1)
	assert.Equal(t, "acme", reg.Status()[0].Name)
	assert.Nil(t, k.Tokens, "no token store, no tokens")
}

func TestCommonBuildMakesTokensWithTheLocker(t *testing.T) {
	st := store.NewMemory()
	refreshed := 0
	refresher := provider.RefresherFunc(func(context.Context, string) (ohx.Token, error) {
		refreshed++
		return ohx.Token{AccessToken: "new", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
	})
	k, err := provider.Common{Tokens: st}.Build("acme", provider.Defaults{Refresher: refresher})
	require.NoError(t, err)
	require.NotNil(t, k.Tokens)
	require.NoError(t, st.SaveToken(t.Context(), "link-1", ohx.Token{AccessToken: "old", RefreshToken: "r1", Expiry: time.Now().Add(-time.Minute)}))

	tok, err := k.Tokens.Source("link-1").Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "new", tok.AccessToken)
	assert.Equal(t, 1, refreshed)
}

func TestCommonBuildRejectsBadSettings(t *testing.T) {
	for name, tc := range map[string]struct {
		c    provider.Common
		name string
	}{
		"no name":                   {provider.Common{}, ""},
		"negative timeout":          {provider.Common{Timeout: -time.Second}, "acme"},
		"negative limit":            {provider.Common{UserLimit: provider.Limit{Rate: -1}}, "acme"},
		"token store, no refresher": {provider.Common{Tokens: store.NewMemory()}, "acme"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.c.Build(tc.name, provider.Defaults{})
			assert.Error(t, err)
		})
	}
}

package oura_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/oura/ouratest"
	"github.com/openhealthexchange/ohx/resilience"
)

func TestAuthCodeURL(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	u, err := url.Parse(e.p.AuthCodeURL("st", "verifier-0123456789-0123456789-0123456789-01234", []ohx.DataType{ohx.HeartRate, ohx.DailySpO2}))
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, e.fake.AuthURL(), u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, e.fake.ClientID(), q.Get("client_id"))
	assert.Equal(t, "https://ehr.example/oauth/oura/callback", q.Get("redirect_uri"))
	assert.Equal(t, "st", q.Get("state"))
	assert.Equal(t, "heartrate ring_configuration spo2 spo2Daily", q.Get("scope"))
	assert.Empty(t, q.Get("code_challenge"), "no PKCE unless configured: Oura does not document it")

	pkce := newEnv(t, ouratest.Config{}, func(c *oura.Config) { c.PKCE = true })
	u, err = url.Parse(pkce.p.AuthCodeURL("st", "verifier-0123456789-0123456789-0123456789-01234", nil))
	require.NoError(t, err)
	assert.Equal(t, "S256", u.Query().Get("code_challenge_method"))
	assert.Equal(t, strings.Join(oura.ScopesFor(nil), " "), u.Query().Get("scope"))
}

func TestTokenScopeStyles(t *testing.T) {
	ext := newEnv(t, ouratest.Config{TokenScope: ouratest.ScopeExtAPI})
	assert.ElementsMatch(t, []string{"daily", "heartrate", "heart_health", "ring_configuration", "spo2"}, ext.link.Scopes, "extapi: prefixes dropped")
	omitted := newEnv(t, ouratest.Config{TokenScope: ouratest.ScopeOmitted, DenyScopes: []string{"heartrate"}})
	assert.Equal(t, oura.ScopesFor(nil), omitted.link.Scopes, "no scope in the answer: what was asked for")
}

// TestRefreshRotatesOnce: many workers find the access token expired; one
// refresh happens under the lock, its rotated refresh token is stored, and
// the spent one no longer works at Oura.
func TestRefreshRotatesOnce(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	before, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	e.fake.ExpireAccessTokens()
	tokenCalls := e.fake.Calls("token")

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for _, err := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.DailySpO2}, week) {
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, tokenCalls+1, e.fake.Calls("token"), "one refresh for all workers")
	after, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.NotEqual(t, before.RefreshToken, after.RefreshToken, "the rotated refresh token is persisted")
	assert.NotEqual(t, before.AccessToken, after.AccessToken)

	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {before.RefreshToken}, "client_id": {e.fake.ClientID()}, "client_secret": {e.fake.ClientSecret()}}
	resp, err := http.PostForm(e.fake.TokenURL(), form)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "the spent refresh token is refused (single use)")
}

func TestRevokedGrantNeedsReconsent(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	e.fake.RevokeUser(userID)
	var ferr error
	for _, err := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.Steps}, week) {
		ferr = err
		break
	}
	require.Error(t, ferr)
	assert.ErrorIs(t, ferr, ohx.ErrTokenRevoked, "the refresh is refused with invalid_grant")
}

func TestRateLimitAnswer(t *testing.T) {
	e := newEnv(t, ouratest.Config{RateLimit: 2, RateLimitWindow: time.Minute}, func(c *oura.Config) {
		c.Retry = resilience.RetrySettings{MaxAttempts: 1}
	})
	var ferr error
	for _, err := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.Steps, ohx.SkinTemperatureDeviation, ohx.DailySpO2}, week) {
		if err != nil {
			ferr = err
			break
		}
	}
	require.Error(t, ferr)
	var pe *ohx.ProviderError
	require.ErrorAs(t, ferr, &pe)
	assert.Equal(t, ohx.KindRateLimited, pe.Kind)
	assert.Equal(t, time.Minute, pe.RetryAfter, "Retry-After of the fake's one-minute window")
	assert.Equal(t, "tier:token", pe.Code)
	assert.Equal(t, 1, e.m.RateLimits())
}

func TestServerErrorsAreRetried(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	e.fake.FailNext(2, http.StatusServiceUnavailable, 0)
	samples := collect(t, e.p, e.link, []ohx.DataType{ohx.DailySpO2}, week)
	assert.NotEmpty(t, samples)
	assert.Equal(t, 3, e.fake.Calls("daily_spo2"))
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	require.True(t, e.fake.Granted(userID))
	require.NoError(t, e.p.Revoke(t.Context(), e.link))
	assert.False(t, e.fake.Granted(userID))
	require.NoError(t, e.p.Revoke(t.Context(), e.link), "revoking twice is fine")
	require.NoError(t, e.p.Revoke(t.Context(), ohx.Link{ID: "never-linked"}), "nothing to revoke")
}

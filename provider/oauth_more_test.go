package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
)

func TestExchangeSendsTheVerifier(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		if r.PostForm.Get("code") != "the-code" || r.PostForm.Get("code_verifier") != verifier ||
			r.PostForm.Get("grant_type") != "authorization_code" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "refresh_token": "rt", "token_type": "Bearer",
			"expires_in": 3599, "scope": "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly"})
	}))
	defer srv.Close()
	cfg := &oauth2.Config{ClientID: "id", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: srv.URL}}

	tok, err := provider.Exchange(t.Context(), "fitbit", cfg, srv.Client(), "the-code", verifier)
	require.NoError(t, err)
	assert.Equal(t, "at", tok.AccessToken)
	assert.Equal(t, "rt", tok.RefreshToken)
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.Equal(t, "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly", tok.Scope)
	assert.WithinDuration(t, time.Now().Add(3599*time.Second), tok.Expiry, time.Minute)

	_, err = provider.Exchange(t.Context(), "fitbit", cfg, srv.Client(), "the-code", "")
	require.ErrorIs(t, err, ohx.ErrTokenRevoked, "a refused code is invalid_grant")
	assert.NotContains(t, err.Error(), "the-code")
}

// failingSaves is a token store whose saves fail.
type failingSaves struct{ *store.Memory }

func (failingSaves) SaveToken(context.Context, string, ohx.Token) error {
	return errors.New("disk full")
}

func TestRefreshedTokenIsNotUsedUnlessPersisted(t *testing.T) {
	mem := store.NewMemory()
	require.NoError(t, mem.SaveToken(t.Context(), "l1", ohx.Token{AccessToken: "old", RefreshToken: "r0", Expiry: time.Now().Add(-time.Second)}))
	tokens, err := provider.NewTokens(provider.TokensConfig{Provider: "acme", Store: failingSaves{mem}, Locker: mem,
		Refresher: provider.RefresherFunc(func(context.Context, string) (ohx.Token, error) {
			return ohx.Token{AccessToken: "new", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour)}, nil
		})})
	require.NoError(t, err)
	tok, err := tokens.Source("l1").Token(t.Context())
	require.Error(t, err)
	assert.Empty(t, tok.AccessToken, "the new access token is not handed out")
	assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
}

func TestRefreshFinishesWhenTheCallerGivesUp(t *testing.T) {
	mem := store.NewMemory()
	require.NoError(t, mem.SaveToken(t.Context(), "l1", ohx.Token{AccessToken: "old", RefreshToken: "r0", Expiry: time.Now().Add(-time.Second)}))
	ctx, cancel := context.WithCancel(t.Context())
	tokens, err := provider.NewTokens(provider.TokensConfig{Provider: "acme", Store: mem, Locker: mem,
		Refresher: provider.RefresherFunc(func(rctx context.Context, rt string) (ohx.Token, error) {
			cancel() // the caller gives up while the provider already rotated the token
			if rctx.Err() != nil {
				return ohx.Token{}, rctx.Err()
			}
			return ohx.Token{AccessToken: "new", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour)}, nil
		})})
	require.NoError(t, err)
	_, _ = tokens.Source("l1").Token(ctx)
	stored, err := mem.Token(t.Context(), "l1")
	require.NoError(t, err)
	assert.Equal(t, "r1", stored.RefreshToken, "the rotated refresh token is kept")
}

func TestTokenSourceKeepsUnrotatedRefreshToken(t *testing.T) {
	mem := store.NewMemory()
	require.NoError(t, mem.SaveToken(t.Context(), "l1", ohx.Token{AccessToken: "old", RefreshToken: "r0", Scope: "a b",
		Expiry: time.Now().Add(30 * time.Second)}))
	tokens, err := provider.NewTokens(provider.TokensConfig{Provider: "fitbit", Store: mem, Locker: mem,
		Refresher: provider.RefresherFunc(func(_ context.Context, rt string) (ohx.Token, error) {
			assert.Equal(t, "r0", rt)
			return ohx.Token{AccessToken: "new", Expiry: time.Now().Add(time.Hour)}, nil // Google does not rotate
		})})
	require.NoError(t, err)
	tok, err := tokens.Source("l1").Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "new", tok.AccessToken, "a token expiring within the skew is refreshed")
	assert.Equal(t, ohx.Token{AccessToken: "new", RefreshToken: "r0", Scope: "a b", Expiry: tok.Expiry}, tok)
	stored, err := mem.Token(t.Context(), "l1")
	require.NoError(t, err)
	assert.Equal(t, tok, stored)
}

func TestTokenWithoutRefreshTokenIsRevoked(t *testing.T) {
	mem := store.NewMemory()
	require.NoError(t, mem.SaveToken(t.Context(), "l1", ohx.Token{AccessToken: "old", Expiry: time.Now().Add(-time.Second)}))
	tokens, err := provider.NewTokens(provider.TokensConfig{Provider: "acme", Store: mem, Locker: mem,
		Refresher: provider.RefresherFunc(func(context.Context, string) (ohx.Token, error) {
			t.Fatal("no refresh without a refresh token")
			return ohx.Token{}, nil
		})})
	require.NoError(t, err)
	_, err = tokens.Source("l1").Token(t.Context())
	require.ErrorIs(t, err, ohx.ErrTokenRevoked)
}

func TestNewTokensChecksItsConfig(t *testing.T) {
	mem := store.NewMemory()
	r := provider.RefresherFunc(func(context.Context, string) (ohx.Token, error) { return ohx.Token{}, nil })
	for _, cfg := range []provider.TokensConfig{
		{Store: mem, Locker: mem, Refresher: r},
		{Provider: "a", Locker: mem, Refresher: r},
		{Provider: "a", Store: mem, Refresher: r},
		{Provider: "a", Store: mem, Locker: mem},
		{Provider: "a", Store: mem, Locker: mem, Refresher: r, Skew: -1},
	} {
		_, err := provider.NewTokens(cfg)
		assert.Error(t, err)
	}
}

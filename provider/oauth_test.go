package provider_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
)

// tokenServer is a fake OAuth 2.0 provider that rotates refresh tokens: each
// refresh token works once, a reused one gets invalid_grant. It also serves
// a protected resource at /api that accepts only the latest access token.
type tokenServer struct {
	t     *testing.T
	store ohx.TokenStore // checked by /api: the token in use must be persisted
	link  string

	mu        sync.Mutex
	valid     map[string]bool // refresh tokens not spent yet
	access    string          // the latest access token
	refreshes int
	gen       int
	apiCalls  int
}

func newTokenServer(t *testing.T, st ohx.TokenStore, link, refreshToken, accessToken string) (*tokenServer, *httptest.Server) {
	ts := &tokenServer{t: t, store: st, link: link, valid: map[string]bool{refreshToken: true}, access: accessToken}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", ts.token)
	mux.HandleFunc("GET /api", ts.api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return ts, srv
}

func (s *tokenServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := r.PostForm.Get("refresh_token")
	w.Header().Set("Content-Type", "application/json")
	if !s.valid[rt] {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token ` + rt + ` already used"}`))
		return
	}
	delete(s.valid, rt)
	s.refreshes++
	s.gen++
	next := fmt.Sprintf("refresh-%d", s.gen)
	s.valid[next] = true
	s.access = fmt.Sprintf("access-%d", s.gen)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": s.access, "refresh_token": next, "token_type": "Bearer", "expires_in": 3600, "scope": "read",
	})
}

func (s *tokenServer) api(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiCalls++
	if r.Header.Get("Authorization") != "Bearer "+s.access {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	stored, err := s.store.Token(r.Context(), s.link)
	if assert.NoError(s.t, err) {
		assert.Equal(s.t, s.access, stored.AccessToken, "an access token is used only once persisted")
		assert.True(s.t, s.valid[stored.RefreshToken], "the persisted refresh token is the live one")
	}
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (s *tokenServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

func newTokens(t *testing.T, st *store.Memory, srv *httptest.Server) *provider.Tokens {
	t.Helper()
	cfg := &oauth2.Config{ClientID: "id", ClientSecret: "secret", Endpoint: oauth2.Endpoint{
		AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams,
	}}
	tokens, err := provider.NewTokens(provider.TokensConfig{
		Provider: "acme", Store: st, Locker: st, Refresher: provider.NewOAuth2Refresher("acme", cfg, srv.Client()),
	})
	require.NoError(t, err)
	return tokens
}

func TestConcurrentRefreshSpendsTheRefreshTokenOnce(t *testing.T) {
	st := store.NewMemory()
	const link = "link-1"
	require.NoError(t, st.SaveToken(t.Context(), link, ohx.Token{
		AccessToken: "access-0", RefreshToken: "refresh-0", Expiry: time.Now().Add(-time.Minute),
	}))
	fake, srv := newTokenServer(t, st, link, "refresh-0", "access-0")
	src := newTokens(t, st, srv).Source(link)
	c := newClient(t, srv.Client(), nil, nil)

	var wg sync.WaitGroup
	got := make([]string, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() {
			tok, err := src.Token(t.Context())
			got[i], errs[i] = tok.AccessToken, err
			if err != nil {
				return
			}
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
			if err == nil {
				_, errs[i] = c.Do(t.Context(), provider.Op{Name: "api", Credentials: src}, req)
			}
		})
	}
	wg.Wait()
	for i := range 20 {
		require.NoError(t, errs[i])
		assert.Equal(t, "access-1", got[i])
	}
	assert.Equal(t, 1, fake.count(), "the refresh token is spent exactly once")
	stored, err := st.Token(t.Context(), link)
	require.NoError(t, err)
	assert.Equal(t, "refresh-1", stored.RefreshToken)
	assert.Equal(t, "access-1", stored.AccessToken)
	assert.Equal(t, "read", stored.Scope)
	assert.WithinDuration(t, time.Now().Add(time.Hour), stored.Expiry, time.Minute)
}

func TestInvalidGrantIsRevoked(t *testing.T) {
	st := store.NewMemory()
	const link = "link-1"
	require.NoError(t, st.SaveToken(t.Context(), link, ohx.Token{
		AccessToken: "access-0", RefreshToken: "spent-refresh-token", Expiry: time.Now().Add(-time.Minute),
	}))
	_, srv := newTokenServer(t, st, link, "refresh-0", "access-0")
	_, err := newTokens(t, st, srv).Source(link).Token(t.Context())
	require.ErrorIs(t, err, ohx.ErrTokenRevoked)
	assert.Equal(t, ohx.KindRevoked, ohx.KindOf(err))
	assert.False(t, ohx.Retryable(err))
	assert.NotContains(t, err.Error(), "spent-refresh-token")
	stored, err := st.Token(t.Context(), link)
	require.NoError(t, err)
	assert.Equal(t, "spent-refresh-token", stored.RefreshToken, "a failed refresh changes nothing")
}

func TestUnauthorizedForcesOneRefresh(t *testing.T) {
	st := store.NewMemory()
	const link = "link-1"
	// The stored access token has not expired, but the provider rejects it.
	require.NoError(t, st.SaveToken(t.Context(), link, ohx.Token{
		AccessToken: "stale", RefreshToken: "refresh-0", Expiry: time.Now().Add(time.Hour),
	}))
	fake, srv := newTokenServer(t, st, link, "refresh-0", "not-stale")
	src := newTokens(t, st, srv).Source(link)
	c := newClient(t, srv.Client(), nil, nil)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
			if err == nil {
				_, err = c.Do(t.Context(), provider.Op{Name: "api", Idempotent: true, Credentials: src}, req)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, fake.count(), "ten rejected calls refresh once")
}

func TestNotLinkedWithoutToken(t *testing.T) {
	st := store.NewMemory()
	_, srv := newTokenServer(t, st, "x", "r", "a")
	_, err := newTokens(t, st, srv).Source("missing").Token(t.Context())
	require.ErrorIs(t, err, ohx.ErrNotLinked)
}

func TestAuthCodeURLWithPKCE(t *testing.T) {
	cfg := &oauth2.Config{ClientID: "id", RedirectURL: "https://ehr.example/cb", Scopes: []string{"a", "b"},
		Endpoint: oauth2.Endpoint{AuthURL: "https://auth.example/authorize"}}
	state := "opaque-state"
	verifier := oauth2.GenerateVerifier()
	u, err := url.Parse(provider.AuthCodeURL(cfg, state, verifier))
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, state, q.Get("state"))
	assert.Equal(t, oauth2.S256ChallengeFromVerifier(verifier), q.Get("code_challenge"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	u, err = url.Parse(provider.AuthCodeURL(cfg, state, ""))
	require.NoError(t, err)
	assert.Empty(t, u.Query().Get("code_challenge"), "no PKCE without a verifier")
}

// Two processes share the store and its lock but nothing else: each has its
// own Tokens and its own HTTP client.
func TestTwoProcessesSpendTheRefreshTokenOnce(t *testing.T) {
	st := store.NewMemory()
	const link = "link-1"
	require.NoError(t, st.SaveToken(t.Context(), link, ohx.Token{
		AccessToken: "access-0", RefreshToken: "refresh-0", Expiry: time.Now().Add(30 * time.Second),
	}))
	fake, srv := newTokenServer(t, st, link, "refresh-0", "access-0")
	procs := []*provider.TokenSource{newTokens(t, st, srv).Source(link), newTokens(t, st, srv).Source(link)}
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Go(func() {
			tok, err := procs[i%2].Token(t.Context())
			assert.NoError(t, err)
			got[i] = tok.AccessToken
		})
	}
	wg.Wait()
	assert.Equal(t, 1, fake.count())
	for _, a := range got {
		assert.Equal(t, "access-1", a)
	}
}

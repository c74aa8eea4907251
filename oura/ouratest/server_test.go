package ouratest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/oura/ouratest"
)

var now = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

func newFake(t *testing.T, cfg ouratest.Config) (*ouratest.Server, string) {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return now }
	}
	s, err := ouratest.New(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.AddUser(ouratest.User{ID: "u1"})
	require.NoError(t, err)
	return s, "u1"
}

// send sends a GET with a bearer token and returns the answer.
func send(t *testing.T, s *ouratest.Server, token, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// get sends a GET with a bearer token and decodes the JSON answer.
func get(t *testing.T, s *ouratest.Server, token, path string) (int, http.Header, map[string]any) {
	t.Helper()
	status, h, b := send(t, s, token, path)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return status, h, body
}

// rawGet returns the body of a successful GET.
func rawGet(t *testing.T, s *ouratest.Server, token, path string) []byte {
	t.Helper()
	status, _, b := send(t, s, token, path)
	require.Equal(t, http.StatusOK, status, path)
	return b
}

func TestOAuthCodesAndRotation(t *testing.T) {
	s, _ := newFake(t, ouratest.Config{DenyScopes: []string{"heartrate"}})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"response_type": {"code"}, "client_id": {s.ClientID()}, "redirect_uri": {"https://app.example/cb"},
		"state": {"st"}, "scope": {"daily heartrate spo2Daily spo2"}}
	resp, err := noRedirect.Get(s.AuthURL() + "?" + q.Encode())
	require.NoError(t, err)
	_ = resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "daily spo2", loc.Query().Get("scope"), "unticked and unknown scopes are not granted")
	code := loc.Query().Get("code")

	token := func(form url.Values) (int, map[string]any) {
		form.Set("client_id", s.ClientID())
		form.Set("client_secret", s.ClientSecret())
		resp, err := http.PostForm(s.TokenURL(), form)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	status, body := token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "bearer", body["token_type"])
	assert.Equal(t, 86400.0, body["expires_in"])
	assert.Equal(t, "daily spo2", body["scope"])
	status, body = token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}})
	assert.Equal(t, http.StatusBadRequest, status, "a code is single use")
	assert.Equal(t, "invalid_grant", body["error"])

	_, first := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}})
	assert.Equal(t, "invalid_grant", first["error"])
	tok, err := s.IssueToken("u1")
	require.NoError(t, err)
	status, body = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	require.Equal(t, http.StatusOK, status)
	assert.NotEqual(t, tok.RefreshToken, body["refresh_token"], "rotated")
	status, _ = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	assert.Equal(t, http.StatusBadRequest, status, "the old refresh token is spent")
}

func TestCollectionsAnswerLikeOura(t *testing.T) {
	s, u := newFake(t, ouratest.Config{PageSize: 3})
	tok, err := s.IssueToken(u, "daily", "heartrate")
	require.NoError(t, err)

	status, _, body := get(t, s, "", "/v2/usercollection/sleep")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.NotNil(t, body["detail"])

	status, _, body = get(t, s, tok.AccessToken, "/v2/usercollection/daily_spo2")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Token is not authorized access spo2 scope.", body["detail"])

	status, _, body = get(t, s, tok.AccessToken, "/v2/usercollection/sleep?start_date=nonsense")
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.IsType(t, []any{}, body["detail"])

	status, _, body = get(t, s, tok.AccessToken, "/v2/usercollection/daily_readiness?start_date=2026-11-01&end_date=2026-11-10")
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["data"], 3)
	next, _ := body["next_token"].(string)
	require.NotEmpty(t, next)
	status, _, _ = get(t, s, tok.AccessToken, "/v2/usercollection/daily_readiness?start_date=2026-11-01&end_date=2026-11-09&next_token="+next)
	assert.Equal(t, http.StatusBadRequest, status, "a next_token belongs to its query")
	n := 3
	for next != "" {
		status, _, body = get(t, s, tok.AccessToken, "/v2/usercollection/daily_readiness?start_date=2026-11-01&end_date=2026-11-10&next_token="+next)
		require.Equal(t, http.StatusOK, status)
		n += len(body["data"].([]any))
		next, _ = body["next_token"].(string)
	}
	assert.Equal(t, 10, n, "both bounds included (timestamps 00:00)")

	status, _, _ = get(t, s, tok.AccessToken, "/v2/usercollection/heartrate?start_datetime=2026-10-01T00:00:00Z&end_datetime=2026-11-01T00:00:01Z")
	assert.Equal(t, http.StatusBadRequest, status, "more than 30 days")
	status, _, body = get(t, s, tok.AccessToken, "/v2/usercollection/heartrate")
	require.Equal(t, http.StatusOK, status)
	rows := body["data"].([]any)
	first := rows[0].(map[string]any)["timestamp"].(string)
	assert.True(t, strings.HasSuffix(first, "+00:00"), "UTC rows as Oura writes them: %s", first)

	status, _, body = get(t, s, tok.AccessToken, "/v2/usercollection/sleep/not-existing")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "Document not found.", body["detail"])

	status, _, body = get(t, s, tok.AccessToken, "/v2/usercollection/personal_info")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"id": "u1"}, body, "no personal or email scope: the id only")
}

func TestRateLimitHeaders(t *testing.T) {
	s, u := newFake(t, ouratest.Config{RateLimit: 1})
	tok, err := s.IssueToken(u)
	require.NoError(t, err)
	status, _, _ := get(t, s, tok.AccessToken, "/v2/usercollection/daily_sleep")
	require.Equal(t, http.StatusOK, status)
	status, h, _ := get(t, s, tok.AccessToken, "/v2/usercollection/daily_sleep")
	require.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "300", h.Get("Retry-After"))
	assert.Equal(t, "1", h.Get("X-RateLimit-Limit"))
	assert.Equal(t, "300", h.Get("X-RateLimit-Window"))
	assert.Equal(t, "1795187100", h.Get("X-RateLimit-Reset"), "now + 5 min, Unix seconds")
	assert.Equal(t, "token", h.Get("X-RateLimit-Tier"))
}

func TestSubscriptionAPIRequiresTheApp(t *testing.T) {
	s, _ := newFake(t, ouratest.Config{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/v2/webhook/subscription",
		strings.NewReader(`{"callback_url":"https://x.example/cb","verification_token":"t","event_type":"create","data_type":"heartrate"}`))
	require.NoError(t, err)
	req.Header.Set("x-client-id", s.ClientID())
	req.Header.Set("x-client-secret", s.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var body struct {
		Detail []struct {
			Type string `json:"type"`
			Loc  []any  `json:"loc"`
		} `json:"detail"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "heart rate has no webhook")
	require.Len(t, body.Detail, 1)
	assert.Equal(t, "enum", body.Detail[0].Type)
	assert.Equal(t, []any{"body", "data_type"}, body.Detail[0].Loc)

	req, err = http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/v2/webhook/subscription", nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no client credentials")
}

package oura

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

func TestClassify(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &Provider{now: func() time.Time { return at }}
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		kind   ohx.ErrorKind
		code   string
		wait   time.Duration
	}{
		{"bad token", 401, nil, `{"detail":"Invalid or expired token."}`, ohx.KindAuth, "", 0},
		{"no body", 401, nil, ``, ohx.KindAuth, "", 0},
		{"missing scope", 401, nil, `{"detail":"Token is not authorized access spo2 scope."}`, ohx.KindPermanent, "missing-scope:spo2", 0},
		{"missing scope, other words", 401, nil, `{"detail":"Insufficient scope for this resource"}`, ohx.KindPermanent, "missing-scope", 0},
		{"missing scope as 403", 403, nil, `{"detail":"Token is not authorized access extapi:stress scope."}`, ohx.KindPermanent, "missing-scope:stress", 0},
		{"RFC 7807", 401, nil, `{"status":401,"title":"Unauthorized","detail":"Token is not authorized access daily scope."}`, ohx.KindPermanent, "missing-scope:daily", 0},
		{"membership", 403, nil, `{"detail":"Your Oura membership has expired."}`, ohx.KindPermanent, "forbidden", 0},
		{"429 Retry-After", 429, h("Retry-After", "42", "X-RateLimit-Tier", "app"), `{}`, ohx.KindRateLimited, "tier:app", 42 * time.Second},
		{"429 reset only", 429, h("X-RateLimit-Reset", "1767225690"), ``, ohx.KindRateLimited, "", 90 * time.Second},
		{"429 odd tier", 429, h("X-RateLimit-Tier", "per app!"), ``, ohx.KindRateLimited, "", 0},
		{"503", 503, h("Retry-After", "5"), ``, ohx.KindTransient, "", 5 * time.Second},
		{"426", 426, nil, ``, ohx.KindPermanent, "upgrade-required", 0},
		{"418", 418, nil, ``, ohx.KindPermanent, "", 0},
	}
	for _, tc := range tests {
		hdr := tc.header
		if hdr == nil {
			hdr = http.Header{}
		}
		err := p.classify("sleep.list", &provider.Response{StatusCode: tc.status, Header: hdr, Body: []byte(tc.body)})
		var pe *ohx.ProviderError
		require.ErrorAs(t, err, &pe, tc.name)
		assert.Equal(t, tc.kind, pe.Kind, tc.name)
		assert.Equal(t, tc.code, pe.Code, tc.name)
		assert.Equal(t, tc.wait, pe.RetryAfter, tc.name)
	}
	assert.NoError(t, p.classify("op", &provider.Response{StatusCode: 200, Header: http.Header{}}))
}

// TestDocumentsDeduplicatedByID: a document repeated on a later page is
// read once.
func TestDocumentsDeduplicatedByID(t *testing.T) {
	doc := string(fixture(t, "sleep_document.json"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("next_token") == "" {
			_, _ = w.Write([]byte(`{"data":[` + doc + `],"next_token":"p2"}`))
			return
		}
		_, _ = w.Write([]byte(`{"data":[` + doc + `],"next_token":null}`))
	}))
	defer srv.Close()
	st := store.NewMemory()
	require.NoError(t, st.SaveToken(t.Context(), "l", ohx.Token{AccessToken: "a", RefreshToken: "r"}))
	p, err := New(Config{ClientID: "id", ClientSecret: "s", APIBaseURL: srv.URL, Common: provider.Common{Tokens: st}})
	require.NoError(t, err)
	w := ohx.Window{Start: utc("2024-10-09T00:00:00Z"), End: utc("2024-10-11T00:00:00Z")}
	n := 0
	for s, err := range p.Fetch(t.Context(), ohx.Link{ID: "l", TimeZone: "Europe/Berlin"}, []ohx.DataType{ohx.SleepSession}, w) {
		require.NoError(t, err)
		assert.Equal(t, "96e7772a-64a7-4342-9c5f-3e5ed9e64d6d", s.RecordID)
		n++
	}
	assert.Equal(t, 1, n)
}

func TestNewChecksConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no client":        {},
		"bad API URL":      {ClientID: "i", ClientSecret: "s", APIBaseURL: "ftp://x"},
		"bad token URL":    {ClientID: "i", ClientSecret: "s", TokenURL: "/relative"},
		"bad callback":     {ClientID: "i", ClientSecret: "s", Webhook: WebhookConfig{CallbackURL: "nope"}},
		"unknown webhook":  {ClientID: "i", ClientSecret: "s", Webhook: WebhookConfig{DataTypes: []string{"heartrate"}}},
		"negative span":    {ClientID: "i", ClientSecret: "s", DailySpan: -time.Hour},
		"negative lookbck": {ClientID: "i", ClientSecret: "s", Webhook: WebhookConfig{Lookback: -time.Hour}},
	} {
		_, err := New(cfg)
		assert.Error(t, err, name)
	}
	p, err := New(Config{ClientID: "i", ClientSecret: "s", HeartRateSpan: 90 * 24 * time.Hour, TokenURL: PortalTokenURL})
	require.NoError(t, err)
	assert.Equal(t, MaxHeartRateSpan, p.cfg.HeartRateSpan, "lowered to Oura's limit")
	assert.Equal(t, PortalTokenURL, p.oauth.Endpoint.TokenURL)
	assert.Equal(t, DefaultWebhookDataTypes(), p.cfg.Webhook.DataTypes)

	// The toolkit's defaults, with Oura's per-user limit.
	assert.IsType(t, &provider.LocalLocker{}, p.cfg.Locker, "the toolkit's in-process locker")
	assert.Equal(t, resilience.PerMinute(DefaultRequestsPerMinute), p.cfg.UserLimit)
	assert.Equal(t, resilience.Limit{}, p.cfg.AppLimit, "Oura publishes no per-application limit")
	assert.Equal(t, provider.DefaultTimeout, p.cfg.HTTPClient.Timeout)
	unlimited, err := New(Config{ClientID: "i", ClientSecret: "s", Common: provider.Common{UserLimit: provider.NoLimit()}})
	require.NoError(t, err)
	assert.Equal(t, provider.NoLimit(), unlimited.cfg.UserLimit)
	_, err = New(Config{ClientID: "i", ClientSecret: "s", Common: provider.Common{Timeout: -time.Second}})
	assert.Error(t, err, "negative toolkit settings are refused")
}

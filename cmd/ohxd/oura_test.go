package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/oura/ouratest"
)

func TestOuraConfig(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, oura.DefaultAPIBaseURL, c.Oura.APIURL)
	assert.Equal(t, oura.DefaultAuthURL, c.Oura.AuthURL)
	assert.Equal(t, oura.DefaultTokenURL, c.Oura.TokenURL)
	assert.Equal(t, oura.DefaultRevokeURL, c.Oura.RevokeURL)
	assert.Equal(t, oura.DefaultRequestsPerMinute, c.Oura.PerMinute)
	assert.True(t, c.Oura.ManageSubscriptions)

	c, err = loadConfig(envOf(map[string]string{
		"OHX_OURA_CLIENT_ID": "id", "OHX_OURA_CLIENT_SECRET": "s", "OHX_OURA_WEBHOOK_TOKEN": "0123456789abcdef",
		"OHX_OURA_TOKEN_URL": oura.PortalTokenURL + "/", "OHX_OURA_MANAGE_SUBSCRIPTIONS": "false",
		"OHX_PUBLIC_URL": "https://ohx.example",
	}))
	require.NoError(t, err)
	assert.Equal(t, oura.PortalTokenURL, c.Oura.TokenURL)
	assert.False(t, c.Oura.ManageSubscriptions)

	_, err = loadConfig(envOf(map[string]string{
		"OHX_OURA_CLIENT_ID": "id", "OHX_OURA_WEBHOOK_TOKEN": "short-token", "OHX_OURA_MANAGE_SUBSCRIPTIONS": "sometimes",
		"OHX_OURA_API_URL": "ftp://oura.example", "OHX_OURA_REQUESTS_PER_MINUTE": "0",
	}))
	require.Error(t, err)
	for _, name := range []string{"OHX_OURA_CLIENT_SECRET", "OHX_OURA_WEBHOOK_TOKEN", "OHX_OURA_MANAGE_SUBSCRIPTIONS",
		"OHX_OURA_API_URL", "OHX_OURA_REQUESTS_PER_MINUTE"} {
		assert.Contains(t, err.Error(), name)
	}
	assert.NotContains(t, err.Error(), "short-token", "values are not echoed")
}

// TestSubscriptionKeeper runs the keeper of ohxd's Oura subscriptions
// against the fake: the scheduler entry subscribes every event and data
// type once (Oura's verification call answered by the provider's own
// receiver), keeps them on the next run, never runs twice at once, and is
// absent when the operator manages the subscriptions.
func TestSubscriptionKeeper(t *testing.T) {
	fake, err := ouratest.New(ouratest.Config{})
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	receiver := http.NotFoundHandler()
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := receiver
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hook.Close)
	p, err := oura.New(oura.Config{ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(), APIBaseURL: fake.URL(),
		Webhook: oura.WebhookConfig{CallbackURL: hook.URL + ouraCallbackPath, VerificationToken: "0123456789abcdef"}})
	require.NoError(t, err)
	mu.Lock()
	receiver = p.WebhookHandler(nil)
	mu.Unlock()

	a := &app{cfg: &config{PublicURL: hook.URL, Oura: ouraConfig{ManageSubscriptions: true}}, log: zap.NewNop(), providers: []ohx.Provider{p}}
	k := a.newSubscriptionKeeper()
	require.NotNil(t, k)
	entries := k.entries()
	require.Len(t, entries, 1)
	assert.Equal(t, "oura-subscriptions", entries[0].Name)
	from := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), entries[0].Schedule.Next(from), "daily")

	require.NoError(t, entries[0].Run(t.Context(), from))
	want := 3 * len(oura.DefaultWebhookDataTypes())
	assert.Len(t, fake.Subscriptions(), want)
	assert.Equal(t, want, fake.Calls("verify"), "each creation was verified through the receiver")
	require.NoError(t, entries[0].Run(t.Context(), from))
	assert.Equal(t, want, fake.Calls("webhook.create"), "the next run keeps them")

	k.running.Store(true) // a run is going on
	lists := fake.Calls("webhook.list")
	require.NoError(t, entries[0].Run(t.Context(), from))
	assert.Equal(t, lists, fake.Calls("webhook.list"), "no second run at the same time")
	k.running.Store(false)

	a.cfg.Oura.ManageSubscriptions = false
	off := a.newSubscriptionKeeper()
	assert.Nil(t, off)
	assert.Empty(t, off.entries())
	var wg sync.WaitGroup
	off.ensureOnStart(t.Context(), &wg) // nothing to run
	wg.Wait()
	assert.Nil(t, (&app{cfg: a.cfg, log: zap.NewNop()}).newSubscriptionKeeper(), "no keeper without Oura")
}

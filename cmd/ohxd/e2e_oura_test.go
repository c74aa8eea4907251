package main

import (
	"bytes"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/oura/ouratest"
)

// The end-to-end test's Oura part: the fake, the daemon's configuration
// for it, and one signed delivery to the subscriptions the daemon made.

// e2eOura is the Oura fake of the end-to-end test and its user.
type e2eOura struct {
	fake *ouratest.Server
	user ouratest.User
}

// startE2EOura starts the Oura fake on the test's clock with one user.
func startE2EOura(t *testing.T, now func() time.Time) *e2eOura {
	t.Helper()
	f, err := ouratest.New(ouratest.Config{Now: now, RateLimit: -1})
	require.NoError(t, err)
	t.Cleanup(f.Close)
	u, err := f.AddUser(ouratest.User{ID: "e2e-oura-user", TimeZone: "Australia/Sydney"})
	require.NoError(t, err)
	return &e2eOura{fake: f, user: u}
}

// withEnv returns env with the daemon's Oura variables added.
func (o *e2eOura) withEnv(env map[string]string) map[string]string {
	out := maps.Clone(env)
	out["OHX_OURA_CLIENT_ID"], out["OHX_OURA_CLIENT_SECRET"] = o.fake.ClientID(), o.fake.ClientSecret()
	out["OHX_OURA_WEBHOOK_TOKEN"] = randomHex(16)
	out["OHX_OURA_API_URL"], out["OHX_OURA_AUTH_URL"] = o.fake.URL(), o.fake.AuthURL()
	out["OHX_OURA_TOKEN_URL"], out["OHX_OURA_REVOKE_URL"] = o.fake.TokenURL(), o.fake.RevokeURL()
	out["OHX_OURA_REQUESTS_PER_MINUTE"] = "60000"
	return out
}

// patient is the patient the test links to Oura (with the time zone Oura
// does not report).
func (o *e2eOura) patient() *demoPatient {
	return &demoPatient{patient: "Patient/e2e-oura-1", provider: "oura", timeZone: o.user.TimeZone}
}

// deliver waits for the daemon's subscriptions, then has the fake deliver
// one signed event about a night inside the synced day; the daemon answers
// 204.
func (o *e2eOura) deliver(t *testing.T, base time.Time) {
	t.Helper()
	require.NoError(t, waitOuraSubscribed(t.Context(), o.fake))
	ev, err := o.fake.EventFor(o.user.ID, "update", "sleep", base.Add(-2*time.Hour))
	require.NoError(t, err)
	// Announced two hours ago: the push window (three days before the
	// event to a minute after, plus the engine's margin) ends before the
	// daemon's wall clock, so both rounds read the same window.
	ev.EventTime = base.Add(-2 * time.Hour)
	deliveries := o.fake.Deliver(t.Context(), ev)
	require.Len(t, deliveries, 1)
	require.NoError(t, deliveries[0].Err)
	require.Equal(t, http.StatusNoContent, deliveries[0].Status)
}

// refusesForgeries checks the daemon's Oura receiver: a delivery signed
// with another secret and a verification call with the wrong token are
// refused (401), and nothing is queued for them.
func (o *e2eOura) refusesForgeries(t *testing.T, publicURL string) {
	t.Helper()
	ev, err := o.fake.EventFor(o.user.ID, "create", "daily_activity", time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	body := ev.Body()
	forger, err := ouratest.New(ouratest.Config{ClientSecret: "not-the-application-secret"})
	require.NoError(t, err)
	defer forger.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, publicURL+"/webhooks/oura", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header = forger.Sign(body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a delivery signed with another secret")

	resp, err = http.Get(publicURL + "/webhooks/oura?verification_token=guess-guess-guess&challenge=c")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a verification call with the wrong token")
}

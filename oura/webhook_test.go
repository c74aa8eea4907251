package oura_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/oura/ouratest"
	"github.com/openhealthexchange/ohx/provider/providertest"
)

func (e *env) post(t *testing.T, h http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.cfg.Webhook.CallbackURL, bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestVerificationCall(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	get := func(q url.Values) (int, string) {
		resp, err := http.Get(e.cfg.Webhook.CallbackURL + "?" + q.Encode())
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	status, body := get(url.Values{"verification_token": {verificationToken}, "challenge": {"c-123"}})
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"challenge":"c-123"}`, body)
	status, _ = get(url.Values{"verification_token": {"wrong"}, "challenge": {"c-123"}})
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = get(url.Values{"verification_token": {verificationToken}})
	assert.Equal(t, http.StatusBadRequest, status)

	noToken := newEnv(t, ouratest.Config{}, func(c *oura.Config) { c.Webhook.VerificationToken = "" })
	resp, err := http.Get(noToken.cfg.Webhook.CallbackURL + "?verification_token=&challenge=x")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a receiver without a token verifies nothing")
}

func TestEnsureSubscriptions(t *testing.T) {
	e := newEnv(t, ouratest.Config{ZonelessExpiry: true})
	rep, err := e.p.EnsureSubscriptions(t.Context())
	require.NoError(t, err)
	assert.Len(t, rep.Created, 15, "five data types × create, update, delete")
	assert.Empty(t, rep.Renewed)
	assert.Equal(t, 15, e.fake.Calls("verify"), "Oura verified the callback for each")
	assert.Equal(t, now.Add(90*24*time.Hour-oura.DefaultRenewBefore), rep.NextRenewal, "zone-less expiries read as UTC")
	subs := e.fake.Subscriptions()
	require.Len(t, subs, 15)
	for _, s := range subs {
		assert.Equal(t, e.cfg.Webhook.CallbackURL, s.CallbackURL)
	}

	rep, err = e.p.EnsureSubscriptions(t.Context())
	require.NoError(t, err)
	assert.Len(t, rep.Kept, 15)
	assert.Empty(t, rep.Created)
	assert.Equal(t, 15, e.fake.Calls("webhook.create"), "nothing created twice")

	require.True(t, e.fake.SetSubscriptionExpiry(subs[3].ID, now.Add(5*24*time.Hour)))
	rep, err = e.p.EnsureSubscriptions(t.Context())
	require.NoError(t, err)
	require.Len(t, rep.Renewed, 1)
	assert.Equal(t, subs[3].ID, rep.Renewed[0].ID)
	assert.Equal(t, now.Add(90*24*time.Hour), rep.Renewed[0].Expires)
	assert.Len(t, rep.Kept, 14)
}

func TestEnsureSubscriptionsLeavesOtherCallbacksAlone(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	other, err := oura.New(oura.Config{ClientID: e.cfg.ClientID, ClientSecret: e.cfg.ClientSecret, APIBaseURL: e.cfg.APIBaseURL,
		Webhook: oura.WebhookConfig{CallbackURL: e.cfg.Webhook.CallbackURL + "/other", VerificationToken: verificationToken,
			DataTypes: []string{"sleep"}}})
	require.NoError(t, err)
	// The other deployment's callback is this test's handler too (the path
	// is ignored), so the verification succeeds.
	s, err := other.CreateSubscription(t.Context(), "create", "sleep")
	require.NoError(t, err)

	rep, err := e.p.EnsureSubscriptions(t.Context())
	require.Error(t, err, "Oura allows one subscription per pair")
	assert.Contains(t, err.Error(), "subscribe sleep/create")
	assert.Len(t, rep.Created, 14, "every other pair is subscribed")
	ids := map[string]bool{}
	for _, sub := range e.fake.Subscriptions() {
		ids[sub.ID] = true
	}
	assert.True(t, ids[s.ID], "the other deployment's subscription is untouched")
}

func TestSubscriptionCalls(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	s, err := e.p.CreateSubscription(t.Context(), "update", "daily_readiness")
	require.NoError(t, err)
	list, err := e.p.ListSubscriptions(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, s, list[0])
	require.NoError(t, e.p.DeleteSubscription(t.Context(), s.ID))
	assert.Empty(t, e.fake.Subscriptions())
	require.NoError(t, e.p.DeleteSubscription(t.Context(), s.ID), "an unknown id (403) counts as deleted")
	_, err = e.p.RenewSubscription(t.Context(), "other/renew?id=1")
	require.Error(t, err, "ids never reach a path unchecked")

	_, err = e.p.CreateSubscription(t.Context(), "create", "heartrate")
	require.Error(t, err, "heart rate has no webhook")
	bad, err := oura.New(oura.Config{ClientID: e.cfg.ClientID, ClientSecret: "wrong", APIBaseURL: e.cfg.APIBaseURL})
	require.NoError(t, err)
	_, err = bad.ListSubscriptions(t.Context())
	require.Error(t, err)
	assert.Equal(t, ohx.KindAuth, ohx.KindOf(err))
	assert.NotContains(t, err.Error(), "wrong", "the secret never shows")
}

// TestSignedDeliveries: the fake delivers an event signed with the client
// secret to the subscribed handler, which hands on one notification; forged,
// stale and malformed deliveries are refused and hand on nothing.
func TestSignedDeliveries(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	_, err := e.p.EnsureSubscriptions(t.Context())
	require.NoError(t, err)

	ev, err := e.fake.EventFor(userID, "create", "sleep", now.Add(-24*time.Hour))
	require.NoError(t, err)
	ds := e.fake.Deliver(t.Context(), ev)
	require.Len(t, ds, 1)
	require.NoError(t, ds[0].Err)
	assert.Equal(t, http.StatusNoContent, ds[0].Status)
	got := e.notes.all()
	require.Len(t, got, 1)
	n := got[0]
	assert.Equal(t, oura.Name, n.Provider)
	assert.Equal(t, userID, n.ExternalUserID)
	assert.Equal(t, ohx.NotifyData, n.Kind)
	assert.Equal(t, []ohx.DataType{ohx.SleepSession, ohx.HRVRMSSD, ohx.DailyHRV, ohx.DailyRestingHeartRate, ohx.DailyRespiratoryRate}, n.DataTypes)
	assert.Equal(t, ohx.Window{Start: now.Add(-oura.DefaultWebhookLookback), End: now.Add(time.Minute)}, n.Window)

	del, err := e.fake.EventFor(userID, "delete", "daily_spo2", now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, e.fake.Deliver(t.Context(), del)[0].Status)
	got = e.notes.all()
	require.Len(t, got, 2)
	assert.Equal(t, ohx.NotifyDelete, got[1].Kind)
	assert.Equal(t, []ohx.DataType{ohx.DailySpO2}, got[1].DataTypes)

	body := ev.Body()
	signed := e.fake.Sign(body, now)
	tests := []struct {
		name   string
		h      http.Header
		body   []byte
		status int
	}{
		{"tampered body", signed, bytes.Replace(body, []byte(userID), []byte("someone-else"), 1), http.StatusUnauthorized},
		{"signature of another body", e.fake.Sign([]byte(`{"x":1}`), now), body, http.StatusUnauthorized},
		{"stale timestamp", e.fake.Sign(body, now.Add(-3*time.Hour)), body, http.StatusUnauthorized},
		{"unsigned", http.Header{}, body, http.StatusUnauthorized},
		{"signed garbage", e.fake.Sign([]byte("not json"), now), []byte("not json"), http.StatusBadRequest},
		{"signed event without user", e.fake.Sign([]byte(`{"event_type":"create","data_type":"sleep"}`), now), []byte(`{"event_type":"create","data_type":"sleep"}`), http.StatusBadRequest},
		{"too large", http.Header{}, bytes.Repeat([]byte("a"), oura.DefaultWebhookMaxBody+1), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.status, e.post(t, tc.h, tc.body), tc.name)
	}
	tag := ouratest.Event{EventType: "update", DataType: "tag", ObjectID: "t-1", UserID: userID, EventTime: now}
	assert.Equal(t, http.StatusNoContent, e.post(t, e.fake.Sign(tag.Body(), now), tag.Body()), "events ohx does not sync are answered, not retried")
	assert.Len(t, e.notes.all(), 2, "nothing refused or ignored was handed on")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, e.cfg.Webhook.CallbackURL, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	assert.Equal(t, 3, e.m.Webhooks(http.StatusNoContent))
	assert.Equal(t, 4, e.m.Webhooks(http.StatusUnauthorized))
}

func TestPolledTypesAreTheUnannouncedOnes(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	assert.Equal(t, []ohx.DataType{ohx.HeartRate}, e.p.PolledTypes(), "heart rate has no webhook")

	narrow := newEnv(t, ouratest.Config{}, func(c *oura.Config) { c.Webhook.DataTypes = []string{"sleep"} })
	polled := narrow.p.PolledTypes()
	assert.Contains(t, polled, ohx.HeartRate)
	assert.Contains(t, polled, ohx.Steps, "daily_activity is not subscribed")
	assert.NotContains(t, polled, ohx.SleepSession)
	assert.NotContains(t, polled, ohx.HRVRMSSD)
}

func TestWebhookAcknowledgementContract(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	ev := ouratest.Event{EventType: "update", DataType: "sleep", ObjectID: "s-1", UserID: userID, EventTime: now}
	providertest.RunWebhook(t, providertest.WebhookConfig{
		Receiver: e.p,
		Request: func(*testing.T) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/webhooks/oura", bytes.NewReader(ev.Body()))
			for k, vs := range e.fake.Sign(ev.Body(), now) {
				req.Header[k] = vs
			}
			return req
		},
	})
}

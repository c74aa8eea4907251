package fitbit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
)

// inbox records the notifications a webhook handler hands on.
type inbox struct {
	mu   sync.Mutex
	ns   []ohx.Notification
	fail error
}

func (b *inbox) notify(_ context.Context, n ohx.Notification) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.ns = append(b.ns, n)
	return nil
}

// failWith makes notify fail with err (nil: succeed again).
func (b *inbox) failWith(err error) {
	b.mu.Lock()
	b.fail = err
	b.mu.Unlock()
}

func (b *inbox) all() []ohx.Notification {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]ohx.Notification(nil), b.ns...)
}

func webhookEnv(t *testing.T) (*env, *inbox, *httptest.Server) {
	t.Helper()
	e := newEnv(t, fitbittest.Config{})
	box := &inbox{}
	srv := httptest.NewServer(e.p.WebhookHandler(box.notify))
	t.Cleanup(srv.Close)
	return e, box, srv
}

func post(t *testing.T, url string, body []byte, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestVerificationHandshake(t *testing.T) {
	_, box, srv := webhookEnv(t)
	body := []byte(`{"type":"verification"}`)
	tests := []struct {
		name string
		auth string
		want int
	}{
		{"exact secret", secret, http.StatusCreated},
		{"no secret", "", http.StatusUnauthorized},
		{"wrong secret", "Bearer wrong", http.StatusUnauthorized},
		{"secret without scheme", strings.TrimPrefix(secret, "Bearer "), http.StatusUnauthorized},
		{"secret with suffix", secret + "x", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.auth != "" {
				h["Authorization"] = tt.auth
			}
			assert.Equal(t, tt.want, post(t, srv.URL, body, h))
		})
	}
	assert.Empty(t, box.all())
}

func TestSubscriberCreateVerifiesAndNotifies(t *testing.T) {
	e, box, srv := webhookEnv(t)
	// Without project credentials the subscriber API refuses.
	anon := &fitbit.Subscribers{Client: http.DefaultClient, BaseURL: e.fake.APIBaseURL(), ProjectNumber: "123456789"}
	_, err := anon.List(t.Context())
	require.Error(t, err)
	assert.Equal(t, ohx.KindAuth, ohx.KindOf(err))

	subs := &fitbit.Subscribers{Client: e.fake.ProjectClient(), BaseURL: e.fake.APIBaseURL(), ProjectNumber: "123456789"}

	sub, err := subs.Create(t.Context(), "ohx", srv.URL, secret, nil)
	require.NoError(t, err)
	assert.Equal(t, "ACTIVE", sub.State)
	assert.True(t, sub.SecretSet)
	assert.Contains(t, sub.DataTypes, "heart-rate")
	assert.NotContains(t, sub.DataTypes, "electrocardiogram")

	_, err = subs.Create(t.Context(), "bad", srv.URL, "Bearer not-the-secret", nil)
	require.Error(t, err, "the endpoint refuses the wrong secret, so Google's verification fails")
	assert.Equal(t, ohx.KindPermanent, ohx.KindOf(err))

	start := time.Date(2026, 11, 18, 7, 0, 0, 0, time.UTC)
	statuses, err := e.fake.Notify(t.Context(), fitbittest.Notification{HealthUserID: "hu-4711", DataType: "steps", Start: start, End: start.Add(5 * time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, []int{http.StatusNoContent}, statuses)
	got := box.all()
	require.Len(t, got, 1)
	assert.Equal(t, ohx.Notification{Provider: "fitbit", ExternalUserID: "hu-4711", Kind: ohx.NotifyData,
		DataTypes: []ohx.DataType{ohx.Steps}, Window: ohx.Window{Start: start, End: start.Add(5 * time.Minute)}, Received: now}, got[0])

	_, err = e.fake.Notify(t.Context(), fitbittest.Notification{HealthUserID: "hu-4711", DataType: "daily-sleep-temperature-derivations", Operation: "DELETE", Start: start, End: start.Add(24 * time.Hour)})
	require.NoError(t, err)
	got = box.all()
	require.Len(t, got, 2)
	assert.Equal(t, ohx.NotifyDelete, got[1].Kind)
	assert.Equal(t, []ohx.DataType{ohx.SkinTemperature, ohx.SkinTemperatureDeviation}, got[1].DataTypes)

	list, err := subs.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "projects/123456789/subscribers/ohx", list[0].Name)
	patched, err := subs.Patch(t.Context(), "ohx", "", "", []string{"steps"})
	require.NoError(t, err)
	assert.Equal(t, []string{"steps"}, patched.DataTypes)
	require.NoError(t, subs.Delete(t.Context(), "ohx"))
	list, err = subs.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestNotificationAuthenticity(t *testing.T) {
	e, box, srv := webhookEnv(t)
	start := time.Date(2026, 11, 18, 7, 0, 0, 0, time.UTC)
	body, err := e.fake.NotificationBody(fitbittest.Notification{HealthUserID: "hu-4711", DataType: "heart-rate", Start: start, End: start.Add(time.Hour)})
	require.NoError(t, err)
	sig, err := e.fake.Sign(body)
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(sig)
	require.NoError(t, err)
	raw[len(raw)-3] ^= 0x55
	badSig := base64.StdEncoding.EncodeToString(raw)
	tampered := bytes.Replace(body, []byte("hu-4711"), []byte("hu-4712"), 1)
	const fresh = "<sign anew>"

	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
		want    int
	}{
		// fresh: signed anew (ECDSA signatures differ each time), so no
		// delivery is a replay of another.
		{"valid signature", body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": fresh}, 204},
		{"valid signature, legacy header", body, map[string]string{"X-HEALTHAPI-SIGNATURE": fresh}, 204},
		{"valid signature and secret", body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": fresh, "Authorization": secret}, 204},
		{"valid signature, wrong secret", body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": sig, "Authorization": "Bearer nope"}, 401},
		{"secret only", body, map[string]string{"Authorization": secret}, 204},
		{"bad signature", body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": badSig, "Authorization": secret}, 401},
		{"tampered body", tampered, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": sig}, 401},
		{"garbage signature", body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": "!!!"}, 401},
		{"wrong secret only", body, map[string]string{"Authorization": "Bearer nope"}, 401},
		{"neither", body, nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.headers {
				if v == fresh {
					s, err := e.fake.Sign(tt.body)
					require.NoError(t, err)
					tt.headers[k] = s
				}
			}
			before := len(box.all())
			assert.Equal(t, tt.want, post(t, srv.URL, tt.body, tt.headers))
			if tt.want == 204 {
				require.Len(t, box.all(), before+1)
				n := box.all()[before]
				assert.Equal(t, "hu-4711", n.ExternalUserID)
				assert.Equal(t, []ohx.DataType{ohx.HeartRate}, n.DataTypes)
			} else {
				assert.Len(t, box.all(), before, "nothing queued")
			}
		})
	}
	assert.Equal(t, 4, e.m.Webhooks(204))
}

func TestKeysetRefetchedOnUnknownKey(t *testing.T) {
	clock := &testClock{now: now}
	e := newEnv(t, fitbittest.Config{}, func(c *fitbit.Config) { c.Now = clock.Now })
	box := &inbox{}
	srv := httptest.NewServer(e.p.WebhookHandler(box.notify))
	t.Cleanup(srv.Close)
	start := time.Date(2026, 11, 18, 7, 0, 0, 0, time.UTC)
	body, err := e.fake.NotificationBody(fitbittest.Notification{HealthUserID: "hu-4711", DataType: "sleep", Start: start, End: start.Add(time.Hour)})
	require.NoError(t, err)
	sign := func() string {
		s, err := e.fake.Sign(body)
		require.NoError(t, err)
		return s
	}
	require.Equal(t, 204, post(t, srv.URL, body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": sign()}))
	require.Equal(t, 204, post(t, srv.URL, body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": sign()}))
	assert.Equal(t, 1, e.fake.Calls("keyset"), "the keyset is cached")
	require.NoError(t, e.fake.RotateKey())
	assert.Equal(t, 401, post(t, srv.URL, body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": sign()}),
		"within a minute of the last fetch the keyset is not fetched again; Google retries")
	assert.Equal(t, 1, e.fake.Calls("keyset"))
	clock.Advance(time.Minute)
	require.Equal(t, 204, post(t, srv.URL, body, map[string]string{"GOOGLE-HEALTH-API-SIGNATURE": sign()}))
	assert.Equal(t, 2, e.fake.Calls("keyset"), "an unknown key id refetches the keyset")
	assert.Len(t, box.all(), 3)
}

func TestWebhookBodyLimitsAndShapes(t *testing.T) {
	e := newEnv(t, fitbittest.Config{}, func(c *fitbit.Config) { c.MaxWebhookBody = 2048 })
	box := &inbox{}
	srv := httptest.NewServer(e.p.WebhookHandler(box.notify))
	t.Cleanup(srv.Close)
	auth := map[string]string{"Authorization": secret}
	big := []byte(`{"data":{"healthUserId":"u","operation":"UPSERT","dataType":"steps","pad":"` + strings.Repeat("x", 4096) + `"}}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(t, srv.URL, big, auth))
	assert.Equal(t, http.StatusBadRequest, post(t, srv.URL, []byte(`not json`), auth))
	assert.Equal(t, http.StatusBadRequest, post(t, srv.URL, []byte(`{"data":{"operation":"UPSERT","dataType":"steps"}}`), auth), "no user")
	arr := []byte(`[{"data":{"version":"v4","healthUserId":"u1","operation":"UPDATE","dataType":"weight","intervals":[{"civilIso8601TimeInterval":"2026-08-13/2026-08-14"}]}},
		{"data":{"healthUserId":"u2","operation":"DELETE","dataType":"heartRate"}},
		{"data":{"healthUserId":"u3","operation":"UPSERT","dataType":"altitude"}}]`)
	assert.Equal(t, http.StatusNoContent, post(t, srv.URL, arr, auth))
	got := box.all()
	require.Len(t, got, 2, "altitude is not read by the provider")
	// The items of one delivery are handed on concurrently.
	slices.SortFunc(got, func(a, b ohx.Notification) int { return strings.Compare(a.ExternalUserID, b.ExternalUserID) })
	assert.Equal(t, ohx.NotifyData, got[0].Kind)
	assert.Equal(t, []ohx.DataType{ohx.BodyWeight}, got[0].DataTypes)
	assert.Equal(t, time.Date(2026, 8, 12, 10, 0, 0, 0, time.UTC), got[0].Window.Start, "civil dates widened by 14 h")
	assert.Equal(t, time.Date(2026, 8, 14, 14, 0, 0, 0, time.UTC), got[0].Window.End)
	assert.Equal(t, ohx.NotifyDelete, got[1].Kind)
	assert.Equal(t, []ohx.DataType{ohx.HeartRate}, got[1].DataTypes)
	assert.True(t, got[1].Window.Empty(), "no interval, no window")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

package events_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
)

// The example secret and signature of the Standard Webhooks specification
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
// "Signature scheme"), as its reference libraries test them.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestParseSecret(t *testing.T) {
	_, err := events.ParseSecret(specSecret)
	require.NoError(t, err, "the specification's secret (24 bytes)")
	for name, bad := range map[string]string{
		"no prefix":  strings.TrimPrefix(specSecret, "whsec_"),
		"not base64": "whsec_!!!!",
		"too short":  "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"too long":   "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)),
		"empty":      "",
	} {
		_, err := events.ParseSecret(bad)
		assert.ErrorIs(t, err, events.ErrSecret, name)
		if bad != "" {
			assert.NotContains(t, err.Error(), bad, "the error never quotes the secret")
		}
	}
	s, err := events.NewSecret()
	require.NoError(t, err)
	key, err := events.ParseSecret(s)
	require.NoError(t, err)
	assert.Len(t, key, 32)
}

func TestSignMatchesTheSpecification(t *testing.T) {
	key, err := events.ParseSecret(specSecret)
	require.NoError(t, err)
	assert.Equal(t, specSignature, events.Sign(key, specID, time.Unix(specTimestamp, 0), []byte(specBody)))
}

func specHeaders(sig string) http.Header {
	h := http.Header{}
	h.Set(events.HeaderID, specID)
	h.Set(events.HeaderTimestamp, strconv.Itoa(specTimestamp))
	h.Set(events.HeaderSignature, sig)
	return h
}

func TestVerify(t *testing.T) {
	key, err := events.ParseSecret(specSecret)
	require.NoError(t, err)
	at := time.Unix(specTimestamp, 0)
	other, err := events.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("another-secret-of-24-byte")))
	require.NoError(t, err)
	rotated := events.Sign(other, specID, at, []byte(specBody)) + " " + specSignature

	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"valid", specHeaders(specSignature), specBody, at, nil},
		{"valid, receiver's clock 4 min late", specHeaders(specSignature), specBody, at.Add(4 * time.Minute), nil},
		{"one of several signatures (rotation)", specHeaders(rotated), specBody, at, nil},
		{"body changed", specHeaders(specSignature), `{"test": 2432232315}`, at, events.ErrBadSignature},
		{"replayed 6 min later", specHeaders(specSignature), specBody, at.Add(6 * time.Minute), events.ErrTimestamp},
		{"from the future", specHeaders(specSignature), specBody, at.Add(-6 * time.Minute), events.ErrTimestamp},
		{"unknown version", specHeaders(strings.Replace(specSignature, "v1,", "v2,", 1)), specBody, at, events.ErrBadSignature},
		{"not base64", specHeaders("v1,!!!"), specBody, at, events.ErrBadSignature},
		{"no signature", specHeaders(""), specBody, at, events.ErrNoSignature},
		{"timestamp not a number", func() http.Header {
			h := specHeaders(specSignature)
			h.Set(events.HeaderTimestamp, "yesterday")
			return h
		}(), specBody, at, events.ErrTimestamp},
		{"other id", func() http.Header {
			h := specHeaders(specSignature)
			h.Set(events.HeaderID, "msg_other")
			return h
		}(), specBody, at, events.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := events.Verify(key, tc.header, []byte(tc.body), tc.now)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

// receiver is an EHR's endpoint: it records every delivery and answers the
// statuses it is told to, in order (then 204).
type receiver struct {
	mu      sync.Mutex
	answers []int
	retry   string
	headers []http.Header
	bodies  [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = append(r.headers, req.Header.Clone())
	r.bodies = append(r.bodies, body)
	status := http.StatusNoContent
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	if r.retry != "" {
		w.Header().Set("Retry-After", r.retry)
	}
	w.WriteHeader(status)
}

func sampleEvent(t *testing.T) events.Event {
	t.Helper()
	e, err := events.New(events.SyncCompleted, ohx.Link{ID: "lnk_1", Provider: "withings", Patient: "Patient/1"},
		time.Date(2026, 12, 5, 10, 0, 0, 0, time.FixedZone("x", 3600)),
		events.Data{JobID: "job-1", Trigger: ohx.TriggerInitial, Types: map[ohx.DataType]events.Counts{
			ohx.HeartRate: {SamplesRead: 1440, ResourcesWritten: 24}}})
	require.NoError(t, err)
	return e
}

func TestWebhookDeliversSignedJSON(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	secret, err := events.NewSecret()
	require.NoError(t, err)
	sent := time.Date(2026, 12, 5, 10, 0, 3, 0, time.UTC)
	w, err := events.NewWebhook(events.WebhookConfig{URL: srv.URL + "/ohx-events", Secret: secret, Now: func() time.Time { return sent }})
	require.NoError(t, err)
	e := sampleEvent(t)
	require.NoError(t, w.Deliver(t.Context(), e))

	require.Len(t, rcv.bodies, 1)
	h, body := rcv.headers[0], rcv.bodies[0]
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	assert.Equal(t, e.ID, h.Get("webhook-id"))
	assert.Equal(t, strconv.FormatInt(sent.Unix(), 10), h.Get("webhook-timestamp"))
	key, err := events.ParseSecret(secret)
	require.NoError(t, err)
	require.NoError(t, events.Verify(key, h, body, sent.Add(time.Second)))

	// The signature, computed independently: HMAC-SHA256 of id.timestamp.body.
	m := hmac.New(sha256.New, key)
	m.Write([]byte(e.ID + "." + h.Get("webhook-timestamp") + "." + string(body)))
	assert.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)), h.Get("webhook-signature"))

	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	assert.Equal(t, "sync.completed", got["type"], "top-level type")
	assert.Equal(t, "lnk_1", got["link_id"], "top-level link id")
	assert.Equal(t, "2026-12-05T09:00:00Z", got["timestamp"], "UTC")
	assert.Equal(t, map[string]any{"job_id": "job-1", "trigger": "initial",
		"types": map[string]any{"heart-rate": map[string]any{"samples_read": 1440.0, "resources_written": 24.0}}}, got["data"])
}

func TestWebhookFailures(t *testing.T) {
	secret, err := events.NewSecret()
	require.NoError(t, err)
	t.Run("non-2xx answers fail with their status", func(t *testing.T) {
		for _, status := range []int{http.StatusInternalServerError, http.StatusGone, http.StatusFound, http.StatusBadRequest} {
			rcv := &receiver{answers: []int{status}}
			srv := httptest.NewServer(rcv)
			w, err := events.NewWebhook(events.WebhookConfig{URL: srv.URL, Secret: secret})
			require.NoError(t, err)
			err = w.Deliver(t.Context(), sampleEvent(t))
			var de *events.DeliveryError
			require.ErrorAs(t, err, &de, "status %d", status)
			assert.Equal(t, status, de.Status)
			assert.Equal(t, "http "+strconv.Itoa(status), de.Kind())
			srv.Close()
		}
	})
	t.Run("429 carries Retry-After, capped", func(t *testing.T) {
		rcv := &receiver{answers: []int{http.StatusTooManyRequests}, retry: "7200"}
		srv := httptest.NewServer(rcv)
		t.Cleanup(srv.Close)
		w, err := events.NewWebhook(events.WebhookConfig{URL: srv.URL, Secret: secret})
		require.NoError(t, err)
		var de *events.DeliveryError
		require.ErrorAs(t, w.Deliver(t.Context(), sampleEvent(t)), &de)
		assert.Equal(t, time.Hour, de.RetryAfter)
	})
	t.Run("an unreachable receiver never leaks the URL", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL + "/hook?token=very-secret-token"
		srv.Close()
		w, err := events.NewWebhook(events.WebhookConfig{URL: u, Secret: secret})
		require.NoError(t, err)
		err = w.Deliver(t.Context(), sampleEvent(t))
		var de *events.DeliveryError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, "connection", de.Kind())
		assert.NotContains(t, err.Error(), "very-secret-token")
	})
	t.Run("a slow receiver times out", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		w, err := events.NewWebhook(events.WebhookConfig{URL: srv.URL, Secret: secret, Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		var de *events.DeliveryError
		require.ErrorAs(t, w.Deliver(t.Context(), sampleEvent(t)), &de)
		assert.Equal(t, "timeout", de.Kind())
	})
	t.Run("bad configuration", func(t *testing.T) {
		for name, cfg := range map[string]events.WebhookConfig{
			"relative URL": {URL: "/hook", Secret: secret},
			"ftp":          {URL: "ftp://ehr.example/hook", Secret: secret},
			"user info":    {URL: "https://user:pw@ehr.example/hook", Secret: secret},
			"bad secret":   {URL: "https://ehr.example/hook", Secret: "hunter2"},
		} {
			_, err := events.NewWebhook(cfg)
			require.Error(t, err, name)
			assert.NotContains(t, err.Error(), "hunter2", name)
		}
	})
}

func TestHandler(t *testing.T) {
	secret, err := events.NewSecret()
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		got  []events.Event
		fail = true
	)
	h, err := events.Handler(secret, func(_ context.Context, e events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			return errors.New("database down")
		}
		got = append(got, e)
		return nil
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	w, err := events.NewWebhook(events.WebhookConfig{URL: srv.URL, Secret: secret})
	require.NoError(t, err)
	e := sampleEvent(t)
	var de *events.DeliveryError
	require.ErrorAs(t, w.Deliver(t.Context(), e), &de, "the application failed: 500")
	assert.Equal(t, http.StatusInternalServerError, de.Status)
	require.NoError(t, w.Deliver(t.Context(), e))
	require.Len(t, got, 1)
	assert.Equal(t, e.ID, got[0].ID)
	assert.True(t, e.Timestamp.Equal(got[0].Timestamp))

	other, err := events.NewSecret()
	require.NoError(t, err)
	forger, err := events.NewWebhook(events.WebhookConfig{URL: srv.URL, Secret: other})
	require.NoError(t, err)
	require.ErrorAs(t, forger.Deliver(t.Context(), e), &de)
	assert.Equal(t, http.StatusUnauthorized, de.Status, "another secret")
	assert.Len(t, got, 1)

	_, err = events.Handler("not-a-secret", nil)
	assert.ErrorIs(t, err, events.ErrSecret)
}

func TestTypes(t *testing.T) {
	assert.Len(t, events.Types(), 8)
	for _, typ := range events.Types() {
		assert.True(t, typ.Valid(), typ)
	}
	assert.False(t, events.Type("link.exploded").Valid())
}

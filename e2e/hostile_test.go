package e2e

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/server/connecttest"
	"github.com/openhealthexchange/ohx/store"
)

// Hostile input through the whole HTTP surface the daemon mounts. Redirect
// allow-list, header injection in redirect URLs, wrong content types and
// missing or wrong API keys are covered by server's own tests; NDJSON path
// traversal by publish's.

// depth counts the jobs the memory queue holds that have not finished:
// waiting (pending, scheduled, retrying) or running.
func (e *env) depth(t *testing.T) int {
	t.Helper()
	st, err := e.queue.(*queue.Memory).Stats(t.Context())
	require.NoError(t, err)
	return st.Depth() + running(st)
}

func TestOversizedBodiesAreRefused(t *testing.T) {
	e := newEnv(t, options{})
	big := `{"provider":"fitbit","patient":"Patient/1","success_url":"` + strings.Repeat("a", 2<<20) + `"}`
	req, err := http.NewRequestWithContext(t.Context(), "POST", e.http.URL+"/v1/links", strings.NewReader(big))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	e.saveLink(t, ohx.Steps)
	body := `{"data":{"healthUserId":"` + healthUser + `","padding":"` + strings.Repeat("x", 2<<20) + `"}}`
	status, err := e.fake.Deliver(t.Context(), e.http.URL+"/webhooks/fitbit", webhookSecret, []byte(body), false)
	require.NoError(t, err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Zero(t, e.depth(t), "nothing queued")
}

func TestForgedAndReplayedNotifications(t *testing.T) {
	e := newEnv(t, options{})
	e.saveLink(t, ohx.Steps)
	n := fitbittest.Notification{HealthUserID: healthUser, DataType: "steps", Start: now.Add(-14 * time.Hour), End: now.Add(-12 * time.Hour)}
	body, err := e.fake.NotificationBody(n)
	require.NoError(t, err)
	endpoint := e.http.URL + "/webhooks/fitbit"

	for name, deliver := range map[string]func() (int, error){
		"no secret, no signature": func() (int, error) { return e.fake.Deliver(t.Context(), endpoint, "", body, false) },
		"wrong secret":            func() (int, error) { return e.fake.Deliver(t.Context(), endpoint, "Bearer guess", body, false) },
		"signature of another body": func() (int, error) {
			other, err := e.fake.NotificationBody(fitbittest.Notification{HealthUserID: healthUser, DataType: "steps", Start: n.Start.Add(-time.Hour), End: n.End})
			if err != nil {
				return 0, err
			}
			sig, err := e.fake.Sign(other)
			if err != nil {
				return 0, err
			}
			return post(t.Context(), endpoint, body, map[string]string{"Google-Health-Api-Signature": sig})
		},
		"garbage signature": func() (int, error) {
			return post(t.Context(), endpoint, body, map[string]string{"Google-Health-Api-Signature": "AQAAAAFub3Q="})
		},
	} {
		t.Run(name, func(t *testing.T) {
			status, err := deliver()
			require.NoError(t, err)
			assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, status)
			assert.Zero(t, e.depth(t), "a forged notification queues nothing")
		})
	}

	// A genuine notification delivered three times (Google retries; an
	// attacker replays): the jobs coalesce and the data arrives once.
	for range 3 {
		status, err := e.fake.Deliver(t.Context(), endpoint, "", body, true)
		require.NoError(t, err)
		require.True(t, status >= 200 && status < 300, "status %d", status)
	}
	assert.Equal(t, 1, e.depth(t), "replays coalesce into one job")
	e.runWorkers(t)
	e.waitIdle(t, 3*time.Minute)
	require.Positive(t, e.fhir.Count("Observation"))
	for _, id := range e.fhir.IDs("Observation") {
		_, v, _ := e.fhir.Get("Observation", id)
		assert.Equal(t, 1, v, "Observation/%s written once", id)
	}
}

func post(ctx context.Context, endpoint string, body []byte, headers map[string]string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", endpoint, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestOAuthStateCannotBeReplayedOrMoved(t *testing.T) {
	e := newEnv(t, options{})
	var created struct {
		ID           string `json:"id"`
		AuthorizeURL string `json:"authorize_url"`
	}
	require.Equal(t, http.StatusCreated, e.api(t, "POST", "/v1/links", map[string]any{"provider": "fitbit", "patient": "Patient/a",
		"success_url": successURL, "error_url": errorURL}, &created))
	patient := connecttest.New(noRedirect)
	callback := callbackOf(t, patient, created.AuthorizeURL)
	state := callback.Query().Get("state")

	// The state of this link on another provider's callback path.
	moved := *callback
	moved.Path = "/oauth/withings/callback"
	resp, _, err := patient.Get(t.Context(), moved.String())
	require.NoError(t, err)
	assert.NotEqual(t, successURL, resp.Header.Get("Location"), "a state is bound to its provider")

	// Another browser (a forwarded callback URL) cannot use it, and does
	// not burn it.
	resp, _, err = connecttest.New(noRedirect).Get(t.Context(), callback.String())
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a foreign browser is refused")

	// The first use links; a replay of the same callback does not link again.
	resp, _, err = patient.Get(t.Context(), callback.String())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), successURL))
	resp, _, err = patient.Get(t.Context(), callback.String())
	require.NoError(t, err)
	assert.False(t, strings.HasPrefix(resp.Header.Get("Location"), successURL), "a used state is refused: %s", resp.Header.Get("Location"))
	assert.Equal(t, http.StatusConflict, resp.StatusCode)

	// A second link's consent cannot be completed with the first link's state
	// and a code issued for the second flow: the state names the link.
	var second struct {
		ID           string `json:"id"`
		AuthorizeURL string `json:"authorize_url"`
	}
	require.Equal(t, http.StatusCreated, e.api(t, "POST", "/v1/links", map[string]any{"provider": "fitbit", "patient": "Patient/b",
		"success_url": successURL, "error_url": errorURL}, &second))
	cb2 := callbackOf(t, patient, second.AuthorizeURL)
	q := cb2.Query()
	q.Set("state", state)
	cb2.RawQuery = q.Encode()
	resp, _, err = patient.Get(t.Context(), cb2.String())
	require.NoError(t, err)
	assert.False(t, strings.HasPrefix(resp.Header.Get("Location"), successURL))
}

// callbackOf opens a connect page in the browser, sends its form, and
// returns the callback URL the fake provider redirects to (not requested).
func callbackOf(t *testing.T, b *connecttest.Browser, page string) *url.URL {
	t.Helper()
	p, err := b.Open(t.Context(), page)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, p.Status)
	authURL, err := b.Continue(t.Context(), p)
	require.NoError(t, err)
	resp, _, err := b.Get(t.Context(), authURL)
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	callback, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return callback
}

// TestSecretsAreComparedInConstantTime checks the source: API keys and
// webhook secrets are compared with crypto/subtle (or hmac.Equal), never
// with == on the secret; the webhook receivers compare through the provider
// toolkit's helpers, which do.
func TestSecretsAreComparedInConstantTime(t *testing.T) {
	for file, pattern := range map[string]string{
		"../server/server.go":    `subtle\.ConstantTimeCompare\(sum\[:\], k\.sum\[:\]\)`,
		"../server/state.go":     `hmac\.Equal\(`,
		"../withings/webhook.go": `provider\.SecretEqual\(`,
		"../fitbit/webhook.go":   `provider\.SecretEqual\(`,
		"../oura/webhook.go":     `provider\.SecretEqual\([\s\S]*provider\.VerifyHMACSHA256\(`,
		// The receivers' comparisons, in the toolkit.
		"../provider/webhook.go": `subtle\.ConstantTimeCompare\([\s\S]*hmac\.Equal\(`,
	} {
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Regexp(t, regexp.MustCompile(pattern), string(src), file)
	}
}

// TestConnectPageHostile attacks the patient connect page and the callback
// from outside: a page forwarded after it was opened, a page opened too
// late, a forged or replayed form, callbacks without the opening browser's
// cookie or with another's, and a state used twice. None links an account.
func TestConnectPageHostile(t *testing.T) {
	var skew atomic.Int64
	e := newEnv(t, options{serverNow: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	create := func(patient string) string {
		var created struct {
			AuthorizeURL string `json:"authorize_url"`
		}
		require.Equal(t, http.StatusCreated, e.api(t, "POST", "/v1/links", map[string]any{"provider": "fitbit", "patient": patient,
			"success_url": successURL, "error_url": errorURL}, &created))
		return created.AuthorizeURL
	}
	activeLinks := func() int {
		links, err := e.store.Links(t.Context(), store.LinkQuery{Status: ohx.LinkActive})
		require.NoError(t, err)
		return len(links)
	}

	t.Run("forwarded page", func(t *testing.T) {
		page := create("Patient/fwd")
		alice, mallory := connecttest.New(noRedirect), connecttest.New(noRedirect)
		p, err := alice.Open(t.Context(), page)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, p.Status)
		forwarded, err := mallory.Open(t.Context(), page)
		require.NoError(t, err)
		assert.Equal(t, http.StatusGone, forwarded.Status)
		assert.Empty(t, forwarded.Action, "no form on a dead page")
		resp, _, err := mallory.Submit(t.Context(), p, p.Form) // alice's form, mallory's cookies
		require.NoError(t, err)
		assert.NotEqual(t, http.StatusSeeOther, resp.StatusCode, "the form works from the opening browser only")
	})

	t.Run("tampered form", func(t *testing.T) {
		b := connecttest.New(noRedirect)
		p, err := b.Open(t.Context(), create("Patient/form"))
		require.NoError(t, err)
		for _, v := range []string{"", "x", strings.ToUpper(p.Form.Get("form")), p.Form.Get("form") + "A", strings.Repeat("A", 4096)} {
			resp, _, err := b.Submit(t.Context(), p, url.Values{"form": {v}})
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "form token %.20q", v)
		}
	})

	t.Run("missing or foreign cookie, then reuse", func(t *testing.T) {
		alice := connecttest.New(noRedirect)
		callback := callbackOf(t, alice, create("Patient/cookie"))
		bob := connecttest.New(noRedirect)
		_, err := bob.Open(t.Context(), create("Patient/bob")) // bob has a binding cookie of his own
		require.NoError(t, err)
		for _, b := range []*connecttest.Browser{connecttest.New(noRedirect), bob} {
			resp, body, err := b.Get(t.Context(), callback.String())
			require.NoError(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.NotContains(t, body, "code=", "the page echoes nothing of the request")
		}
		assert.Equal(t, 0, activeLinks())
		resp, _, err := alice.Get(t.Context(), callback.String())
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), successURL))
		resp, _, err = alice.Get(t.Context(), callback.String())
		require.NoError(t, err)
		assert.Equal(t, http.StatusConflict, resp.StatusCode, "a state is consumed once")
		assert.Equal(t, 1, activeLinks())
	})

	t.Run("expired page", func(t *testing.T) {
		page := create("Patient/late")
		skew.Store(int64(16 * time.Minute))
		defer skew.Store(0)
		p, err := connecttest.New(noRedirect).Open(t.Context(), page)
		require.NoError(t, err)
		assert.Equal(t, http.StatusGone, p.Status)
	})
}

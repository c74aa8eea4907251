// Package testkit holds what the tests of the provider packages (fitbit,
// oura) share: metrics that count, a publisher that validates every
// resource, and the user's consent at a fake's authorize URL.
package testkit

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

// Metrics counts the rate limits and webhook answers a provider reports;
// the other hooks do nothing. It is safe for concurrent use.
type Metrics struct {
	ohx.NopMetrics
	mu          sync.Mutex
	rateLimited int
	webhooks    map[int]int
}

// RateLimited implements ohx.Metrics.
func (m *Metrics) RateLimited(string) {
	m.mu.Lock()
	m.rateLimited++
	m.mu.Unlock()
}

// WebhookRequest implements ohx.Metrics.
func (m *Metrics) WebhookRequest(_ string, status int) {
	m.mu.Lock()
	if m.webhooks == nil {
		m.webhooks = map[int]int{}
	}
	m.webhooks[status]++
	m.mu.Unlock()
}

// RateLimits returns how many rate limits were reported.
func (m *Metrics) RateLimits() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rateLimited
}

// Webhooks returns how many webhook requests were answered with status.
func (m *Metrics) Webhooks(status int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.webhooks[status]
}

// Consent plays the user at a provider fake: it opens authURL, which the
// fake answers with a redirect (302) to the client, checks that the
// redirect carries state, and returns its authorization code.
func Consent(t testing.TB, authURL, state string) string {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, authURL, nil)
	require.NoError(t, err)
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, state, loc.Query().Get("state"))
	code := loc.Query().Get("code")
	require.NotEmpty(t, code)
	return code
}

package withings

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
)

const testSecret = "0123456789abcdef0123456789abcdef"

type recorder struct {
	mu   sync.Mutex
	ns   []ohx.Notification
	fail error // returned by notify, without recording
}

func (r *recorder) notify(_ context.Context, n ohx.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.ns = append(r.ns, n)
	return nil
}

func (r *recorder) got() []ohx.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ohx.Notification(nil), r.ns...)
}

type statusMetrics struct {
	ohx.NopMetrics
	mu       sync.Mutex
	statuses []int
}

func (m *statusMetrics) WebhookRequest(_ string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statuses = append(m.statuses, status)
}

func webhookProvider(t *testing.T, wc WebhookConfig, m ohx.Metrics) *Provider {
	t.Helper()
	p, err := New(Config{ClientID: "id", ClientSecret: "secret", Webhook: wc,
		Common: provider.Common{
			Metrics: m,
			Now:     func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
		},
	})
	require.NoError(t, err)
	return p
}

func TestWebhookHandler(t *testing.T) {
	form := "userid=12345&appli=4&startdate=1530576000&enddate=1530698753"
	cases := []struct {
		name   string
		method string
		target string
		body   string
		ctype  string
		remote string
		want   int
		queued int
	}{
		{name: "HEAD probe", method: http.MethodHead, target: "/withings/" + testSecret, want: 200},
		{name: "GET probe", method: http.MethodGet, target: "/withings/" + testSecret, want: 200},
		{name: "valid POST, secret in path", method: http.MethodPost, target: "/withings/" + testSecret, body: form, want: 200, queued: 1},
		{name: "valid POST, secret in query", method: http.MethodPost, target: "/withings?secret=" + testSecret, body: form, want: 200, queued: 1},
		{name: "valid POST, token query", method: http.MethodPost, target: "/withings?token=" + testSecret, body: form, want: 200, queued: 1},
		{name: "bad secret", method: http.MethodPost, target: "/withings/wrong", body: form, want: 404},
		{name: "bad query secret", method: http.MethodPost, target: "/withings?secret=" + testSecret[:31], body: form, want: 404},
		{name: "no secret", method: http.MethodPost, target: "/withings", body: form, want: 404},
		{name: "bad secret HEAD", method: http.MethodHead, target: "/withings/x", want: 404},
		{name: "malformed body", method: http.MethodPost, target: "/withings/" + testSecret, body: "userid=abc&appli=1", want: 400},
		{name: "missing appli", method: http.MethodPost, target: "/withings/" + testSecret, body: "userid=1", want: 400},
		{name: "bad window", method: http.MethodPost, target: "/withings/" + testSecret, body: "userid=1&appli=1&startdate=10&enddate=5", want: 400},
		{name: "bad form escape", method: http.MethodPost, target: "/withings/" + testSecret, body: "userid=%zz&appli=1", want: 400},
		{name: "too large", method: http.MethodPost, target: "/withings/" + testSecret, body: form + "&comment=" + strings.Repeat("x", 10000), want: 413},
		{name: "JSON body", method: http.MethodPost, target: "/withings/" + testSecret, body: `{"userid":1}`, ctype: "application/json", want: 415},
		{name: "PUT", method: http.MethodPut, target: "/withings/" + testSecret, body: form, want: 405},
		{name: "unlink", method: http.MethodPost, target: "/withings/" + testSecret, body: "userid=12345&appli=46&action=unlink", want: 200, queued: 1},
		{name: "user update is acknowledged only", method: http.MethodPost, target: "/withings/" + testSecret, body: "userid=12345&appli=46&action=update", want: 200},
		{name: "bed-in is acknowledged only", method: http.MethodPost, target: "/withings/" + testSecret, body: "userid=12345&appli=50&startdate=1&enddate=2", want: 200},
		{name: "outside allow-list", method: http.MethodPost, target: "/withings/" + testSecret, body: form, remote: "198.51.100.7:4000", want: 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &statusMetrics{}
			wc := WebhookConfig{Secret: testSecret}
			if c.remote != "" {
				wc.AllowCIDRs = []string{"89.30.121.0/24", "2001:db8::/32"}
			}
			var rec recorder
			h := webhookProvider(t, wc, m).WebhookHandler(rec.notify)
			req := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.remote != "" {
				req.RemoteAddr = c.remote
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			assert.Equal(t, c.want, w.Code)
			assert.Len(t, rec.got(), c.queued)
			assert.Equal(t, []int{c.want}, m.statuses)
			assert.NotContains(t, w.Body.String(), testSecret)
		})
	}
}

func TestWebhookNotificationContent(t *testing.T) {
	var rec recorder
	h := webhookProvider(t, WebhookConfig{Secret: testSecret, AllowCIDRs: []string{"89.30.121.0/24", "10.0.0.1"}}, nil).WebhookHandler(rec.notify)
	post := func(body, remote string) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks/withings/"+testSecret, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	require.Equal(t, 200, post("userid=12345&appli=54&startdate=1764000000&enddate=1764000060&deviceid=abc", "89.30.121.150:5555"))
	require.Equal(t, 200, post("userid=12345&appli=16&date=2026-11-24", "10.0.0.1:1"))
	require.Equal(t, 200, post("userid=12345&appli=46&action=delete", "[::ffff:89.30.121.1]:1"))
	ns := rec.got()
	require.Len(t, ns, 3)
	assert.Equal(t, ohx.Notification{Provider: Name, ExternalUserID: "12345", Kind: ohx.NotifyData,
		DataTypes: []ohx.DataType{ohx.ECG}, Window: ohx.Window{Start: time.Unix(1764000000, 0).UTC(), End: time.Unix(1764000061, 0).UTC()},
		Received: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}, ns[0])
	assert.Equal(t, []ohx.DataType{ohx.Steps, ohx.HeartRate}, ns[1].DataTypes)
	assert.Equal(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), ns[1].Window.Start, "the day widened by 14 h")
	assert.Equal(t, time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC), ns[1].Window.End)
	assert.Equal(t, ohx.NotifyRevoked, ns[2].Kind)
	assert.True(t, ns[2].Window.Start.IsZero())
}

func TestWebhookWithoutSecretRefusesAll(t *testing.T) {
	var rec recorder
	h := webhookProvider(t, WebhookConfig{}, nil).WebhookHandler(rec.notify)
	for _, target := range []string{"/withings/", "/withings?secret=", "/"} {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader("userid=1&appli=1&startdate=1&enddate=2"))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		assert.Equal(t, http.StatusNotFound, w.Code, target)
	}
	assert.Empty(t, rec.got())
}

func TestWebhookCustomClientIP(t *testing.T) {
	var rec recorder
	h := webhookProvider(t, WebhookConfig{Secret: testSecret, AllowCIDRs: []string{"89.30.121.0/24"},
		ClientIP: func(r *http.Request) (netip.Addr, bool) {
			a, err := netip.ParseAddr(r.Header.Get("X-Real-IP"))
			return a, err == nil
		}}, nil).WebhookHandler(rec.notify)
	req := httptest.NewRequest(http.MethodHead, "/w/"+testSecret, nil)
	req.Header.Set("X-Real-IP", "89.30.121.9")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	assert.Equal(t, 200, w.Code)
}

func TestNewRejectsBadAllowList(t *testing.T) {
	_, err := New(Config{ClientID: "id", ClientSecret: "s", Webhook: WebhookConfig{AllowCIDRs: []string{"not-a-cidr"}}})
	assert.Error(t, err)
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no client id":     {ClientSecret: "s"},
		"no secret":        {ClientID: "i"},
		"relative api":     {ClientID: "i", ClientSecret: "s", APIBaseURL: "/api"},
		"relative auth":    {ClientID: "i", ClientSecret: "s", AuthURL: "/authorize"},
		"relative token":   {ClientID: "i", ClientSecret: "s", TokenURL: "/token"},
		"negative timeout": {ClientID: "i", ClientSecret: "s", Common: provider.Common{Timeout: -1}},
		"bad redirect":     {ClientID: "i", ClientSecret: "s", RedirectURL: "nope"},
		"unknown appli":    {ClientID: "i", ClientSecret: "s", Applis: []int{999}},
		"bad steps source": {ClientID: "i", ClientSecret: "s", Steps: 7},
	} {
		_, err := New(cfg)
		assert.Error(t, err, name)
	}
}

func TestWebhookAcknowledgementContract(t *testing.T) {
	providertest.RunWebhook(t, providertest.WebhookConfig{
		Receiver:     webhookProvider(t, WebhookConfig{Secret: testSecret}, nil),
		Acknowledged: []int{http.StatusOK},
		Request: func(*testing.T) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/withings/"+testSecret,
				strings.NewReader("userid=12345&appli=1&startdate=1530576000&enddate=1530698753"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		},
	})
}

func TestWebhookNotDurableAsksWithingsToRetry(t *testing.T) {
	m := &statusMetrics{}
	rec := &recorder{fail: errors.New("redis: connection refused")}
	h := webhookProvider(t, WebhookConfig{Secret: testSecret}, m).WebhookHandler(rec.notify)
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/withings/"+testSecret, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	w := post("userid=12345&appli=1&startdate=1530576000&enddate=1530698753")
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "Withings retries any status of 400 or more")
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.NotContains(t, w.Body.String(), "redis", "the cause stays in the logs")
	assert.Equal(t, http.StatusOK, post("userid=12345&appli=50&startdate=1&enddate=2").Code,
		"a notification that asks for nothing needs no queue")
	assert.Equal(t, []int{503, 200}, m.statuses)
}

package withings_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/withings"
)

// recorder is an http.RoundTripper that records the URL of every request.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	urls []*url.URL
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// hosts returns the host of every request to path.
func (r *recorder) hosts(path string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, u := range r.urls {
		if u.Path == path {
			out = append(out, u.Host)
		}
	}
	return out
}

func TestDefaultAppLimitIsTheStandardPlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p, link, _ := bubbleEnv(t, func(c *withings.Config) { c.AppLimit = resilience.Limit{} })
		start := time.Now()
		// 120 a minute: a burst of 12 (a tenth of a minute's worth), then
		// one every half second.
		for range 13 {
			_, err := p.Devices(t.Context(), link)
			require.NoError(t, err)
		}
		assert.Equal(t, 500*time.Millisecond, time.Since(start))
		assert.Equal(t, 120, withings.DefaultRequestsPerMinute)
	})
}

func TestTokenEndpoint(t *testing.T) {
	for name, tc := range map[string]struct {
		tokenURL string
		want     string
	}{
		"follows the API host": {"", "withingstest.invalid"},
		"set explicitly":       {"http://oauth.withingstest.invalid/v2/oauth2", "oauth.withingstest.invalid"},
	} {
		t.Run(name, func(t *testing.T) {
			var rec *recorder
			fake, p, link, _ := bubbleEnv(t, func(c *withings.Config) {
				rec = &recorder{next: c.HTTPClient.Transport}
				c.HTTPClient = &http.Client{Transport: rec}
				c.TokenURL = tc.tokenURL
			})
			fake.ExpireAccessTokens(userID)
			_, err := p.Devices(t.Context(), link)
			require.NoError(t, err, "rejected, refreshed, read again")
			assert.Equal(t, []string{tc.want}, rec.hosts("/v2/oauth2"), "one refresh, at the token endpoint")
			assert.Equal(t, []string{"withingstest.invalid", "withingstest.invalid"}, rec.hosts("/v2/user"),
				"the API stays on its host")
		})
	}
}

func TestAuthCodeURLUsesTheAuthorizeEndpoint(t *testing.T) {
	for name, tc := range map[string]struct{ authURL, prefix string }{
		"default":      {"", withings.DefaultAuthURL + "?"},
		"a fake":       {"http://auth.example/oauth2_user/authorize2", "http://auth.example/oauth2_user/authorize2?"},
		"with a query": {"http://auth.example/authorize?mode=demo", "http://auth.example/authorize?mode=demo&"},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := withings.New(withings.Config{ClientID: "id", ClientSecret: "s", AuthURL: tc.authURL,
				RedirectURL: "https://ehr.example/cb"})
			require.NoError(t, err)
			raw := p.AuthCodeURL("state-1", "", nil)
			assert.Contains(t, raw, tc.prefix)
			u, err := url.Parse(raw)
			require.NoError(t, err)
			assert.Equal(t, "state-1", u.Query().Get("state"))
		})
	}
}

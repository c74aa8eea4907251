package fakeprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultsOrder(t *testing.T) {
	for _, standingFirst := range []bool{true, false} {
		fs := Faults{StandingFirst: standingFirst}
		_, ok := fs.Next()
		assert.False(t, ok)
		fs.Queue(2, Failure{Status: 503, RetryAfter: time.Second})
		restore := fs.Stand(Failure{Status: 500})
		var got []int
		for range 4 {
			f, ok := fs.Next()
			require.True(t, ok)
			got = append(got, f.Status)
		}
		if standingFirst {
			assert.Equal(t, []int{500, 500, 500, 500}, got, "the standing failure hides the queue")
		} else {
			assert.Equal(t, []int{503, 503, 500, 500}, got, "the queue first, then the standing failure")
		}
		restore()
		f, ok := fs.Next()
		if standingFirst {
			assert.Equal(t, Failure{Status: 503, RetryAfter: time.Second}, f, "the queue waited")
			assert.True(t, ok)
		} else {
			assert.False(t, ok)
		}
	}
}

func TestCalls(t *testing.T) {
	var c Calls
	assert.Zero(t, c.Of("token"))
	c.Count("token")
	c.Count("token")
	c.Count("list")
	assert.Equal(t, 2, c.Of("token"))
	assert.Equal(t, 1, c.Of("list"))
}

func TestOAuthHelpers(t *testing.T) {
	assert.Len(t, RandomID(16), 32)
	assert.NotEqual(t, RandomID(8), RandomID(8))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	assert.Empty(t, Bearer(r))
	r.Header.Set("Authorization", "BEARER  tok-1 ")
	assert.Equal(t, "tok-1", Bearer(r))

	form := func(v url.Values) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		require.NoError(t, r.ParseForm())
		return r
	}
	assert.True(t, ClientAuthenticated(form(url.Values{"client_id": {"c"}, "client_secret": {"s"}}), "c", "s"))
	assert.False(t, ClientAuthenticated(form(url.Values{"client_id": {"c"}, "client_secret": {"x"}}), "c", "s"))
	basic := form(url.Values{"client_id": {"c"}, "client_secret": {"s"}})
	basic.SetBasicAuth("c", "wrong")
	assert.False(t, ClientAuthenticated(basic, "c", "s"), "Basic wins over the form")

	sum := sha256.Sum256([]byte("verifier"))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	assert.True(t, PKCEVerified(challenge, "verifier"))
	assert.False(t, PKCEVerified(challenge, "other"))
}

func TestConsent(t *testing.T) {
	read := func(query string) (*Consent, *httptest.ResponseRecorder, bool) {
		w := httptest.NewRecorder()
		c, ok := ReadConsent(w, httptest.NewRequest(http.MethodGet, "/auth?"+query, nil), "client", "bad client", "bad redirect")
		return c, w, ok
	}
	redirect := "redirect_uri=" + url.QueryEscape("https://app.example/cb?keep=1&code=old")
	_, w, ok := read("client_id=other&response_type=code&" + redirect)
	assert.False(t, ok)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, "bad client\n", w.Body.String())
	_, w, ok = read("client_id=client&response_type=code&redirect_uri=/relative")
	assert.False(t, ok)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, "bad redirect\n", w.Body.String())
	location := func(w *httptest.ResponseRecorder) url.Values {
		require.Equal(t, http.StatusFound, w.Code)
		loc, err := url.Parse(w.Header().Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "app.example", loc.Host)
		return loc.Query()
	}
	_, w, ok = read("client_id=client&response_type=token&state=s1&" + redirect)
	assert.False(t, ok)
	assert.Equal(t, url.Values{"keep": {"1"}, "code": {"old"}, "error": {"unsupported_response_type"}, "state": {"s1"}}, location(w))

	c, w, ok := read("client_id=client&response_type=code&login_hint=u2&" + redirect)
	require.True(t, ok)
	assert.Equal(t, "https://app.example/cb?keep=1&code=old", c.RedirectURI())
	u, ok := User(c, []string{"u1", "u2"}, func(s string) string { return s })
	assert.True(t, ok)
	assert.Equal(t, "u2", u)
	_, ok = User(c, []string{"u1"}, func(s string) string { return s })
	assert.False(t, ok)
	c.Grant("c1", []string{"a", "b"})
	assert.Equal(t, url.Values{"keep": {"1"}, "code": {"c1"}, "scope": {"a b"}}, location(w), "no state, none sent back")
}

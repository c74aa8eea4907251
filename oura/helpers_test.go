package oura

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
)

// fixtureProvider returns a provider whose API (and token endpoint) is a
// server answering each path with a fixture file, and a link "l" with a
// valid token.
func fixtureProvider(t *testing.T, routes map[string]string) (*Provider, func()) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(fixture(t, name))
	}))
	st := store.NewMemory()
	require.NoError(t, st.SaveToken(t.Context(), "l", ohx.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}))
	p, err := New(Config{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://ehr.example/cb",
		APIBaseURL: srv.URL, TokenURL: srv.URL + "/oauth/token", Common: provider.Common{HTTPClient: srv.Client(), Tokens: st, Locker: st}})
	require.NoError(t, err)
	return p, srv.Close
}

package withings

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

func TestAllowedByScopes(t *testing.T) {
	p := newTestProvider(t)
	all := p.DataTypes()
	for _, c := range []struct {
		scopes []string
		want   []ohx.DataType
		not    []ohx.DataType
	}{
		{scopes: []string{"user.info"}, not: all},
		{scopes: []string{"user.metrics"}, want: []ohx.DataType{ohx.BodyWeight, ohx.BloodPressure, ohx.ECG, ohx.HeartRate, ohx.SpO2},
			not: []ohx.DataType{ohx.Steps, ohx.SleepSession, ohx.RespiratoryRate}},
		{scopes: []string{"user.activity"}, want: []ohx.DataType{ohx.Steps, ohx.SleepSession, ohx.HeartRate, ohx.HRVRMSSD, ohx.RespiratoryRate},
			not: []ohx.DataType{ohx.BodyWeight, ohx.ECG}},
		{scopes: []string{"user.info,user.metrics,user.activity"}, want: all},
	} {
		got := p.Allowed(c.scopes, all)
		for _, w := range c.want {
			assert.Contains(t, got, w, c.scopes)
		}
		for _, n := range c.not {
			assert.NotContains(t, got, n, c.scopes)
		}
	}
	assert.NotContains(t, all, ohx.RRIntervals, "Withings has no RR intervals")
	assert.Empty(t, p.Allowed([]string{"user.metrics"}, []ohx.DataType{ohx.RRIntervals}))
}

func TestAuthCodeURL(t *testing.T) {
	p, err := New(Config{ClientID: "cid", ClientSecret: "s", RedirectURL: "https://ehr.example/cb?x=1"})
	require.NoError(t, err)
	raw := p.AuthCodeURL("xyz", "ignored-verifier", []ohx.DataType{ohx.ECG})
	require.True(t, strings.HasPrefix(raw, DefaultAuthURL+"?"))
	assert.Contains(t, raw, "scope=user.info,user.metrics", "literal commas")
	u, err := url.Parse(raw)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "cid", q.Get("client_id"))
	assert.Equal(t, "https://ehr.example/cb?x=1", q.Get("redirect_uri"))
	assert.Equal(t, "xyz", q.Get("state"))
	assert.Equal(t, "user.info,user.metrics", q.Get("scope"))
	assert.Empty(t, q.Get("code_challenge"), "no PKCE")
	assert.Equal(t, "user.info,user.metrics,user.activity", mustQuery(t, p.AuthCodeURL("s", "", nil)).Get("scope"))
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Query()
}

func TestStatusKinds(t *testing.T) {
	for status, want := range map[int]ohx.ErrorKind{
		100: ohx.KindAuth, 102: ohx.KindAuth, 200: ohx.KindAuth, 401: ohx.KindAuth,
		601: ohx.KindRateLimited, 522: ohx.KindTransient, 524: ohx.KindTransient,
		201: ohx.KindPermanent, 293: ohx.KindPermanent, 503: ohx.KindPermanent, 3018: ohx.KindPermanent,
		214: ohx.KindPermanent, 277: ohx.KindPermanent, 2553: ohx.KindPermanent, 2554: ohx.KindPermanent, 2555: ohx.KindPermanent,
		215: ohx.KindTransient, 2551: ohx.KindTransient, 5000: ohx.KindTransient, 123456: ohx.KindTransient,
	} {
		assert.Equal(t, want, statusKind(status), "status %d", status)
	}
}

package provider_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

func TestHMACSHA256(t *testing.T) {
	key := []byte("test-client-secret")
	ts, body := []byte("1728545400"), []byte(`{"event_type":"create"}`)
	sig := provider.SignHMACSHA256(key, ts, body)
	require.Len(t, sig, 64)
	assert.Equal(t, strings.ToUpper(sig), sig, "upper-case hex")
	assert.True(t, provider.VerifyHMACSHA256(key, sig, ts, body))
	assert.True(t, provider.VerifyHMACSHA256(key, strings.ToLower(sig), ts, body), "either case")
	assert.True(t, provider.VerifyHMACSHA256(key, sig, append(ts, body...)), "over the concatenation")

	assert.False(t, provider.VerifyHMACSHA256(key, sig, ts, []byte(`{"event_type":"delete"}`)), "tampered body")
	assert.False(t, provider.VerifyHMACSHA256(key, sig, []byte("1728545401"), body), "tampered timestamp")
	assert.False(t, provider.VerifyHMACSHA256([]byte("other"), sig, ts, body), "other key")
	assert.False(t, provider.VerifyHMACSHA256(nil, provider.SignHMACSHA256(nil, ts, body), ts, body), "no key verifies nothing")
	assert.False(t, provider.VerifyHMACSHA256(key, sig[:62], ts, body), "short")
	assert.False(t, provider.VerifyHMACSHA256(key, "Z"+sig[1:], ts, body), "not hex")
	assert.False(t, provider.VerifyHMACSHA256(key, "", ts, body))
}

func TestSecretEqual(t *testing.T) {
	assert.True(t, provider.SecretEqual("s3cret", "s3cret"))
	assert.False(t, provider.SecretEqual("s3cret", "s3cre"))
	assert.False(t, provider.SecretEqual("", ""), "an empty secret matches nothing")
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Date(2024, 10, 10, 7, 30, 0, 0, time.UTC)
	tests := []struct {
		v     string
		tol   time.Duration
		want  time.Time
		valid bool
	}{
		{"1728545400", 5 * time.Minute, now, true},
		{" 1728545400 ", 5 * time.Minute, now, true},
		{"1728545400123", 5 * time.Minute, now.Add(123 * time.Millisecond), true},
		{"2024-10-10T07:31:00Z", 5 * time.Minute, now.Add(time.Minute), true},
		{"1728545400", 0, now, true},
		{"1728541800", 5 * time.Minute, now.Add(-time.Hour), false},
		{"1728549000", 5 * time.Minute, now.Add(time.Hour), false},
		{"1728541800", 0, now.Add(-time.Hour), true},
		{"", time.Minute, time.Time{}, false},
		{"-5", time.Minute, time.Time{}, false},
		{"yesterday", time.Minute, time.Time{}, false},
	}
	for _, tc := range tests {
		got, err := provider.CheckTimestamp(tc.v, now, tc.tol)
		if tc.valid {
			require.NoError(t, err, tc.v)
		} else {
			require.Error(t, err, tc.v)
		}
		if !tc.want.IsZero() {
			assert.True(t, tc.want.Equal(got), "%s: %s", tc.v, got)
		}
	}
}

func TestReadBody(t *testing.T) {
	rec := httptest.NewRecorder()
	b, status, err := provider.ReadBody(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello")), 5)
	require.NoError(t, err)
	assert.Zero(t, status)
	assert.Equal(t, "hello", string(b))

	_, status, err = provider.ReadBody(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("hello!")), 5)
	require.Error(t, err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
}

func TestFreshToken(t *testing.T) {
	c := provider.FreshToken("oura", "at-1")
	tok, err := c.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "at-1", tok.AccessToken)
	_, err = c.ForceRefresh(t.Context(), "at-1")
	assert.ErrorIs(t, err, ohx.ErrAuth)
}

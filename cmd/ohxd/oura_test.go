package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/oura"
)

func TestOuraConfig(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, oura.DefaultAPIBaseURL, c.Oura.APIURL)
	assert.Equal(t, oura.DefaultAuthURL, c.Oura.AuthURL)
	assert.Equal(t, oura.DefaultTokenURL, c.Oura.TokenURL)
	assert.Equal(t, oura.DefaultRevokeURL, c.Oura.RevokeURL)
	assert.Equal(t, oura.DefaultRequestsPerMinute, c.Oura.PerMinute)
	assert.True(t, c.Oura.ManageSubscriptions)

	c, err = loadConfig(envOf(map[string]string{
		"OHX_OURA_CLIENT_ID": "id", "OHX_OURA_CLIENT_SECRET": "s", "OHX_OURA_WEBHOOK_TOKEN": "0123456789abcdef",
		"OHX_OURA_TOKEN_URL": oura.PortalTokenURL + "/", "OHX_OURA_MANAGE_SUBSCRIPTIONS": "false",
		"OHX_PUBLIC_URL": "https://ohx.example",
	}))
	require.NoError(t, err)
	assert.Equal(t, oura.PortalTokenURL, c.Oura.TokenURL)
	assert.False(t, c.Oura.ManageSubscriptions)

	_, err = loadConfig(envOf(map[string]string{
		"OHX_OURA_CLIENT_ID": "id", "OHX_OURA_WEBHOOK_TOKEN": "short-token", "OHX_OURA_MANAGE_SUBSCRIPTIONS": "sometimes",
		"OHX_OURA_API_URL": "ftp://oura.example", "OHX_OURA_REQUESTS_PER_MINUTE": "0",
	}))
	require.Error(t, err)
	for _, name := range []string{"OHX_OURA_CLIENT_SECRET", "OHX_OURA_WEBHOOK_TOKEN", "OHX_OURA_MANAGE_SUBSCRIPTIONS",
		"OHX_OURA_API_URL", "OHX_OURA_REQUESTS_PER_MINUTE"} {
		assert.Contains(t, err.Error(), name)
	}
	assert.NotContains(t, err.Error(), "short-token", "values are not echoed")
}

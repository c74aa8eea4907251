package fitbit

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

func TestConfigDefaults(t *testing.T) {
	p, err := New(Config{})
	require.NoError(t, err)
	assert.Equal(t, resilience.PerMinute(DefaultRequestsPerMinute), p.cfg.UserLimit, "Google's limit per user")
	assert.Equal(t, resilience.Limit{}, p.cfg.AppLimit, "no limit per application")
	assert.IsType(t, &provider.LocalLocker{}, p.cfg.Locker)
	assert.Same(t, p.cfg.HTTPClient, p.http, "one client for the API, OAuth and the keyset")
	assert.Equal(t, provider.DefaultTimeout, p.cfg.HTTPClient.Timeout)
	assert.Equal(t, DefaultAPIBaseURL, p.cfg.APIBaseURL)
	assert.Equal(t, "fitbit", p.Name())
	assert.Equal(t, Name, ProviderName)

	p, err = New(Config{Common: provider.Common{UserLimit: provider.NoLimit(), AppLimit: resilience.PerMinute(1000)}})
	require.NoError(t, err)
	assert.Equal(t, provider.NoLimit(), p.cfg.UserLimit, "turned off")
	assert.Equal(t, resilience.PerMinute(1000), p.cfg.AppLimit)

	_, err = New(Config{Common: provider.Common{Timeout: -1}})
	assert.Error(t, err)
}

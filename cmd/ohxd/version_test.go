package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// wireWithFHIR wires the daemon with the Withings fake and fhir as its
// destination, plus extra variables.
func wireWithFHIR(t *testing.T, fhir *fhirtest.Server, extra map[string]string) *app {
	t.Helper()
	wfake := withingstest.NewServer(withingstest.Config{})
	t.Cleanup(wfake.Close)
	key, err := seal.GenerateKey("version")
	require.NoError(t, err)
	env := map[string]string{
		"OHX_DATA_DIR": t.TempDir(), "OHX_API_KEYS": randomHex(16), "OHX_SECRET_KEYS": key.Encode(),
		"OHX_WITHINGS_CLIENT_ID": wfake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET": wfake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET": randomHex(16), "OHX_WITHINGS_API_URL": wfake.URL(), "OHX_WITHINGS_AUTH_URL": wfake.AuthURL(),
		"OHX_FHIR_URL": fhir.URL,
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := loadConfig(envOf(env))
	require.NoError(t, err)
	a, err := wire(t.Context(), cfg, wireOptions{logOut: &lockedBuffer{}})
	require.NoError(t, err)
	t.Cleanup(a.close)
	return a
}

// The daemon reads the FHIR server's CapabilityStatement before its workers
// start, and stops, saying why, when nothing it would write could land.
func TestServeStopsOnAFHIRServerItCannotWriteTo(t *testing.T) {
	tests := []struct {
		name string
		opts []fhirtest.Option
		env  map[string]string
		want []string
	}{
		{"R5 daemon, 4.0.1 server", []fhirtest.Option{fhirtest.WithVersion(ohx.R4)}, nil,
			[]string{"FHIR destination: OHX_FHIR_VERSION is R5:", "speaks FHIR R4 (CapabilityStatement fhirVersion 4.0.1) but the publisher is configured for FHIR R5 (5.0.0)"}},
		{"R4 daemon, 5.0.0 server", nil, map[string]string{"OHX_FHIR_VERSION": "R4"},
			[]string{"FHIR destination: OHX_FHIR_VERSION is R4:", "speaks FHIR R5 (CapabilityStatement fhirVersion 5.0.0) but the publisher is configured for FHIR R4 (4.0.1)"}},
		{"a server without /metadata", []fhirtest.Option{fhirtest.WithoutMetadata()}, nil,
			[]string{"no CapabilityStatement with a fhirVersion at [base]/metadata (http 404 Not Found)", "OHX_FHIR_SKIP_VERSION_CHECK=true skips the check"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fhir := fhirtest.NewServer(tc.opts...)
			t.Cleanup(fhir.Close)
			a := wireWithFHIR(t, fhir, tc.env)
			var lc net.ListenConfig
			ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
			require.NoError(t, err)
			err = a.serve(t.Context(), ln, true, true)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, fhir.Types(), "nothing was written")
		})
	}
}

func TestSkipVersionCheckTrustsTheConfiguredRelease(t *testing.T) {
	fhir := fhirtest.NewServer(fhirtest.WithoutMetadata(), fhirtest.WithVersion(ohx.R4))
	t.Cleanup(fhir.Close)
	a := wireWithFHIR(t, fhir, map[string]string{"OHX_FHIR_VERSION": "r4", "OHX_FHIR_SKIP_VERSION_CHECK": "true"})
	require.NoError(t, a.checkDestination(t.Context()))
	assert.Zero(t, fhir.RequestCount(), "no GET metadata")
	assert.Equal(t, ohx.R4, a.fhir.Version())
}

func TestConfigFHIRVersion(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, ohx.R5, c.FHIRVersion)
	assert.False(t, c.FHIRSkipVersionCheck)
	assert.Equal(t, []string{"system/Observation.write", "system/DiagnosticReport.write", "system/Device.write",
		"system/DeviceAssociation.write", "system/Provenance.write"}, c.FHIRScopes)

	c, err = loadConfig(envOf(map[string]string{"OHX_FHIR_VERSION": "R4", "OHX_FHIR_SKIP_VERSION_CHECK": "true"}))
	require.NoError(t, err)
	assert.Equal(t, ohx.R4, c.FHIRVersion)
	assert.True(t, c.FHIRSkipVersionCheck)
	assert.Equal(t, []string{"system/Observation.write", "system/DiagnosticReport.write", "system/Device.write",
		"system/Provenance.write"}, c.FHIRScopes, "R4 has no DeviceAssociation")

	c, err = loadConfig(envOf(map[string]string{"OHX_FHIR_VERSION": "R4", "OHX_FHIR_SCOPES": "system/*.write"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"system/*.write"}, c.FHIRScopes, "set scopes are kept")

	_, err = loadConfig(envOf(map[string]string{"OHX_FHIR_VERSION": "R4B", "OHX_FHIR_SKIP_VERSION_CHECK": "maybe"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OHX_FHIR_VERSION: must be R5 or R4")
	assert.Contains(t, err.Error(), "OHX_FHIR_SKIP_VERSION_CHECK: must be true or false")
}

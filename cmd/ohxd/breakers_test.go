package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// TestFHIRBreakerIsListedAndClosedThroughTheAPI opens the FHIR destination's
// breaker with real 503 answers and closes it as an operator does: by the
// name GET /v1/breakers lists, with POST /v1/breakers/{name}/close. The
// daemon's shared registry is the only source of names.
func TestFHIRBreakerIsListedAndClosedThroughTheAPI(t *testing.T) {
	wfake := withingstest.NewServer(withingstest.Config{})
	t.Cleanup(wfake.Close)
	fhir := fhirtest.NewServer()
	t.Cleanup(fhir.Close)
	key, err := seal.GenerateKey("breakers")
	require.NoError(t, err)
	apiKey := randomHex(16)
	cfg, err := loadConfig(envOf(map[string]string{
		"OHX_DATA_DIR": t.TempDir(), "OHX_API_KEYS": apiKey, "OHX_SECRET_KEYS": key.Encode(),
		"OHX_WITHINGS_CLIENT_ID": wfake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET": wfake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET": randomHex(16), "OHX_WITHINGS_API_URL": wfake.URL(), "OHX_WITHINGS_AUTH_URL": wfake.AuthURL(),
		"OHX_FHIR_URL": fhir.URL,
	}))
	require.NoError(t, err)
	a, err := wire(t.Context(), cfg, wireOptions{logOut: &lockedBuffer{},
		fhirRetry: resilience.RetrySettings{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}})
	require.NoError(t, err)
	defer a.close()
	h := a.server.Handler()

	require.NoError(t, a.fhir.Check(t.Context()), "the daemon reads the server's release at start")
	// The FHIR server fails every attempt of one publication until the
	// breaker opens after its threshold.
	fhir.FailNext(publish.DefaultBreakerFailures, http.StatusServiceUnavailable, 0)
	obs := observation(t)
	_, err = a.publisher.Publish(t.Context(), []ohx.Resource{obs})
	require.ErrorIs(t, err, ohx.ErrCircuitOpen)
	assert.Contains(t, err.Error(), "http 503", "the refusal names the failure that opened the breaker")

	listed := breakersOf(t, h, apiKey)
	var name string
	for _, b := range listed {
		if strings.HasPrefix(b.Name, "fhir") {
			require.Empty(t, name, "one FHIR breaker: %v", listed)
			name = b.Name
			assert.Equal(t, "open", b.State)
			assert.EqualValues(t, publish.DefaultBreakerFailures, b.Failures)
			assert.Contains(t, b.LastFailure, "http 503")
		}
	}
	require.NotEmpty(t, name, "GET /v1/breakers lists the FHIR breaker: %v", listed)
	assert.Equal(t, a.fhir.Breaker().Name(), name, "the API shows the registry's name")
	assert.Contains(t, namesOf(listed), "withings", "provider and destination breakers share one registry")

	// Closing by the listed name works; an unknown name is a 404.
	rec := apiCall(t, h, apiKey, http.MethodPost, "/v1/breakers/nope/close")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	rec = apiCall(t, h, apiKey, http.MethodPost, "/v1/breakers/"+url.PathEscape(name)+"/close")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	for _, b := range breakersOf(t, h, apiKey) {
		if b.Name == name {
			assert.Equal(t, "closed", b.State)
			assert.Empty(t, b.LastFailure)
		}
	}

	// The destination is back: the next publication goes through.
	res, err := a.publisher.Publish(t.Context(), []ohx.Resource{obs})
	require.NoError(t, err)
	assert.Equal(t, []string{obs.Key()}, res.Written)
	assert.Equal(t, 1, fhir.Count("Observation"))
}

func apiCall(t *testing.T, h http.Handler, apiKey, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func breakersOf(t *testing.T, h http.Handler, apiKey string) []server.BreakerStatus {
	t.Helper()
	rec := apiCall(t, h, apiKey, http.MethodGet, "/v1/breakers")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var body struct {
		Breakers []server.BreakerStatus `json:"breakers"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	return body.Breakers
}

func namesOf(bs []server.BreakerStatus) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

// observation is a valid R5 body-weight Observation.
func observation(t *testing.T) ohx.Resource {
	t.Helper()
	const system = "https://ohx.example/sample"
	id := fhirmap.DeterministicID("ohxd-test", "obs", "1")
	js := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"identifier":[{"system":%q,"value":%q}],"status":"final",`+
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},`+
		`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-01T07:30:00Z",`+
		`"valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`, id, system, id)
	return ohx.Resource{Type: "Observation", ID: id, Identifier: system + "|" + id, DataType: ohx.BodyWeight, JSON: json.RawMessage(js)}
}

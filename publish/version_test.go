package publish_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/resilience"
)

// asR4 marks a resource as FHIR R4. The version check comes before any
// validation, so the JSON need not be R4 for these tests.
func asR4(r ohx.Resource) ohx.Resource {
	r.FHIRVersion = ohx.R4
	return r
}

// Resources of one FHIR release never reach a server of the other: the
// publisher reads the CapabilityStatement, then sends nothing, and says
// which releases disagree.
func TestFHIRRefusesAServerOfAnotherRelease(t *testing.T) {
	tests := []struct {
		name      string
		server    ohx.FHIRVersion
		publisher ohx.FHIRVersion
		resources []ohx.Resource
		want      []string // in the error
	}{
		{"R5 resources to a 4.0.1 server", ohx.R4, "", []ohx.Resource{hrObservation(1, ""), hrObservation(2, "")},
			[]string{"speaks FHIR R4 (CapabilityStatement fhirVersion 4.0.1)", "configured for FHIR R5 (5.0.0)", "nothing was sent"}},
		{"R4 resources to a 5.0.0 server", ohx.R5, ohx.R4, []ohx.Resource{asR4(hrObservation(1, ""))},
			[]string{"speaks FHIR R5 (CapabilityStatement fhirVersion 5.0.0)", "configured for FHIR R4 (4.0.1)", "nothing was sent"}},
		{"an R4 resource among R5 ones to a 5.0.0 server", ohx.R5, ohx.R5, []ohx.Resource{hrObservation(1, ""), asR4(hrObservation(2, ""))},
			[]string{"resource " + key(hrObservation(2, "")) + " is FHIR R4 (4.0.1)", "server speaks FHIR R5 (CapabilityStatement fhirVersion 5.0.0)"}},
		{"R5 resources to a 4.0.1 server through an R4 publisher", ohx.R4, ohx.R4, []ohx.Resource{hrObservation(1, "")},
			[]string{"resource " + key(hrObservation(1, "")) + " is FHIR R5 (5.0.0)", "server speaks FHIR R4 (CapabilityStatement fhirVersion 4.0.1)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := fhirtest.New(fhirtest.WithVersion(tc.server))
			p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, Name: "ehr", HTTPClient: srv.Client(), Version: tc.publisher})
			require.NoError(t, err)

			res, err := p.Publish(t.Context(), tc.resources)
			var ve *publish.VersionError
			require.ErrorAs(t, err, &ve)
			assert.ErrorIs(t, err, ohx.ErrPermanent, "sending again does not help")
			assert.Equal(t, tc.server, ve.Server)
			assert.Equal(t, tc.server.Number(), ve.Stated)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, res.Written)
			assert.Empty(t, res.Rejected, "nothing is rejected: the configuration is wrong, not the resources")
			reqs := srv.Requests()
			require.Len(t, reqs, 1, "only GET metadata, no write")
			assert.Equal(t, "/metadata", reqs[0].Path)
			assert.Zero(t, srv.Received("Observation"))

			if tc.publisher.String() != tc.server.String() {
				assert.ErrorAs(t, p.Check(t.Context()), &ve, "Check says so at start")
			} else {
				assert.NoError(t, p.Check(t.Context()))
			}
			assert.Len(t, srv.Requests(), 1, "the server's release is read once")
		})
	}
}

func TestFHIRWritesToAServerOfItsRelease(t *testing.T) {
	srv := fhirtest.New(fhirtest.WithVersion(ohx.R5))
	p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Version: ohx.R5})
	require.NoError(t, err)
	assert.Equal(t, ohx.R5, p.Version())
	require.NoError(t, p.Check(t.Context()))
	r := hrObservation(1, "")
	r.FHIRVersion = ohx.R5 // explicit R5 and the zero value are the same release
	res, err := p.Publish(t.Context(), []ohx.Resource{r, hrObservation(2, "")})
	require.NoError(t, err)
	assert.Len(t, res.Written, 2)
	assert.Equal(t, 2, srv.Count("Observation"))
}

// capabilityServer answers GET /metadata with body (status 200) and
// counts the requests; every other request is a test failure.
func capabilityServer(t *testing.T, status int, body string) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		if r.URL.Path != "/fhir/metadata" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func capability(fhirVersion string) string {
	b, _ := json.Marshal(map[string]any{"resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01",
		"kind": "instance", "fhirVersion": fhirVersion, "format": []string{"json"}})
	return string(b)
}

// The fhirVersion codes of a CapabilityStatement map to the releases ohx
// writes: 4.0.0 and 4.0.1 are R4, 5.0.0 is R5; any other release, ballot or
// snapshot is refused by name, and an answer without fhirVersion is no
// CapabilityStatement.
func TestFHIRMapsTheStatedFHIRVersion(t *testing.T) {
	tests := []struct {
		stated string
		ok     ohx.FHIRVersion // the publisher release that passes; "" for none
		inErr  string
	}{
		{"4.0.1", ohx.R4, ""},
		{"4.0.0", ohx.R4, ""},
		{"5.0.0", ohx.R5, ""},
		{"4.3.0", "", "speaks FHIR 4.3.0 (CapabilityStatement fhirVersion), a release ohx does not write (it writes R5 = 5.0.0 and R4 = 4.0.1)"},
		{"5.0.0-ballot", "", "speaks FHIR 5.0.0-ballot"},
		{"3.0.2", "", "speaks FHIR 3.0.2"},
		{`<script>alert(1)</script>`, "", "speaks FHIR ?"},
	}
	for _, tc := range tests {
		t.Run(tc.stated, func(t *testing.T) {
			for _, v := range []ohx.FHIRVersion{ohx.R4, ohx.R5} {
				srv, _ := capabilityServer(t, http.StatusOK, capability(tc.stated))
				p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL + "/fhir", Name: "ehr", Version: v})
				require.NoError(t, err)
				err = p.Check(t.Context())
				if v == tc.ok {
					assert.NoError(t, err, "publisher %s", v)
					continue
				}
				var ve *publish.VersionError
				require.ErrorAs(t, err, &ve, "publisher %s", v)
				assert.Equal(t, v, ve.Sent)
				if tc.inErr != "" {
					assert.Contains(t, err.Error(), tc.inErr)
					assert.Empty(t, ve.Server)
					assert.NotContains(t, err.Error(), "<script>", "nothing odd the server states is echoed")
				}
			}
		})
	}
}

func TestFHIRWithoutCapabilityStatement(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		inErr  string
	}{
		{"404", http.StatusNotFound, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`, "http 404 Not Found"},
		{"an HTML page", http.StatusOK, `<html>Welcome</html>`, "the answer is not a CapabilityStatement"},
		{"another resource", http.StatusOK, `{"resourceType":"Bundle","type":"searchset"}`, "the answer is not a CapabilityStatement"},
		{"no fhirVersion", http.StatusOK, `{"resourceType":"CapabilityStatement","status":"active"}`, "states no fhirVersion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := capabilityServer(t, tc.status, tc.body)
			p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL + "/fhir", Name: "ehr"})
			require.NoError(t, err)
			err = p.Check(t.Context())
			require.ErrorIs(t, err, publish.ErrNoCapabilityStatement)
			assert.ErrorIs(t, err, ohx.ErrPermanent)
			assert.Contains(t, err.Error(), "publish: fhir ehr: no CapabilityStatement with a fhirVersion at [base]/metadata")
			assert.Contains(t, err.Error(), tc.inErr)
			assert.Contains(t, err.Error(), "set SkipVersionCheck", "the error says the way out")

			res, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
			require.ErrorIs(t, err, publish.ErrNoCapabilityStatement, "nothing is written to a server of unknown release")
			assert.Empty(t, res.Written)
			assert.Equal(t, 2, *n, "a failed read is not kept: Check and Publish each asked")
		})
	}

	t.Run("fhirtest without metadata, and the skip flag", func(t *testing.T) {
		srv := fhirtest.New(fhirtest.WithoutMetadata())
		p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client()})
		require.NoError(t, err)
		_, err = p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
		require.ErrorIs(t, err, publish.ErrNoCapabilityStatement)
		assert.Zero(t, srv.Received("Observation"))

		skip, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), SkipVersionCheck: true})
		require.NoError(t, err)
		before := srv.RequestCount()
		require.NoError(t, skip.Check(t.Context()))
		res, err := skip.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
		require.NoError(t, err)
		assert.Len(t, res.Written, 1)
		reqs := srv.Requests()[before:]
		require.Len(t, reqs, 1, "no GET metadata")
		assert.Equal(t, "transaction", reqs[0].BundleType)

		// The configured release still holds for the resources.
		_, err = skip.Publish(t.Context(), []ohx.Resource{asR4(hrObservation(2, ""))})
		var ve *publish.VersionError
		require.ErrorAs(t, err, &ve)
		assert.Contains(t, err.Error(), "is FHIR R4 (4.0.1) but the server speaks FHIR R5 (configured; version check skipped)")
		assert.Empty(t, ve.Stated)
	})
}

// A failure to read the CapabilityStatement that may pass (5xx after the
// retries, no connection) is not kept: the next write asks again, and only
// a successful answer is kept, for every worker at once.
func TestFHIRReadsTheCapabilityStatementOnceItAnswers(t *testing.T) {
	srv := fhirtest.New()
	p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, Name: "ehr", HTTPClient: srv.Client(),
		Retry: resilience.RetrySettings{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
	require.NoError(t, err)
	srv.FailNext(2, http.StatusServiceUnavailable, 0)
	err = p.Check(t.Context())
	require.ErrorIs(t, err, ohx.ErrTransient)
	assert.NotErrorIs(t, err, publish.ErrNoCapabilityStatement)
	assert.Contains(t, err.Error(), "read the CapabilityStatement (GET [base]/metadata)")
	assert.Equal(t, 2, srv.RequestCount(), "retried like any request")

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(i, "")})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	metadata := 0
	for _, r := range srv.Requests() {
		if r.Path == "/metadata" {
			metadata++
		}
	}
	assert.Equal(t, 2+1, metadata, "the two failed attempts, then one read for eight concurrent writers")
	assert.Equal(t, 8, srv.Count("Observation"))
}

func TestFHIRMetadataNeedsTheCredentials(t *testing.T) {
	a := newAuthServer(t)
	a.static = "static-abc"
	p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: authBase, HTTPClient: a.client(), Auth: publish.StaticToken("wrong-token")})
	require.NoError(t, err)
	err = p.Check(t.Context())
	require.ErrorIs(t, err, ohx.ErrAuth, "a 401 on metadata is an authentication failure, not a missing CapabilityStatement")
	assert.NotErrorIs(t, err, publish.ErrNoCapabilityStatement)
	assert.NotContains(t, err.Error(), "wrong-token")
	assert.Equal(t, 1, a.denied)
}

func TestVersionErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *publish.VersionError
		want string
	}{
		{&publish.VersionError{Destination: "ehr", Server: ohx.R4, Stated: "4.0.1", Sent: ohx.R5},
			"publish: fhir ehr speaks FHIR R4 (CapabilityStatement fhirVersion 4.0.1) but the publisher is configured for FHIR R5 (5.0.0); nothing was sent"},
		{&publish.VersionError{Destination: "ehr", Server: ohx.R5, Stated: "5.0.0", Sent: ohx.R4, Entry: "Observation/x"},
			"publish: fhir ehr: resource Observation/x is FHIR R4 (4.0.1) but the server speaks FHIR R5 (CapabilityStatement fhirVersion 5.0.0); nothing was sent"},
	} {
		assert.Equal(t, tc.want, tc.err.Error())
		assert.ErrorIs(t, tc.err, ohx.ErrPermanent)
		assert.False(t, ohx.Retryable(tc.err), fmt.Sprint(tc.err))
	}
}

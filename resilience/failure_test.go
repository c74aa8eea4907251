package resilience_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/resilience"
)

func TestScrub(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Post "https://wbsapi.withings.net/measure?action=getmeas&access_token=SECRET": EOF`,
			`Post "https://wbsapi.withings.net/measure": EOF`},
		{"GET https://alice:SECRET@ehr.example/fhir/Observation?identifier=sys|SECRET#frag: timeout",
			"GET https://ehr.example/fhir/Observation: timeout"},
		{"dial tcp 127.0.0.1:4431: connect: connection refused", "dial tcp 127.0.0.1:4431: connect: connection refused"},
		{"obtain access token: http 401", "obtain access token: http 401"},
		{"sent Authorization: Bearer SECRET.SECRET-x_y~z/+== and failed", "sent Authorization: Bearer [redacted] and failed"},
		{"header Basic U0VDUkVUOlNFQ1JFVA==", "header Basic [redacted]"},
		{"bad form grant_type=refresh_token&refresh_token=SECRET&client_secret=SECRET",
			"bad form grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]"},
		{`answer {"error":"invalid_grant","access_token": "SECRET","expires_in":3}`,
			`answer {"error":"invalid_grant","access_token":"[redacted]","expires_in":3}`},
		{"oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"note\":\"SECRET\"}", "oauth2: cannot fetch token: 400 Bad Request"},
		{"weird scheme://%zz?SECRET", "weird scheme://[redacted]"},
	}
	for _, tt := range tests {
		got := resilience.Scrub(tt.in)
		assert.Equal(t, tt.want, got, "%q", tt.in)
		assert.NotContains(t, got, "SECRET")
	}
	long := resilience.Scrub(strings.Repeat("é", 400))
	assert.LessOrEqual(t, len(long), 300+len("…"), "bounded")
	assert.True(t, strings.HasSuffix(long, "é…"), "cut on a rune boundary")
}

// ehrTimeout describes itself, as the FHIR publisher's errors do.
type ehrTimeout struct{}

func (ehrTimeout) Error() string { return "timeout" }
func (ehrTimeout) Failure() resilience.Failure {
	return resilience.Failure{Destination: "ehr.example", Op: "search", Kind: ohx.KindTransient,
		Cause: "GET https://ehr.example/fhir/Observation?identifier=SECRET: i/o timeout"}
}

func TestDescribe(t *testing.T) {
	refused := &ohx.ProviderError{Provider: "withings", Op: "getmeas", Kind: ohx.KindTransient,
		Err: errors.New(`POST https://wbsapi.withings.net/measure?access_token=SECRET: dial tcp 10.0.0.1:443: connect: connection refused`)}
	tests := []struct {
		name string
		err  error
		want resilience.Failure
		text string
	}{
		{name: "a provider error, wrapped", err: fmt.Errorf("fetch: %w", refused),
			want: resilience.Failure{Provider: "withings", Op: "getmeas", Kind: ohx.KindTransient,
				Cause: "POST https://wbsapi.withings.net/measure: dial tcp 10.0.0.1:443: connect: connection refused"},
			text: "withings getmeas: transient: POST https://wbsapi.withings.net/measure: dial tcp 10.0.0.1:443: connect: connection refused"},
		{name: "a provider status with its code",
			err:  &ohx.ProviderError{Provider: "fitbit", Op: "dataPoints.list", Kind: ohx.KindTransient, HTTPStatus: 503, Code: "UNAVAILABLE"},
			want: resilience.Failure{Provider: "fitbit", Op: "dataPoints.list", Kind: ohx.KindTransient, HTTPStatus: 503, Code: "UNAVAILABLE"},
			text: "fitbit dataPoints.list: transient (http 503, UNAVAILABLE)"},
		{name: "a self-describing error", err: fmt.Errorf("publish: %w", ehrTimeout{}),
			want: resilience.Failure{Destination: "ehr.example", Op: "search", Kind: ohx.KindTransient,
				Cause: "GET https://ehr.example/fhir/Observation: i/o timeout"},
			text: "ehr.example search: transient: GET https://ehr.example/fhir/Observation: i/o timeout"},
		{name: "any other error", err: errors.New("unexpected EOF reading https://x.example/a?token=SECRET"),
			want: resilience.Failure{Kind: ohx.KindUnknown, Cause: "unexpected EOF reading https://x.example/a"},
			text: "unknown: unexpected EOF reading https://x.example/a"},
		{name: "no error", err: nil, want: resilience.Failure{}, text: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := resilience.Describe(tt.err)
			assert.Equal(t, tt.want, f)
			assert.Equal(t, tt.text, f.String())
		})
	}
}

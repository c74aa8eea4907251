package prom_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/metrics/prom"
)

func TestMetricsExposeTheDocumentedFamilies(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := prom.New(reg)
	require.NoError(t, err)

	m.SyncFinished("withings", ohx.BodyWeight, "ok", 2*time.Second)
	m.DataPoints("fitbit", ohx.HeartRate, 86400)
	m.FHIROperation("transaction", "Observation", "ok", 100)
	m.FHIRLatency("transaction", 30*time.Millisecond)
	m.APIRequest("GET", "/v1/links/{id}", 200, time.Millisecond)
	m.WebhookRequest("withings", 200)
	m.ProviderError("withings", ohx.KindRateLimited)
	m.RateLimited("withings")
	m.BreakerState("provider:withings", 2)
	m.QueueDepth("webhook", 7)
	m.LinkStatus("fitbit", ohx.LinkNeedsReconsent)

	assert.InDelta(t, 86400, testutil.ToFloat64(m.DataPointsCounter("fitbit", ohx.HeartRate)), 0)
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	for _, want := range []string{
		"ohx_sync_operations_total", "ohx_sync_duration_seconds", "ohx_data_points_processed_total",
		"ohx_fhir_operations_total", "ohx_api_requests_total", "ohx_webhook_requests_total",
		"ohx_provider_api_errors_total", "ohx_provider_api_rate_limits_total", "ohx_circuit_breaker_state",
		"ohx_queue_depth",
	} {
		assert.Contains(t, names, want)
	}
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP ohx_circuit_breaker_state Circuit breaker state: 0 closed, 1 half-open, 2 open.
# TYPE ohx_circuit_breaker_state gauge
ohx_circuit_breaker_state{breaker="provider:withings"} 2
`), "ohx_circuit_breaker_state")
	assert.NoError(t, err)

	_, err = prom.New(reg)
	assert.Error(t, err, "registering twice on one registry fails instead of panicking")
}

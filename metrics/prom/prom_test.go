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
	"github.com/openhealthexchange/ohx/events"
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
	m.EventDelivery("sync.completed", "delivered", 20*time.Millisecond)

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
		"ohx_queue_depth", "ohx_link_status_changes_total", "ohx_event_deliveries_total", "ohx_event_delivery_duration_seconds",
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

// TestDeclareShowsEveryFamilyFromTheStart: before any event, every family
// is in the exposition, with a zero series for each known label value.
func TestDeclareShowsEveryFamilyFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := prom.New(reg)
	require.NoError(t, err)
	m.Declare(prom.Labels{
		Providers:      map[string][]ohx.DataType{"withings": {ohx.BodyWeight, ohx.HeartRate}, "fitbit": {ohx.Steps}},
		Webhooks:       []string{"withings", "fitbit"},
		Queues:         []string{"memory"},
		FHIROperations: []string{"transaction"},
		ResourceTypes:  []string{"Observation", "Device"},
		Routes:         []prom.Route{{Method: "GET", Pattern: "/v1/links/{id}", Status: 200}, {Method: "POST", Pattern: "/v1/links", Status: 201}},
	})
	m.BreakerState("withings", 0) // breakers report themselves when created

	families, err := reg.Gather()
	require.NoError(t, err)
	series := map[string]int{}
	for _, f := range families {
		series[f.GetName()] = len(f.GetMetric())
		for _, s := range f.GetMetric() {
			switch {
			case s.GetCounter() != nil:
				assert.Zero(t, s.GetCounter().GetValue(), f.GetName())
			case s.GetHistogram() != nil:
				assert.Zero(t, s.GetHistogram().GetSampleCount(), f.GetName())
			}
		}
	}
	assert.Equal(t, map[string]int{
		"ohx_sync_operations_total":           3 * 3, // (provider, type) × ok, error, cancelled
		"ohx_sync_duration_seconds":           3,
		"ohx_data_points_processed_total":     3,
		"ohx_fhir_operations_total":           2 * 3, // resource types × ok, rejected, error
		"ohx_fhir_request_duration_seconds":   1,
		"ohx_api_requests_total":              2,
		"ohx_api_request_duration_seconds":    2,
		"ohx_webhook_requests_total":          2,
		"ohx_provider_api_errors_total":       2 * 7, // providers × error kinds
		"ohx_provider_api_rate_limits_total":  2,
		"ohx_circuit_breaker_state":           1,
		"ohx_queue_depth":                     1,
		"ohx_link_status_changes_total":       2 * 4, // providers × link statuses
		"ohx_event_deliveries_total":          8 * 3, // event types × delivered, failed, dead
		"ohx_event_delivery_duration_seconds": 8,
	}, series)

	// The event types prom declares are exactly those package events sends.
	var declared []string
	for _, f := range families {
		if f.GetName() != "ohx_event_delivery_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			declared = append(declared, s.GetLabel()[0].GetValue())
		}
	}
	var want []string
	for _, typ := range events.Types() {
		want = append(want, string(typ))
	}
	assert.ElementsMatch(t, want, declared)

	// Declaring again keeps the counts.
	m.EventDelivery("link.active", "failed", time.Second)
	m.Declare(prom.Labels{})
	assert.Equal(t, 1, testutil.CollectAndCount(m.EventDeliveryCounter("link.active", "failed")))
	assert.InDelta(t, 1, testutil.ToFloat64(m.EventDeliveryCounter("link.active", "failed")), 0)
}

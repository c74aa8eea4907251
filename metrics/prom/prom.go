// Package prom adapts ohx's metrics hooks to Prometheus.
//
// It is the only package of ohx that imports the Prometheus client. Register
// a [Metrics] with your own registry and pass it wherever an ohx.Metrics is
// taken:
//
//	reg := prometheus.NewRegistry()
//	m, err := prom.New(reg)
//	engine, err := ohx.NewEngine(ohx.EngineConfig{..., Metrics: m})
//
// Label values are bounded: provider, data type, status, kind, resource type,
// breaker and queue names, event type and delivery outcome. No user, patient
// or link id is ever a label.
//
// A family shows in the exposition once it has a series. Call
// [Metrics.Declare] at start with the deployment's providers, data types,
// queues, destination and routes, so that every family and every known
// series is visible, at zero, before its first event.
package prom

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openhealthexchange/ohx"
)

// Metrics implements ohx.Metrics (and the daemon's API request hook) with
// Prometheus collectors.
type Metrics struct {
	syncOps        *prometheus.CounterVec
	syncDuration   *prometheus.HistogramVec
	dataPoints     *prometheus.CounterVec
	fhirOps        *prometheus.CounterVec
	fhirLatency    *prometheus.HistogramVec
	apiRequests    *prometheus.CounterVec
	apiLatency     *prometheus.HistogramVec
	webhooks       *prometheus.CounterVec
	providerErrors *prometheus.CounterVec
	rateLimits     *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	queueDepth     *prometheus.GaugeVec
	linkStatus     *prometheus.CounterVec
	eventDelivery  *prometheus.CounterVec
	eventLatency   *prometheus.HistogramVec
}

var _ ohx.Metrics = (*Metrics)(nil)

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		syncOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_sync_operations_total", Help: "Syncs of one (link, data type), by outcome.",
		}, []string{"provider", "type", "status"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ohx_sync_duration_seconds", Help: "Duration of one synced window.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}, []string{"provider", "type"}),
		dataPoints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_data_points_processed_total", Help: "Samples read from providers.",
		}, []string{"provider", "type"}),
		fhirOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_fhir_operations_total", Help: "Resources written to FHIR destinations, by outcome.",
		}, []string{"operation", "resource", "status"}),
		fhirLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ohx_fhir_request_duration_seconds", Help: "Latency of requests to FHIR destinations.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"operation"}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_api_requests_total", Help: "HTTP API requests, by route pattern and status.",
		}, []string{"method", "route", "status"}),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ohx_api_request_duration_seconds", Help: "HTTP API latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10),
		}, []string{"method", "route"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_webhook_requests_total", Help: "Webhook requests, by provider and answered status.",
		}, []string{"provider", "status"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_provider_api_errors_total", Help: "Classified provider failures.",
		}, []string{"provider", "kind"}),
		rateLimits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_provider_api_rate_limits_total", Help: "Rate-limit answers from providers.",
		}, []string{"provider"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ohx_circuit_breaker_state", Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, []string{"breaker"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ohx_queue_depth", Help: "Pending jobs per queue.",
		}, []string{"queue"}),
		linkStatus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_link_status_changes_total", Help: "Links changing status (e.g. needs-reconsent).",
		}, []string{"provider", "status"}),
		eventDelivery: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ohx_event_deliveries_total", Help: "Attempts to deliver events to the EHR, by event type and outcome (delivered, failed, dead).",
		}, []string{"type", "outcome"}),
		eventLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ohx_event_delivery_duration_seconds", Help: "Duration of one attempt to deliver an event.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"type"}),
	}
	for _, c := range []prometheus.Collector{
		m.syncOps, m.syncDuration, m.dataPoints, m.fhirOps, m.fhirLatency, m.apiRequests, m.apiLatency,
		m.webhooks, m.providerErrors, m.rateLimits, m.breakerState, m.queueDepth, m.linkStatus,
		m.eventDelivery, m.eventLatency,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SyncFinished implements ohx.Metrics.
func (m *Metrics) SyncFinished(provider string, t ohx.DataType, status string, d time.Duration) {
	m.syncOps.WithLabelValues(provider, string(t), status).Inc()
	m.syncDuration.WithLabelValues(provider, string(t)).Observe(d.Seconds())
}

// DataPoints implements ohx.Metrics.
func (m *Metrics) DataPoints(provider string, t ohx.DataType, n int) {
	m.dataPoints.WithLabelValues(provider, string(t)).Add(float64(n))
}

// ProviderError implements ohx.Metrics.
func (m *Metrics) ProviderError(provider string, kind ohx.ErrorKind) {
	m.providerErrors.WithLabelValues(provider, kind.String()).Inc()
}

// RateLimited implements ohx.Metrics.
func (m *Metrics) RateLimited(provider string) { m.rateLimits.WithLabelValues(provider).Inc() }

// FHIROperation implements ohx.Metrics.
func (m *Metrics) FHIROperation(operation, resourceType, status string, n int) {
	m.fhirOps.WithLabelValues(operation, resourceType, status).Add(float64(n))
}

// FHIRLatency implements ohx.Metrics.
func (m *Metrics) FHIRLatency(operation string, d time.Duration) {
	m.fhirLatency.WithLabelValues(operation).Observe(d.Seconds())
}

// BreakerState implements ohx.Metrics.
func (m *Metrics) BreakerState(name string, state int) {
	m.breakerState.WithLabelValues(name).Set(float64(state))
}

// WebhookRequest implements ohx.Metrics.
func (m *Metrics) WebhookRequest(provider string, status int) {
	m.webhooks.WithLabelValues(provider, strconv.Itoa(status)).Inc()
}

// QueueDepth implements ohx.Metrics.
func (m *Metrics) QueueDepth(queue string, n int) {
	m.queueDepth.WithLabelValues(queue).Set(float64(n))
}

// LinkStatus implements ohx.Metrics.
func (m *Metrics) LinkStatus(provider string, status ohx.LinkStatus) {
	m.linkStatus.WithLabelValues(provider, string(status)).Inc()
}

// EventDelivery implements ohx.Metrics.
func (m *Metrics) EventDelivery(eventType, outcome string, d time.Duration) {
	m.eventDelivery.WithLabelValues(eventType, outcome).Inc()
	m.eventLatency.WithLabelValues(eventType).Observe(d.Seconds())
}

// APIRequest records one HTTP API request by its route pattern (never the
// raw path, which may hold ids).
func (m *Metrics) APIRequest(method, route string, status int, d time.Duration) {
	m.apiRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.apiLatency.WithLabelValues(method, route).Observe(d.Seconds())
}

// DataPointsCounter returns the data-points counter of (provider, type), for
// tests and introspection.
func (m *Metrics) DataPointsCounter(provider string, t ohx.DataType) prometheus.Counter {
	return m.dataPoints.WithLabelValues(provider, string(t))
}

// EventDeliveryCounter returns the event-delivery counter of (type,
// outcome), for tests and introspection.
func (m *Metrics) EventDeliveryCounter(eventType, outcome string) prometheus.Counter {
	return m.eventDelivery.WithLabelValues(eventType, outcome)
}

package ohx

import "time"

// Metrics receives the library's measurements. Label values are bounded
// (provider, data type, status, kind), never a user, patient or link id.
// Implementations embed NopMetrics so that methods added later have a no-op
// default; the Prometheus adapter lives in its own package.
type Metrics interface {
	// SyncFinished is called once per synced (link, data type) with status
	// "ok", "error" or "cancelled".
	SyncFinished(provider string, t DataType, status string, d time.Duration)
	// DataPoints counts samples read from a provider.
	DataPoints(provider string, t DataType, n int)
	// ProviderError counts a classified provider failure.
	ProviderError(provider string, kind ErrorKind)
	// RateLimited counts a provider rate-limit answer.
	RateLimited(provider string)
	// FHIROperation counts resources written with their outcome ("ok",
	// "rejected", "error") and the operation ("transaction", "put").
	FHIROperation(operation, resourceType, status string, n int)
	// FHIRLatency observes one request to a FHIR destination.
	FHIRLatency(operation string, d time.Duration)
	// BreakerState reports a breaker's state: 0 closed, 1 half-open, 2 open.
	BreakerState(name string, state int)
	// WebhookRequest counts a webhook request by its HTTP status.
	WebhookRequest(provider string, status int)
	// QueueDepth reports a queue's number of pending jobs.
	QueueDepth(queue string, n int)
	// LinkStatus counts links changing to a status (e.g. needs-reconsent).
	LinkStatus(provider string, status LinkStatus)
	// EventDelivery observes one attempt to deliver an event of type
	// eventType to the EHR, with its outcome: "delivered", "failed" (it
	// will be retried) or "dead" (the last attempt failed).
	EventDelivery(eventType, outcome string, d time.Duration)
}

// NopMetrics implements Metrics by doing nothing. Embed it in your own
// implementation to stay compatible when methods are added.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

// SyncFinished does nothing.
func (NopMetrics) SyncFinished(string, DataType, string, time.Duration) {}

// DataPoints does nothing.
func (NopMetrics) DataPoints(string, DataType, int) {}

// ProviderError does nothing.
func (NopMetrics) ProviderError(string, ErrorKind) {}

// RateLimited does nothing.
func (NopMetrics) RateLimited(string) {}

// FHIROperation does nothing.
func (NopMetrics) FHIROperation(string, string, string, int) {}

// FHIRLatency does nothing.
func (NopMetrics) FHIRLatency(string, time.Duration) {}

// BreakerState does nothing.
func (NopMetrics) BreakerState(string, int) {}

// WebhookRequest does nothing.
func (NopMetrics) WebhookRequest(string, int) {}

// QueueDepth does nothing.
func (NopMetrics) QueueDepth(string, int) {}

// LinkStatus does nothing.
func (NopMetrics) LinkStatus(string, LinkStatus) {}

// EventDelivery does nothing.
func (NopMetrics) EventDelivery(string, string, time.Duration) {}

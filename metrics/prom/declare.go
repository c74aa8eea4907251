package prom

import (
	"strconv"

	"github.com/openhealthexchange/ohx"
)

// Labels are the label values a deployment knows when it starts. Declare
// creates every series they name, at zero, so that every family is visible
// from the start: a rate over a series that appears with its first event
// misses that event, and an alert on a missing series cannot tell "zero"
// from "not measured".
type Labels struct {
	// Providers maps each enabled provider's name to the data types it
	// syncs.
	Providers map[string][]ohx.DataType
	// Webhooks names the providers that receive webhooks.
	Webhooks []string
	// Queues names the queues (as their QueueDepth reports them).
	Queues []string
	// FHIROperations are the destination's operations ("transaction",
	// "batch", "read", "search", "validate"; "ndjson" for files).
	FHIROperations []string
	// ResourceTypes are the FHIR resource types the destination receives.
	ResourceTypes []string
	// Routes are the API's routes: method, route pattern and the status of
	// a successful answer.
	Routes []Route
}

// Route is one API route as APIRequest labels it.
type Route struct {
	// Method and Pattern are the route's method and pattern
	// ("GET", "/v1/links/{id}").
	Method, Pattern string
	// Status is the status of a successful answer (200, 201, 202).
	Status int
}

// Label values of the closed sets ohx reports.
var (
	syncStatuses   = []string{"ok", "error", "cancelled"}
	fhirStatuses   = []string{"ok", "rejected", "error"}
	linkStatuses   = []ohx.LinkStatus{ohx.LinkPending, ohx.LinkActive, ohx.LinkNeedsReconsent, ohx.LinkRevoked}
	eventOutcomes  = []string{"delivered", "failed", "dead"}
	errorKindRange = []ohx.ErrorKind{ohx.KindUnknown, ohx.KindAuth, ohx.KindRateLimited, ohx.KindTransient,
		ohx.KindPermanent, ohx.KindNotLinked, ohx.KindRevoked}
)

// EventTypes are the event types ohx delivers, as EventDelivery labels
// them (package events defines them; prom does not import it).
var eventTypes = []string{"link.active", "link.needs_reconsent", "link.revoked", "link.deleted", "link.expired",
	"sync.completed", "sync.failed", "job.cancelled"}

// Declare creates, at zero, every series of the label values in l and of
// the closed sets ohx reports (sync and FHIR statuses, error kinds, link
// statuses, event types and outcomes). It may be called again with more
// values; existing series keep their counts.
func (m *Metrics) Declare(l Labels) {
	for provider, types := range l.Providers {
		for _, t := range types {
			for _, st := range syncStatuses {
				m.syncOps.WithLabelValues(provider, string(t), st)
			}
			m.syncDuration.WithLabelValues(provider, string(t))
			m.dataPoints.WithLabelValues(provider, string(t))
		}
		for _, k := range errorKindRange {
			m.providerErrors.WithLabelValues(provider, k.String())
		}
		m.rateLimits.WithLabelValues(provider)
		for _, st := range linkStatuses {
			m.linkStatus.WithLabelValues(provider, string(st))
		}
	}
	for _, p := range l.Webhooks {
		m.webhooks.WithLabelValues(p, strconv.Itoa(200))
	}
	for _, q := range l.Queues {
		m.queueDepth.WithLabelValues(q)
	}
	for _, op := range l.FHIROperations {
		m.fhirLatency.WithLabelValues(op)
		for _, rt := range l.ResourceTypes {
			for _, st := range fhirStatuses {
				m.fhirOps.WithLabelValues(op, rt, st)
			}
		}
	}
	for _, r := range l.Routes {
		m.apiRequests.WithLabelValues(r.Method, r.Pattern, strconv.Itoa(r.Status))
		m.apiLatency.WithLabelValues(r.Method, r.Pattern)
	}
	for _, t := range eventTypes {
		for _, o := range eventOutcomes {
			m.eventDelivery.WithLabelValues(t, o)
		}
		m.eventLatency.WithLabelValues(t)
	}
}

package main

import (
	"context"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/metrics/prom"
	"github.com/openhealthexchange/ohx/server"
)

// newEventSink returns the signed webhook of OHX_EVENTS_URL, or nil when it
// is unset (no event is written then). Deliveries follow no redirect.
func (a *app) newEventSink() (events.Sink, error) {
	if a.cfg.EventsURL == "" {
		return nil, nil
	}
	w, err := events.NewWebhook(events.WebhookConfig{URL: a.cfg.EventsURL, Secret: a.cfg.EventsSecret})
	if err != nil {
		return nil, err
	}
	a.log.Info("events enabled: signed deliveries to OHX_EVENTS_URL")
	return w, nil
}

// runEvents delivers the outbox's events until ctx ends, in every serve
// mode: the API writes events too (link.active, link.deleted), and every
// replica may deliver (each claims its events for a lease).
func (a *app) runEvents(ctx context.Context, errs chan<- error) {
	if a.events == nil {
		return
	}
	if err := a.server.RunEvents(ctx); err != nil && ctx.Err() == nil {
		errs <- err
	}
}

// declareMetrics creates every metric series the daemon knows of at zero
// (providers and their data types, the destination, the queue, the routes),
// so that every family shows in /metrics from the start. A Redis queue
// reports its depth on a first read.
func (a *app) declareMetrics(ctx context.Context) {
	l := prom.Labels{Providers: map[string][]ohx.DataType{}, ResourceTypes: resourceTypes()}
	for _, p := range a.providers {
		var types []ohx.DataType
		if dl, ok := p.(ohx.DataTypeLister); ok {
			types = dl.DataTypes()
		}
		l.Providers[p.Name()] = types
		if _, ok := p.(ohx.WebhookReceiver); ok {
			l.Webhooks = append(l.Webhooks, p.Name())
		}
	}
	if a.fhir != nil {
		l.FHIROperations = []string{"transaction", "batch", "read", "search", "validate"}
	} else {
		l.FHIROperations = []string{"ndjson"}
	}
	if a.cfg.RedisURL == "" {
		l.Queues = []string{"memory"}
	} else {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, _ = a.queue.Stats(rctx) // reports each asynq queue's depth
		cancel()
	}
	for _, r := range server.Routes() {
		l.Routes = append(l.Routes, prom.Route{Method: r.Method, Pattern: r.Pattern, Status: r.Status})
	}
	a.metrics.Declare(l)
}

// resourceTypes are the FHIR resource types ohx writes.
func resourceTypes() []string {
	return []string{"Observation", "DiagnosticReport", "Device", "DeviceAssociation", "Provenance"}
}

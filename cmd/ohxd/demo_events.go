package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/store"
)

// demoEvents is the EHR's event endpoint of the demo: it verifies each
// delivery's signature (events.Handler) and keeps the events.
type demoEvents struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []events.Event
	seen   map[string]bool
}

// startDemoEvents starts the receiver on a loopback listener with a fresh
// signing secret.
func startDemoEvents() (*demoEvents, error) {
	secret, err := events.NewSecret()
	if err != nil {
		return nil, err
	}
	e := &demoEvents{secret: secret, seen: map[string]bool{}}
	h, err := events.Handler(secret, e.take)
	if err != nil {
		return nil, err
	}
	e.srv = httptest.NewServer(h)
	return e, nil
}

// take keeps an event once (a receiver deduplicates on the event id).
func (e *demoEvents) take(_ context.Context, ev events.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.seen[ev.ID] {
		e.seen[ev.ID] = true
		e.got = append(e.got, ev)
	}
	return nil
}

// env points the daemon's events at the receiver.
func (e *demoEvents) env() map[string]string {
	return map[string]string{"OHX_EVENTS_URL": e.srv.URL + "/ohx-events", "OHX_EVENTS_SECRET": e.secret}
}

func (e *demoEvents) close() { e.srv.Close() }

// wait waits until the daemon's outbox holds no pending event: every event
// written so far was delivered (or died).
func (e *demoEvents) wait(ctx context.Context, a *app) error {
	deadline := time.Now().Add(time.Minute)
	for {
		pending, err := a.store.Events(ctx, store.EventQuery{State: store.EventPending, Limit: 1})
		if err != nil || len(pending) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("events still pending after a minute")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// print lists the events the EHR received, by patient and in order.
func (e *demoEvents) print(w io.Writer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := slices.Clone(e.got)
	slices.SortStableFunc(got, func(a, b events.Event) int {
		if c := strings.Compare(a.Patient, b.Patient); c != 0 {
			return c
		}
		return a.Timestamp.Compare(b.Timestamp)
	})
	fmt.Fprintf(w, "\nEvents the EHR received (signed, verified): %d\n", len(got))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ev := range got {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ev.Type, ev.Patient, ev.Provider, eventSummary(ev))
	}
	_ = tw.Flush()
}

// eventSummary says in a few words what an event adds to its type.
func eventSummary(ev events.Event) string {
	d := ev.Data
	switch ev.Type {
	case events.SyncCompleted:
		read, written := 0, 0
		for _, c := range d.Types {
			read += c.SamplesRead
			written += c.ResourcesWritten
		}
		return fmt.Sprintf("%s sync: %d data types, %d samples read, %d resources written", d.Trigger, len(d.Types), read, written)
	case events.SyncFailed:
		return fmt.Sprintf("%s sync failed (%s) after %d attempts", d.Trigger, d.ErrorKind, d.Attempts)
	case events.JobCancelled:
		return string(d.Trigger) + " sync cancelled"
	case events.LinkActive:
		return "consent given, initial sync queued"
	}
	if d.Reason != "" {
		return "reason: " + d.Reason
	}
	return ""
}

package events_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
)

// A receiver checks a delivery's signature before it trusts the body.
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // OHX_EVENTS_SECRET, shared with ohx
	key, err := events.ParseSecret(secret)
	if err != nil {
		panic(err)
	}
	body := []byte(`{"id":"evt_1","type":"link.active","timestamp":"2026-12-05T10:00:00Z","link_id":"lnk_1","data":{}}`)
	sent := time.Date(2026, 12, 5, 10, 0, 1, 0, time.UTC)

	// What ohx sends with the body (events.Webhook does this).
	h := http.Header{}
	h.Set(events.HeaderID, "evt_1")
	h.Set(events.HeaderTimestamp, strconv.FormatInt(sent.Unix(), 10))
	h.Set(events.HeaderSignature, events.Sign(key, "evt_1", sent, body))

	fmt.Println(events.Verify(key, h, body, sent.Add(2*time.Second)))
	fmt.Println(events.Verify(key, h, append(body, ' '), sent.Add(2*time.Second)))
	fmt.Println(events.Verify(key, h, body, sent.Add(time.Hour)))
	// Output:
	// <nil>
	// events: no valid v1 signature
	// events: webhook-timestamp is malformed or outside the tolerance
}

// An application that embeds ohx takes events in-process: a Sink is
// server.Config.Events, and Server.RunEvents delivers to it from the
// store's outbox, retrying while it returns an error.
func ExampleSinkFunc() {
	sink := events.SinkFunc(func(_ context.Context, e events.Event) error {
		switch e.Type {
		case events.LinkNeedsReconsent:
			fmt.Println("ask", e.Patient, "to link", e.Provider, "again")
		case events.SyncCompleted:
			fmt.Println(e.Patient, e.Data.Trigger, "sync done:", e.Data.Types[ohx.BodyWeight].ResourcesWritten, "weights")
		}
		return nil // taken: not sent again
	})
	link := ohx.Link{ID: "lnk_1", Provider: "withings", Patient: "Patient/123"}
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, e := range []struct {
		t events.Type
		d events.Data
	}{
		{events.SyncCompleted, events.Data{Trigger: ohx.TriggerInitial, Types: map[ohx.DataType]events.Counts{ohx.BodyWeight: {SamplesRead: 31, ResourcesWritten: 31}}}},
		{events.LinkNeedsReconsent, events.Data{Reason: "token_revoked"}},
	} {
		ev, err := events.New(e.t, link, at, e.d)
		if err != nil {
			panic(err)
		}
		_ = sink.Deliver(context.Background(), ev)
	}
	// Output:
	// Patient/123 initial sync done: 31 weights
	// ask Patient/123 to link withings again
}

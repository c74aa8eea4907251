package ohx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
)

// linePublisher is a custom ohx.Publisher that writes each resource as one
// line ("Type/ID <json>", here shortened to the type and the JSON's validity) to a writer, such as a message-bus producer or a
// file, and refuses the resource types its destination does not take. It
// must be idempotent: the same resource always has the same Type/ID, so a
// consumer that keys on it sees a re-run as an update, not a duplicate.
type linePublisher struct {
	w      io.Writer
	accept map[string]bool
}

func (p *linePublisher) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	var res ohx.PublishResult
	for _, r := range rs {
		if err := ctx.Err(); err != nil {
			return res, err // the engine keeps its cursors and the job runs again
		}
		if !p.accept[r.Type] {
			// A rejection is final for this resource only; the rest of the
			// batch is still written. The reason never echoes health values.
			res.Rejected = append(res.Rejected, ohx.Rejection{Key: r.Key(), Reason: "resource type not accepted by the destination"})
			continue
		}
		if _, err := fmt.Fprintf(p.w, "%s valid JSON: %t\n", r.Type, json.Valid(r.JSON)); err != nil {
			return res, fmt.Errorf("line publisher: %w", err) // transient: the job is retried
		}
		res.Written = append(res.Written, r.Key())
	}
	return res, nil
}

// Writing a custom Publisher: resources come from the mapping (or a sync run
// by the engine) and go wherever Publish sends them.
func Example_customPublisher() {
	tr, err := fhirmap.New(fhirmap.Config{Now: func() time.Time { return time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	link := ohx.Link{ID: "link-1", Provider: "withings", ExternalUserID: "12345", Patient: "Patient/123"}
	rs, err := tr.Transform(context.Background(), ohx.Batch{Link: link, Samples: []ohx.Sample{{
		Type: ohx.BodyWeight, Start: at, End: at, Value: 72.4, Unit: "kg", Provider: "withings",
		DeviceID: "scale-1", Recording: ohx.RecordedByDevice,
	}}})
	if err != nil {
		panic(err)
	}

	p := &linePublisher{w: os.Stdout, accept: map[string]bool{"Observation": true}}
	res, err := p.Publish(context.Background(), rs)
	if err != nil {
		panic(err)
	}
	fmt.Println("written:", len(res.Written))
	for _, r := range res.Rejected {
		typ, _, _ := strings.Cut(r.Key, "/")
		fmt.Println("rejected:", typ, "-", r.Reason)
	}
	// Output:
	// Observation valid JSON: true
	// written: 1
	// rejected: Device - resource type not accepted by the destination
	// rejected: Provenance - resource type not accepted by the destination
}

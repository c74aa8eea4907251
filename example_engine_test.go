package ohx_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// countingPublisher is the smallest useful ohx.Publisher: it acknowledges
// every resource and counts them by type. A real one writes to a FHIR server
// (publish.FHIR), to files (publish.NDJSON) or to a message bus.
type countingPublisher struct {
	mu     sync.Mutex
	byType map[string]int
}

func (p *countingPublisher) Publish(_ context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var res ohx.PublishResult
	for _, r := range rs {
		p.byType[r.Type]++
		res.Written = append(res.Written, r.Key())
	}
	return res, nil
}

// Building an engine from the library's parts and running one sync:
// a fake provider (no network), the in-memory store, the R5 mapping and a
// publisher of your own. The same wiring works with withings.New or
// fitbit.New, store/sqlite or store/postgres, and publish.FHIR.
func ExampleNewEngine() {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

	st := store.NewMemory()
	link := ohx.Link{
		ID: "link-1", Provider: "fake", ExternalUserID: "user-1",
		Patient: "Patient/123", Status: ohx.LinkActive,
	}
	if err := st.SaveLink(ctx, link); err != nil {
		panic(err)
	}
	tr, err := fhirmap.New(fhirmap.Config{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	pub := &countingPublisher{byType: map[string]int{}}
	engine, err := ohx.NewEngine(ohx.EngineConfig{
		Providers:   []ohx.Provider{&ohxtest.Provider{Every: 15 * time.Minute}},
		Links:       st,
		Cursors:     st,
		Transformer: tr,
		Publisher:   pub,
		// The initial sync after linking reads two hours instead of 30 days.
		Strategy: ohx.DefaultStrategy{InitialLookback: 2 * time.Hour},
		Now:      func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}

	// The initial sync of the link's heart rate: two hours, one sample every
	// 15 minutes, and a Provenance per hour of data (plus the ohx software
	// Device, its agent). A queue worker calls engine.HandleJob the same way.
	rep, err := engine.Sync(ctx, ohx.Job{
		LinkID: link.ID, Trigger: ohx.TriggerInitial,
		DataTypes: []ohx.DataType{ohx.HeartRate},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("samples read:", rep.SamplesRead())
	fmt.Println("resources written:", rep.Written)
	types := make([]string, 0, len(pub.byType))
	for t := range pub.byType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Printf("  %s: %d\n", t, pub.byType[t])
	}
	cursors, _ := st.Cursors(ctx, link.ID)
	fmt.Println("heart-rate cursor:", cursors[ohx.HeartRate].Format(time.RFC3339))
	// Output:
	// samples read: 8
	// resources written: 11
	//   Device: 1
	//   Observation: 8
	//   Provenance: 2
	// heart-rate cursor: 2026-11-20T12:00:00Z
}

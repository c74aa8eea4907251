// Command custom-publisher shows how to send the FHIR resources of ohx syncs
// somewhere other than a FHIR server: here to a message bus, one topic per
// resource type, keyed by "Type/ID".
//
// BusPublisher implements ohx.Publisher over a two-method Bus interface that
// a Kafka, NATS, Pub/Sub or SQS producer adapts to. It validates every
// resource against the FHIR R5 schema first (fhirmap/validate) and rejects
// the invalid ones without sending them, so one bad resource never blocks a
// batch, and it returns an error when the bus fails, so the engine keeps its
// cursors and the job runs again. Resource ids are deterministic: on a
// compacted topic keyed by Type/ID a re-run replaces messages instead of
// duplicating them.
//
// As shipped it syncs a fake provider (ohxtest.Provider, no network) into an
// in-memory bus and prints what each topic holds:
//
//	go run ./examples/custom-publisher -hours 6
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// Bus is the producer side of a message bus.
type Bus interface {
	// Send publishes value under key on topic and returns once the bus has
	// acknowledged it.
	Send(ctx context.Context, topic, key string, value []byte) error
}

// BusPublisher is an ohx.Publisher that sends each resource to the topic
// TopicPrefix+Type, keyed by "Type/ID".
type BusPublisher struct {
	// Bus receives the messages.
	Bus Bus
	// TopicPrefix is prepended to the resource type to name the topic.
	TopicPrefix string
	// Validate checks a resource before it is sent; nil means
	// validate.Resource (the FHIR R5 schema plus ohx's checks).
	Validate func([]byte) error
}

var _ ohx.Publisher = (*BusPublisher)(nil)

// Publish implements ohx.Publisher.
func (p *BusPublisher) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	check := p.Validate
	if check == nil {
		check = validate.Resource
	}
	var res ohx.PublishResult
	for _, r := range rs {
		if err := check(r.JSON); err != nil {
			// Validation errors name locations and rules, never values, so
			// the reason is safe to log.
			res.Rejected = append(res.Rejected, ohx.Rejection{Key: r.Key(), Reason: err.Error()})
			continue
		}
		if err := p.Bus.Send(ctx, p.TopicPrefix+r.Type, r.Key(), r.JSON); err != nil {
			return res, fmt.Errorf("bus publisher: send %s: %w", r.Type, err)
		}
		res.Written = append(res.Written, r.Key())
	}
	return res, nil
}

// memoryBus is an in-memory stand-in for a bus with compacted topics: it
// counts every message sent and keeps the last value per key.
type memoryBus struct {
	mu     sync.Mutex
	sent   map[string]int
	latest map[string]map[string][]byte
}

func newMemoryBus() *memoryBus {
	return &memoryBus{sent: map[string]int{}, latest: map[string]map[string][]byte{}}
}

// Send implements Bus.
func (b *memoryBus) Send(ctx context.Context, topic, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent[topic]++
	if b.latest[topic] == nil {
		b.latest[topic] = map[string][]byte{}
	}
	b.latest[topic][key] = slices.Clone(value)
	return nil
}

func (b *memoryBus) print(out io.Writer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	topics := make([]string, 0, len(b.sent))
	for t := range b.sent {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		fmt.Fprintf(out, "  %-28s %5d messages sent, %5d keys after compaction\n", t, b.sent[t], len(b.latest[t]))
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "custom-publisher:", err)
		os.Exit(1)
	}
}

// run syncs -hours of a fake provider's data into the in-memory bus twice:
// the second run shows that re-publishing replaces rather than duplicates.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("custom-publisher", flag.ContinueOnError)
	fs.SetOutput(out)
	hours := fs.Int("hours", 6, "hours of history of the initial sync")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hours < 1 || *hours > 24*30 {
		return errors.New("-hours must be between 1 and 720")
	}
	now := time.Now().UTC().Truncate(time.Hour)

	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: "fake", ExternalUserID: "user-1", Patient: "Patient/example-1", Status: ohx.LinkActive}
	if err := st.SaveLink(ctx, link); err != nil {
		return err
	}
	tr, err := fhirmap.New(fhirmap.Config{})
	if err != nil {
		return err
	}
	bus := newMemoryBus()
	engine, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{&ohxtest.Provider{Every: 5 * time.Minute}},
		Links:     st,
		Cursors:   st,
		// The initial sync and the reconciliation read the same hours here.
		Strategy: ohx.DefaultStrategy{
			InitialLookback:   time.Duration(*hours) * time.Hour,
			ReconcileLookback: time.Duration(*hours) * time.Hour,
		},
		Transformer: tr,
		Publisher:   &BusPublisher{Bus: bus, TopicPrefix: "ehr.fhir."},
		Now:         func() time.Time { return now },
	})
	if err != nil {
		return err
	}

	types := []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.BodyWeight, ohx.ECG}
	for _, trig := range []ohx.Trigger{ohx.TriggerInitial, ohx.TriggerReconciliation} {
		rep, err := engine.Sync(ctx, ohx.Job{LinkID: link.ID, Trigger: trig, DataTypes: types})
		if err != nil {
			return fmt.Errorf("%s sync: %w", trig, err)
		}
		fmt.Fprintf(out, "%s sync: %d samples read, %d resources published, %d rejected\n",
			trig, rep.SamplesRead(), rep.Written, len(rep.Rejected))
	}
	fmt.Fprintln(out, "the bus holds:")
	bus.print(out)
	return nil
}

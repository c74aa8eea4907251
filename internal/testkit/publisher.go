package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// ValidatingPublisher accepts every resource after validating it against
// the FHIR R5 schema and the project's checks; an invalid one fails the
// test and is rejected. It counts what it accepted.
type ValidatingPublisher struct {
	t      testing.TB
	mu     sync.Mutex
	byType map[string]int
	byData map[ohx.DataType]int
	// observations keeps a copy of every accepted Observation by data type.
	observations map[ohx.DataType][][]byte
}

// NewValidatingPublisher returns a ValidatingPublisher that reports to t.
func NewValidatingPublisher(t testing.TB) *ValidatingPublisher {
	return &ValidatingPublisher{t: t, byType: map[string]int{}, byData: map[ohx.DataType]int{}, observations: map[ohx.DataType][][]byte{}}
}

// Publish implements ohx.Publisher.
func (v *ValidatingPublisher) Publish(_ context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	var res ohx.PublishResult
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range rs {
		if err := validate.Resource(r.JSON); err != nil {
			v.t.Errorf("%s (%s) is not valid R5: %v", r.Key(), r.DataType, err)
			res.Rejected = append(res.Rejected, ohx.Rejection{Key: r.Key(), Reason: "invalid"})
			continue
		}
		v.byType[r.Type]++
		if r.DataType != "" {
			v.byData[r.DataType]++
		}
		if r.Type == "Observation" {
			// A copy: the caller may reuse its buffers once Publish returns.
			v.observations[r.DataType] = append(v.observations[r.DataType], bytes.Clone(r.JSON))
		}
		res.Written = append(res.Written, r.Key())
	}
	return res, nil
}

// ByType returns how many resources of the FHIR resource type it accepted.
func (v *ValidatingPublisher) ByType(resourceType string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.byType[resourceType]
}

// ByData returns how many resources of the data type it accepted.
func (v *ValidatingPublisher) ByData(t ohx.DataType) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.byData[t]
}

// Observations returns the Observations of the data type it accepted,
// decoded.
func (v *ValidatingPublisher) Observations(t ohx.DataType) []map[string]any {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]map[string]any, 0, len(v.observations[t]))
	for _, b := range v.observations[t] {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			v.t.Errorf("accepted Observation does not decode: %v", err)
			continue
		}
		out = append(out, m)
	}
	return out
}

// Engine returns an engine that syncs p's links, found with their cursors
// in st, through the real FHIR R5 mapping to a new ValidatingPublisher,
// which it returns too; the engine's and the mapping's clocks stand at now.
// mutate adjusts the engine's config before it is built.
func Engine(t testing.TB, p ohx.Provider, st interface {
	ohx.LinkFinder
	ohx.CursorStore
}, now time.Time, mutate ...func(*ohx.EngineConfig)) (*ohx.Engine, *ValidatingPublisher) {
	t.Helper()
	clock := func() time.Time { return now }
	tr, err := fhirmap.New(fhirmap.Config{Now: clock})
	require.NoError(t, err)
	pub := NewValidatingPublisher(t)
	cfg := ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: tr, Publisher: pub, Now: clock}
	for _, f := range mutate {
		f(&cfg)
	}
	eng, err := ohx.NewEngine(cfg)
	require.NoError(t, err)
	return eng, pub
}

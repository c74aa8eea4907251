package fitbit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
)

// validatingPublisher accepts every resource after validating it against
// the FHIR R5 schema and the project's checks.
type validatingPublisher struct {
	t      *testing.T
	mu     sync.Mutex
	byType map[string]int
	byData map[ohx.DataType]int
}

func (v *validatingPublisher) Publish(_ context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
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
		res.Written = append(res.Written, r.Key())
	}
	return res, nil
}

// TestEngineSyncsEveryTypeToValidFHIR runs the real engine and FHIR mapping
// over one day of every type the provider offers, then a device sync.
func TestEngineSyncsEveryTypeToValidFHIR(t *testing.T) {
	e := newEnv(t, fitbittest.Config{HeartRateEvery: 5 * time.Minute})
	tr, err := fhirmap.New(fhirmap.Config{Now: func() time.Time { return now }})
	require.NoError(t, err)
	pub := &validatingPublisher{t: t, byType: map[string]int{}, byData: map[ohx.DataType]int{}}
	eng, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{e.p}, Links: e.store, Cursors: e.store, Transformer: tr, Publisher: pub,
		Now: func() time.Time { return now },
	})
	require.NoError(t, err)

	w := ohx.Window{Start: time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)}
	rep, err := eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerBackfill, Window: &w})
	require.NoError(t, err)
	assert.Empty(t, rep.Rejected)
	for _, typ := range e.p.DataTypes() {
		tr := rep.Types[typ]
		require.NotNil(t, tr, "%s was not read", typ)
		assert.Positive(t, tr.SamplesRead, "%s", typ)
		assert.Zero(t, tr.Skipped, "%s samples skipped", typ)
		assert.Positive(t, pub.byData[typ], "no %s resource", typ)
	}
	assert.Positive(t, pub.byType["Observation"])

	rep, err = eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerDeviceSync})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Devices)
	assert.Positive(t, pub.byType["Device"])
}

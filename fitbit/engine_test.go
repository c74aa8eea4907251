package fitbit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/internal/testkit"
)

// TestEngineSyncsEveryTypeToValidFHIR runs the real engine and FHIR mapping
// over one day of every type the provider offers, then a device sync.
func TestEngineSyncsEveryTypeToValidFHIR(t *testing.T) {
	e := newEnv(t, fitbittest.Config{HeartRateEvery: 5 * time.Minute})
	eng, pub := testkit.Engine(t, e.p, e.store, now)

	w := ohx.Window{Start: time.Date(2026, 11, 17, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)}
	rep, err := eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerBackfill, Window: &w})
	require.NoError(t, err)
	assert.Empty(t, rep.Rejected)
	for _, typ := range e.p.DataTypes() {
		tr := rep.Types[typ]
		require.NotNil(t, tr, "%s was not read", typ)
		assert.Positive(t, tr.SamplesRead, "%s", typ)
		assert.Zero(t, tr.Skipped, "%s samples skipped", typ)
		assert.Positive(t, pub.ByData(typ), "no %s resource", typ)
	}
	assert.Positive(t, pub.ByType("Observation"))

	rep, err = eng.Sync(t.Context(), ohx.Job{LinkID: e.link.ID, Trigger: ohx.TriggerDeviceSync})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Devices)
	assert.Positive(t, pub.ByType("Device"))
}

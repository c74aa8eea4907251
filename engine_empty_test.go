package ohx_test

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// quietSteps wraps the fake provider: the user took no step in any window.
type quietSteps struct{ *ohxtest.Provider }

func (p quietSteps) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		for s, err := range p.Provider.Fetch(ctx, link, types, w) {
			if err == nil && s.Type == ohx.Steps {
				continue
			}
			if !yield(s, err) {
				return
			}
		}
	}
}

// A push sync over a window that holds none of the type's data still synced
// the type: the report names it, so the link's last successful sync of the
// type is recorded (the daemon counts it per type).
func TestEngineReportsATypeSyncedWithoutData(t *testing.T) {
	p := quietSteps{&ohxtest.Provider{Every: time.Hour, Types: []ohx.DataType{ohx.HeartRate, ohx.Steps}}}
	st := store.NewMemory()
	link := ohx.Link{ID: "l", Provider: p.Name(), ExternalUserID: "u", Patient: "Patient/1", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(t.Context(), link))
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: keyTransformer{}, Publisher: newRecordingPublisher(),
		Now: func() time.Time { return now },
	})
	require.NoError(t, err)

	rep, err := e.Sync(t.Context(), ohx.Job{LinkID: "l", Trigger: ohx.TriggerPush, DataTypes: []ohx.DataType{ohx.Steps},
		Window: &ohx.Window{Start: now.Add(-3 * time.Hour), End: now}})
	require.NoError(t, err)
	require.Contains(t, rep.Types, ohx.Steps, "the synced type is reported")
	assert.Zero(t, rep.Types[ohx.Steps].SamplesRead)
	assert.Zero(t, rep.Types[ohx.Steps].ResourcesWritten)
	assert.NotContains(t, rep.Types, ohx.HeartRate, "a type the job did not ask for is not reported")
}

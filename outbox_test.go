package ohx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// provenanceTransformer maps like keyTransformer and adds, per batch, a
// Provenance and the software Device that is its agent, as fhirmap does.
type provenanceTransformer struct{ keyTransformer }

func (t provenanceTransformer) Transform(ctx context.Context, b ohx.Batch) ([]ohx.Resource, error) {
	rs, err := t.keyTransformer.Transform(ctx, b)
	if err != nil || len(rs) == 0 {
		return rs, err
	}
	first, last := b.Samples[0].Start, b.Samples[len(b.Samples)-1].Start
	return append(rs,
		ohx.Resource{Type: "Device", ID: "software", JSON: json.RawMessage(`{"resourceType":"Device","id":"software"}`)},
		ohx.Resource{Type: "Provenance", ID: fmt.Sprintf("prov-%d-%d", first.Unix(), last.Unix()), JSON: json.RawMessage(`{}`)},
	), nil
}

// bundlePublisher is a recordingPublisher that writes in bundles and keeps
// the size of every call.
type bundlePublisher struct {
	*recordingPublisher
	bundle int
	mu     sync.Mutex
	sizes  []int
}

func (p *bundlePublisher) BundleSize() int { return p.bundle }

func (p *bundlePublisher) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	p.mu.Lock()
	p.sizes = append(p.sizes, len(rs))
	p.mu.Unlock()
	return p.recordingPublisher.Publish(ctx, rs)
}

func newBundleEngine(t *testing.T, pub ohx.Publisher, chunk time.Duration) (*ohx.Engine, *store.Memory) {
	t.Helper()
	p := &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}}
	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: p.Name(), ExternalUserID: "u1", Patient: "Patient/1", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(t.Context(), link))
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: provenanceTransformer{}, Publisher: pub,
		BatchSize: 50, Strategy: ohx.DefaultStrategy{InitialLookback: 24 * time.Hour, Chunk: chunk}, Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	return e, st
}

// The engine hands the publisher whole bundles only, also across windows:
// what does not fill a bundle waits for the next window and the last call of
// the sync takes the rest.
func TestEngineSendsWholeBundlesAcrossWindowsAndTheSoftwareDeviceOnce(t *testing.T) {
	pub := &bundlePublisher{recordingPublisher: newRecordingPublisher(), bundle: 20}
	e, st := newBundleEngine(t, pub, 2*time.Hour)
	rep, err := e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.NoError(t, err)

	// 12 windows of 120 one-minute samples, each in batches of 50, 50 and
	// 20 samples with a Provenance each.
	require.Greater(t, len(pub.sizes), 12)
	for i, n := range pub.sizes[:len(pub.sizes)-1] {
		assert.Zero(t, n%pub.bundle, "call %d sends whole bundles (%d resources)", i+1, n)
	}
	writes := pub.snapshot()
	assert.Equal(t, 1, writes["Device/software"], "the software Device is sent once per sync")
	assert.Equal(t, 1440+1+3*12, rep.Written, "samples, one Device, one Provenance per batch")
	requests := 0
	for _, n := range pub.sizes {
		requests += (n + pub.bundle - 1) / pub.bundle
	}
	assert.Equal(t, (rep.Written+pub.bundle-1)/pub.bundle, requests, "the fewest requests the resources fit in")

	cursors, err := st.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.HeartRate])
}

// A cursor moves only once every resource queued before its move was
// acknowledged: when the bundle that carries the tail of a window fails,
// the cursor stays before that window's end, at the last batch whose
// resources all landed, and the run again completes it.
func TestEngineFailureInACarriedBundleLeavesTheCursorBeforeItsWindow(t *testing.T) {
	pub := &bundlePublisher{recordingPublisher: newRecordingPublisher(), bundle: 20}
	// Window 1 (02:00-04:00 of the day before now) maps to 52, 51 and 21
	// resources: calls of 40, 60 and 20 leave 4 of its resources waiting,
	// and the first call of window 2 (4 + 51 → 40) carries them. It fails.
	pub.failCall = 4
	e, st := newBundleEngine(t, pub, 2*time.Hour)
	_, err := e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.Error(t, err)
	assert.Equal(t, []int{40, 60, 20, 40}, pub.sizes)

	start := now.Add(-24 * time.Hour)
	window1End := start.Add(2 * time.Hour)
	writes := pub.snapshot()
	missing := 0
	for m := range 120 {
		id := fmt.Sprintf("link-1-%s-%d-", ohx.HeartRate, start.Add(time.Duration(m)*time.Minute).UnixNano())
		if writes["Observation/"+id] == 0 {
			missing++
		}
	}
	assert.Equal(t, 3, missing, "window 1's last 3 Observations (and its last Provenance) were in the failed call")

	cursors, err := st.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, start.Add(99*time.Minute), cursors[ohx.HeartRate],
		"the cursor is at the last batch whose resources all landed (the 100th sample)")
	assert.True(t, cursors[ohx.HeartRate].Before(window1End), "never past the window whose resources were not acknowledged")

	// The run again reads from the cursor and completes the day.
	pub.failCall = 0
	_, err = e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerIncremental})
	require.NoError(t, err)
	writes = pub.snapshot()
	for m := range 1440 {
		id := fmt.Sprintf("link-1-%s-%d-", ohx.HeartRate, start.Add(time.Duration(m)*time.Minute).UnixNano())
		require.Positive(t, writes["Observation/"+id], "minute %d", m)
	}
	assert.Equal(t, 2, writes["Device/software"], "a new sync sends the software Device again")
	cursors, err = st.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.HeartRate])
}

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

func newBundleEngine(t *testing.T, pub ohx.Publisher) (*ohx.Engine, *store.Memory) {
	t.Helper()
	p := &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}}
	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: p.Name(), ExternalUserID: "u1", Patient: "Patient/1", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(t.Context(), link))
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: provenanceTransformer{}, Publisher: pub,
		BatchSize: 50, Strategy: ohx.DefaultStrategy{InitialLookback: 24 * time.Hour}, Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	return e, st
}

func TestEngineBatchesFillWholeBundlesAndSendTheSoftwareDeviceOnce(t *testing.T) {
	pub := &bundlePublisher{recordingPublisher: newRecordingPublisher(), bundle: 20}
	e, st := newBundleEngine(t, pub)
	rep, err := e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.NoError(t, err)

	// 1,440 one-minute samples; the first batch (50 samples + Device +
	// Provenance) teaches the engine the overhead, every later batch but the
	// last is 59 samples + 1 Provenance = 3 whole bundles.
	require.Greater(t, len(pub.sizes), 3)
	assert.Equal(t, 52, pub.sizes[0])
	for i, n := range pub.sizes[1 : len(pub.sizes)-1] {
		assert.Equal(t, 60, n, "call %d", i+2)
	}
	writes := pub.snapshot()
	assert.Equal(t, 1, writes["Device/software"], "the software Device is sent once per sync")
	assert.Equal(t, 1440+1+len(pub.sizes), rep.Written, "samples, one Device, one Provenance per batch")
	requests := 0
	for _, n := range pub.sizes {
		requests += (n + pub.bundle - 1) / pub.bundle
	}
	assert.LessOrEqual(t, float64(requests), 1.05*float64((rep.Written+pub.bundle-1)/pub.bundle)+1)

	cursors, err := st.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.HeartRate])
}

func TestEngineBundleSizedBatchesKeepTheCursorAtTheLastAcknowledgedBatch(t *testing.T) {
	pub := &bundlePublisher{recordingPublisher: newRecordingPublisher(), bundle: 20}
	pub.failCall = 3
	e, st := newBundleEngine(t, pub)
	_, err := e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.Error(t, err)

	// Batches 1 (50 samples) and 2 (59) landed: the cursor is just after the
	// 109th one-minute sample, not beyond.
	cursors, err := st.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	start := now.Add(-24 * time.Hour)
	assert.Equal(t, start.Add(108*time.Minute), cursors[ohx.HeartRate])

	// The run again sends the software Device again (a new sync) and the rest.
	pub.failCall = 0
	_, err = e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerIncremental})
	require.NoError(t, err)
	writes := pub.snapshot()
	assert.Equal(t, 2, writes["Device/software"])
	cursors, err = st.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.HeartRate])
}

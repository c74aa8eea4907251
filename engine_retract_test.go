package ohx_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// The end-to-end test of deletions (real mapping, publisher and FHIR test
// server) is e2e.TestDeletionRetractsWhatTheProviderNoLongerHas; it lives
// there because the R5 schema it loads would stay on this package's heap.

// searchingPublisher is a recording publisher whose destination can be
// searched (and holds nothing to retract).
type searchingPublisher struct{ *recordingPublisher }

func (searchingPublisher) SearchResources(context.Context, string, url.Values) ([]ohx.Resource, error) {
	return nil, nil
}

func TestDeletionSkipsWhatCannotRetract(t *testing.T) {
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := day.AddDate(0, 0, 10)
	tr, err := fhirmap.New(fhirmap.Config{Now: func() time.Time { return now }})
	require.NoError(t, err)
	tests := []struct {
		name   string
		tr     ohx.Transformer
		pub    ohx.Publisher
		reason string
	}{
		{"transformer without Retracter", keyTransformer{}, searchingPublisher{newRecordingPublisher()}, "deletion not retracted: the transformer cannot retract resources"},
		{"publisher without Searcher", tr, newRecordingPublisher(), "deletion not retracted: the publisher cannot search its destination"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &ohxtest.Provider{Every: 6 * time.Hour, Types: []ohx.DataType{ohx.HeartRate}}
			st := store.NewMemory()
			require.NoError(t, st.SaveLink(t.Context(), ohx.Link{ID: "l", Provider: p.Name(), ExternalUserID: "u", Patient: "Patient/1", Status: ohx.LinkActive}))
			e, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: tc.tr, Publisher: tc.pub, Now: func() time.Time { return now }})
			require.NoError(t, err)
			rep, err := e.Sync(t.Context(), ohx.Job{LinkID: "l", Trigger: ohx.TriggerPush, Deletion: true, Window: &ohx.Window{Start: day, End: day.AddDate(0, 0, 1)}})
			require.NoError(t, err)
			assert.Equal(t, []ohx.Skip{{Type: ohx.HeartRate, Reason: tc.reason}}, rep.Skipped)
			assert.Positive(t, rep.Types[ohx.HeartRate].ResourcesWritten, "the window is still re-read and published")
			assert.Zero(t, rep.Types[ohx.HeartRate].Retracted)
		})
	}
}

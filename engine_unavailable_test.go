package ohx_test

import (
	"context"
	"iter"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// scopeless wraps the fake provider and reports SpO2 unavailable (as Oura
// answers a read without the spo2 scope) in place of its samples, going on
// with the other types.
type scopeless struct {
	*ohxtest.Provider
	fetches map[ohx.DataType]int
}

func (p *scopeless) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		for _, t := range types {
			p.fetches[t]++
			if t == ohx.SpO2 {
				err := &ohx.TypeUnavailableError{Type: t, Reason: "scope spo2 not granted by the user",
					Err: &ohx.ProviderError{Provider: p.Name(), Op: "daily_spo2", Kind: ohx.KindPermanent, HTTPStatus: 401, Code: "missing-scope"}}
				if !yield(ohx.Sample{}, err) {
					return
				}
				continue
			}
			for s, err := range p.Provider.Fetch(ctx, link, []ohx.DataType{t}, w) {
				if !yield(s, err) || err != nil {
					return
				}
			}
		}
	}
}

func TestEngineSkipsUnavailableTypeAndSyncsTheRest(t *testing.T) {
	p := &scopeless{Provider: &ohxtest.Provider{Every: time.Hour, Types: []ohx.DataType{ohx.HeartRate, ohx.SpO2, ohx.Steps}}, fetches: map[ohx.DataType]int{}}
	st := store.NewMemory()
	link := ohx.Link{ID: "l", Provider: p.Name(), ExternalUserID: "u", Patient: "Patient/1", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(t.Context(), link))
	pub := searchingPublisher{newRecordingPublisher()}
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: keyTransformer{}, Publisher: pub,
		// Two-day chunks: a four-day window is read in two plans.
		Strategy: ohx.DefaultStrategy{InitialLookback: 4 * 24 * time.Hour, Chunk: 2 * 24 * time.Hour},
		Now:      func() time.Time { return now },
	})
	require.NoError(t, err)

	rep, err := e.Sync(t.Context(), ohx.Job{LinkID: "l", Trigger: ohx.TriggerInitial})
	require.NoError(t, err, "an unavailable type does not fail the sync")
	assert.Equal(t, []ohx.Skip{{Type: ohx.SpO2, Reason: "scope spo2 not granted by the user"}}, rep.Skipped)
	assert.Equal(t, 96, rep.Types[ohx.HeartRate].ResourcesWritten)
	assert.Positive(t, rep.Types[ohx.Steps].ResourcesWritten)
	assert.Nil(t, rep.Types[ohx.SpO2])
	assert.Equal(t, 1, p.fetches[ohx.SpO2], "the type is not asked for again in the later chunks of the sync")
	assert.Equal(t, 2, p.fetches[ohx.HeartRate])

	cursors, err := st.Cursors(t.Context(), "l")
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.HeartRate])
	assert.Equal(t, now, cursors[ohx.Steps])
	_, moved := cursors[ohx.SpO2]
	assert.False(t, moved, "the unavailable type's cursor stays, so its data is read once the scope is granted")

}

// retractingTransformer retracts whatever its search finds.
type retractingTransformer struct{ keyTransformer }

func (retractingTransformer) RetractionQueries(_ ohx.Link, t ohx.DataType, _ ohx.Window) []ohx.RetractionQuery {
	return []ohx.RetractionQuery{{ResourceType: "Observation", Params: url.Values{"code": {string(t)}}}}
}

func (retractingTransformer) Retract(_ ohx.Link, t ohx.DataType, _ ohx.Window, r ohx.Resource) (ohx.Resource, bool, error) {
	r.DataType = t
	return r, true, nil
}

// staleDestination holds one resource of every type that the provider no
// longer produces.
type staleDestination struct{ *recordingPublisher }

func (staleDestination) SearchResources(_ context.Context, rt string, q url.Values) ([]ohx.Resource, error) {
	return []ohx.Resource{{Type: rt, ID: "stale-" + q.Get("code"), JSON: []byte(`{}`)}}, nil
}

func TestDeletionNeverRetractsAnUnavailableType(t *testing.T) {
	p := &scopeless{Provider: &ohxtest.Provider{Every: time.Hour, Types: []ohx.DataType{ohx.HeartRate, ohx.SpO2}}, fetches: map[ohx.DataType]int{}}
	st := store.NewMemory()
	require.NoError(t, st.SaveLink(t.Context(), ohx.Link{ID: "l", Provider: p.Name(), ExternalUserID: "u", Patient: "Patient/1", Status: ohx.LinkActive}))
	pub := staleDestination{newRecordingPublisher()}
	e, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: retractingTransformer{}, Publisher: pub, Now: func() time.Time { return now }})
	require.NoError(t, err)

	w := ohx.Window{Start: now.Add(-24 * time.Hour), End: now}
	rep, err := e.Sync(t.Context(), ohx.Job{LinkID: "l", Trigger: ohx.TriggerPush, Deletion: true, Window: &w})
	require.NoError(t, err)
	assert.Equal(t, []ohx.Skip{{Type: ohx.SpO2, Reason: "scope spo2 not granted by the user"}}, rep.Skipped)
	assert.Equal(t, 1, rep.Types[ohx.HeartRate].Retracted, "a type that was read retracts what the provider no longer has")
	assert.Nil(t, rep.Types[ohx.SpO2], "a type that could not be read retracts nothing")
	writes := pub.snapshot()
	assert.Equal(t, 1, writes["Observation/stale-heart-rate"])
	assert.Zero(t, writes["Observation/stale-spo2"])
}

func TestTypeUnavailableErrorClassifiesAsItsCause(t *testing.T) {
	err := &ohx.TypeUnavailableError{Type: ohx.SpO2, Reason: "scope spo2 not granted by the user",
		Err: &ohx.ProviderError{Provider: "oura", Op: "daily_spo2", Kind: ohx.KindPermanent, HTTPStatus: 401, Code: "missing-scope"}}
	assert.Equal(t, ohx.KindPermanent, ohx.KindOf(err))
	assert.ErrorIs(t, err, ohx.ErrPermanent)
	assert.False(t, ohx.Retryable(err))
	assert.Equal(t, "ohx: spo2 unavailable: scope spo2 not granted by the user: oura daily_spo2: permanent (http 401, missing-scope)", err.Error())
}

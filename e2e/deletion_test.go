package e2e

import (
	"context"
	"encoding/json"
	"iter"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/store"
)

// deletingProvider is an ohxtest.Provider whose user deletes records: once
// deleted, a sample (by type and start) is never yielded again.
type deletingProvider struct {
	*ohxtest.Provider
	mu      sync.Mutex
	deleted map[ohx.DataType]map[time.Time]bool
}

func (p *deletingProvider) delete(t ohx.DataType, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted == nil {
		p.deleted = map[ohx.DataType]map[time.Time]bool{}
	}
	if p.deleted[t] == nil {
		p.deleted[t] = map[time.Time]bool{}
	}
	p.deleted[t][at.UTC()] = true
}

func (p *deletingProvider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		for s, err := range p.Provider.Fetch(ctx, link, types, w) {
			if err == nil {
				p.mu.Lock()
				gone := p.deleted[s.Type][s.Start.UTC()]
				p.mu.Unlock()
				if gone {
					continue
				}
			}
			if !yield(s, err) {
				return
			}
		}
	}
}

// storedObs is what the test server holds of one Observation.
type storedObs struct {
	body      []byte
	version   int
	status    string
	system    string // identifier system: tells the provider
	code      string
	effective time.Time
}

func observations(t *testing.T, srv *fhirtest.Server) map[string]storedObs {
	t.Helper()
	out := map[string]storedObs{}
	for _, id := range srv.IDs("Observation") {
		body, version, ok := srv.Get("Observation", id)
		require.True(t, ok)
		var o struct {
			Status     string `json:"status"`
			Identifier []struct {
				System string `json:"system"`
			} `json:"identifier"`
			Code struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"code"`
			EffectiveDateTime string `json:"effectiveDateTime"`
		}
		require.NoError(t, json.Unmarshal(body, &o))
		at, err := time.Parse(time.RFC3339Nano, o.EffectiveDateTime)
		require.NoError(t, err)
		out[id] = storedObs{body: body, version: version, status: o.Status, system: o.Identifier[0].System, code: o.Code.Coding[0].Code, effective: at.UTC()}
	}
	return out
}

// TestDeletionRetractsWhatTheProviderNoLongerHas runs the whole path with
// the real mapping, the FHIR publisher and the test FHIR server: a first sync
// publishes a link's Observations; the user deletes records at the provider;
// a deletion job over a window marks exactly the deleted records of that
// window entered-in-error, leaves everything else (other records, records
// outside the window, another provider's data of the same patient) final, and
// changes nothing when it runs again.
func TestDeletionRetractsWhatTheProviderNoLongerHas(t *testing.T) {
	require.NoError(t, validate.Ready())
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	syncNow := day.AddDate(0, 0, 10)
	types := []ohx.DataType{ohx.HeartRate, ohx.BodyWeight}
	fake := &deletingProvider{Provider: &ohxtest.Provider{Every: 6 * time.Hour, Offset: 2 * time.Hour, Types: types}}
	other := &ohxtest.Provider{ProviderName: "other", Every: 6 * time.Hour, Types: types}

	st := store.NewMemory()
	link := ohx.Link{ID: "link-1", Provider: fake.Name(), ExternalUserID: "u1", Patient: "Patient/1", Status: ohx.LinkActive}
	link2 := ohx.Link{ID: "link-2", Provider: other.Name(), ExternalUserID: "u2", Patient: "Patient/1", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(t.Context(), link))
	require.NoError(t, st.SaveLink(t.Context(), link2))

	srv := fhirtest.NewServer()
	defer srv.Close()
	pub, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client()})
	require.NoError(t, err)
	tr, err := fhirmap.New(fhirmap.Config{Now: func() time.Time { return syncNow }})
	require.NoError(t, err)
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{fake, other}, Links: st, Cursors: st,
		Transformer: tr, Publisher: pub, Now: func() time.Time { return syncNow },
	})
	require.NoError(t, err)

	all := ohx.Window{Start: day, End: day.AddDate(0, 0, 5)}
	for _, id := range []string{"link-1", "link-2"} {
		_, err := e.Sync(t.Context(), ohx.Job{LinkID: id, Trigger: ohx.TriggerBackfill, Window: &all})
		require.NoError(t, err)
	}
	before := observations(t, srv)
	// 5 days: 20 heart rates and 5 weights per link.
	require.Len(t, before, 2*25)

	// The user deletes a heart rate and a weight inside the deletion window,
	// and a heart rate after it (no notification for that one yet).
	hrGone := day.AddDate(0, 0, 2).Add(6 * time.Hour)
	weightGone := day.AddDate(0, 0, 3)
	laterGone := day.AddDate(0, 0, 4).Add(12 * time.Hour)
	fake.delete(ohx.HeartRate, hrGone)
	fake.delete(ohx.BodyWeight, weightGone)
	fake.delete(ohx.HeartRate, laterGone)

	ownSystem := tr.IdentifierSystem(fake.Name(), "observation")
	retracted := func(p storedObs) bool {
		return p.system == ownSystem && (p.effective.Equal(hrGone) && p.code == "8867-4" || p.effective.Equal(weightGone) && p.code == "29463-7")
	}

	job := ohx.Job{
		LinkID: "link-1", Trigger: ohx.TriggerPush, Deletion: true, DataTypes: types,
		Window: &ohx.Window{Start: day.AddDate(0, 0, 2), End: day.AddDate(0, 0, 4)},
	}
	rep, err := e.Sync(t.Context(), job)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Types[ohx.HeartRate].Retracted)
	assert.Equal(t, 1, rep.Types[ohx.BodyWeight].Retracted)
	assert.Empty(t, rep.Rejected)
	assert.Empty(t, rep.Skipped)

	after := observations(t, srv)
	require.Len(t, after, len(before), "retraction never deletes nor creates")
	n := 0
	for id, p := range after {
		if retracted(p) {
			n++
			assert.Equal(t, "entered-in-error", p.status, id)
			require.NoError(t, validate.Resource(p.body), id)
			continue
		}
		assert.Equal(t, "final", p.status, "%s at %s of %s", id, p.effective, p.system)
		if p.system != ownSystem {
			assert.Equal(t, before[id].version, p.version, "another provider's data is not touched")
		}
	}
	assert.Equal(t, 2, n)

	// Again: nothing left to retract, the retracted resources stay as they are.
	rep, err = e.Sync(t.Context(), job)
	require.NoError(t, err)
	assert.Zero(t, rep.Types[ohx.HeartRate].Retracted)
	assert.Zero(t, rep.Types[ohx.BodyWeight].Retracted)
	again := observations(t, srv)
	for id, p := range after {
		assert.Equal(t, p.status, again[id].status, id)
		if retracted(p) {
			assert.Equal(t, p.version, again[id].version, "%s is not written again", id)
		}
	}

	// A plain push over the same window never retracts.
	job.Deletion = false
	fake.delete(ohx.HeartRate, day.AddDate(0, 0, 2).Add(12*time.Hour))
	rep, err = e.Sync(t.Context(), job)
	require.NoError(t, err)
	assert.Zero(t, rep.Types[ohx.HeartRate].Retracted)
	for id, p := range observations(t, srv) {
		assert.Equal(t, again[id].status, p.status, id)
	}
}

package e2e

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/store"
)

// fhirState is what a FHIR server holds: per key ("Type/id") its version,
// and per Provenance its targets.
type fhirState struct {
	versions map[string]int
	targets  map[string][]string
}

func stateOf(t *testing.T, srv *fhirtest.Server) fhirState {
	t.Helper()
	st := fhirState{versions: map[string]int{}, targets: map[string][]string{}}
	for _, typ := range srv.Types() {
		for _, id := range srv.IDs(typ) {
			body, v, ok := srv.Get(typ, id)
			require.True(t, ok)
			st.versions[typ+"/"+id] = v
			if typ != "Provenance" {
				continue
			}
			var p struct {
				Target []struct {
					Reference  string `json:"reference"`
					Type       string `json:"type"`
					Identifier struct {
						System, Value string
					} `json:"identifier"`
				} `json:"target"`
			}
			require.NoError(t, json.Unmarshal(body, &p))
			for _, tg := range p.Target {
				ref := tg.Reference
				if ref == "" { // a logical reference (conditional modes)
					ids := srv.ByIdentifier(tg.Type, tg.Identifier.System+"|"+tg.Identifier.Value)
					require.Len(t, ids, 1, "Provenance/%s: target %s %s|%s", id, tg.Type, tg.Identifier.System, tg.Identifier.Value)
					ref = tg.Type + "/" + ids[0]
				}
				st.targets[id] = append(st.targets[id], ref)
			}
		}
	}
	return st
}

// check asserts what every state of the destination must show: every
// Observation and DiagnosticReport is a target of a Provenance, and no
// Provenance lost a target it had in before.
func (st fhirState) check(t *testing.T, before fhirState) {
	t.Helper()
	covered := map[string]bool{}
	for _, ts := range st.targets {
		for _, k := range ts {
			covered[k] = true
		}
	}
	for k := range st.versions {
		if typ, _, _ := cutKey(k); typ == "Observation" || typ == "DiagnosticReport" {
			assert.True(t, covered[k], "%s has no Provenance", k)
		}
	}
	for id, old := range before.targets {
		assert.Subset(t, st.targets[id], old, "Provenance/%s lost targets", id)
	}
}

func cutKey(k string) (typ, id string, ok bool) {
	for i := range k {
		if k[i] == '/' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}

func newKeys(before, after fhirState) []string {
	var out []string
	for k := range after.versions {
		if _, ok := before.versions[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestEngineResyncOfUnchangedDataAddsNoResource runs the engine with the
// R5 mapping against a FHIR server: an incremental sync that re-reads the
// overlap before its cursor, a notification inside what was read and a
// repeat of the initial sync add no resource of any type, Provenance
// included; a later sync that reads new data of an hour already published
// rewrites that hour's Provenance with its targets and the new ones.
func TestEngineResyncOfUnchangedDataAddsNoResource(t *testing.T) {
	for _, tc := range []struct {
		name string
		agg  ohx.Aggregator
		mode publish.WriteMode
	}{
		{"individual", nil, publish.WritePut},
		{"hourly", mustHourly(t), publish.WritePut},
		{"individual conditional-create", nil, publish.WriteConditionalCreate},
		{"hourly conditional-update", mustHourly(t), publish.WriteConditionalUpdate},
	} {
		t.Run(tc.name, func(t *testing.T) { resyncAddsNothing(t, tc.agg, tc.mode) })
	}
}

func mustHourly(t *testing.T) ohx.Aggregator {
	t.Helper()
	agg, err := aggregate.NewHourly(aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate, ohx.Steps}})
	require.NoError(t, err)
	return agg
}

func resyncAddsNothing(t *testing.T, agg ohx.Aggregator, mode publish.WriteMode) {
	srv := fhirtest.NewServer()
	t.Cleanup(srv.Close)
	pub, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), BundleSize: 40, Mode: mode})
	require.NoError(t, err)
	clock := time.Date(2026, 11, 25, 10, 20, 0, 0, time.UTC)
	// In the conditional modes the server assigns ids: references name
	// their resource by identifier, as the daemon writes them.
	tr, err := fhirmap.New(fhirmap.Config{Now: func() time.Time { return clock }, LogicalReferences: mode != publish.WritePut})
	require.NoError(t, err)
	st := store.NewMemory()
	p := &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.BodyWeight, ohx.ECG}}
	// Kolkata: the hours of the link's zone start at half past the UTC hour.
	link := ohx.Link{ID: "link-1", Provider: p.Name(), ExternalUserID: "u1", Patient: "Patient/1", TimeZone: "Asia/Kolkata", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(t.Context(), link))
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: tr, Publisher: pub, Aggregator: agg,
		BatchSize: 100, Strategy: ohx.DefaultStrategy{InitialLookback: 30 * time.Hour, ReconcileLookback: 30 * time.Hour, Chunk: 7 * time.Hour},
		Now: func() time.Time { return clock },
	})
	require.NoError(t, err)
	sync := func(j ohx.Job) fhirState {
		t.Helper()
		j.LinkID = link.ID
		_, err := e.Sync(t.Context(), j)
		require.NoError(t, err)
		return stateOf(t, srv)
	}

	_ = sync(ohx.Job{Trigger: ohx.TriggerDeviceSync})
	initial := sync(ohx.Job{Trigger: ohx.TriggerInitial})
	initial.check(t, fhirState{})
	require.NotEmpty(t, initial.targets)

	// The same data read again, in windows cut otherwise: nothing new.
	steps := []struct {
		name string
		job  ohx.Job
	}{
		{"incremental (the overlap before the cursor)", ohx.Job{Trigger: ohx.TriggerIncremental}},
		{"push inside what was read", ohx.Job{Trigger: ohx.TriggerPush, DataTypes: []ohx.DataType{ohx.HeartRate, ohx.Steps},
			Window: &ohx.Window{Start: clock.Add(-5*time.Hour - 10*time.Minute), End: clock.Add(-4*time.Hour - 50*time.Minute)}}},
		{"reconciliation", ohx.Job{Trigger: ohx.TriggerReconciliation}},
		{"initial again", ohx.Job{Trigger: ohx.TriggerInitial}},
	}
	prev := initial
	for _, s := range steps {
		got := sync(s.job)
		got.check(t, prev)
		added := newKeys(prev, got)
		assert.Empty(t, added, "%s added %d resources, e.g. %v", s.name, len(added), added[:min(len(added), 5)])
		rewritten := 0
		for k, v := range got.versions {
			if v > prev.versions[k] {
				rewritten++
			}
		}
		assert.Positive(t, rewritten, "%s rewrote nothing: did it read?", s.name)
		prev = got
	}

	// 25 minutes later the provider has more: the hour that was open gets
	// its new samples and keeps its Provenance; only a new hour adds one.
	clock = clock.Add(25 * time.Minute)
	later := sync(ohx.Job{Trigger: ohx.TriggerIncremental})
	later.check(t, prev)
	added := newKeys(prev, later)
	require.NotEmpty(t, added)
	var provs []string
	for _, k := range added {
		if typ, _, _ := cutKey(k); typ == "Provenance" {
			provs = append(provs, k)
		}
	}
	// 10:20-10:30 UTC belongs to the hour 09:30-10:30 (15:00 in Kolkata),
	// already published; 10:30-10:45 to a new one: one new Provenance per
	// type read every minute.
	assert.Len(t, provs, 2, "heart rate and steps of the new hour: %v", provs)
	grown := 0
	for id, ts := range later.targets {
		if old, ok := prev.targets[id]; ok && len(ts) > len(old) {
			grown++
		}
	}
	if agg == nil {
		assert.Equal(t, 2, grown, "the open hour's Provenance of heart rate and of steps list the new samples too")
	}
	assert.Subset(t, slices.Collect(maps.Keys(later.versions)), slices.Collect(maps.Keys(prev.versions)))
}

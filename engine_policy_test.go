package ohx_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// scopedProvider is the fake provider with OAuth scopes: the user did not
// grant the scopes of denied. It records every Fetch.
type scopedProvider struct {
	*ohxtest.Provider
	denied []ohx.DataType

	mu      sync.Mutex
	fetches []fetchCall
}

type fetchCall struct {
	types  []ohx.DataType
	window ohx.Window
}

func (p *scopedProvider) Allowed(_ []string, types []ohx.DataType) []ohx.DataType {
	return slices.DeleteFunc(slices.Clone(types), func(t ohx.DataType) bool { return slices.Contains(p.denied, t) })
}

func (p *scopedProvider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	p.mu.Lock()
	p.fetches = append(p.fetches, fetchCall{slices.Clone(types), w})
	p.mu.Unlock()
	return p.Provider.Fetch(ctx, link, types, w)
}

func (p *scopedProvider) fetchedTypes() []ohx.DataType {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ts []ohx.DataType
	for _, f := range p.fetches {
		for _, t := range f.types {
			if !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// published is one sample as the transformer saw it.
type published struct {
	sample ohx.Sample
	batch  int
}

// recorder is a Transformer and Publisher that records what it is handed.
type recorder struct {
	mu       sync.Mutex
	batches  int
	samples  []published
	resource []ohx.Resource
}

func (r *recorder) Transform(_ context.Context, b ohx.Batch) ([]ohx.Resource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	var rs []ohx.Resource
	for _, s := range b.Samples {
		r.samples = append(r.samples, published{sample: s, batch: r.batches})
		typ := "Observation"
		if s.Type == ohx.ECG {
			typ = "DiagnosticReport"
		}
		rs = append(rs, ohx.Resource{Type: typ, ID: fmt.Sprintf("%s-%d-%s", s.Type, s.Start.Unix(), s.CompanionOf), DataType: s.Type})
	}
	return rs, nil
}

func (r *recorder) Publish(_ context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res ohx.PublishResult
	for _, x := range rs {
		r.resource = append(r.resource, x)
		res.Written = append(res.Written, x.Key())
	}
	return res, nil
}

func (r *recorder) publishedTypes() map[ohx.DataType]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[ohx.DataType]int{}
	for _, x := range r.resource {
		n[x.DataType]++
	}
	return n
}

type engineFixture struct {
	provider *scopedProvider
	rec      *recorder
	store    *store.Memory
	engine   *ohx.Engine
	now      time.Time
}

func newEngineFixture(t *testing.T, link ohx.Link, policy *ohx.Policy, agg ohx.Aggregator, strategy ohx.SyncStrategy, now time.Time, denied ...ohx.DataType) *engineFixture {
	t.Helper()
	f := &engineFixture{provider: &scopedProvider{Provider: &ohxtest.Provider{}, denied: denied}, rec: &recorder{}, store: store.NewMemory(), now: now}
	link.Provider = "fake"
	require.NoError(t, f.store.SaveLink(t.Context(), link))
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{f.provider}, Links: f.store, Cursors: f.store,
		Transformer: f.rec, Publisher: f.rec, Policy: policy, Aggregator: agg, Strategy: strategy,
		BatchSize: 100, Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	f.engine = e
	return f
}

func TestEngineAppliesPolicyConsentAndScopes(t *testing.T) {
	now := mustTime(t, "2026-11-25T10:20:00Z")
	oneDay := ohx.DefaultStrategy{InitialLookback: 24 * time.Hour}
	hr, ecg, steps, weight := ohx.HeartRate, ohx.ECG, ohx.Steps, ohx.BodyWeight
	tests := []struct {
		name        string
		policy      *ohx.Policy
		consent     []ohx.DataType
		denied      []ohx.DataType
		job         []ohx.DataType
		wantFetched []ohx.DataType
		wantWritten map[ohx.DataType]int
		wantSkipped []ohx.Skip
	}{
		{
			name:        "policy forbids steps, consent excludes weight: neither fetched nor published",
			policy:      &ohx.Policy{AllowedTypes: []ohx.DataType{hr, ecg, weight}},
			consent:     []ohx.DataType{hr, ecg, steps},
			job:         []ohx.DataType{hr, steps, ecg, weight},
			wantFetched: []ohx.DataType{hr, ecg},
			wantWritten: map[ohx.DataType]int{hr: 1440 + 4, ecg: 4}, // per minute, plus one per ECG
			wantSkipped: []ohx.Skip{
				{Type: steps, Reason: "not allowed by the organization's policy"},
				{Type: weight, Reason: "not in the link's consent"},
			},
		},
		{
			name:        "a scope the user did not grant",
			denied:      []ohx.DataType{weight},
			job:         []ohx.DataType{weight, steps},
			wantFetched: []ohx.DataType{steps},
			wantWritten: map[ohx.DataType]int{steps: 1440},
			wantSkipped: []ohx.Skip{{Type: weight, Reason: "scope not granted by the user"}},
		},
		{
			name:        "an ECG sync also publishes its heart rate, without fetching heart rate",
			consent:     []ohx.DataType{ecg, hr},
			job:         []ohx.DataType{ecg},
			wantFetched: []ohx.DataType{ecg},
			wantWritten: map[ohx.DataType]int{ecg: 4, hr: 4},
		},
		{
			name:        "without heart-rate consent the ECG goes alone and the report says so",
			consent:     []ohx.DataType{ecg},
			job:         []ohx.DataType{ecg},
			wantFetched: []ohx.DataType{ecg},
			wantWritten: map[ohx.DataType]int{ecg: 4},
			wantSkipped: []ohx.Skip{
				{Type: hr, Reason: "companion of ecg dropped: not in the link's consent"},
				{Type: hr, Reason: "not allowed for this sync"},
			},
		},
		{
			name:        "a policy without heart rate: the ECG goes alone",
			policy:      &ohx.Policy{AllowedTypes: []ohx.DataType{ecg}},
			job:         []ohx.DataType{ecg},
			wantFetched: []ohx.DataType{ecg},
			wantWritten: map[ohx.DataType]int{ecg: 4},
			wantSkipped: []ohx.Skip{
				{Type: hr, Reason: "companion of ecg dropped: not allowed by the organization's policy"},
				{Type: hr, Reason: "not allowed for this sync"},
			},
		},
		{
			name:        "an organization without linked-data rules: the ECG goes alone",
			policy:      &ohx.Policy{Companions: map[ohx.DataType][]ohx.DataType{}},
			job:         []ohx.DataType{ecg},
			wantFetched: []ohx.DataType{ecg},
			wantWritten: map[ohx.DataType]int{ecg: 4},
			wantSkipped: []ohx.Skip{{Type: hr, Reason: "not allowed for this sync"}},
		},
		{
			name:        "no job types: the consent set, less the policy",
			policy:      &ohx.Policy{AllowedTypes: []ohx.DataType{weight, ecg}},
			consent:     []ohx.DataType{weight, steps},
			wantFetched: []ohx.DataType{weight},
			wantWritten: map[ohx.DataType]int{weight: 1},
			wantSkipped: []ohx.Skip{{Type: steps, Reason: "not allowed by the organization's policy"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			link := ohx.Link{ID: "link-1", Patient: "Patient/1", DataTypes: tc.consent, Status: ohx.LinkActive}
			f := newEngineFixture(t, link, tc.policy, nil, oneDay, now, tc.denied...)
			rep, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerInitial, DataTypes: tc.job})
			require.NoError(t, err)

			assert.ElementsMatch(t, tc.wantFetched, f.provider.fetchedTypes(), "fetched types")
			assert.Equal(t, tc.wantWritten, f.rec.publishedTypes(), "published types")
			assert.ElementsMatch(t, tc.wantSkipped, rep.Skipped, "report of skipped types")
			for typ, n := range tc.wantWritten {
				require.Contains(t, rep.Types, typ)
				assert.Equal(t, n, rep.Types[typ].ResourcesWritten, typ)
			}

			// Companion heart rate rides in the batch of its ECG, and only
			// fetched types get a cursor.
			groups := map[string]int{}
			for _, p := range f.rec.samples {
				if p.sample.Group == "" {
					continue
				}
				if b, ok := groups[p.sample.Group]; ok {
					assert.Equal(t, b, p.batch, "recording %s split over batches", p.sample.Group)
				}
				groups[p.sample.Group] = p.batch
			}
			cursors, err := f.store.Cursors(t.Context(), link.ID)
			require.NoError(t, err)
			var withCursor []ohx.DataType
			for typ := range cursors {
				withCursor = append(withCursor, typ)
			}
			assert.ElementsMatch(t, tc.wantFetched, withCursor)
		})
	}
}

func TestEngineHourlyAggregationPerPolicy(t *testing.T) {
	// 10:20 UTC on the day Berlin falls back to winter time.
	now := mustTime(t, "2026-10-25T10:20:00Z")
	policy := &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.HeartRate: ohx.AggregationHourly}, MaxLookback: 6 * time.Hour}
	agg, err := aggregate.ForPolicy(policy, aggregate.HourlyConfig{})
	require.NoError(t, err)
	link := ohx.Link{ID: "link-1", Patient: "Patient/1", TimeZone: "Europe/Berlin", Status: ohx.LinkActive}
	// No strategy: the engine's default aligns to the aggregator's hours.
	f := newEngineFixture(t, link, policy, agg, nil, now)

	rep, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{ohx.HeartRate, ohx.ECG, ohx.Steps}})
	require.NoError(t, err)

	// The 30-day initial window is cut to the policy's 6 hours, moved
	// forward to a whole hour: 04:20 → 05:00 UTC.
	require.NotEmpty(t, f.provider.fetches)
	assert.Equal(t, mustTime(t, "2026-10-25T05:00:00Z"), f.provider.fetches[0].window.Start)
	assert.Equal(t, now, f.provider.fetches[len(f.provider.fetches)-1].window.End)

	var hourly, companions, steps int
	for _, p := range f.rec.samples {
		s := p.sample
		switch {
		case s.Type == ohx.HeartRate && s.CompanionOf == ohx.ECG:
			companions++
			assert.Nil(t, s.Aggregate, "an ECG's heart rate passes through")
		case s.Type == ohx.HeartRate:
			hourly++
			require.NotNil(t, s.Aggregate)
			assert.Equal(t, time.Hour, s.End.Sub(s.Start))
			assert.Equal(t, time.Hour, s.StartOffset, "winter time after 01:00 UTC")
		case s.Type == ohx.Steps:
			steps++
			assert.Nil(t, s.Aggregate, "steps are individual by policy")
		}
	}
	assert.Equal(t, 6, hourly, "05:00…10:00 UTC, the last one still open")
	assert.Equal(t, 1, companions, "the ECG at 06:00 UTC")
	assert.Equal(t, 320, steps)
	assert.Equal(t, 320, rep.Types[ohx.HeartRate].SamplesRead-companions)

	// The open hour 10:00-11:00 was published, but no cursor passes its
	// start: the next sync recomputes it whole.
	cursors, err := f.store.Cursors(t.Context(), link.ID)
	require.NoError(t, err)
	open := mustTime(t, "2026-10-25T10:00:00Z")
	for _, typ := range []ohx.DataType{ohx.HeartRate, ohx.ECG, ohx.Steps} {
		assert.Equal(t, open, cursors[typ], typ)
	}

	// The next incremental sync re-reads from the hour before the cursor.
	f.provider.fetches = nil
	_, err = f.engine.Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerIncremental, DataTypes: []ohx.DataType{ohx.HeartRate}})
	require.NoError(t, err)
	require.Len(t, f.provider.fetches, 1)
	assert.Equal(t, ohx.Window{Start: mustTime(t, "2026-10-25T09:00:00Z"), End: now}, f.provider.fetches[0].window)
}

func TestNewEngineRejectsInvalidPolicy(t *testing.T) {
	s := store.NewMemory()
	rec := &recorder{}
	_, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{&ohxtest.Provider{}}, Links: s, Cursors: s, Transformer: rec, Publisher: rec,
		Policy: &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.ECG: ohx.AggregationHourly}},
	})
	require.Error(t, err)
}

func TestEngineAlignsAnyStrategyToTheAggregatorsHours(t *testing.T) {
	now := mustTime(t, "2026-11-25T10:20:00Z")
	agg, err := aggregate.NewHourly(aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate}})
	require.NoError(t, err)
	link := ohx.Link{ID: "link-1", Patient: "Patient/1", TimeZone: "Asia/Kolkata", Status: ohx.LinkActive}
	// A strategy that knows nothing of hours and chunks mid-hour (a type of
	// its own, so the engine cannot align its chunks).
	type unaligned struct{ ohx.DefaultStrategy }
	f := newEngineFixture(t, link, nil, agg, unaligned{ohx.DefaultStrategy{InitialLookback: 5 * time.Hour, Chunk: 2 * time.Hour}}, now)
	_, err = f.engine.Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{ohx.HeartRate}})
	require.NoError(t, err)

	var windows []string
	for _, c := range f.provider.fetches {
		windows = append(windows, c.window.String())
	}
	// Chunks 05:20-07:20-09:20-10:20 UTC widened to Kolkata hours (:30 UTC);
	// a chunk that widening made overlap the one before starts where that
	// one ends, so no hour is read twice.
	assert.Equal(t, []string{
		"2026-11-25T04:30:00Z/2026-11-25T07:30:00Z",
		"2026-11-25T07:30:00Z/2026-11-25T09:30:00Z",
		"2026-11-25T09:30:00Z/2026-11-25T10:20:00Z",
	}, windows)
	var counts []int
	for _, p := range f.rec.samples {
		require.NotNil(t, p.sample.Aggregate)
		if p.sample.End.Before(mustTime(t, "2026-11-25T10:30:00Z")) {
			counts = append(counts, p.sample.Aggregate.Count)
		}
	}
	for _, n := range counts {
		assert.Equal(t, 60, n, "every closed hour is published whole, never from part of its samples")
	}
	cursors, err := f.store.Cursors(t.Context(), link.ID)
	require.NoError(t, err)
	assert.Equal(t, mustTime(t, "2026-11-25T09:30:00Z"), cursors[ohx.HeartRate])
}

func TestEngineAlignsADefaultStrategyWithoutAligner(t *testing.T) {
	now := mustTime(t, "2026-11-25T10:20:00Z")
	agg, err := aggregate.NewHourly(aggregate.HourlyConfig{Types: []ohx.DataType{ohx.HeartRate}})
	require.NoError(t, err)
	link := ohx.Link{ID: "link-1", Patient: "Patient/1", TimeZone: "Asia/Kolkata", Status: ohx.LinkActive}
	// The daemon's case: a DefaultStrategy tuned (InitialLookback) but with
	// no Align; the engine gives it the aggregator's hours, so chunks meet at
	// hour boundaries instead of overlapping.
	f := newEngineFixture(t, link, nil, agg, ohx.DefaultStrategy{InitialLookback: 5 * time.Hour, Chunk: 2 * time.Hour}, now)
	_, err = f.engine.Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{ohx.HeartRate}})
	require.NoError(t, err)
	var windows []string
	for _, c := range f.provider.fetches {
		windows = append(windows, c.window.String())
	}
	assert.Equal(t, []string{
		"2026-11-25T04:30:00Z/2026-11-25T06:30:00Z",
		"2026-11-25T06:30:00Z/2026-11-25T08:30:00Z",
		"2026-11-25T08:30:00Z/2026-11-25T10:20:00Z",
	}, windows)
}

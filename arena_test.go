package ohx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

func TestArenaBuffersAreApartAndReused(t *testing.T) {
	var a ohx.Arena
	x := a.Keep(append(a.Buffer(8), "xxxx"...))
	y := a.Keep(append(a.Buffer(8), "yyyy"...))
	assert.Equal(t, len(x), cap(x), "capacity cut at the length")
	x2 := append(x, "!"...) // copies: y is intact
	x2[0] = 'X'
	assert.Equal(t, "xxxx", string(x))
	assert.Equal(t, "yyyy", string(y))
	big := a.Keep(append(a.Buffer(2), strings.Repeat("z", 100_000)...)) // past its estimate: its own memory
	assert.Len(t, big, 100_000)

	a.Reset()
	z := a.Keep(append(a.Buffer(8), "zzzz"...))
	assert.Equal(t, &x[0], &z[0], "the memory is used again after Reset")
	assert.Equal(t, "zzzz", string(x), "which is why nothing may keep it")

	rs := a.Resources(2)
	rs = append(rs, ohx.Resource{ID: "a"}, ohx.Resource{ID: "b"})
	more := a.Resources(1)
	assert.Equal(t, 2, cap(rs), "capacity cut at what was asked")
	more = append(more, ohx.Resource{ID: "c"})
	rs = append(rs, ohx.Resource{ID: "d"}) // past its capacity: copies, more is intact
	assert.Equal(t, "c", more[0].ID)
	assert.Equal(t, "d", rs[2].ID)
	a.Reset()
	again := a.Resources(1)
	assert.Empty(t, again[:1][0].ID, "Reset clears old resources")
	assert.Equal(t, &more[0], &again[:1][0], "the same memory after Reset")

	var none *ohx.Arena // nil: buffers of their own
	own := none.Keep(append(none.Buffer(4), "n"...))
	assert.Equal(t, "n", string(own))
	none.Reset()
}

// arenaTransformer writes each sample's resource into the batch's arena, as
// fhirmap's fast path does.
type arenaTransformer struct{}

func (arenaTransformer) Transform(_ context.Context, b ohx.Batch) ([]ohx.Resource, error) {
	rs := make([]ohx.Resource, 0, len(b.Samples))
	for _, s := range b.Samples {
		id := fmt.Sprintf("%s-%d", s.Type, s.Start.Unix())
		js := b.Arena.Keep(fmt.Appendf(b.Arena.Buffer(64), `{"id":%q}`, id))
		rs = append(rs, ohx.Resource{Type: "Observation", ID: id, DataType: s.Type, JSON: js})
	}
	return rs, nil
}

// keepingPublisher keeps what it was given: a copy of each JSON as it was
// published, and the JSON itself, which it may keep unless it says it
// releases it.
type keepingPublisher struct {
	releases bool
	bundle   int
	mu       sync.Mutex
	copies   map[string]string
	kept     map[string]json.RawMessage
}

func (p *keepingPublisher) ReleasesJSON() bool { return p.releases }

func (p *keepingPublisher) BundleSize() int { return p.bundle }

func (p *keepingPublisher) Publish(_ context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var res ohx.PublishResult
	for _, r := range rs {
		p.copies[r.Key()] = string(r.JSON)
		p.kept[r.Key()] = r.JSON
		res.Written = append(res.Written, r.Key())
	}
	return res, nil
}

// TestEngineReusesTheArenaOnlyForAReleasingPublisher: with a publisher that
// releases the JSON, every resource is published right while the engine
// writes later batches into the memory of earlier ones, also when bundles
// leave resources of a batch waiting for the next (bundle 30, batches of
// 100); a publisher that keeps the JSON gets memory no later batch
// overwrites.
func TestEngineReusesTheArenaOnlyForAReleasingPublisher(t *testing.T) {
	for _, tc := range []struct {
		releases bool
		bundle   int
	}{{true, 0}, {true, 30}, {false, 0}} {
		releases := tc.releases
		t.Run(fmt.Sprintf("releases=%t,bundle=%d", releases, tc.bundle), func(t *testing.T) {
			st := store.NewMemory()
			p := &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}}
			link := ohx.Link{ID: "link-1", Provider: p.Name(), ExternalUserID: "u1", Patient: "Patient/1", Status: ohx.LinkActive}
			require.NoError(t, st.SaveLink(t.Context(), link))
			pub := &keepingPublisher{releases: releases, bundle: tc.bundle, copies: map[string]string{}, kept: map[string]json.RawMessage{}}
			e, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st,
				Transformer: arenaTransformer{}, Publisher: pub, BatchSize: 100,
				Strategy: ohx.DefaultStrategy{InitialLookback: 24 * time.Hour}, Now: func() time.Time { return now }})
			require.NoError(t, err)
			rep, err := e.Sync(t.Context(), ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerInitial})
			require.NoError(t, err)
			require.Equal(t, 1440, rep.Written)
			require.Len(t, pub.copies, 1440)
			changed := 0
			for key, js := range pub.copies {
				assert.JSONEq(t, fmt.Sprintf(`{"id":%q}`, strings.TrimPrefix(key, "Observation/")), js, "published as mapped")
				if string(pub.kept[key]) != js {
					changed++
				}
			}
			if releases {
				assert.Positive(t, changed, "later batches were written into the memory of earlier ones")
			} else {
				assert.Zero(t, changed, "kept JSON is never overwritten")
			}
		})
	}
}

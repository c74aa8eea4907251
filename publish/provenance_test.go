package publish_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

// TestFHIRConditionalModesUpsertTheProvenance: a Provenance has no
// identifier; in the conditional modes it is found by its meta.tag and
// always updated (in conditional-create mode too), so that an hour's
// Provenance rewritten with more targets keeps one resource with all of
// them.
func TestFHIRConditionalModesUpsertTheProvenance(t *testing.T) {
	for _, mode := range []publish.WriteMode{publish.WriteConditionalCreate, publish.WriteConditionalUpdate} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := fhirtest.NewServer()
			defer srv.Close()
			p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Mode: mode, BundleSize: 10})
			at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
			tr, err := fhirmap.New(fhirmap.Config{LogicalReferences: true, Now: func() time.Time { return at.Add(time.Hour) }})
			require.NoError(t, err)
			link := ohx.Link{ID: "l1", Provider: "withings", ExternalUserID: "u1", Patient: "Patient/1"}
			sample := func(m int) ohx.Sample {
				s := at.Add(time.Duration(m) * time.Minute)
				return ohx.Sample{Type: ohx.HeartRate, Start: s, End: s, Value: 60, Unit: "/min", Provider: "withings", Recording: ohx.RecordedByDevice}
			}
			hour := ohx.Window{Start: at, End: at.Add(time.Hour)}
			for round, n := range []int{3, 5} {
				st := tr.Stream(link, hour, ohx.TriggerIncremental, ohx.HourGrid{})
				var batch []ohx.Sample
				for m := range n {
					batch = append(batch, sample(m))
				}
				rs, err := st.Next(t.Context(), batch)
				require.NoError(t, err)
				closing, err := st.Close(t.Context())
				require.NoError(t, err)
				// The Observations in one call, the Provenance in the next:
				// its targets name them by identifier.
				res, err := p.Publish(t.Context(), rs)
				require.NoError(t, err)
				require.Empty(t, res.Rejected)
				res, err = p.Publish(t.Context(), closing)
				require.NoError(t, err)
				require.Empty(t, res.Rejected, "round %d", round)
			}
			ids := srv.IDs("Provenance")
			require.Len(t, ids, 1, "one Provenance for the hour")
			body, version, ok := srv.Get("Provenance", ids[0])
			require.True(t, ok)
			assert.Equal(t, 2, version, "the second write updated it")
			var prov struct {
				Target []json.RawMessage `json:"target"`
			}
			require.NoError(t, json.Unmarshal(body, &prov))
			assert.Len(t, prov.Target, 5, "the targets of the second write, a superset of the first's")
			assert.Equal(t, 5, srv.Count("Observation"))
		})
	}
}
